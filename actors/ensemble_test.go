package actors

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/paddockdb/paddock/actors/quorumauth"
	"github.com/paddockdb/paddock/statemachine"
	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/zktest"
)

// freePort returns a loopback address for a member to bind a moment later
// (zktest.LoopbackAddr).
func freePort(t *testing.T) string { return zktest.LoopbackAddr(t) }

// testEnsemble is an ensemble of in-process members on loopback ports.
type testEnsemble struct {
	t       *testing.T
	members []Member
	dirs    []string
	servers []*Server // nil when stopped
	tick    time.Duration
	mod     func(*Config)
	clients []string // client addresses
}

func startEnsemble(t *testing.T, n int, tick time.Duration) *testEnsemble {
	t.Helper()
	return startEnsembleWith(t, n, tick, nil)
}

// startEnsembleWith starts n members whose Config mod changes.
func startEnsembleWith(t *testing.T, n int, tick time.Duration, mod func(*Config)) *testEnsemble {
	t.Helper()
	for attempt := 1; ; attempt++ {
		var members []Member
		for i := 1; i <= n; i++ {
			members = append(members, Member{ID: uint64(i), QuorumAddr: freePort(t), ElectionAddr: freePort(t)})
		}
		e, err := tryMembers(t, members, tick, mod)
		if err == nil {
			return e
		}
		// A port free when chosen can be taken before it is bound (by
		// another process of the machine): choose again.
		if !strings.Contains(err.Error(), "address already in use") || attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("attempt %d: %v; choosing other ports", attempt, err)
	}
}

// startMembers starts an ensemble of the given members.
func startMembers(t *testing.T, members []Member, tick time.Duration, mod func(*Config)) *testEnsemble {
	t.Helper()
	e, err := tryMembers(t, members, tick, mod)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// tryMembers starts the members; on an error it stops those it started.
func tryMembers(t *testing.T, members []Member, tick time.Duration, mod func(*Config)) (*testEnsemble, error) {
	t.Helper()
	n := len(members)
	e := &testEnsemble{t: t, tick: tick, servers: make([]*Server, n), mod: mod, members: members}
	for i := 1; i <= n; i++ {
		e.clients = append(e.clients, freePort(t)) // kept across restarts: clients hold the list
		e.dirs = append(e.dirs, filepath.Join(t.TempDir(), fmt.Sprint(i)))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.servers[i], errs[i] = e.start(i)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, s := range e.servers {
			if s != nil {
				s.Close()
			}
		}
		return nil, err
	}
	t.Cleanup(func() {
		for _, s := range e.servers {
			if s != nil {
				s.Close()
			}
		}
	})
	e.waitLeader()
	return e, nil
}

func (e *testEnsemble) start(i int) (*Server, error) {
	cfg := Config{
		DataDir:         e.dirs[i],
		ClientAddr:      e.clients[i],
		TickTime:        e.tick,
		FourLetterWords: []string{"*"},
		ServerID:        uint64(i + 1),
		Members:         e.members,
		InitLimit:       10,
		SyncLimit:       5,
		Logger:          slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: testLogLevel()})).With("member", i+1),
	}
	if e.mod != nil {
		e.mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	return Start(ctx, cfg)
}

// restart starts member i again on its data directory.
func (e *testEnsemble) restart(i int) {
	e.t.Helper()
	s, err := e.start(i)
	if err != nil {
		e.t.Fatal(err)
	}
	e.servers[i] = s
}

// stop closes member i (as a crash would end its connections).
func (e *testEnsemble) stop(i int) {
	e.servers[i].Close()
	e.servers[i] = nil
}

// waitLeader waits until every running member knows the same leader and
// returns its index.
func (e *testEnsemble) waitLeader() int {
	e.t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		var leader uint64
		agree := true
		for _, s := range e.servers {
			if s == nil {
				continue
			}
			id, changed := s.leaderID()
			if id == 0 {
				select {
				case <-changed:
				case <-time.After(time.Until(deadline)):
				}
				agree = false
				break
			}
			if leader != 0 && id != leader {
				agree = false
			}
			leader = id
		}
		if agree && leader != 0 && e.servers[leader-1] != nil {
			return int(leader - 1)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no agreed leader within %v", testTimeout)
		}
		time.Sleep(e.tick / 20) // polling leadership reports of several servers
	}
}

