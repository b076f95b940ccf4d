package robustness

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is what a directed link does to the bytes that member From sends
// to member To, on every connection between them whoever dialled it.
type Fault struct {
	// Blackhole holds every byte (and every new connection's upstream
	// dial) until the fault is lifted, as a network that drops packets
	// while TCP keeps retransmitting them: connections stay open, the
	// endpoints' own timeouts decide what happens, and what was held is
	// delivered on healing if the connection is still there.
	Blackhole bool
	// Delay delivers each chunk of bytes this long after it was read.
	Delay time.Duration
	// Jitter adds a random extra delay in [0, Jitter) to each chunk. The
	// order of the bytes is kept, as on a TCP stream: a chunk is never
	// delivered before one read earlier.
	Jitter time.Duration
	// Loss is what packet loss does to a TCP stream, which cannot lose
	// bytes inside it: with probability Loss a chunk is held back for a
	// retransmission timeout (Retransmit, at least MinRetransmit) before
	// it is delivered, and everything read after it waits behind it.
	Loss       float64
	Retransmit time.Duration
	// Reset is the probability, per chunk, that the connection is reset
	// (both ends see it closed), as when TCP gives up retransmitting.
	Reset float64
}

// MinRetransmit is Linux's minimum TCP retransmission timeout, the least
// a lost segment costs a stream.
const MinRetransmit = 200 * time.Millisecond

// holdFor returns how long after it was read a chunk is delivered, and
// whether the connection is reset instead.
func (f Fault) holdFor() (time.Duration, bool) {
	if f.Reset > 0 && rand.Float64() < f.Reset {
		return 0, true
	}
	d := f.Delay
	if f.Jitter > 0 {
		d += rand.N(f.Jitter)
	}
	if f.Loss > 0 && rand.Float64() < f.Loss {
		d += max(f.Retransmit, MinRetransmit)
	}
	return d, false
}

type link struct{ from, to int }

// Network is the set of proxies between the members of an ensemble: one
// listener per directed link and peer port. Member i's zoo.cfg names
// member j as peerj, which i's /etc/hosts resolves to 127.base.i.j, where
// the link i→j listens on j's quorum and election ports and forwards to
// j's own address. The test sets a Fault per direction.
//
// While a member is down (killed, not yet restarted) the listeners of the
// links to it are closed, so that its peers' dials are refused as they
// would be by the member's own closed port.
type Network struct {
	e *Ensemble

	mu      sync.Mutex
	faults  map[link]Fault
	changed chan struct{} // closed and replaced on every change
	closed  bool
	lns     map[int][]net.Listener // by the member they lead to
	conns   map[net.Conn]struct{}
	pairs   map[*pair]struct{} // the proxied connections, for Reset
	wg      sync.WaitGroup
}

// pair is one proxied connection: c from the dialler, up to the target
// (nil until dialled).
type pair struct {
	from, to int
	c, up    net.Conn
	dead     bool // Reset
}

func newNetwork(e *Ensemble) (*Network, error) {
	n := &Network{e: e, faults: map[link]Fault{}, changed: make(chan struct{}),
		lns: map[int][]net.Listener{}, conns: map[net.Conn]struct{}{}, pairs: map[*pair]struct{}{}}
	for _, to := range e.Members {
		if err := n.memberUp(to.ID); err != nil {
			n.Close()
			return nil, err
		}
	}
	return n, nil
}

// memberUp opens the listeners of the links to member id.
func (n *Network) memberUp(id int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || len(n.lns[id]) > 0 {
		return nil
	}
	to := n.e.Member(id)
	for _, from := range n.e.Members {
		if from.ID == id {
			continue
		}
		for _, port := range []int{to.quorumPort, to.electionPort} {
			addr := net.JoinHostPort(n.e.proxyIP(from.ID, id), fmt.Sprint(port))
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("robustness: proxy %d→%d: %w", from.ID, id, err)
			}
			n.lns[id] = append(n.lns[id], ln)
			p := proxied{from: from.ID, to: id, target: net.JoinHostPort(to.ip, fmt.Sprint(port)),
				election: n.e.Opts.Kind == ZooKeeper && port == to.electionPort}
			n.wg.Add(1)
			go n.accept(ln, p)
		}
	}
	return nil
}

