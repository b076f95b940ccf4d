package recipes

import (
	"context"
	"errors"
	"path"
	"slices"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// Semaphore is a distributed counting semaphore of N permits, the layout
// and protocol of Curator's InterProcessSemaphoreV2, so that Go and
// Curator processes share the same permits.
//
// # Guarantees
//
// At most permits leases are held at once (by all processes that agree
// on the number), as long as each holder watches its Lease's Lost: a
// holder whose session expires loses its lease, and its permit is free.
//
// # Layout
//
// <path>/locks is a Mutex (Curator's InterProcessMutex) that serialises
// acquirers. Its holder creates its lease,
// <path>/leases/_c_<guid>-lease-<seq> (ephemeral sequential, the
// semaphore's data if set with SetData), then reads the children of
// <path>/leases: if there are at most permits, it has a lease; otherwise
// it waits (a child watch) until enough leases are released. Then it
// releases <path>/locks. Releasing a lease deletes its node.
//
// # Failures
//
// Connection loss: Acquire and Release wait through a reconnection
// within their ctx; a held lease stays held. A create whose reply was
// lost (the lease's or the mutex's) is recovered by finding the node
// carrying its guid. When Acquire's ctx ends it removes its lease node
// and releases the mutex. Session expiry: a Lease's Lost channel is
// closed (also when its node is deleted by anyone else); Acquire and
// Release return an error matching wire.ErrSessionExpired.
type Semaphore struct {
	c       *client.Conn
	path    string
	permits int
	lock    *Mutex
	data    []byte
}

// NewSemaphore returns the semaphore at path with the given number of
// permits. Every party of one semaphore must use the same number.
func NewSemaphore(c *client.Conn, path string, permits int) *Semaphore {
	return &Semaphore{c: c, path: path, permits: permits, lock: NewMutex(c, path+"/locks")}
}

// SetData sets the data of the lease nodes acquired later.
func (s *Semaphore) SetData(data []byte) { s.data = append([]byte(nil), data...) }

// Lease is one permit of a Semaphore, held until Release or until lost.
type Lease struct {
	h *hold
}

// Acquire blocks until it holds a permit, or ctx ends (ctx.Err()), or the
// session ends.
func (s *Semaphore) Acquire(ctx context.Context) (*Lease, error) {
	if s.permits <= 0 {
		return nil, errors.New("recipes: a semaphore needs at least one permit")
	}
	if err := s.lock.Lock(ctx); err != nil {
		return nil, err
	}
	defer func() {
		cctx, cancel := cleanupCtx(ctx, s.c)
		defer cancel()
		s.lock.Unlock(cctx) // an expired session's lock is gone with it
	}()
	leases := s.path + "/leases"
	pc := newProtectedCreate(s.c, leases, "lease-", s.data, wire.ModeEphemeralSequential)
	fail := func(p string, err error) (*Lease, error) {
		cctx, cancel := cleanupCtx(ctx, s.c)
		defer cancel()
		pc.remove(cctx, p)
		return nil, err
	}
	p, err := pc.create(ctx)
	if err != nil {
		return fail("", err)
	}
	watch := false
	for {
		var children []string
		var ch <-chan client.Event
		if watch {
			children, _, ch, err = retry3(ctx, func() ([]string, wire.Stat, <-chan client.Event, error) { return s.c.ChildrenW(ctx, leases) })
		} else {
			children, err = getChildren(ctx, s.c, leases)
		}
		if err != nil && !errors.Is(err, wire.ErrNoNode) {
			return fail(p, err)
		}
		if !slices.Contains(children, path.Base(p)) {
			// Our lease node is gone: make another.
			if p, err = pc.create(ctx); err != nil {
				return fail("", err)
			}
			continue
		}
		if len(children) <= s.permits {
			return &Lease{h: newHold(s.c, p, false)}, nil
		}
		if !watch {
			watch = true // look again, this time setting the watch
			continue
		}
		if err := waitEvent(ctx, ch); err != nil {
			if ctx.Err() != nil {
				return fail(p, err)
			}
			return nil, err // the session ended, and our node with it
		}
	}
}

// Release gives the permit back: it deletes the lease's node, waiting
// through connection loss within ctx. If the lease was lost meanwhile it
// returns the loss's cause.
func (l *Lease) Release(ctx context.Context) error {
	if err := l.h.release(ctx); err != nil {
		return err
	}
	return l.h.lostErr()
}

// Lost returns a channel closed when the lease is lost: the session
// expired or was closed, or the node was deleted by someone else.
func (l *Lease) Lost() <-chan struct{} { return l.h.lost }

// Node returns the lease's node path.
func (l *Lease) Node() string { return l.h.path }
