package recipes

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paddockdb/paddock/wire"
)

func TestSemaphore(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		t.Run("contention", func(t *testing.T) { testSemContention(t, s) })
		t.Run("cancel", func(t *testing.T) { testSemCancel(t, s) })
		t.Run("restart", func(t *testing.T) { testSemRestart(t, s) })
		t.Run("expiry", func(t *testing.T) { testSemExpiry(t, s) })
	})
}

func testSemContention(t *testing.T, s *server) {
	const sessions, workers, rounds, permits = 3, 3, 4, 2
	const p = "/sem/contention"
	var held, max atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, sessions*workers)
	for i := 0; i < sessions; i++ {
		sem := NewSemaphore(s.Connect(t), p, permits)
		for j := 0; j < workers; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := testCtx(t)
				for r := 0; r < rounds; r++ {
					l, err := sem.Acquire(ctx)
					if err != nil {
						errs <- err
						return
					}
					n := held.Add(1)
					for m := max.Load(); n > m && !max.CompareAndSwap(m, n); m = max.Load() {
					}
					held.Add(-1)
					if err := l.Release(ctx); err != nil {
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
	if max.Load() > permits {
		t.Fatalf("%d leases held at once, %d permits", max.Load(), permits)
	}
	obs := s.Connect(t)
	waitContenders(t, obs, p+"/leases", 0)
	waitContenders(t, obs, p+"/locks", 0)
}

func testSemCancel(t *testing.T, s *server) {
	const p = "/sem/cancel"
	ctx := testCtx(t)
	a, b := NewSemaphore(s.Connect(t), p, 1), NewSemaphore(s.Connect(t), p, 1)
	l, err := a.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	obs := s.Connect(t)
	bctx, cancel := context.WithCancel(ctx)
	done := async(func() error { _, err := b.Acquire(bctx); return err })
	waitContenders(t, obs, p+"/leases", 2)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Acquire: %v", err)
	}
	waitContenders(t, obs, p+"/leases", 1)
	waitContenders(t, obs, p+"/locks", 0)
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	l2, err := b.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// testSemExpiry: a holder's session expires; its permit is free for the
// waiter, and the holder is told.
func testSemExpiry(t *testing.T, s *server) {
	const p = "/sem/expiry"
	ctx := testCtx(t)
	k, wc := s.ConnectCuttable(t), s.Connect(t)
	l, err := NewSemaphore(k.Conn, p, 1).Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Pointer[Lease]
	done := async(func() error {
		l, err := NewSemaphore(wc, p, 1).Acquire(ctx)
		got.Store(l)
		return err
	})
	waitContenders(t, wc, p+"/leases", 2)
	notDone(t, "the waiter's Acquire", done)
	k.Expire(t, wc)
	closed(t, "the expired lease's Lost", l.Lost())
	wait(t, "the waiter's Acquire", done)
	if err := l.Release(ctx); !errors.Is(err, wire.ErrSessionExpired) {
		t.Fatalf("Release after expiry: %v", err)
	}
	open(t, "the new lease's Lost", got.Load().Lost())
	if err := got.Load().Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// testSemRestart: a lease is held through a server restart; an acquirer
// waits through it and gets the permit when the lease is released.
func testSemRestart(t *testing.T, s *server) {
	const p = "/sem/restart"
	ctx := testCtx(t)
	hc, wc := s.Connect(t), s.Connect(t)
	l, err := NewSemaphore(hc, p, 1).Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got *Lease
	done := async(func() (err error) { got, err = NewSemaphore(wc, p, 1).Acquire(ctx); return err })
	waitContenders(t, hc, p+"/leases", 2)
	s.Restart()
	waitContenders(t, hc, p+"/leases", 2)
	open(t, "the lease's Lost after a restart", l.Lost())
	notDone(t, "the waiter's Acquire", done)
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	wait(t, "the waiter's Acquire", done)
	if err := got.Release(ctx); err != nil {
		t.Fatal(err)
	}
}
