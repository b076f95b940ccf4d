package recipes

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// elLeaders counts the candidates that believe they lead; mark fails the
// test if two do at once.
type elLeaders struct{ gauge }

func (l *elLeaders) mark(t testing.TB, who string) {
	if n := l.enter(); n > 1 {
		t.Errorf("%s leads while %d others do", who, n-1)
	}
}

func (l *elLeaders) unmark() { l.leave() }

// elLead campaigns with e until it leads and counts it in leaders; the
// channel is closed once its leadership has ended (and is uncounted).
func elLead(t testing.TB, ctx context.Context, e *Election, leaders *elLeaders, who string) (context.Context, <-chan struct{}) {
	t.Helper()
	lctx, err := e.Campaign(ctx)
	if err != nil {
		t.Fatalf("%s: %v", who, err)
	}
	leaders.mark(t, who)
	done := make(chan struct{})
	go func() {
		<-lctx.Done()
		leaders.unmark()
		close(done)
	}()
	return lctx, done
}

// elCampaign campaigns with e on a goroutine: the channel receives the
// leadership's context once e leads (counted in leaders unless nil), or is
// closed if Campaign fails.
func elCampaign(t testing.TB, ctx context.Context, e *Election, leaders *elLeaders, who string) <-chan context.Context {
	ch := make(chan context.Context, 1)
	go func() {
		lctx, err := e.Campaign(ctx)
		if err != nil {
			t.Errorf("%s: %v", who, err)
			close(ch)
			return
		}
		if leaders != nil {
			leaders.mark(t, who)
		}
		ch <- lctx
	}()
	return ch
}

// elLeads fails the test unless what the channel of elCampaign gives,
// within ctx, is a live leadership.
func elLeads(t testing.TB, ctx context.Context, ch <-chan context.Context, who string) {
	t.Helper()
	select {
	case lctx := <-ch:
		if lctx == nil || lctx.Err() != nil {
			t.Fatalf("%s does not lead", who)
		}
	case <-ctx.Done():
		t.Fatalf("%s did not come to lead", who)
	}
}

// elDuel is two candidates: a leads, b stands behind it.
type elDuel struct {
	leaders elLeaders
	a, b    *Election
	actx    context.Context        // a's leadership
	aDone   <-chan struct{}        // closed when it has ended
	bLeads  <-chan context.Context // b's leadership, once b leads
}

// elStartDuel makes a (on ca) lead the election on path and b (on cb)
// stand behind it, as watcher sees; both are closed when the test ends.
func elStartDuel(t *testing.T, ctx context.Context, path string, ca, cb, watcher *client.Conn) *elDuel {
	t.Helper()
	d := &elDuel{a: NewElection(ca, path, "a"), b: NewElection(cb, path, "b")}
	t.Cleanup(d.a.Close)
	t.Cleanup(d.b.Close)
	d.actx, d.aDone = elLead(t, ctx, d.a, &d.leaders, "a")
	d.bLeads = elCampaign(t, ctx, d.b, &d.leaders, "b")
	elAwaitChildren(t, ctx, watcher, path, 2)
	return d
}

// connectN opens n sessions.
func connectN(t testing.TB, s *server, n int) []*client.Conn {
	conns := make([]*client.Conn, n)
	for i := range conns {
		conns[i] = s.Connect(t)
	}
	return conns
}

// elNext reads the next value of an observer's channel.
func elNext[T any](t testing.TB, ctx context.Context, ch <-chan T) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatal("the channel was closed")
		}
		return v
	case <-ctx.Done():
		t.Fatal("no value within the test's timeout")
	}
	var zero T
	return zero
}

// elWatch runs watch (ObserveLeader, WatchGroup) on path on a session of
// its own, and returns its channel and the first value it delivered.
func elWatch[T any](t testing.TB, ctx context.Context, s *server, path string, watch func(context.Context, *client.Conn, string) (<-chan T, error)) (<-chan T, T) {
	t.Helper()
	ch, err := watch(ctx, s.Connect(t), path)
	if err != nil {
		t.Fatal(err)
	}
	return ch, elNext(t, ctx, ch)
}

// elAwait reads an observer's channel until it yields want.
func elAwait(t testing.TB, ctx context.Context, ch <-chan string, want string) {
	t.Helper()
	for {
		if v := elNext(t, ctx, ch); v == want {
			return
		}
	}
}