// memberDown closes the listeners of the links to member id.
func (n *Network) memberDown(id int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ln := range n.lns[id] {
		ln.Close()
	}
	delete(n.lns, id)
}

// proxied is what a link's listener forwards.
type proxied struct {
	from, to int
	target   string
	// election: ZooKeeper's election port, whose first message names the
	// dialler's own address (see rewriteInitial).
	election bool
}

// Set sets the fault on the link from → to (the zero Fault passes).
func (n *Network) Set(from, to int, f Fault) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if f == (Fault{}) {
		delete(n.faults, link{from, to})
	} else {
		n.faults[link{from, to}] = f
	}
	close(n.changed)
	n.changed = make(chan struct{})
}

// SetBoth sets the fault on both directions between a and b.
func (n *Network) SetBoth(a, b int, f Fault) {
	n.Set(a, b, f)
	n.Set(b, a, f)
}

// Isolate black-holes every link to and from member id.
func (n *Network) Isolate(id int) {
	for _, m := range n.e.Members {
		if m.ID != id {
			n.SetBoth(id, m.ID, Fault{Blackhole: true})
		}
	}
}

// Reset resets every connection on the links to and from member id, and
// what they held is lost: called before Heal, it models a partition that
// lasted until TCP gave up (the endpoints saw silence, then find their
// connections broken), so that nothing sent during the partition arrives
// after it.
func (n *Network) Reset(id int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for pr := range n.pairs {
		if pr.from != id && pr.to != id {
			continue
		}
		pr.dead = true
		for _, c := range []net.Conn{pr.c, pr.up} {
			if c == nil {
				continue
			}
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.Close()
		}
	}
}

// Heal lifts every fault.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults = map[link]Fault{}
	close(n.changed)
	n.changed = make(chan struct{})
}

func (n *Network) fault(from, to int) (Fault, <-chan struct{}, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.faults[link{from, to}], n.changed, n.closed
}

// passable waits until bytes may flow from → to; false once the network
// is closed.
func (n *Network) passable(from, to int) (Fault, bool) {
	for {
		f, changed, closed := n.fault(from, to)
		if closed {
			return f, false
		}
		if !f.Blackhole {
			return f, true
		}
		<-changed
	}
}

// Close stops every proxy and connection.
func (n *Network) Close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	close(n.changed)
	n.changed = make(chan struct{})
	for _, lns := range n.lns {
		for _, ln := range lns {
			ln.Close()
		}
	}
	for c := range n.conns {
		c.Close()
	}
	n.mu.Unlock()
	n.wg.Wait()
}

func (n *Network) track(c net.Conn) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		c.Close()
		return false
	}
	n.conns[c] = struct{}{}
	return true
}

func (n *Network) untrack(c net.Conn) {
	n.mu.Lock()
	delete(n.conns, c)
	n.mu.Unlock()
	c.Close()
}

func (n *Network) accept(ln net.Listener, p proxied) {
	defer n.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !n.track(c) {
			return
		}
		n.wg.Add(1)
		go n.serve(c, p)
	}
}

// serve proxies one connection that member p.from dialled to member p.to.
func (n *Network) serve(c net.Conn, p proxied) {
	defer n.wg.Done()
	defer n.untrack(c)
	pr := &pair{from: p.from, to: p.to, c: c}
	n.mu.Lock()
	n.pairs[pr] = struct{}{}
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.pairs, pr)
		n.mu.Unlock()
	}()
	// Under a black hole the dial itself is held: to sees no connection.
	if _, ok := n.passable(p.from, p.to); !ok {
		return
	}
	var src io.Reader = c
	if p.election {
		first, err := n.rewriteInitial(c, p)
		if err != nil {
			return
		}
		src = io.MultiReader(bytes.NewReader(first), c)
	}
	up, err := dialUpstream(p.target)
	if err != nil {
		return // to does not listen: the dialler sees its connection closed
	}
	if !n.track(up) {
		return
	}
	defer n.untrack(up)
	n.mu.Lock()
	pr.up = up
	dead := pr.dead
	n.mu.Unlock()
	if dead {
		return
	}
	done := make(chan bool, 2)
	n.wg.Add(2)
	go func() { defer n.wg.Done(); done <- n.pump(up, src, p.from, p.to) }()
	go func() { defer n.wg.Done(); done <- n.pump(c, up, p.to, p.from) }()
	// Either side gone: close both (deferred), which ends the other pump;
	// a reset closes them with an RST rather than a FIN.
	if reset := <-done; reset {
		for _, conn := range []net.Conn{c, up} {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
		}
	}
}

