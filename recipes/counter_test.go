package recipes

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paddockdb/paddock/wire"
)

// qAddAll has k goroutines spread over sessions add 1 n times each to the
// counter at path; if restart is set, the server restarts once half the
// adds are done.
func qAddAll(t *testing.T, s *server, path string, sessions, k, n int, restart bool) {
	t.Helper()
	ctx := testCtx(t)
	var counters []*Counter
	for range sessions {
		counters = append(counters, NewCounter(s.Connect(t), path))
	}
	var (
		wg   sync.WaitGroup
		done atomic.Int64
		half = make(chan struct{})
		once sync.Once
		errs = make(chan error, k)
		seen sync.Map // every value Add returned: each at most once
	)
	for g := range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := counters[g%sessions]
			for range n {
				v, err := c.Add(ctx, 1)
				if err != nil {
					errs <- fmt.Errorf("goroutine %d: %w", g, err)
					return
				}
				if _, dup := seen.LoadOrStore(v, g); dup {
					errs <- fmt.Errorf("two adds returned %d", v)
					return
				}
				if done.Add(1) == int64(k*n/2) {
					once.Do(func() { close(half) })
				}
			}
		}()
	}
	if restart {
		select {
		case <-half:
			s.Restart()
		case err := <-errs:
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatal("half the adds not done in time")
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	v, err := NewCounter(s.Connect(t), path).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v != int64(k*n) {
		t.Fatalf("counter %d after %d goroutines added 1 %d times each, want %d", v, k, n, k*n)
	}
}

func TestCounter(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		t.Run("contention", func(t *testing.T) { qAddAll(t, s, "/counter/contention", 3, 6, 20, false) })
		t.Run("restart", func(t *testing.T) { qAddAll(t, s, "/counter/restart", 2, 4, 25, true) })
		t.Run("curator encoding", func(t *testing.T) {
			ctx := testCtx(t)
			c := s.Connect(t)
			k := NewCounter(c, "/counter/curator")
			if v, err := k.Get(ctx); err != nil || v != 0 {
				t.Fatalf("Get of an absent counter: %d, %v", v, err)
			}
			// A value as Curator's DistributedAtomicLong writes it.
			if _, err := c.Create(ctx, "/counter/curator", binary.BigEndian.AppendUint64(nil, 41), wire.ModePersistent, nil); err != nil {
				t.Fatal(err)
			}
			if v, err := k.Add(ctx, 1); err != nil || v != 42 {
				t.Fatalf("Add: %d, %v", v, err)
			}
			if v, err := k.Add(ctx, -50); err != nil || v != -8 {
				t.Fatalf("Add -50: %d, %v", v, err)
			}
			data, _, err := c.Get(ctx, "/counter/curator")
			if err != nil || len(data) != 8 || int64(binary.BigEndian.Uint64(data)) != -8 {
				t.Fatalf("stored %x, %v; want -8 as 8 bytes big-endian", data, err)
			}
			if kids, err := c.Children(ctx, "/counter/curator"); err != nil || len(kids) != 0 {
				t.Fatalf("receipts left: %v, %v", kids, err)
			}
			if _, err := c.Set(ctx, "/counter/curator", []byte("x"), -1); err != nil {
				t.Fatal(err)
			}
			if _, err := k.Add(ctx, 1); !errors.Is(err, ErrCounterEncoding) {
				t.Fatalf("Add to a non-counter: %v", err)
			}
		})
		t.Run("lost replies", func(t *testing.T) {
			ctx := testCtx(t)
			c := s.Connect(t)
			k := NewCounter(c, "/counter/lost/deep")
			// Applied, reply lost: counted once (the first Add creates).
			var applied atomic.Int32
			k.multi = func(ctx context.Context, ops ...wire.MultiOp) ([]wire.MultiResult, error) {
				res, err := c.Multi(ctx, ops...)
				if err == nil && applied.Add(1)%2 == 1 {
					return nil, wire.ErrConnectionLoss
				}
				return res, err
			}
			for i := range 4 {
				if v, err := k.Add(ctx, 10); err != nil || v != int64(10*(i+1)) {
					t.Fatalf("Add %d with a lost reply: %d, %v", i, v, err)
				}
			}
			// Not applied, request lost: sent again, counted once.
			var dropped atomic.Int32
			k.multi = func(ctx context.Context, ops ...wire.MultiOp) ([]wire.MultiResult, error) {
				if dropped.Add(1)%2 == 1 {
					return nil, wire.ErrConnectionLoss
				}
				return c.Multi(ctx, ops...)
			}
			if v, err := k.Add(ctx, 1); err != nil || v != 41 {
				t.Fatalf("Add with a lost request: %d, %v", v, err)
			}
			if v, err := k.Get(ctx); err != nil || v != 41 {
				t.Fatalf("Get: %d, %v", v, err)
			}
		})
		t.Run("expired", func(t *testing.T) {
			kc := s.ConnectCuttable(t)
			k := NewCounter(kc.Conn, "/counter/expired")
			if _, err := k.Add(testCtx(t), 1); err != nil {
				t.Fatal(err)
			}
			kc.Expire(t, s.Connect(t))
			if _, err := k.Add(testCtx(t), 1); !errors.Is(err, wire.ErrSessionExpired) {
				t.Fatalf("Add on an expired session: %v", err)
			}
		})
	})
}