// TestElectionContention: many candidates on several sessions campaign,
// lead, resign and campaign again; never two lead at once, each one that
// leads is the one Leader reports, and an observer ends on "".
func TestElectionContention(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := testCtx(t)
		const path = "/app/election"
		conns := connectN(t, s, 3)
		obs, v := elWatch(t, ctx, s, path, ObserveLeader)
		if v != "" {
			t.Fatalf("observer: first value %q, want \"\" (no election yet)", v)
		}
		seen := make(chan string, 100)
		obsDone := make(chan struct{})
		go func() {
			defer close(obsDone)
			for v := range obs {
				seen <- v
				if v == "" {
					return
				}
			}
		}()

		var leaders elLeaders
		var led atomic.Int32
		var wg sync.WaitGroup
		const candidates, rounds = 6, 3
		for i := range candidates {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("cand-%d", i)
				e := NewElection(conns[i%len(conns)], path, id)
				defer e.Close()
				for range rounds {
					lctx, err := e.Campaign(ctx)
					if err != nil {
						t.Errorf("%s: campaign: %v", id, err)
						return
					}
					leaders.mark(t, id)
					led.Add(1)
					if got, err := e.Leader(ctx); err != nil || got != id {
						t.Errorf("%s leads, yet Leader says %q (%v)", id, got, err)
					}
					if lctx.Err() != nil {
						t.Errorf("%s: leadership lost unasked: %v", id, context.Cause(lctx))
					}
					leaders.unmark()
					if err := e.Resign(ctx); err != nil {
						t.Errorf("%s: resign: %v", id, err)
					}
					if !errors.Is(context.Cause(lctx), ErrResigned) {
						t.Errorf("%s: after Resign the leader's context says %v", id, context.Cause(lctx))
					}
				}
			}()
		}
		wg.Wait()
		if n := led.Load(); n != candidates*rounds {
			t.Errorf("%d leaderships, want %d", n, candidates*rounds)
		}
		if m := leaders.max.Load(); m > 1 {
			t.Errorf("up to %d leaders at once", m)
		}
		select {
		case <-obsDone:
		case <-ctx.Done():
			t.Fatal("the observer never saw the election empty")
		}
		if got, err := NewElection(conns[0], path, "x").Leader(ctx); err != nil || got != "" {
			t.Errorf("Leader after everyone resigned: %q, %v", got, err)
		}
		if children, err := conns[0].Children(ctx, path); err != nil || len(children) != 0 {
			t.Errorf("nodes left behind: %v %v", children, err)
		}
	})
}

// TestElectionObserve: an observer sees every leader in turn, then "",
// and its channel closes with its ctx and with its session.
func TestElectionObserve(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := testCtx(t)
		const path = "/observed"
		c1, c2 := s.Connect(t), s.Connect(t)
		octx, cancel := context.WithCancel(ctx)
		obs, err := ObserveLeader(octx, s.Connect(t), path)
		if err != nil {
			t.Fatal(err)
		}
		oc := s.Connect(t)
		obs2, err := ObserveLeader(ctx, oc, path)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range []<-chan string{obs, obs2} {
			if v := elNext(t, ctx, ch); v != "" {
				t.Fatalf("first value %q, want \"\"", v)
			}
		}
		a, b := NewElection(c1, path, "a"), NewElection(c2, path, "b")
		defer a.Close()
		defer b.Close()
		if _, err := a.Campaign(ctx); err != nil {
			t.Fatal(err)
		}
		elAwait(t, ctx, obs, "a")
		bLeads := elCampaign(t, ctx, b, nil, "b")
		// b stands: two candidates, a still leads.
		elAwaitChildren(t, ctx, c1, path, 2)
		if got, _ := b.Leader(ctx); got != "a" {
			t.Fatalf("Leader = %q with a leading", got)
		}
		if err := a.Resign(ctx); err != nil {
			t.Fatal(err)
		}
		if elNext(t, ctx, obs) != "b" {
			t.Fatal("the observer did not see b take over")
		}
		elLeads(t, ctx, bLeads, "b")
		b.Close()
		if v := elNext(t, ctx, obs); v != "" {
			t.Fatalf("after b closed: %q", v)
		}
		cancel()
		for range obs {
		}
		oc.Close()
		for range obs2 {
		}
		if _, err := b.Campaign(ctx); !errors.Is(err, ErrElectionClosed) {
			t.Fatalf("Campaign after Close: %v", err)
		}
	})
}

