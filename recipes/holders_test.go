package recipes

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// The shapes the lock, read/write lock and semaphore tests share (and the
// election's, for counting leaders): many holders contending, a hold
// through a server restart, a holder's session expiring.

// gauge counts who holds something at once and keeps the most it saw.
type gauge struct {
	n   atomic.Int32
	max atomic.Int32
}

// enter counts one more holder and returns how many hold now.
func (g *gauge) enter() int32 {
	n := g.n.Add(1)
	for m := g.max.Load(); n > m && !g.max.CompareAndSwap(m, n); m = g.max.Load() {
	}
	return n
}

func (g *gauge) leave() { g.n.Add(-1) }

// contend runs, on each of sessions fresh sessions, workers goroutines
// that each call round rounds times (round(ctx, j) for worker j), where
// round is what setup returns for the session. Any error fails the test.
func contend(t *testing.T, s *server, sessions, workers, rounds int, setup func(c *client.Conn) func(ctx context.Context, worker int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, sessions*workers)
	for range sessions {
		round := setup(s.Connect(t))
		for j := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := testCtx(t)
				for range rounds {
					if err := round(ctx, j); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// held is one hold of a lock or a lease, as the shared tests see it.
type held struct {
	lost    <-chan struct{}
	node    string
	release func(ctx context.Context) error
}

// taker takes a lock or a lease on one session.
type taker func(ctx context.Context) (*held, error)

func mutexTaker(m *Mutex) taker {
	return func(ctx context.Context) (*held, error) {
		if err := m.Lock(ctx); err != nil {
			return nil, err
		}
		return &held{lost: m.Lost(), node: m.Node(), release: m.Unlock}, nil
	}
}

func leaseTaker(sem *Semaphore) taker {
	return func(ctx context.Context) (*held, error) {
		l, err := sem.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		return &held{lost: l.Lost(), node: l.Node(), release: l.Release}, nil
	}
}

// holdCase is one kind of hold for the shared restart and expiry tests:
// a holder, and waiters that it keeps waiting.
type holdCase struct {
	name   string
	dir    string // where the contenders' nodes are, below the case's path
	holder func(c *client.Conn, p string) taker
	waiter func(c *client.Conn, p string) taker
	// waiters is how many wait before the restart; shared says that they
	// hold together once the holder releases (readers), not in turn; late
	// adds one that queues after the restart, behind them.
	waiters int
	shared  bool
	late    bool
}

var holdCases = []holdCase{
	{
		name:    "mutex",
		holder:  func(c *client.Conn, p string) taker { return mutexTaker(NewMutex(c, p)) },
		waiter:  func(c *client.Conn, p string) taker { return mutexTaker(NewMutex(c, p)) },
		waiters: 1,
		late:    true,
	},
	{
		name:    "rwlock",
		holder:  func(c *client.Conn, p string) taker { return mutexTaker(NewRWLock(c, p).WriteLock()) },
		waiter:  func(c *client.Conn, p string) taker { return mutexTaker(NewRWLock(c, p).ReadLock()) },
		waiters: 2,
		shared:  true,
	},
	{
		name:    "semaphore",
		dir:     "/leases",
		holder:  func(c *client.Conn, p string) taker { return leaseTaker(NewSemaphore(c, p, 1)) },
		waiter:  func(c *client.Conn, p string) taker { return leaseTaker(NewSemaphore(c, p, 1)) },
		waiters: 1,
	},
}

// TestHold holds each kind of lock or lease through a server restart
// (testHoldRestart) and through its holder's session expiry
// (testHoldExpiry).
func TestHold(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		for _, hc := range holdCases {
			t.Run(hc.name+"/restart", func(t *testing.T) { testHoldRestart(t, s, hc) })
			t.Run(hc.name+"/expiry", func(t *testing.T) { testHoldExpiry(t, s, hc) })
		}
	})
}

// testHoldRestart: sessions survive a server restart, so does a held lock
// or lease. Waiters wait through it, one that comes after it queues
// behind them, and when the holder releases they get it: in turn, or
// together for readers behind a writer.
func testHoldRestart(t *testing.T, s *server, hc holdCase) {
	p := "/restart/" + hc.name
	ctx := testCtx(t)
	holdConn, waitConn := s.Connect(t), s.Connect(t)
	h, err := hc.holder(holdConn, p)(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// got[i] is waiter i's hold once its take returned (read after
	// wait on its done channel).
	n := hc.waiters
	if hc.late {
		n++
	}
	got := make([]*held, n)
	done := make([]<-chan error, n)
	take := func(i int, c *client.Conn) {
		w := hc.waiter(c, p)
		done[i] = async(func() (err error) { got[i], err = w(ctx); return err })
		waitContenders(t, holdConn, p+hc.dir, 2+i)
	}
	for i := range hc.waiters {
		take(i, waitConn)
	}
	s.Restart()
	waitContenders(t, holdConn, p+hc.dir, 1+hc.waiters)
	if hc.late {
		take(hc.waiters, s.Connect(t))
	}
	open(t, "the holder's Lost after a restart", h.lost)
	for i := range done {
		notDone(t, "a waiter while the holder holds", done[i])
	}
	if err := h.release(ctx); err != nil {
		t.Fatalf("release after a restart: %v", err)
	}
	if hc.shared {
		for i := range done {
			wait(t, "a reader", done[i]) // all hold at once
		}
		for _, g := range got {
			if err := g.release(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	for i := range done {
		wait(t, "the waiter in turn", done[i])
		for _, later := range done[i+1:] {
			notDone(t, "a later waiter", later)
		}
		if err := got[i].release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// testHoldExpiry: the holder's session expires: it is told (Lost), its
// release says why, it cannot take again, and the waiter gets the lock
// or lease.
func testHoldExpiry(t *testing.T, s *server, hc holdCase) {
	p := "/expiry/" + hc.name
	ctx := testCtx(t)
	k, wc := s.ConnectCuttable(t), s.Connect(t)
	take := hc.holder(k.Conn, p)
	h, err := take(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got *held
	w := hc.waiter(wc, p)
	done := async(func() (err error) { got, err = w(ctx); return err })
	waitContenders(t, wc, p+hc.dir, 2)
	notDone(t, "the waiter", done)
	k.Expire(t, wc)
	closed(t, "the holder's Lost after expiry", h.lost)
	wait(t, "the waiter", done)
	if err := h.release(ctx); !errors.Is(err, wire.ErrSessionExpired) {
		t.Fatalf("release of an expired session's hold: %v", err)
	}
	if _, err := take(ctx); !errors.Is(err, wire.ErrSessionExpired) {
		t.Fatalf("take on an expired session: %v", err)
	}
	open(t, "the new holder's Lost", got.lost)
	if got.node == "" {
		t.Fatal("the waiter holds no node")
	}
	if err := got.release(ctx); err != nil {
		t.Fatal(err)
	}
}
