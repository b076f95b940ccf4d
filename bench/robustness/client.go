package robustness

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// Client is one go-zookeeper session of a workload, with what the harness
// needs to judge it: every session id it has had, every expiry it was
// told of, and a transcript of its connection events.
type Client struct {
	Name    string
	Conn    *zk.Conn
	conn    atomic.Pointer[zk.Conn] // Conn, for the event callback
	timeout time.Duration
	hosts   int
	start   time.Time

	cut atomic.Bool // Cut: dials fail, the connection is gone

	// onEvent, when set, is called with every event after the client's
	// own handling. A watch event comes on go-zookeeper's receive loop:
	// before the response to any request the server sent after it has
	// been handed to its caller.
	onEvent atomic.Pointer[func(zk.Event)]

	mu       sync.Mutex
	cur      net.Conn
	sessions []int64
	expired  []Expiry
	log      []string
}

// Expiry is a session expiry the client was told of.
type Expiry struct {
	Session int64
	At      time.Duration // since the client was dialled
}

// Dial opens a session to the ensemble with every member in its server
// list, tried in order from member first (1-based), and waits until the
// session is established.
func Dial(ctx context.Context, addrs []string, first int, name string, timeout time.Duration) (*Client, error) {
	c := &Client{Name: name, timeout: timeout, hosts: len(addrs), start: time.Now()}
	hp := &rotation{curr: first - 2, last: -1}
	conn, _, err := zk.Connect(addrs, timeout,
		zk.WithHostProvider(hp),
		zk.WithDialer(c.dial),
		zk.WithLogger(c),
		zk.WithEventCallback(c.event))
	if err != nil {
		return nil, err
	}
	c.Conn = conn
	c.conn.Store(conn)
	for len(c.Sessions()) == 0 {
		select {
		case <-ctx.Done():
			conn.Close()
			return nil, fmt.Errorf("robustness: client %s: no session: %w; transcript:\n%s", name, ctx.Err(), c.Transcript())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return c, nil
}

// Close closes the session.
func (c *Client) Close() { c.Conn.Close() }

// Cut makes the client unreachable, as if its machine had gone: its
// connection is closed and every dial fails, so its session is left to
// expire.
func (c *Client) Cut() {
	c.cut.Store(true)
	c.mu.Lock()
	if c.cur != nil {
		c.cur.Close()
	}
	c.mu.Unlock()
}

// Sessions returns every session id the client has had, in order.
func (c *Client) Sessions() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int64(nil), c.sessions...)
}

// Expired returns the expiries the client was told of.
func (c *Client) Expired() []Expiry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Expiry(nil), c.expired...)
}

// Transcript returns the client's connection events, oldest first.
func (c *Client) Transcript() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.log, "\n")
}

const transcriptLines = 300

// Printf implements zk.Logger: go-zookeeper's own log lines go into the
// transcript.
func (c *Client) Printf(format string, args ...any) { c.note(fmt.Sprintf(format, args...)) }

func (c *Client) note(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, fmt.Sprintf("%8.3fs %s", time.Since(c.start).Seconds(), s))
	if len(c.log) > transcriptLines {
		c.log = c.log[len(c.log)-transcriptLines:]
	}
}

func (c *Client) event(ev zk.Event) {
	if f := c.onEvent.Load(); f != nil {
		defer (*f)(ev)
	}
	if ev.Type != zk.EventSession {
		return
	}
	switch ev.State {
	case zk.StateHasSession:
		conn := c.conn.Load()
		for conn == nil { // the callback can run before Connect has returned
			runtime.Gosched()
			conn = c.conn.Load()
		}
		id := conn.SessionID()
		c.mu.Lock()
		if n := len(c.sessions); n == 0 || c.sessions[n-1] != id {
			c.sessions = append(c.sessions, id)
		}
		c.mu.Unlock()
		c.note(fmt.Sprintf("session 0x%x on %s", id, ev.Server))
	case zk.StateExpired:
		c.mu.Lock()
		var id int64
		if n := len(c.sessions); n > 0 {
			id = c.sessions[n-1]
		}
		c.expired = append(c.expired, Expiry{Session: id, At: time.Since(c.start)})
		c.mu.Unlock()
		c.note(fmt.Sprintf("session 0x%x EXPIRED (told by %s)", id, ev.Server))
	}
}