// elAwaitChildren waits, with a child watch, until path has n children.
func elAwaitChildren(t testing.TB, ctx context.Context, c *client.Conn, path string, n int) {
	t.Helper()
	for {
		children, _, ch, err := c.ChildrenW(ctx, path)
		if err != nil && !errors.Is(err, wire.ErrNoNode) {
			t.Fatalf("children of %s: %v", path, err)
		}
		if errors.Is(err, wire.ErrNoNode) {
			_, _, ch, err = c.ExistsW(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
		}
		if len(children) == n {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("%s: %d children, want %d", path, len(children), n)
		}
	}
}

// TestElectionExpiry: the leader's session expires; its context ends
// before anyone else leads, another candidate takes over, the observer
// follows, and the expired candidate's calls say ErrSessionExpired.
func TestElectionExpiry(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := testCtx(t)
		const path = "/expiring"
		k := s.ConnectCuttable(t)
		other, watcher := s.Connect(t), s.Connect(t)
		d := elStartDuel(t, ctx, path, k.Conn, other, watcher)
		a, leaders := d.a, &d.leaders
		obs, err := ObserveLeader(ctx, watcher, path)
		if err != nil {
			t.Fatal(err)
		}
		elAwait(t, ctx, obs, "a")

		k.Expire(t, watcher)
		select {
		case <-d.aDone:
		case <-ctx.Done():
			t.Fatal("leadership did not move")
		}
		elLeads(t, ctx, d.bLeads, "b")
		if c := context.Cause(d.actx); !errors.Is(c, wire.ErrSessionExpired) && !errors.Is(c, wire.ErrConnectionLoss) {
			t.Errorf("a's leadership ended with %v", c)
		}
		elAwait(t, ctx, obs, "b")
		if _, err := a.Campaign(ctx); !errors.Is(err, wire.ErrSessionExpired) {
			t.Errorf("Campaign on an expired session: %v", err)
		}
		if _, err := a.Leader(ctx); !errors.Is(err, wire.ErrSessionExpired) {
			t.Errorf("Leader on an expired session: %v", err)
		}
		if m := leaders.max.Load(); m > 1 {
			t.Errorf("%d leaders at once", m)
		}
	})
}

// TestElectionRestart: a server restart under an election: never two
// leaders, and afterwards it goes on (the leader, which may or may not
// have given up during the outage, resigns; the other candidate leads).
func TestElectionRestart(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := testCtx(t)
		const path = "/restarted"
		c1 := s.Connect(t)
		d := elStartDuel(t, ctx, path, c1, s.Connect(t), c1)
		s.Restart()
		if err := d.a.Resign(ctx); err != nil {
			t.Fatal(err)
		}
		<-d.aDone
		if c := context.Cause(d.actx); !errors.Is(c, ErrResigned) && !errors.Is(c, wire.ErrConnectionLoss) {
			t.Errorf("a's leadership ended with %v", c)
		}
		elLeads(t, ctx, d.bLeads, "b")
		if m := d.leaders.max.Load(); m > 1 {
			t.Errorf("%d leaders at once", m)
		}
	})
}