func (e *testEnsemble) addr(i int) string { return e.servers[i].Addr().String() }

// dial connects a go-zookeeper client to the members at idx, in order.
func (e *testEnsemble) dial(idx ...int) *zk.Conn {
	e.t.Helper()
	return e.dialTimeout(4*time.Second, idx...)
}

// dialTimeout is dial with a session timeout.
func (e *testEnsemble) dialTimeout(timeout time.Duration, idx ...int) *zk.Conn {
	e.t.Helper()
	var addrs []string
	for _, i := range idx {
		addrs = append(addrs, e.addr(i))
	}
	c, ev, err := zk.Connect(addrs, timeout, zk.WithLogInfo(false), zk.WithHostProvider(&orderedHosts{}))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(c.Close)
	deadline := time.After(testTimeout)
	for {
		select {
		case got := <-ev:
			if got.State == zk.StateHasSession {
				go func() {
					for range ev {
					}
				}()
				return c
			}
		case <-deadline:
			e.t.Fatalf("no session within %v", testTimeout)
		}
	}
}

// orderedHosts is a go-zookeeper HostProvider that tries the servers in
// the order given (the default shuffles them), so a test knows which
// member a client is connected to.
type orderedHosts struct {
	mu    sync.Mutex
	hosts []string
	next  int
}

func (h *orderedHosts) Init(servers []string) error {
	h.hosts = servers
	return nil
}
func (h *orderedHosts) Len() int { return len(h.hosts) }
func (h *orderedHosts) Next() (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.hosts[h.next%len(h.hosts)]
	h.next++
	return s, h.next%len(h.hosts) == 0
}
func (h *orderedHosts) Connected() {}

// eventually retries f until it returns nil, failing after testTimeout.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond) // retrying a client call until the ensemble serves it
	}
}

// Writes on every member reach all; a session reads its own writes on a
// follower; sync then read sees a write made on another member.
func TestEnsembleReplicates(t *testing.T) {
	e := startEnsemble(t, 3, 500*time.Millisecond)
	leader := e.waitLeader()
	clients := make([]*zk.Conn, 3)
	for i := range 3 {
		clients[i] = e.dial(i)
	}
	for i, c := range clients {
		p := fmt.Sprintf("/n%d", i)
		if _, err := c.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create on member %d (leader %d): %v", i+1, leader+1, err)
		}
		// Guarantee 2 on whichever member: the next read sees the write.
		if b, _, err := c.Get(p); err != nil || string(b) != p {
			t.Fatalf("read own write on member %d: %q %v", i+1, b, err)
		}
	}
	for i, c := range clients {
		for j := range 3 {
			p := fmt.Sprintf("/n%d", j)
			if _, err := c.Sync(p); err != nil {
				t.Fatal(err)
			}
			if b, _, err := c.Get(p); err != nil || string(b) != p {
				t.Fatalf("member %d after sync: %s = %q %v", i+1, p, b, err)
			}
		}
	}
	// The four-letter words show each member's role and, on the leader,
	// its followers.
	for i := range 3 {
		want := "Mode: follower"
		if i == leader {
			want = "Mode: leader"
		}
		if out := fourLetter(t, e.servers[i], "srvr"); !strings.Contains(out, want) {
			t.Errorf("member %d srvr:\n%s", i+1, out)
		}
	}
	eventually(t, "the leader counts its followers", func() error {
		out := fourLetter(t, e.servers[leader], "mntr")
		for _, kv := range []string{"zk_server_state\tleader\n", "zk_followers\t2\n", "zk_synced_followers\t2\n", "zk_pending_syncs\t0\n"} {
			if !strings.Contains(out, kv) {
				return fmt.Errorf("no %q in\n%s", kv, out)
			}
		}
		return nil
	})
	if out := fourLetter(t, e.servers[(leader+1)%3], "mntr"); !strings.Contains(out, "zk_server_state\tfollower\n") || strings.Contains(out, "zk_followers") {
		t.Errorf("follower mntr:\n%s", out)
	}
	// Every member holds the same tree.
	want := treeDump(e.servers[0])
	for i := 1; i < 3; i++ {
		if got := treeDump(e.servers[i]); got != want {
			t.Fatalf("member %d differs:\n%s\nmember 1:\n%s", i+1, got, want)
		}
	}
}

