package actors

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/go-zookeeper/zk"

	"github.com/paddockdb/paddock/actors/quorumauth"
)

// linkProxy forwards one member's member-channel connections to another
// member's election address; the test can make it swallow the bytes of
// the connections open now (a socket that only looks open) or of every
// connection, new ones too (a network that holds packets).
type linkProxy struct {
	t      *testing.T
	ln     net.Listener
	target string

	mu      sync.Mutex
	conns   []*heldConn
	holdNew bool
	dials   int
	wg      sync.WaitGroup
}

type heldConn struct {
	c, up net.Conn
	mu    sync.Mutex
	held  bool
}

func (h *heldConn) isHeld() bool { h.mu.Lock(); defer h.mu.Unlock(); return h.held }

func newLinkProxy(t *testing.T, target string) *linkProxy {
	ln, err := net.Listen("tcp", freePort(t))
	if err != nil {
		t.Fatal(err)
	}
	p := &linkProxy{t: t, ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *linkProxy) addr() string { return p.ln.Addr().String() }

func (p *linkProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", p.target, testTimeout)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		h := &heldConn{c: c, up: up, held: p.holdNew}
		p.conns = append(p.conns, h)
		p.dials++
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pump(h, up, c)
		go p.pump(h, c, up)
	}
}

// pump copies src to dst, dropping what it reads while h is held.
func (p *linkProxy) pump(h *heldConn, dst, src net.Conn) {
	defer p.wg.Done()
	defer h.c.Close()
	defer h.up.Close()
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		if n > 0 && !h.isHeld() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// holdOpen swallows the bytes of the connections open now; new ones pass.
func (p *linkProxy) holdOpen() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range p.conns {
		h.mu.Lock()
		h.held = true
		h.mu.Unlock()
	}
}

// holdAll swallows the bytes of every connection, new ones too, until heal.
func (p *linkProxy) holdAll() {
	p.mu.Lock()
	p.holdNew = true
	p.mu.Unlock()
	p.holdOpen()
}

// heal lets new connections pass again (held ones stay held: their peers
// must notice and dial again).
func (p *linkProxy) heal() {
	p.mu.Lock()
	p.holdNew = false
	p.mu.Unlock()
}

func (p *linkProxy) dialled() int { p.mu.Lock(); defer p.mu.Unlock(); return p.dials }