// TestElectionPartition: the leader's connection is cut (the session
// lives on): its leadership ends before the server could expire it, its
// node is deleted once it is back, and the next candidate leads.
func TestElectionPartition(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := testCtx(t)
		const path = "/partitioned"
		// On ZooKeeper, a session timeout long enough for the client to
		// reconnect after the cut (its backoff reaches a second) before
		// expiry. Paddock (tickTime 100 ms here) allows at most 2 s: the
		// session may expire during the cut, which also moves leadership.
		k := s.ConnectCuttable(t, client.WithSessionTimeout(5*time.Second))
		other := s.Connect(t)
		d := elStartDuel(t, ctx, path, k.Conn, other, other)
		a, b, actx, bLeads := d.a, d.b, d.actx, d.bLeads
		k.Cut()
		select {
		case <-d.aDone:
		case <-bLeads:
			t.Fatal("b leads while a's leadership lives")
		case <-ctx.Done():
			t.Fatal("a did not give up leadership when cut off")
		}
		if c := context.Cause(actx); !errors.Is(c, wire.ErrConnectionLoss) {
			t.Errorf("a's leadership ended with %v, want connection loss", c)
		}
		k.Heal()
		elLeads(t, ctx, bLeads, "b")
		// The session lived through the cut: a's node was deleted by a
		// itself. a stands again, behind b.
		if _, _, err := k.Exists(ctx, "/"); err != nil {
			if s.Kind == "paddock" && errors.Is(err, wire.ErrSessionExpired) {
				t.Log("a's session expired during the cut")
				return
			}
			t.Fatalf("a's session: %v", err)
		}
		again := make(chan error, 1)
		go func() {
			_, err := a.Campaign(ctx)
			again <- err
		}()
		elAwaitChildren(t, ctx, other, path, 2)
		if got, err := a.Leader(ctx); err != nil || got != "b" {
			t.Fatalf("Leader = %q (%v), want b", got, err)
		}
		d.leaders.unmark()
		if err := b.Resign(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-again; err != nil {
			t.Fatalf("a again: %v", err)
		}
	})
}

// TestElectionCancel: a Campaign whose ctx ends, and one that Resign
// interrupts, return and take their nodes out of the line.
func TestElectionCancel(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := testCtx(t)
		const path = "/cancelled"
		c1, c2 := s.Connect(t), s.Connect(t)
		a := NewElection(c1, path, "a")
		defer a.Close()
		if _, err := a.Campaign(ctx); err != nil {
			t.Fatal(err)
		}
		b := NewElection(c2, path, "b")
		defer b.Close()
		bctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { _, err := b.Campaign(bctx); done <- err }()
		elAwaitChildren(t, ctx, c1, path, 2)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Campaign after its ctx ended: %v", err)
		}
		elAwaitChildren(t, ctx, c1, path, 1)
		go func() { _, err := b.Campaign(ctx); done <- err }()
		elAwaitChildren(t, ctx, c1, path, 2)
		if err := b.Resign(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, ErrResigned) {
			t.Fatalf("Campaign after Resign: %v", err)
		}
		elAwaitChildren(t, ctx, c1, path, 1)
		if got, err := b.Leader(ctx); err != nil || got != "a" {
			t.Fatalf("Leader = %q (%v), want a", got, err)
		}
		// Campaign while leading returns the same leadership.
		l1, err := a.Campaign(ctx)
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
		if !errors.Is(context.Cause(l1), ErrElectionClosed) {
			t.Fatalf("after Close the leader's context says %v", context.Cause(l1))
		}
		elAwaitChildren(t, ctx, c1, path, 0)
	})
}

// TestElectionLostCreateReply: a create whose reply was lost is found by
// its guid, not made twice.
func TestElectionLostCreateReply(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := testCtx(t)
		c := s.Connect(t)
		const path = "/lostreply"
		pc := newProtectedCreate(c, path, elLatchName, []byte("me"), wire.ModeEphemeralSequential)
		if err := ensurePath(ctx, c, path); err != nil {
			t.Fatal(err)
		}
		// Another candidate, then the create "whose reply was lost".
		if _, err := c.Create(ctx, path+"/_c_"+newGUID()+"-latch-", nil, wire.ModeEphemeralSequential, nil); err != nil {
			t.Fatal(err)
		}
		made, err := c.Create(ctx, path+"/"+pc.name(), []byte("me"), wire.ModeEphemeralSequential, nil)
		if err != nil {
			t.Fatal(err)
		}
		pc.tried = true
		got, err := pc.create(ctx)
		if err != nil || got != made {
			t.Fatalf("recovered %q (%v), want %q", got, err, made)
		}
		if children, _ := c.Children(ctx, path); len(children) != 2 {
			t.Fatalf("children %v: the create was made twice", children)
		}
		// Sorting ignores names without a sequence and orders by it.
		names := []string{"x-0000000010", "ready", "_c_b-latch-0000000002", "a__lock__0000000003"}
		want := []string{"_c_b-latch-0000000002", "a__lock__0000000003", "x-0000000010"}
		var sorted []string
		for _, n := range sortBySeq(names) {
			sorted = append(sorted, n.Name)
		}
		if fmt.Sprint(sorted) != fmt.Sprint(want) {
			t.Fatalf("sorted %v, want %v", sorted, want)
		}
	})
}
