package recipes

import (
	"bytes"
	"context"
	"errors"
	"path"
	"sync"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// ErrLost is the cause a held lock or lease reports when its node was
// deleted by someone else while its session lived on.
var ErrLost = errors.New("recipes: the node was deleted while held")

// ErrNotHeld is what Unlock (or Release) returns when there is nothing to
// release.
var ErrNotHeld = errors.New("recipes: not held")

// RevokeMessage is the data that, set on a held lock's node, asks its
// holder to release it: Curator's revocation convention
// (LockInternals.REVOKE_MESSAGE).
var RevokeMessage = []byte("__REVOKE__")

// Revoke asks the holder of the lock node nodePath (a path Contenders
// returns) to release it, by setting the node's data to RevokeMessage, as
// Curator's Revoker.attemptRevoke does. The holder learns it from its
// handle's Revoked channel (Go) or its RevocationListener (Curator); it
// is a request, not a forced release. A node already gone is not an
// error. It waits through connection loss within ctx.
func Revoke(ctx context.Context, c *client.Conn, nodePath string) error {
	_, err := retry1(ctx, func() (wire.Stat, error) { return c.Set(ctx, nodePath, RevokeMessage, client.AnyVersion) })
	if errors.Is(err, wire.ErrNoNode) {
		return nil
	}
	return err
}

// lockPolicy decides, given the contenders sorted by sequence and the
// index of one's own node among them, whether one holds the lock ("") or
// the name of the node to wait for.
type lockPolicy func(nodes []seqNode, self int) string

// exclusive holds when first, else waits for the node just before: no
// herd effect, each waiter is woken by its predecessor alone.
func exclusive(nodes []seqNode, self int) string {
	if self == 0 {
		return ""
	}
	return nodes[self-1].Name
}

// Mutex is a distributed exclusive lock, the layout and protocol of
// Curator's InterProcessMutex, so that a Go process and a Java one
// (Curator) or a Python one (kazoo, with extra_lock_patterns=["lock-"])
// exclude each other on the same path.
//
// # Guarantees
//
// At most one contender holds the lock at a time, as long as each holder
// watches Lost: a holder whose session expires loses the lock, and
// another may take it before the expired holder hears of it. Waiters get
// the lock in the order they asked for it.
//
// # Layout
//
// Each contender creates an ephemeral sequential node
// <path>/_c_<guid>-lock-<10-digit sequence>, with the handle's data
// (empty unless set with SetData). Every child of <path> whose name ends
// in a 10-digit sequence is a contender (kazoo's <hex>__lock__<seq>
// nodes too), sorted by that sequence; the first holds the lock. Each
// waiter watches only its predecessor (a data watch set by getData, as
// Curator and kazoo do, so that no watch is left on a node that is
// already gone), and looks again when it goes: no herd effect. Missing
// ancestors of <path> are created as persistent nodes.
//
// # Failures
//
// Connection loss: Lock, TryLock and Unlock wait through a reconnection
// within their ctx; a held lock stays held (its node lives while the
// session does). A create whose reply was lost is recovered by finding
// the node carrying the handle's guid. When Lock's ctx ends, it removes
// its node before returning ctx.Err() (waiting up to twice the session
// timeout for a connection to do so). Session expiry: a held lock's Lost
// channel is closed, as it is when its node is deleted by anyone else;
// Lock and Unlock return an error matching wire.ErrSessionExpired.
//
// # Revocation
//
// A holder's node data set to RevokeMessage (by Revoke, or Curator's
// Revoker) is a request to release it: Revoked is closed. The holder
// decides; nothing is released for it.
//
// # Reentrancy
//
// A Mutex is not reentrant: while it is held (or being acquired), another
// Lock on the same handle, from any goroutine, waits for Unlock as on a
// sync.Mutex; goroutines of one process may share a handle that way, or
// each use their own. The zero value is not usable; use NewMutex.
type Mutex struct {
	c      *client.Conn
	dir    string
	base   string
	policy lockPolicy
	data   []byte

	// local is held (a value in it) from the start of Lock or TryLock
	// until Unlock, or until the attempt fails.
	local chan struct{}

	mu        sync.Mutex
	h         *hold // the current hold, nil when not held
	releasing bool  // an Unlock is under way
}

// NewMutex returns a handle on the lock at path (an absolute path).
func NewMutex(c *client.Conn, path string) *Mutex {
	return newMutex(c, path, "lock-", exclusive)
}

func newMutex(c *client.Conn, dir, base string, policy lockPolicy) *Mutex {
	return &Mutex{c: c, dir: dir, base: base, policy: policy, local: make(chan struct{}, 1)}
}

// SetData sets the data later contender nodes of this handle carry
// (kazoo's identifier, Curator's lock node data); call it before Lock.
func (m *Mutex) SetData(data []byte) { m.data = append([]byte(nil), data...) }

// Lock blocks until the lock is held, or ctx ends (then its node is
// removed and ctx.Err() returned), or the session ends.
func (m *Mutex) Lock(ctx context.Context) error {
	select {
	case m.local <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if _, err := m.acquire(ctx, true); err != nil {
		<-m.local
		return err
	}
	return nil
}

// TryLock takes the lock if it is free now and reports whether it did;
// it does not wait for other contenders (it still waits through
// connection loss within ctx). It returns false at once if this handle
// is held.
func (m *Mutex) TryLock(ctx context.Context) (bool, error) {
	select {
	case m.local <- struct{}{}:
	default:
		return false, nil
	}
	ok, err := m.acquire(ctx, false)
	if !ok {
		<-m.local
	}
	return ok, err
}

// Unlock releases the lock: it deletes the node, waiting through
// connection loss within ctx (if ctx ends first, the lock is still held
// and Unlock may be called again). If the lock was lost meanwhile, the
// handle is released all the same and Unlock returns the loss's cause
// (matching wire.ErrSessionExpired when the session expired).
func (m *Mutex) Unlock(ctx context.Context) error {
	m.mu.Lock()
	h := m.h
	if h == nil || m.releasing {
		m.mu.Unlock()
		return ErrNotHeld
	}
	m.releasing = true
	m.mu.Unlock()
	err := h.release(ctx)
	m.mu.Lock()
	m.releasing = false
	if err == nil {
		m.h = nil
	}
	m.mu.Unlock()
	if err != nil {
		return err
	}
	<-m.local
	return h.lostErr()
}

// Lost returns a channel closed when the current hold is lost: the
// session expired or was closed, or the node was deleted by someone else.
// It is nil (never ready) when the handle is not held.
func (m *Mutex) Lost() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h == nil {
		return nil
	}
	return m.h.lost
}

// Revoked returns a channel closed when someone asks the current holder
// to release (Revoke); nil when the handle is not held.
func (m *Mutex) Revoked() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h == nil {
		return nil
	}
	return m.h.revoked
}