// treeDump lists the znodes of a member with their data and mzxid.
func treeDump(s *Server) string {
	var out string
	s.meta.replica.Read(func(t *statemachine.Tree) {
		var walk func(p string)
		walk = func(p string) {
			data, st, _, _ := t.Get(p)
			out += fmt.Sprintf("%s %q %x\n", p, data, st.Mzxid)
			kids, _, _, _ := t.Children(p)
			for _, k := range kids {
				if p == "/" {
					walk("/" + k)
				} else {
					walk(p + "/" + k)
				}
			}
		}
		walk("/")
	})
	return out
}

// A session connected to a follower stays alive past its timeout: the
// follower's touches reach the leader, the only member that expires
// sessions.
func TestEnsembleFollowerSessionStaysAlive(t *testing.T) {
	e := startEnsemble(t, 3, 500*time.Millisecond)
	leader := e.waitLeader()
	f := (leader + 1) % 3
	c := e.dial(f)
	if _, err := c.Create("/eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	id := c.SessionID()
	ls := e.servers[leader]
	v, ok := ls.live.Load(id)
	if !ok {
		t.Fatal("the leader has no record of the session")
	}
	l := v.(*liveness)
	start := time.Now().UnixMilli()
	// The leader hears of the session through touches only; wait until
	// it has, later than the session timeout after the start.
	eventually(t, "touch reaches the leader", func() error {
		if seen := l.lastSeen.Load(); seen < start+l.timeoutMs+e.tick.Milliseconds() {
			return fmt.Errorf("last seen %d ms after start, timeout %d", seen-start, l.timeoutMs)
		}
		return nil
	})
	if _, _, err := c.Get("/eph"); err != nil {
		t.Fatalf("session expired: %v", err)
	}
	if _, ok := ls.live.Load(id); !ok {
		t.Fatal("the leader dropped the session")
	}
}

// The leader dies: a client of a follower keeps writing, a client of the
// leader moves to another member with its session and ephemeral, and the
// two members left agree on the tree.
func TestEnsembleLeaderFailover(t *testing.T) {
	e := startEnsemble(t, 3, 500*time.Millisecond)
	leader := e.waitLeader()
	f1, f2 := (leader+1)%3, (leader+2)%3
	a := e.dial(f1)
	b := e.dial(leader, f2)
	if _, err := b.Create("/b", []byte("b"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Create("/x", []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	bid := b.SessionID()
	e.stop(leader)
	next := e.waitLeader()
	if next == leader {
		t.Fatal("the stopped member still leads")
	}
	eventually(t, "write after failover", func() error {
		_, err := a.Set("/x", []byte("1"), -1)
		return err
	})
	eventually(t, "the leader's client resumes elsewhere", func() error {
		_, st, err := b.Get("/b")
		if err != nil {
			return err
		}
		if st.EphemeralOwner != bid || b.SessionID() != bid {
			return fmt.Errorf("owner %x session %x, want %x", st.EphemeralOwner, b.SessionID(), bid)
		}
		return nil
	})
	if _, err := b.Set("/b", []byte("moved"), -1); err != nil {
		t.Fatalf("write of the moved session: %v", err)
	}
	if _, err := a.Sync("/"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Sync("/"); err != nil {
		t.Fatal(err)
	}
	if d1, d2 := treeDump(e.servers[f1]), treeDump(e.servers[f2]); d1 != d2 {
		t.Fatalf("members differ:\n%s\n%s", d1, d2)
	}
	// The old leader comes back and catches up.
	e.restart(leader)
	if _, err := a.Set("/x", []byte("2"), -1); err != nil {
		t.Fatal(err)
	}
	c := e.dial(leader)
	if _, err := c.Sync("/x"); err != nil {
		t.Fatal(err)
	}
	if v, _, err := c.Get("/x"); err != nil || string(v) != "2" {
		t.Fatalf("restarted member reads %q %v", v, err)
	}
}

// A member that was down while the others compacted their logs catches up
// from a snapshot the leader streams, and then holds the same tree.
func TestEnsembleCatchUpFromSnapshot(t *testing.T) {
	e := startEnsembleWith(t, 3, 500*time.Millisecond, func(c *Config) {
		c.SnapCount = 20
		c.LogRetention = 5
	})
	leader := e.waitLeader()
	lag := (leader + 1) % 3
	e.stop(lag)
	c := e.dial(leader)
	for i := range 300 {
		if _, err := c.Create(fmt.Sprintf("/k%03d", i), []byte(fmt.Sprint(i)), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	e.restart(lag)
	l := e.dial(lag)
	eventually(t, "the lagging member loads a snapshot", func() error {
		if n := e.servers[lag].meta.recovered.Load(); n == 0 {
			return fmt.Errorf("no snapshot loaded")
		}
		return nil
	})
	if _, err := l.Sync("/"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sync("/"); err != nil {
		t.Fatal(err)
	}
	if got, want := treeDump(e.servers[lag]), treeDump(e.servers[leader]); got != want {
		t.Fatalf("caught-up member differs:\n%s\nleader:\n%s", got, want)
	}
	if v, _, err := l.Get("/k299"); err != nil || string(v) != "299" {
		t.Fatalf("read on the caught-up member: %q %v", v, err)
	}
}

// handshake sends a ConnectRequest to addr and returns the response, or
// ok false when the server closed the connection instead.
func handshake(t *testing.T, addr string, req wire.ConnectRequest) (wire.ConnectResponse, bool) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	if _, err := nc.Write(wire.AppendFrame(nil, &req)); err != nil {
		t.Fatal(err)
	}
	body, err := wire.ReadFrame(nc, nil, wire.DefaultMaxPacket)
	if err != nil {
		return wire.ConnectResponse{}, false
	}
	var resp wire.ConnectResponse
	d := wire.NewDecoder(body)
	resp.Decode(d)
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	return resp, true
}

// A member that is behind the client (it was down while the client wrote
// elsewhere) catches up during the handshake instead of refusing it or
// calling a live session expired (guarantee 4).
func TestEnsembleHandshakeCatchesUp(t *testing.T) {
	e := startEnsemble(t, 3, 500*time.Millisecond)
	leader := e.waitLeader()
	lag := (leader + 1) % 3
	e.stop(lag)
	c := e.dial(leader)
	for i := range 300 {
		if _, err := c.Create(fmt.Sprintf("/k%03d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	seen := e.servers[leader].lastZxid()
	var info statemachine.SessionInfo
	e.servers[leader].meta.replica.Read(func(tr *statemachine.Tree) { info, _ = tr.Session(c.SessionID()) })
	e.restart(lag)
	resp, ok := handshake(t, e.addr(lag), wire.ConnectRequest{TimeOut: 4000, SessionID: info.ID, Passwd: info.Passwd, LastZxidSeen: seen})
	if !ok || resp.SessionID != info.ID {
		t.Fatalf("resume on the member that was behind: ok %v, session %x, want %x", ok, resp.SessionID, info.ID)
	}
	if got := e.servers[lag].lastZxid(); got < seen {
		t.Fatalf("served a client that saw %x at %x", seen, got)
	}
	// A client ahead of every member is still refused.
	if _, ok := handshake(t, e.addr(lag), wire.ConnectRequest{TimeOut: 4000, LastZxidSeen: seen + 1<<40}); ok {
		t.Fatal("a client from the future got a session")
	}
}

// A rolling restart of every member, one at a time, under a write load
// from a client given every member: every acknowledged write is on every
// member at the end, and the client's session lives throughout.
func TestEnsembleRollingRestart(t *testing.T) {
	e := startEnsemble(t, 3, 500*time.Millisecond)
	w := e.dial(0, 1, 2)
	sid := w.SessionID()
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { // the writer; ends when stop closes or a write fails for good
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			p := fmt.Sprintf("/w%05d", i)
			_, err := w.Create(p, nil, 0, zk.WorldACL(zk.PermAll))
			switch {
			case err == nil:
				mu.Lock()
				acked = append(acked, p)
				mu.Unlock()
			case err == zk.ErrNodeExists: // acknowledged after all: the reply was lost in a move
				mu.Lock()
				acked = append(acked, p)
				mu.Unlock()
			case err == zk.ErrSessionExpired:
				done <- err
				return
			default:
				i-- // connection loss: the same create again
			}
		}
	}()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	for i := range 3 {
		before := count()
		e.stop(i)
		e.restart(i)
		e.waitLeader()
		eventually(t, "writes go on after restarting a member", func() error {
			if count() < before+20 {
				return fmt.Errorf("%d writes acknowledged, %d before the restart of member %d", count(), before, i+1)
			}
			return nil
		})
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("writer: %v", err)
	}
	if w.SessionID() != sid {
		t.Fatalf("session changed from %x to %x", sid, w.SessionID())
	}
	for i := range 3 {
		c := e.dial(i)
		if _, err := c.Sync("/"); err != nil {
			t.Fatal(err)
		}
		kids, _, err := c.Children("/")
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, k := range kids {
			have["/"+k] = true
		}
		for _, p := range acked {
			if !have[p] {
				t.Fatalf("member %d lost acknowledged %s (%d acknowledged)", i+1, p, len(acked))
			}
		}
	}
	if d0, d1, d2 := treeDump(e.servers[0]), treeDump(e.servers[1]), treeDump(e.servers[2]); d0 != d1 || d1 != d2 {
		t.Fatal("members differ after the rolling restart")
	}
	t.Logf("%d writes acknowledged across the rolling restart", len(acked))
}

// Five members survive the loss of two, the leader among them.
func TestEnsembleFiveMembersLoseTwo(t *testing.T) {
	e := startEnsemble(t, 5, 500*time.Millisecond)
	leader := e.waitLeader()
	other := (leader + 1) % 5
	var keep []int
	for i := range 5 {
		if i != leader && i != other {
			keep = append(keep, i)
		}
	}
	c := e.dial(keep...)
	if _, err := c.Create("/before", []byte("1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	e.stop(leader)
	e.stop(other)
	e.waitLeader()
	eventually(t, "write with three of five", func() error {
		_, err := c.Create("/after", []byte("2"), 0, zk.WorldACL(zk.PermAll))
		if err == zk.ErrNodeExists {
			return nil
		}
		return err
	})
	for _, i := range keep {
		d := e.dial(i)
		if _, err := d.Sync("/"); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/before", "/after"} {
			if _, _, err := d.Get(p); err != nil {
				t.Fatalf("member %d: %s: %v", i+1, p, err)
			}
		}
	}
}

// testLogLevel is Warn, or Debug/Info with PADDOCK_TEST_LOG=debug|info.
func testLogLevel() slog.Level {
	switch os.Getenv("PADDOCK_TEST_LOG") {
	case "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	}
	return slog.LevelWarn
}

// With readonlymode.enabled, a member cut off from its quorum serves the
// clients that ask for read-only mode: reads answer from its replica,
// writes NotReadOnly; clients that did not ask are refused. When a leader
// is back, the read-only connections close.
func TestEnsembleReadOnlyMode(t *testing.T) {
	e := startEnsembleWith(t, 3, 200*time.Millisecond, func(c *Config) {
		c.ReadOnlyMode = true
		c.FourLetterWords = []string{"isro"}
	})
	leader := e.waitLeader()
	alone := (leader + 1) % 3
	c := e.dial(alone)
	if _, err := c.Create("/ro", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	other := (leader + 2) % 3
	e.stop(leader)
	e.stop(other)
	s := e.servers[alone]
	eventually(t, "the member left alone has no leader", func() error {
		if s.leaderlessFor(time.Now()) < s.readOnlyDelay() {
			id, _ := s.leaderID()
			return fmt.Errorf("leader %d, leaderless for %v", id, s.leaderlessFor(time.Now()))
		}
		return nil
	})
	if got := fourLetter(t, s, "isro"); got != "ro" {
		t.Fatalf("isro in read-only mode: %q", got)
	}
	if _, ok := handshake(t, e.addr(alone), wire.ConnectRequest{TimeOut: 4000, HasReadOnly: true}); ok {
		t.Fatal("a client that did not ask for read-only mode got a session")
	}
	nc, err := net.DialTimeout("tcp", e.addr(alone), testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	rc := &rawClient{t: t, nc: nc}
	if _, err := nc.Write(wire.AppendFrame(nil, &wire.ConnectRequest{TimeOut: 4000, HasReadOnly: true, ReadOnly: true})); err != nil {
		t.Fatal(err)
	}
	body, err := wire.ReadFrame(nc, nil, wire.DefaultMaxPacket)
	if err != nil {
		t.Fatalf("read-only handshake: %v", err)
	}
	var resp wire.ConnectResponse
	resp.Decode(wire.NewDecoder(body))
	if !resp.ReadOnly || resp.SessionID == 0 {
		t.Fatalf("response %+v, want a read-only session", resp)
	}
	rc.send(1, wire.OpGetData, &wire.PathWatchRequest{Path: "/ro"})
	if h, d := rc.read(); h.Err != wire.Ok {
		t.Fatalf("read-only getData: %v", h.Err)
	} else {
		var gd wire.GetDataResponse
		gd.Decode(d)
		if string(gd.Data) != "x" {
			t.Fatalf("read-only getData %q", gd.Data)
		}
	}
	rc.send(2, wire.OpCreate, &wire.CreateRequest{Path: "/no", ACL: wire.WorldACL})
	if h, _ := rc.read(); h.Err != wire.ErrNotReadOnly {
		t.Fatalf("read-only create: %v, want NotReadOnly", h.Err)
	}
	rc.send(3, wire.OpSync, &wire.PathRequest{Path: "/"})
	if h, _ := rc.read(); h.Err != wire.ErrNotReadOnly {
		t.Fatalf("read-only sync: %v, want NotReadOnly", h.Err)
	}
	// The quorum is back: the read-only connection ends.
	e.restart(leader)
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	if _, err := wire.ReadFrame(nc, nil, wire.DefaultMaxPacket); err == nil {
		t.Fatal("the read-only connection stayed open with a leader back")
	}
	if got := fourLetter(t, s, "isro"); got != "rw" {
		t.Fatalf("isro with a leader back: %q", got)
	}
}

// A member whose IP address changes while its server.N host name stays
// (a Kubernetes pod that moved) rejoins without a restart of the others:
// members dial each other by name on every connect. The test runs itself
// again in a mount namespace of its own (unshare -m, as root, as CI runs)
// with a private /etc/hosts naming the members, and moves member 3 from
// 127.0.0.13 to 127.0.0.23.
func TestEnsembleMemberMovesToNewAddress(t *testing.T) {
	hosts := os.Getenv("PADDOCK_TEST_HOSTS")
	if hosts == "" {
		hosts = filepath.Join(t.TempDir(), "hosts")
		if err := os.WriteFile(hosts, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("unshare", "-m", "--", "sh", "-c", `mount --bind "$PADDOCK_TEST_HOSTS" /etc/hosts && exec "$0" -test.run='^TestEnsembleMemberMovesToNewAddress$' -test.v`, os.Args[0])
		cmd.Env = append(os.Environ(), "PADDOCK_TEST_HOSTS="+hosts)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestEnsembleMemberMovesToNewAddress") {
			t.Fatalf("in a mount namespace with its own /etc/hosts (needs root and unshare): %v\n%s", err, out)
		}
		return
	}
	setHosts := func(m3 string) {
		t.Helper()
		data := "127.0.0.11 paddock-m1\n127.0.0.12 paddock-m2\n" + m3 + " paddock-m3\n"
		if err := os.WriteFile(hosts, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setHosts("127.0.0.13")
	var members []Member
	for i := 1; i <= 3; i++ {
		_, qp, _ := net.SplitHostPort(freePort(t))
		_, ep, _ := net.SplitHostPort(freePort(t))
		host := fmt.Sprintf("paddock-m%d", i)
		members = append(members, Member{ID: uint64(i), QuorumAddr: net.JoinHostPort(host, qp), ElectionAddr: net.JoinHostPort(host, ep)})
	}
	e := startMembers(t, members, 500*time.Millisecond, nil)
	c := e.dial(0)
	if _, err := c.Create("/a", []byte("a"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	e.stop(2)
	setHosts("127.0.0.23")
	// Go re-reads /etc/hosts when it changed (and at most every 5 s).
	eventually(t, "the new address resolves", func() error {
		addrs, err := net.LookupHost("paddock-m3")
		if err != nil || len(addrs) != 1 || addrs[0] != "127.0.0.23" {
			return fmt.Errorf("paddock-m3 is %v %v", addrs, err)
		}
		return nil
	})
	e.restart(2)
	if _, err := c.Create("/b", []byte("b"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	m3 := e.dial(2)
	eventually(t, "the moved member catches up", func() error {
		if _, err := m3.Sync("/"); err != nil {
			return err
		}
		_, _, err := m3.Get("/b")
		return err
	})
	if _, err := m3.Create("/c", []byte("c"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write on the moved member: %v", err)
	}
	if _, err := c.Sync("/"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get("/c"); err != nil {
		t.Fatalf("member 1 has not the moved member's write: %v", err)
	}
	if nc, err := net.DialTimeout("tcp", "127.0.0.13:"+strings.Split(members[2].QuorumAddr, ":")[1], time.Second); err == nil {
		nc.Close()
		t.Fatal("member 3 still listens at its old address")
	}
}

// A member that loses its quorum takes no writes: a write waits, the
// member closes its client connections after syncLimit ticks, and when a
// quorum is back the client resumes its session there.
func TestEnsembleLosesQuorum(t *testing.T) {
	e := startEnsemble(t, 3, 200*time.Millisecond)
	leader := e.waitLeader()
	alone := (leader + 1) % 3
	c := e.dial(alone)
	sid := c.SessionID()
	e.stop(leader)
	e.stop((leader + 2) % 3)
	s := e.servers[alone]
	start := time.Now()
	_, err := c.Create("/lost", nil, 0, zk.WorldACL(zk.PermAll))
	if err == nil {
		t.Fatal("a write succeeded without a quorum")
	}
	if waited := time.Since(start); waited < s.syncBound() {
		t.Fatalf("the write failed after %v (%v), before syncLimit ticks (%v)", waited, err, s.syncBound())
	}
	e.restart(leader)
	e.waitLeader()
	eventually(t, "the session resumes with a quorum back", func() error {
		_, _, err := c.Exists("/")
		return err
	})
	if c.SessionID() != sid {
		t.Fatalf("session %x, want %x", c.SessionID(), sid)
	}
	if _, err := c.Create("/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
}

// The election port takes only Paddock members: a bad hello, a hello from
// a server id that is not another member, a frame that does not parse or
// an oversize length closes that connection, and the ensemble goes on.
func TestMemberChannelRefusesBadInput(t *testing.T) {
	e := startEnsemble(t, 3, 500*time.Millisecond)
	leader := e.waitLeader()
	addr := e.members[leader].ElectionAddr
	frame := func(body []byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	touch := func(n uint32, extra int) []byte {
		b := []byte{memberTouch}
		b = binary.BigEndian.AppendUint64(b, 1)
		b = binary.BigEndian.AppendUint32(b, n)
		return append(b, make([]byte, extra)...)
	}
	hello := appendHello(nil, uint64((leader+1)%3+1), quorumauth.MechNone)
	for name, in := range map[string][]byte{
		"garbage":          []byte("GET / HTTP/1.1\r\n\r\n"),
		"not a hello":      frame([]byte("PDKX\x01\x00\x00\x00\x00\x00\x00\x00\x02")),
		"other version":    frame([]byte("PDKM\x07\x00\x00\x00\x00\x00\x00\x00\x02")),
		"unknown server":   appendHello(nil, 9, quorumauth.MechNone),
		"itself":           appendHello(nil, uint64(leader+1), quorumauth.MechNone),
		"oversize frame":   append(hello, 0xff, 0xff, 0xff, 0xff),
		"short touch":      append(hello, frame(touch(2, memberTouchEntryB))...),
		"wrong frame type": append(hello, frame([]byte{9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})...),
	} {
		nc, err := net.DialTimeout("tcp", addr, testTimeout)
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.SetDeadline(time.Now().Add(testTimeout))
		if _, err := nc.Write(in); err != nil {
			t.Fatalf("%s: write: %v", name, err)
		}
		if _, err := io.Copy(io.Discard, nc); err != nil {
			t.Fatalf("%s: the member did not close the connection: %v", name, err)
		}
		nc.Close()
	}
	c := e.dial(leader)
	if _, err := c.Create("/still", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("after bad member-channel input: %v", err)
	}
}

// The quorum port takes only Paddock's Raft transport: garbage, another
// protocol's hello, a bad checksum or an oversize length closes that
// connection, and the ensemble goes on (actors/raftnet tests every case).
func TestEnsembleQuorumPortRefusesBadInput(t *testing.T) {
	e := startEnsemble(t, 3, 500*time.Millisecond)
	leader := e.waitLeader()
	hello := []byte("PDKR\x01\x01")
	for name, in := range map[string][]byte{
		"garbage":             []byte("GET / HTTP/1.1\r\n\r\n"),
		"member channel":      appendHello(nil, 2, quorumauth.MechNone),
		"other version":       []byte("PDKR\x09\x01"),
		"oversize frame":      append(hello, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0),
		"bad checksum":        append(hello, 0, 0, 0, 3, 0, 0, 0, 0, 1, 2, 3),
		"Dragonboat's header": append([]byte{0xAE, 0x7D, 0, 100}, make([]byte, 16)...),
	} {
		for i := range e.members {
			nc, err := net.DialTimeout("tcp", e.members[i].QuorumAddr, testTimeout)
			if err != nil {
				t.Fatal(err)
			}
			_ = nc.SetDeadline(time.Now().Add(testTimeout))
			if _, err := nc.Write(in); err != nil {
				t.Fatalf("%s: write: %v", name, err)
			}
			var b [1]byte
			if n, err := nc.Read(b[:]); n > 0 || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("%s: member %d did not close the connection: %d bytes, %v", name, i+1, n, err)
			}
			nc.Close()
		}
	}
	c := e.dial(leader)
	if _, err := c.Create("/still", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("after bad quorum-port input: %v", err)
	}
}

// linesHandler keeps the text of every record logged through it.
type linesHandler struct {
	mu    sync.Mutex
	lines []string
}

func (h *linesHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *linesHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *linesHandler) WithGroup(string) slog.Handler            { return h }
func (h *linesHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	h.mu.Lock()
	h.lines = append(h.lines, b.String())
	h.mu.Unlock()
	return nil
}

func (h *linesHandler) find(parts ...string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.lines {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return l
		}
	}
	return ""
}

// Members that spell a peer's address differently (member 1's zoo.cfg
// names member 2 localhost, member 2's own 127.0.0.1): Dragonboat's
// registry panics on the first message member 2 sends member 1 ("inconsistent
// target"). Member 1 refuses those messages instead, with an error that
// names both spellings, and the ensemble elects and writes without it
// hearing member 2.
func TestEnsembleMisspelledPeer(t *testing.T) {
	var members []Member
	for i := 1; i <= 3; i++ {
		members = append(members, Member{ID: uint64(i), QuorumAddr: freePort(t), ElectionAddr: freePort(t)})
	}
	_, port, _ := net.SplitHostPort(members[1].QuorumAddr)
	misspelled := "localhost:" + port
	logs := &linesHandler{}
	e := &testEnsemble{t: t, tick: 500 * time.Millisecond, members: members, servers: make([]*Server, 3)}
	e.mod = func(c *Config) {
		if c.ServerID != 1 {
			return
		}
		c.Members = append([]Member(nil), members...)
		c.Members[1].QuorumAddr = misspelled
		c.Logger = slog.New(logs)
	}
	for i := range 3 {
		e.clients = append(e.clients, freePort(t))
		e.dirs = append(e.dirs, filepath.Join(t.TempDir(), fmt.Sprint(i)))
	}
	t.Cleanup(func() {
		for _, s := range e.servers {
			if s != nil {
				s.Close()
			}
		}
	})
	// Members 1 and 2 alone: each asks the other for its vote. They start
	// together, as a new member waits for another to answer before it
	// bootstraps.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.servers[i], errs[i] = e.start(i)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	eventually(t, "member 1 refuses member 2's messages", func() error {
		if l := logs.find("refusing the messages", misspelled, members[1].QuorumAddr); l != "" {
			t.Log(l)
			return nil
		}
		return errors.New("no refusal logged")
	})
	e.restart(2)
	c := e.dial(2)
	if _, err := c.Create("/spelled", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write with a quorum of members 2 and 3: %v", err)
	}
}
