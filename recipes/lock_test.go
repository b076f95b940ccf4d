package recipes

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// waitContenders waits until dir has exactly n children with a sequence
// suffix, with child watches (no polling), and returns them sorted.
func waitContenders(t testing.TB, c *client.Conn, dir string, n int) []seqNode {
	t.Helper()
	ctx := testCtx(t)
	for {
		children, _, ch, err := c.ChildrenW(ctx, dir)
		if errors.Is(err, wire.ErrNoNode) {
			var ok bool
			ok, _, ch, err = c.ExistsW(ctx, dir)
			if err == nil && ok {
				continue
			}
		}
		if err != nil {
			t.Fatalf("watch %s: %v", dir, err)
		}
		nodes := sortBySeq(children)
		if len(nodes) == n {
			return nodes
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("%s: %d contenders, want %d, for %v", dir, len(nodes), n, waitTimeout)
		}
	}
}

// async runs f in a goroutine and returns its result's channel.
func async(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

func wait(t testing.TB, what string, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-testCtx(t).Done():
		t.Fatalf("%s: not done within %v", what, waitTimeout)
	}
}

func notDone(t testing.TB, what string, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("%s returned early (%v)", what, err)
	default:
	}
}

func closed(t testing.TB, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-testCtx(t).Done():
		t.Fatalf("%s: not closed within %v", what, waitTimeout)
	}
}

func open(t testing.TB, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s is closed", what)
	default:
	}
}

func TestSeqHelpers(t *testing.T) {
	for name, want := range map[string]int64{
		"_c_0f-lock-0000000042": 42, "abc__lock__0000000007": 7, "__READ__0000000001": 1,
		"lock-000000001": -1, "x": -1, "lock-00000000x1": -1,
	} {
		got, ok := parseSeq(name)
		if (want < 0) == ok || (ok && got != want) {
			t.Errorf("parseSeq(%q) = %d, %v; want %d", name, got, ok, want)
		}
	}
	nodes := sortBySeq([]string{"b__lock__0000000003", "_c_x-lock-0000000001", "locks", "_c_y-__WRIT__0000000002"})
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	if fmt.Sprint(names) != "[_c_x-lock-0000000001 _c_y-__WRIT__0000000002 b__lock__0000000003]" {
		t.Errorf("sortBySeq: %v", names)
	}
	if g := newGUID(); len(g) != 36 || g == newGUID() {
		t.Errorf("newGUID: %q", g)
	}
	if n, ok := findProtected([]string{"_c_aa-lock-0000000001", "_c_bb-lock-0000000002"}, "bb"); !ok || n != "_c_bb-lock-0000000002" {
		t.Errorf("findProtected: %q %v", n, ok)
	}
}

// TestProtectedCreateRecovery: a create whose reply was lost (the node
// exists, its path unknown) is found again by its guid, not made twice.
func TestProtectedCreateRecovery(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := testCtx(t)
		c := s.Connect(t)
		pc := newProtectedCreate(c, "/recover/lock", "lock-", nil, wire.ModeEphemeralSequential)
		if err := ensurePath(ctx, c, pc.dir); err != nil {
			t.Fatal(err)
		}
		// The create the recipe sent, whose reply it never got.
		made, err := c.Create(ctx, pc.dir+"/"+pc.name(), nil, wire.ModeEphemeralSequential, nil)
		if err != nil {
			t.Fatal(err)
		}
		pc.tried = true
		got, err := pc.create(ctx)
		if err != nil || got != made {
			t.Fatalf("recovered %q, %v; want %q", got, err, made)
		}
		waitContenders(t, c, pc.dir, 1)
		// A Mutex whose node is already there (Lock's create recovered)
		// holds with it, and cleanup finds it by guid.
		if err := pc.remove(ctx, ""); err != nil {
			t.Fatal(err)
		}
		waitContenders(t, c, pc.dir, 0)
		if err := pc.remove(ctx, ""); err != nil {
			t.Fatalf("remove of a node already gone: %v", err)
		}
	})
}

// TestMutex: exclusion under contention, TryLock, cancellation, revocation
// and loss by deletion (TestHold holds it through a server restart and a
// holder's session expiry).
func TestMutex(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		t.Run("contention", func(t *testing.T) { testMutexContention(t, s) })
		t.Run("trylock-cancel", func(t *testing.T) { testMutexTryCancel(t, s) })
		t.Run("revoke", func(t *testing.T) { testMutexRevoke(t, s) })
		t.Run("deleted", func(t *testing.T) { testMutexDeleted(t, s) })
	})
}

