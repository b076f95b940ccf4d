package recipes

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paddockdb/paddock/wire"
)

func TestRWLock(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		t.Run("order", func(t *testing.T) { testRWOrder(t, s) })
		t.Run("contention", func(t *testing.T) { testRWContention(t, s) })
		t.Run("restart", func(t *testing.T) { testRWRestart(t, s) })
		t.Run("expiry", func(t *testing.T) { testRWExpiry(t, s) })
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
	var rs, ws, bad, maxReaders atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, sessions*(readers+writers))
	for i := 0; i < sessions; i++ {
		rw := NewRWLock(s.Connect(t), p)
		for j := 0; j < readers+writers; j++ {
			writer := j >= readers
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := testCtx(t)
				for r := 0; r < rounds; r++ {
					m := rw.ReadLock()
					if writer {
						m = rw.WriteLock()
					}
					if err := m.Lock(ctx); err != nil {
						errs <- err
						return
					}
					if writer {
						if ws.Add(1) != 1 || rs.Load() != 0 {
							bad.Add(1)
						}
						ws.Add(-1)
					} else {
						n := rs.Add(1)
						if ws.Load() != 0 {
							bad.Add(1)
						}
						if n > maxReaders.Load() {
							maxReaders.Store(n)
						}
						rs.Add(-1)
					}
					if err := m.Unlock(ctx); err != nil {
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
	if bad.Load() != 0 {
		t.Fatalf("%d violations of read/write exclusion", bad.Load())
	}
	t.Logf("at most %d readers at once", maxReaders.Load())
	waitContenders(t, s.Connect(t), p, 0)
}

// testRWExpiry: a writer's session expires; the reader waiting for it
// gets the lock, the writer learns of the loss.
func testRWExpiry(t *testing.T, s *server) {
	const p = "/rw/expiry"
	ctx := testCtx(t)
	k, rc := s.ConnectCuttable(t), s.Connect(t)
	w := NewRWLock(k.Conn, p).WriteLock()
	r := NewRWLock(rc, p).ReadLock()
	if err := w.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	done := async(func() error { return r.Lock(ctx) })
	waitContenders(t, rc, p, 2)
	k.Expire(t, rc)
	closed(t, "the writer's Lost", w.Lost())
	wait(t, "the reader's Lock", done)
	if err := w.Unlock(ctx); !errors.Is(err, wire.ErrSessionExpired) {
		t.Fatalf("Unlock after expiry: %v", err)
	}
	if err := r.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// testRWRestart: a writer holds through a server restart; readers queued
// behind it wait through it and get the lock together when it releases.
func testRWRestart(t *testing.T, s *server) {
	const p = "/rw/restart"
	ctx := testCtx(t)
	wc, rc := s.Connect(t), s.Connect(t)
	w := NewRWLock(wc, p).WriteLock()
	r1, r2 := NewRWLock(rc, p).ReadLock(), NewRWLock(rc, p).ReadLock()
	if err := w.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	d1 := async(func() error { return r1.Lock(ctx) })
	d2 := async(func() error { return r2.Lock(ctx) })
	waitContenders(t, rc, p, 3)
	s.Restart()
	if _, err := w.Contenders(ctx); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	open(t, "the writer's Lost after a restart", w.Lost())
	notDone(t, "a reader's Lock while the writer holds", d1)
	notDone(t, "a reader's Lock while the writer holds", d2)
	if err := w.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	wait(t, "reader 1", d1)
	wait(t, "reader 2", d2) // both hold at once
	for _, r := range []*Mutex{r1, r2} {
		if err := r.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
