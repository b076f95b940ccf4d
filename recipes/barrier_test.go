package recipes

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// elBlocked fails the test if any of done has a value: the calls they
// report must still be blocked. The state on the server was already
// checked; the short grace only gives a wrongly released call the time to
// show.
func elBlocked(t testing.TB, what string, done ...<-chan error) {
	t.Helper()
	grace := time.After(200 * time.Millisecond)
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(grace)}}
	for _, d := range done {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(d)})
	}
	if i, v, _ := reflect.Select(cases); i > 0 {
		t.Fatalf("%s returned early (%v)", what, v.Interface())
	}
}

// TestBarrier: waiters on several sessions block while the barrier is
// up, through a server restart, and all return when it is removed; a
// waiter whose session expires gets ErrSessionExpired.
func TestBarrier(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := testCtx(t)
		const path = "/barriers/b1"
		c := s.Connect(t)
		b := NewBarrier(c, path)
		if err := b.Wait(ctx); err != nil {
			t.Fatalf("Wait on no barrier: %v", err)
		}
		if err := b.Set(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b.Set(ctx); err != nil {
			t.Fatalf("Set twice: %v", err)
		}
		var waits []<-chan error
		for range 4 {
			wc := s.Connect(t)
			for range 2 {
				d := make(chan error, 1)
				go func() { d <- NewBarrier(wc, path).Wait(ctx) }()
				waits = append(waits, d)
			}
		}
		k := s.ConnectCuttable(t)
		kd := make(chan error, 1)
		go func() { kd <- NewBarrier(k.Conn, path).Wait(ctx) }()
		elBlocked(t, "Wait on a set barrier", waits...)
		k.Expire(t, c)
		if err := <-kd; !errors.Is(err, wire.ErrSessionExpired) {
			t.Fatalf("Wait on an expired session: %v", err)
		}
		s.Restart()
		elBlocked(t, "Wait after a restart", waits...)
		if err := b.Remove(ctx); err != nil {
			t.Fatal(err)
		}
		for i, d := range waits {
			select {
			case err := <-d:
				if err != nil {
					t.Errorf("waiter %d: %v", i, err)
				}
			case <-ctx.Done():
				t.Fatalf("waiter %d not released", i)
			}
		}
		if err := b.Remove(ctx); err != nil {
			t.Fatalf("Remove twice: %v", err)
		}
	})
}

// TestDoubleBarrier: count-1 participants stay blocked in Enter; the
// count-th releases all; Leave returns to each only once all have left;
// several rounds in a row on the same path.
func TestDoubleBarrier(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := testCtx(t)
		const path = "/barriers/double"
		const count = 5
		var conns []*client.Conn
		for range 3 {
			conns = append(conns, s.Connect(t))
		}
		watcher := s.Connect(t)
		for round := range 2 {
			var entered, left []<-chan error
			bs := make([]*DoubleBarrier, count)
			for i := range count {
				bs[i] = NewDoubleBarrier(conns[i%len(conns)], path, fmt.Sprintf("p%d", i), count)
			}
			for i := range count - 1 {
				d := make(chan error, 1)
				go func() { d <- bs[i].Enter(ctx) }()
				entered = append(entered, d)
			}
			elAwaitChildren(t, ctx, watcher, path, count-1)
			if ok, _, _ := watcher.Exists(ctx, path+"/ready"); ok {
				t.Fatalf("round %d: ready exists with %d of %d in", round, count-1, count)
			}
			elBlocked(t, "Enter with count-1 participants", entered...)
			d := make(chan error, 1)
			go func() { d <- bs[count-1].Enter(ctx) }()
			entered = append(entered, d)
			for i, d := range entered {
				if err := <-d; err != nil {
					t.Fatalf("round %d: enter %d: %v", round, i, err)
				}
			}
			// Leave: all but the one that stays inside block until it
			// leaves too.
			for i := range count - 1 {
				d := make(chan error, 1)
				go func() { d <- bs[i].Leave(ctx) }()
				left = append(left, d)
			}
			// p0 (the lowest) waits for the highest, which is p3 or p4:
			// keep p4 inside; the others' nodes go.
			elAwaitChildren(t, ctx, watcher, path, 3) // p0, p4, ready
			elBlocked(t, "Leave while a participant is inside", left...)
			if err := bs[count-1].Leave(ctx); err != nil {
				t.Fatalf("round %d: last leave: %v", round, err)
			}
			for i, d := range left {
				if err := <-d; err != nil {
					t.Fatalf("round %d: leave %d: %v", round, i, err)
				}
			}
			elAwaitChildren(t, ctx, watcher, path, 0)
		}
	})
}

// TestDoubleBarrierExpiry: a participant whose session expires before
// the barrier fills no longer counts (no early release); one that
// expires inside lets the others leave; its own calls say
// ErrSessionExpired.
func TestDoubleBarrierExpiry(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := testCtx(t)
		const path = "/barriers/expiry"
		const count = 3
		a, w := s.Connect(t), s.Connect(t)
		k := s.ConnectCuttable(t)
		da := make(chan error, 1)
		go func() { da <- NewDoubleBarrier(a, path, "a", count).Enter(ctx) }()
		dk := make(chan error, 1)
		go func() { dk <- NewDoubleBarrier(k.Conn, path, "k", count).Enter(ctx) }()
		elAwaitChildren(t, ctx, w, path, 2)
		k.Expire(t, w)
		if err := <-dk; !errors.Is(err, wire.ErrSessionExpired) {
			t.Fatalf("Enter on an expired session: %v", err)
		}
		elAwaitChildren(t, ctx, w, path, 1)
		// c enters: two live participants of three: no release.
		c := s.Connect(t)
		dc := make(chan error, 1)
		go func() { dc <- NewDoubleBarrier(c, path, "c", count).Enter(ctx) }()
		elAwaitChildren(t, ctx, w, path, 2)
		elBlocked(t, "Enter after a participant expired", da, dc)
		// k2 (a new session) fills it.
		k2 := s.ConnectCuttable(t)
		b2 := NewDoubleBarrier(k2.Conn, path, "k2", count)
		if err := b2.Enter(ctx); err != nil {
			t.Fatal(err)
		}
		for _, d := range []chan error{da, dc} {
			if err := <-d; err != nil {
				t.Fatal(err)
			}
		}
		// a and c leave; k2 expires inside: they are let out.
		la := make(chan error, 1)
		go func() { la <- NewDoubleBarrier(a, path, "a", count).Leave(ctx) }()
		lc := make(chan error, 1)
		go func() { lc <- NewDoubleBarrier(c, path, "c", count).Leave(ctx) }()
		elAwaitChildren(t, ctx, w, path, 3) // a (waits for the highest, k2), k2, ready
		elBlocked(t, "Leave while k2 is inside", la, lc)
		k2.Expire(t, w)
		for _, d := range []chan error{la, lc} {
			if err := <-d; err != nil {
				t.Fatal(err)
			}
		}
		if err := b2.Leave(ctx); !errors.Is(err, wire.ErrSessionExpired) {
			t.Fatalf("Leave on an expired session: %v", err)
		}
		elAwaitChildren(t, ctx, w, path, 0)
	})
}