func testMutexContention(t *testing.T, s *server) {
	const sessions, workers, rounds = 3, 4, 8
	const p = "/mutex/contention"
	var holders gauge
	var total atomic.Int32
	contend(t, s, sessions, workers, rounds, func(c *client.Conn) func(context.Context, int) error {
		// All but the session's last worker share a handle.
		shared, own := NewMutex(c, p), NewMutex(c, p)
		return func(ctx context.Context, j int) error {
			m := shared
			if j == workers-1 {
				m = own
			}
			if err := m.Lock(ctx); err != nil {
				return err
			}
			holders.enter()
			total.Add(1)
			holders.leave()
			return m.Unlock(ctx)
		}
	})
	if max := holders.max.Load(); max != 1 || total.Load() != sessions*workers*rounds {
		t.Fatalf("max holders %d (want 1), %d acquisitions (want %d)", max, total.Load(), sessions*workers*rounds)
	}
	waitContenders(t, s.Connect(t), p, 0)
}

func testMutexTryCancel(t *testing.T, s *server) {
	const p = "/mutex/try"
	ctx := testCtx(t)
	a, b := NewMutex(s.Connect(t), p), NewMutex(s.Connect(t), p)
	if ok, err := a.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock on a free lock: %v %v", ok, err)
	}
	if ok, err := a.TryLock(ctx); ok || err != nil {
		t.Fatalf("TryLock on a handle held: %v %v", ok, err)
	}
	if ok, err := b.TryLock(ctx); ok || err != nil {
		t.Fatalf("TryLock on a held lock: %v %v", ok, err)
	}
	obs := s.Connect(t)
	waitContenders(t, obs, p, 1) // b's try left no node
	bctx, cancel := context.WithCancel(ctx)
	done := async(func() error { return b.Lock(bctx) })
	waitContenders(t, obs, p, 2)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Lock: %v", err)
	}
	waitContenders(t, obs, p, 1) // its node is gone
	if err := a.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Unlock(ctx); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("second Unlock: %v", err)
	}
	if ok, err := b.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock after release: %v %v", ok, err)
	}
	open(t, "Lost of a held lock", b.Lost())
	if err := b.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

func testMutexRevoke(t *testing.T, s *server) {
	const p = "/mutex/revoke"
	ctx := testCtx(t)
	hc, wc := s.Connect(t), s.Connect(t)
	h, w := NewMutex(hc, p), NewMutex(wc, p)
	if err := h.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	done := async(func() error { return w.Lock(ctx) })
	nodes := waitContenders(t, wc, p, 2)
	holder := p + "/" + nodes[0].Name
	if holder != h.Node() {
		t.Fatalf("first contender %s, holder %s", holder, h.Node())
	}
	open(t, "Revoked before a request", h.Revoked())
	if err := Revoke(ctx, wc, holder); err != nil {
		t.Fatal(err)
	}
	closed(t, "Revoked", h.Revoked())
	notDone(t, "the waiter's Lock while the holder still holds", done)
	open(t, "Lost after a revocation request", h.Lost())
	if err := h.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	wait(t, "the waiter's Lock", done)
	open(t, "the new holder's Revoked", w.Revoked())
	if err := w.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := Revoke(ctx, wc, holder); err != nil {
		t.Fatalf("Revoke of a node gone: %v", err)
	}
}

func testMutexDeleted(t *testing.T, s *server) {
	const p = "/mutex/deleted"
	ctx := testCtx(t)
	c, other := s.Connect(t), s.Connect(t)
	m := NewMutex(c, p)
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := other.Delete(ctx, m.Node(), client.AnyVersion); err != nil {
		t.Fatal(err)
	}
	closed(t, "Lost after the node's deletion", m.Lost())
	if err := m.Unlock(ctx); !errors.Is(err, ErrLost) {
		t.Fatalf("Unlock of a lost lock: %v, want ErrLost", err)
	}
	if err := m.Lock(ctx); err != nil {
		t.Fatalf("Lock again: %v", err)
	}
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}
