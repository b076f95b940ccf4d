package recipes

import (
	"context"
	"errors"
	"testing"

	"github.com/paddockdb/paddock/wire/client"
)

// TestSemaphore: at most permits leases, and cancellation (TestHold holds a
// lease through a server restart and its session's expiry).
func TestSemaphore(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		t.Run("contention", func(t *testing.T) { testSemContention(t, s) })
		t.Run("cancel", func(t *testing.T) { testSemCancel(t, s) })
	})
}

func testSemContention(t *testing.T, s *server) {
	const sessions, workers, rounds, permits = 3, 3, 4, 2
	const p = "/sem/contention"
	var held gauge
	contend(t, s, sessions, workers, rounds, func(c *client.Conn) func(context.Context, int) error {
		sem := NewSemaphore(c, p, permits)
		return func(ctx context.Context, _ int) error {
			l, err := sem.Acquire(ctx)
			if err != nil {
				return err
			}
			held.enter()
			held.leave()
			return l.Release(ctx)
		}
	})
	if max := held.max.Load(); max > permits {
		t.Fatalf("%d leases held at once, %d permits", max, permits)
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