// upstreamWait is how long a proxy keeps trying a target that refuses.
// The proxy has accepted its dialler's connection before it dials, so a
// refusal cannot be passed on as one; a target that listens a moment
// later (a member starting, a ZooKeeper leader opening its quorum port
// just after its election) is met as if the dialler had come a moment
// later. Past the wait the dialler's connection is closed.
const upstreamWait = 2 * time.Second

func dialUpstream(target string) (net.Conn, error) {
	deadline := time.Now().Add(upstreamWait)
	for {
		c, err := net.DialTimeout("tcp", target, 5*time.Second)
		if err == nil || time.Now().After(deadline) {
			return c, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rewriteInitial reads the first message of a ZooKeeper election
// connection and returns it with the dialler's address replaced by the
// proxy of the link back to it. ZooKeeper 3.8 sends its own election
// address as an IP literal (protocol version -65536, then the server id,
// then a length-prefixed "host:port", several joined by "|" in version
// -65535), and a receiver with the larger id drops the connection and
// dials that address itself: without the rewrite that second connection
// would bypass the proxies.
func (n *Network) rewriteInitial(c net.Conn, p proxied) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	var hdr [8]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return nil, err
	}
	version := int64(binary.BigEndian.Uint64(hdr[:]))
	if version != -65536 && version != -65535 {
		return hdr[:], nil // an old protocol: the server id alone
	}
	var rest [12]byte
	if _, err := io.ReadFull(c, rest[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(rest[8:])
	if size > 4096 {
		return nil, fmt.Errorf("robustness: election initial message of %d bytes", size)
	}
	addr := make([]byte, size)
	if _, err := io.ReadFull(c, addr); err != nil {
		return nil, err
	}
	self, back := n.e.Member(p.from).ip, n.e.proxyIP(p.to, p.from)
	var parts []string
	for _, a := range strings.Split(string(addr), "|") {
		if host, port, err := net.SplitHostPort(a); err == nil && host == self {
			a = net.JoinHostPort(back, port)
		}
		parts = append(parts, a)
	}
	out := append(hdr[:], rest[:8]...)
	joined := strings.Join(parts, "|")
	out = binary.BigEndian.AppendUint32(out, uint32(len(joined)))
	return append(out, joined...), nil
}

type chunk struct {
	b   []byte
	due time.Time
}

// pump copies src to dst as the link from → to allows: a reader takes
// bytes as they come and stamps each chunk with its delivery time, a
// writer holds them while the link is black-holed and until they are due,
// in the order read. The queue between them is bounded, so a held link
// pushes back on the sender as a full TCP window does. It reports whether
// it ended because the fault reset the connection.
func (n *Network) pump(dst net.Conn, src io.Reader, from, to int) (reset bool) {
	q := make(chan chunk, 64)
	wdone := make(chan struct{})
	var dead atomic.Bool // reset: deliver nothing more
	n.wg.Add(1)
	go func() { // ends when q is closed and drained, dst fails or the network closes
		defer n.wg.Done()
		defer close(wdone)
		for c := range q {
			if _, ok := n.passable(from, to); !ok {
				return
			}
			if d := time.Until(c.due); d > 0 {
				time.Sleep(d)
			}
			if _, ok := n.passable(from, to); !ok || dead.Load() { // a black hole may have begun meanwhile
				return
			}
			if _, err := dst.Write(c.b); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		nr, err := src.Read(buf)
		if nr > 0 {
			f, _, _ := n.fault(from, to)
			hold, rst := f.holdFor()
			if rst {
				reset = true
				break
			}
			select {
			case q <- chunk{b: append([]byte(nil), buf[:nr]...), due: time.Now().Add(hold)}:
			case <-wdone:
				return false
			}
		}
		if err != nil {
			break
		}
	}
	close(q)
	if reset {
		dead.Store(true) // what is queued is lost with the connection
		return true
	}
	<-wdone
	return false
}