func (p *linkProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, h := range p.conns {
		h.c.Close()
		h.up.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// proxiedEnsemble starts 3 members whose member-channel links to each
// other go through linkProxies: proxies[i][j] carries member i's
// connections to member j (indexes).
func proxiedEnsemble(t *testing.T, tick time.Duration) (*testEnsemble, [3][3]*linkProxy) {
	t.Helper()
	var members []Member
	for i := 1; i <= 3; i++ {
		members = append(members, Member{ID: uint64(i), QuorumAddr: freePort(t), ElectionAddr: freePort(t)})
	}
	var proxies [3][3]*linkProxy
	for i := range 3 {
		for j := range 3 {
			if i != j {
				proxies[i][j] = newLinkProxy(t, members[j].ElectionAddr)
			}
		}
	}
	e := startMembers(t, members, tick, func(c *Config) {
		i := int(c.ServerID - 1)
		c.Members = slices.Clone(c.Members)
		for j := range c.Members {
			if j != i {
				c.Members[j].ElectionAddr = proxies[i][j].addr()
			}
		}
	})
	return e, proxies
}

// sessionOnFollower connects a client with a short session timeout to a
// follower, creates an ephemeral and waits until the leader has heard of
// the session through the follower's touches. It returns the follower's
// index, the client and the leader's record of the session.
func sessionOnFollower(t *testing.T, e *testEnsemble, leader int) (int, *zk.Conn, *liveness) {
	t.Helper()
	f := (leader + 1) % 3
	c := e.dialTimeout(6*e.tick, f)
	if _, err := c.Create("/eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	v, ok := e.servers[leader].live.Load(c.SessionID())
	if !ok {
		t.Fatal("the leader has no record of the session")
	}
	l := v.(*liveness)
	since := time.Now().UnixMilli()
	eventually(t, "the follower's touches reach the leader", func() error {
		if l.lastSeen.Load() <= since {
			return fmt.Errorf("not touched since %d", since)
		}
		return nil
	})
	return f, c, l
}

// A follower's connection to the leader that swallows what it is sent
// (the leader restarted behind a stale socket, a proxy or NAT entry gone)
// does not stop its touches: the leader's acks stop, the follower dials
// again, and its session outlives its timeout.
func TestMemberChannelRedialsASilentLink(t *testing.T) {
	e, proxies := proxiedEnsemble(t, 250*time.Millisecond)
	leader := e.waitLeader()
	f, c, l := sessionOnFollower(t, e, leader)
	link := proxies[f][leader]
	before := link.dialled()
	link.holdOpen()
	held := time.Now().UnixMilli()
	eventually(t, "touches resume past the session timeout", func() error {
		if _, ok := e.servers[leader].live.Load(c.SessionID()); !ok {
			t.Fatalf("the leader expired the session of a live client (follower dialled the leader %d times since the hold)", link.dialled()-before)
		}
		if seen := l.lastSeen.Load(); seen < held+l.timeoutMs+e.tick.Milliseconds() {
			return fmt.Errorf("last seen %d ms after the hold, timeout %d", seen-held, l.timeoutMs)
		}
		return nil
	})
	if link.dialled() == before {
		t.Fatal("touches resumed without a new connection")
	}
	if _, _, err := c.Get("/eph"); err != nil {
		t.Fatalf("session lost: %v", err)
	}
}

// A leader that hears from no quorum of followers (its member channel cut
// off, or it stalled while the others moved on) expires nothing: its view
// of the sessions connected elsewhere is stale. Once the touches come
// back, the session is alive.
func TestEnsembleLeaderWithoutTouchesExpiresNothing(t *testing.T) {
	e, proxies := proxiedEnsemble(t, 250*time.Millisecond)
	leader := e.waitLeader()
	_, c, l := sessionOnFollower(t, e, leader)
	for i := range 3 {
		if i != leader {
			proxies[i][leader].holdAll()
		}
	}
	eventually(t, "the session is past due on the leader", func() error {
		if late := time.Now().UnixMilli() - l.lastSeen.Load(); late <= l.timeoutMs+2*e.tick.Milliseconds() {
			return fmt.Errorf("silent for %d ms of %d", late, l.timeoutMs)
		}
		return nil
	})
	if _, ok := e.servers[leader].live.Load(c.SessionID()); !ok || l.expiring.Load() {
		t.Fatalf("a leader that heard from no follower expired a session (record kept %v, expiring %v)", ok, l.expiring.Load())
	}
	for i := range 3 {
		if i != leader {
			proxies[i][leader].heal()
		}
	}
	healed := time.Now().UnixMilli()
	eventually(t, "touches resume", func() error {
		if l.lastSeen.Load() <= healed {
			return fmt.Errorf("not touched since the heal")
		}
		return nil
	})
	if _, _, err := c.Get("/eph"); err != nil {
		t.Fatalf("session lost: %v", err)
	}
}

// A member that has just become the leader expires nothing before its
// tracker has given every session a fresh timeout: LeaderUpdated changes
// the leadership before its trackerLead reaches the tracker, and a tick
// in between would otherwise judge the sessions by a follower's records,
// which other members' touches never reached.
func TestTrackerWaitsForItsLeadership(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	s.cfg.ServerID = 1
	s.meta.lead.leader = 1 // isLeader: the report is in, its trackerLead is not
	sys := actor.NewActorSystem()
	s.root = sys.Root
	proposed := make(chan any, 16)
	s.meta.proposer = s.root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *proposeInternal, string:
			proposed <- m
		}
	}))
	tracker := s.root.Spawn(actor.PropsFromProducer(func() actor.Actor { return newTracker(s) }))
	defer sys.Shutdown()
	stale := &liveness{id: 7, timeoutMs: 1000}
	s.live.Store(stale.id, stale)
	other := &liveness{id: 8, timeoutMs: 1000}
	s.live.Store(other.id, other)

	s.root.Send(tracker, &trackerTick{now: time.Now().Add(time.Hour)})
	s.root.Send(tracker, &sessionClosed{id: other.id}) // handled after the tick
	eventually(t, "the tracker handles the tick", func() error {
		if _, ok := s.live.Load(other.id); ok {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	s.root.Send(s.meta.proposer, "probe") // after anything the tick proposed
	select {
	case m := <-proposed:
		if m != "probe" {
			t.Fatalf("a tick before trackerLead proposed %+v", m)
		}
	case <-time.After(testTimeout):
		t.Fatal("probe lost")
	}
}

// FuzzMemberFrame: the member channel's decoders never panic, accept only
// what they can account for byte by byte, and read back what the sender
// writes.
//
//	go test -run '^$' -fuzz '^FuzzMemberFrame$' -fuzztime 10s ./actors
func FuzzMemberFrame(f *testing.F) {
	f.Add(appendHello(nil, 3, quorumauth.MechNone)[4:])
	f.Add(appendHello(nil, 3, quorumauth.MechDigest)[4:])
	f.Add([]byte{memberTouch, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 1, 0})
	f.Add([]byte{memberTouch, 0, 0, 0, 0, 0, 0, 0, 9, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte("PDKM\x01\x00\x00\x00\x00\x00\x00\x00\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if id, mech, err := parseHello(b); err == nil {
			if got := appendHello(nil, id, mech)[4:]; string(got) != string(b) {
				t.Fatalf("hello %x read as server %d, mechanism %d, written back as %x", b, id, mech, got)
			}
		}
		zxid, touches, err := parseTouch(b)
		if err != nil {
			return
		}
		if len(b) != memberTouchHeaderB+len(touches)*memberTouchEntryB {
			t.Fatalf("touch frame of %d bytes read as %d sessions", len(b), len(touches))
		}
		out := []byte{memberTouch}
		out = binary.BigEndian.AppendUint64(out, uint64(zxid))
		out = binary.BigEndian.AppendUint32(out, uint32(len(touches)))
		for _, tc := range touches {
			out = binary.BigEndian.AppendUint64(out, uint64(tc.id))
			out = binary.BigEndian.AppendUint32(out, tc.ageMs)
		}
		if string(out) != string(b) {
			t.Fatalf("touch frame %x read back as %x", b, out)
		}
	})
}