var errCut = errors.New("robustness: client cut off")

// dial connects, bounding the handshake by timeout/hosts as the Java
// client does (go-zookeeper allows ten times its read timeout, so a
// member that accepts but never answers, a stopped process, would hold
// the client past its session's life).
func (c *Client) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	if c.cut.Load() {
		return nil, errCut
	}
	nc, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return nil, err
	}
	hc := &handshakeConn{Conn: nc, deadline: time.Now().Add(c.timeout / time.Duration(max(c.hosts, 1)))}
	_ = nc.SetDeadline(hc.deadline)
	c.mu.Lock()
	c.cur = hc
	c.mu.Unlock()
	if c.cut.Load() {
		nc.Close()
		return nil, errCut
	}
	return hc, nil
}

// handshakeConn clamps every deadline to its own until the connect
// response (a 4-byte length and that many bytes) has been read.
type handshakeConn struct {
	net.Conn
	deadline time.Time

	mu   sync.Mutex
	hdr  [4]byte
	got  int
	need int // 0 until the length is known
	done bool
}

func (h *handshakeConn) Read(p []byte) (int, error) {
	n, err := h.Conn.Read(p)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, b := range p[:n] {
		if h.done {
			break
		}
		if h.got < 4 {
			h.hdr[h.got] = b
		}
		h.got++
		if h.got == 4 {
			h.need = 4 + int(binary.BigEndian.Uint32(h.hdr[:]))
		}
		if h.need > 0 && h.got >= h.need {
			h.done = true
			// go-zookeeper reads the body with no deadline set.
			_ = h.Conn.SetDeadline(time.Time{})
		}
	}
	return n, err
}

func (h *handshakeConn) clamp(t time.Time) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.done && (t.IsZero() || t.After(h.deadline)) {
		return h.deadline
	}
	return t
}

func (h *handshakeConn) SetDeadline(t time.Time) error { return h.Conn.SetDeadline(h.clamp(t)) }
func (h *handshakeConn) SetReadDeadline(t time.Time) error {
	return h.Conn.SetReadDeadline(h.clamp(t))
}
func (h *handshakeConn) SetWriteDeadline(t time.Time) error {
	return h.Conn.SetWriteDeadline(h.clamp(t))
}

// rotation is a zk.HostProvider that tries the servers in the order given,
// from a chosen one, without go-zookeeper's shuffle, so that a workload
// decides where its sessions start.
type rotation struct {
	mu      sync.Mutex
	servers []string
	curr    int // index of the last server returned
	last    int // index of the last server connected to; -1: none yet
}

func (r *rotation) Init(servers []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(servers) == 0 {
		return errors.New("robustness: no servers")
	}
	// Connect shuffles the list; put it back in member order.
	r.servers = sortedByMember(servers)
	r.curr = (r.curr + len(servers)) % len(servers)
	return nil
}

func (r *rotation) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.servers)
}

func (r *rotation) Next() (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.curr = (r.curr + 1) % len(r.servers)
	retry := r.curr == r.last
	if r.last == -1 {
		r.last = r.curr
	}
	return r.servers[r.curr], retry
}

func (r *rotation) Connected() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = r.curr
}

// sortedByMember orders client addresses by member: 127.b.0.N, so by N.
func sortedByMember(addrs []string) []string {
	key := func(a string) string {
		host, port, _ := net.SplitHostPort(a)
		ip := net.ParseIP(host).To4()
		if ip == nil {
			return a
		}
		return fmt.Sprintf("%03d.%03d.%03d.%03d:%s", ip[0], ip[1], ip[2], ip[3], port)
	}
	out := append([]string(nil), addrs...)
	slices.SortFunc(out, func(a, b string) int { return cmp.Compare(key(a), key(b)) })
	return out
}
