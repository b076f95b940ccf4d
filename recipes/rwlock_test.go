package recipes

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/paddockdb/paddock/wire/client"
)

// TestRWLock: order and exclusion (TestHold holds a writer through a
// server restart and its session's expiry).
func TestRWLock(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		t.Run("order", func(t *testing.T) { testRWOrder(t, s) })
		t.Run("contention", func(t *testing.T) { testRWContention(t, s) })
	})
}

// testRWOrder: readers share; a writer waits for them; a reader after a
// waiting writer waits for that writer.
func testRWOrder(t *testing.T, s *server) {
	const p = "/rw/order"
	ctx := testCtx(t)
	c1, c2, obs := s.Connect(t), s.Connect(t), s.Connect(t)
	r1, r2 := NewRWLock(c1, p).ReadLock(), NewRWLock(c2, p).ReadLock()
	w := NewRWLock(c2, p).WriteLock()
	r3 := NewRWLock(c1, p).ReadLock()
	if err := r1.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r2.Lock(ctx); err != nil {
		t.Fatalf("a second reader: %v", err)
	}
	if ok, err := w.TryLock(ctx); ok || err != nil {
		t.Fatalf("writer TryLock while read-locked: %v %v", ok, err)
	}
	wDone := async(func() error { return w.Lock(ctx) })
	waitContenders(t, obs, p, 3)
	if ok, err := r3.TryLock(ctx); ok || err != nil {
		t.Fatalf("reader TryLock behind a waiting writer: %v %v", ok, err)
	}
	r3Done := async(func() error { return r3.Lock(ctx) })
	nodes := waitContenders(t, obs, p, 4)
	for i, want := range []string{readLockName, readLockName, writeLockName, readLockName} {
		if seq, _ := parseSeq(nodes[i].Name); nodes[i].Name[len(nodes[i].Name)-seqDigits-len(want):len(nodes[i].Name)-seqDigits] != want || seq < 0 {
			t.Fatalf("contender %d is %s, want a %s node", i, nodes[i].Name, want)
		}
	}
	if err := r1.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	notDone(t, "the writer's Lock with a reader left", wDone)
	if err := r2.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	wait(t, "the writer's Lock", wDone)
	notDone(t, "the late reader's Lock while the writer holds", r3Done)
	if err := w.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	wait(t, "the late reader's Lock", r3Done)
	if err := r3.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

func testRWContention(t *testing.T, s *server) {
	const sessions, readers, writers, rounds = 2, 4, 2, 5
	const p = "/rw/contention"
	var rs, ws gauge
	var bad atomic.Int32
	contend(t, s, sessions, readers+writers, rounds, func(c *client.Conn) func(context.Context, int) error {
		rw := NewRWLock(c, p)
		return func(ctx context.Context, j int) error {
			writer := j >= readers
			m := rw.ReadLock()
			if writer {
				m = rw.WriteLock()
			}
			if err := m.Lock(ctx); err != nil {
				return err
			}
			if writer {
				if ws.enter() != 1 || rs.n.Load() != 0 {
					bad.Add(1)
				}
				ws.leave()
			} else {
				rs.enter()
				if ws.n.Load() != 0 {
					bad.Add(1)
				}
				rs.leave()
			}
			return m.Unlock(ctx)
		}
	})
	if bad.Load() != 0 {
		t.Fatalf("%d violations of read/write exclusion", bad.Load())
	}
	t.Logf("at most %d readers at once", rs.max.Load())
	waitContenders(t, s.Connect(t), p, 0)
}