// Node returns the path of the handle's node while it holds the lock, or
// "".
func (m *Mutex) Node() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h == nil {
		return ""
	}
	return m.h.path
}

// Contenders returns the paths of the lock's contender nodes in lock
// order: the first holds the lock (for a read/write lock, the readers
// before the first writer all hold it).
func (m *Mutex) Contenders(ctx context.Context) ([]string, error) {
	children, err := m.c.Children(ctx, m.dir)
	if errors.Is(err, wire.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range sortBySeq(children) {
		out = append(out, m.dir+"/"+n.Name)
	}
	return out, nil
}

// acquire creates the handle's node and, when wait is set, waits for its
// turn. On failure, and when !wait and the lock is taken, it removes the
// node.
func (m *Mutex) acquire(ctx context.Context, wait bool) (bool, error) {
	pc := newProtectedCreate(m.c, m.dir, m.base, m.data, wire.ModeEphemeralSequential)
	fail := func(p string, err error) (bool, error) {
		cctx, cancel := cleanupCtx(ctx, m.c)
		defer cancel()
		pc.remove(cctx, p) // best effort: a node left behind goes with the session
		return false, err
	}
	p, err := pc.create(ctx)
	if err != nil {
		return fail("", err)
	}
	for {
		children, err := getChildren(ctx, m.c, m.dir)
		if err != nil && !errors.Is(err, wire.ErrNoNode) {
			return fail(p, err)
		}
		nodes := sortBySeq(children)
		self := indexOf(nodes, path.Base(p))
		if self < 0 {
			// Our node is gone (deleted by someone, or with an earlier
			// session): contend again with a new one.
			if p, err = pc.create(ctx); err != nil {
				return fail("", err)
			}
			continue
		}
		pred := m.policy(nodes, self)
		if pred == "" {
			h := newHold(m.c, p, true)
			m.mu.Lock()
			m.h = h
			m.mu.Unlock()
			return true, nil
		}
		if !wait {
			return fail(p, nil)
		}
		_, _, ch, err := getDataW(ctx, m.c, m.dir+"/"+pred)
		if errors.Is(err, wire.ErrNoNode) {
			continue
		}
		if err != nil {
			return fail(p, err)
		}
		if err := waitEvent(ctx, ch); err != nil {
			if ctx.Err() != nil {
				return fail(p, err)
			}
			return false, err // the session ended, and our node with it
		}
	}
}

// cleanupCtx bounds the removal of a node after its ctx ended: long
// enough for a reconnection within the session's life.
func cleanupCtx(ctx context.Context, c *client.Conn) (context.Context, context.CancelFunc) {
	d := 2 * c.SessionTimeout()
	if d <= 0 {
		d = 2 * client.DefaultSessionTimeout
	}
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// hold is one held node (a lock's or a lease's) and the goroutine that
// watches it for loss and, if revocable, for revocation requests. The
// goroutine is the hold's: it stops once the node is released, lost, or
// the session ends.
type hold struct {
	c       *client.Conn
	path    string
	lost    chan struct{}
	revoked chan struct{}
	stop    context.CancelFunc
	ctx     context.Context
	done    chan struct{}

	mu        sync.Mutex
	releasing bool
	cause     error
	revokedOK bool
}

func newHold(c *client.Conn, p string, revocable bool) *hold {
	ctx, cancel := context.WithCancel(context.Background())
	h := &hold{c: c, path: p, lost: make(chan struct{}), revoked: make(chan struct{}), ctx: ctx, stop: cancel, done: make(chan struct{})}
	go h.watch(revocable)
	return h
}

func (h *hold) lose(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.releasing || h.cause != nil {
		return
	}
	h.cause = err
	close(h.lost)
}

func (h *hold) lostErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cause
}

func (h *hold) watch(revocable bool) {
	defer close(h.done)
	for {
		data, _, ch, err := getDataW(h.ctx, h.c, h.path)
		if h.ctx.Err() != nil {
			return
		}
		if errors.Is(err, wire.ErrNoNode) {
			h.lose(ErrLost)
			return
		}
		if err != nil {
			h.lose(err)
			return
		}
		if revocable && bytes.Equal(data, RevokeMessage) {
			h.mu.Lock()
			if !h.revokedOK {
				h.revokedOK = true
				close(h.revoked)
			}
			h.mu.Unlock()
		}
		select {
		case ev := <-ch:
			if ev.Err != nil {
				h.lose(ev.Err)
				return
			}
			if ev.Type == wire.EventNodeDeleted {
				h.lose(ErrLost) // ignored if it is our own release
				return
			}
		case <-h.ctx.Done():
			return
		}
	}
}

// release deletes the node and stops the watching goroutine. A lost hold
// is released at once (nothing to delete that the server has not).
func (h *hold) release(ctx context.Context) error {
	h.mu.Lock()
	lost := h.cause != nil
	h.releasing = true
	h.mu.Unlock()
	if !lost {
		err := deleteNode(ctx, h.c, h.path)
		h.mu.Lock()
		switch {
		case errors.Is(err, wire.ErrSessionExpired):
			if h.cause == nil {
				h.cause = err
				close(h.lost)
			}
		case err != nil:
			h.releasing = false
			h.mu.Unlock()
			return err
		}
		h.mu.Unlock()
	}
	h.stop()
	<-h.done // its calls return at once once stopped
	return nil
}
