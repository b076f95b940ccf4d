package actors

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/paddockdb/paddock/wire"
)

// lockedBuffer collects a server's log lines for a test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// dialSlowWatcher connects with a 4 KiB receive buffer (set before the
// connect, so the TCP window stays small), creates a session asking for
// timeoutMs, sets a persistent recursive watch on / and reads its reply.
// The caller then reads nothing more: a client that takes no events.
func dialSlowWatcher(t testing.TB, addr string, timeoutMs int32) *rawClient {
	t.Helper()
	c, err := slowWatcher(addr, timeoutMs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.nc.Close() })
	return c
}

// slowWatcher is dialSlowWatcher, reporting an error instead.
func slowWatcher(addr string, timeoutMs int32) (*rawClient, error) {
	d := net.Dialer{Timeout: testTimeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		if cerr := rc.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	fail := func(what string, err error) (*rawClient, error) {
		nc.Close()
		return nil, fmt.Errorf("slow watcher: %s: %w", what, err)
	}
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	if _, err := nc.Write(wire.AppendFrame(nil, &wire.ConnectRequest{TimeOut: timeoutMs, Passwd: make([]byte, 16)})); err != nil {
		return fail("handshake", err)
	}
	body, err := wire.ReadFrame(nc, nil, wire.DefaultMaxPacket)
	if err != nil {
		return fail("handshake", err)
	}
	var resp wire.ConnectResponse
	dec := wire.NewDecoder(body)
	resp.Decode(dec)
	if dec.Err() != nil {
		return fail("handshake", dec.Err())
	}
	frame := wire.AppendFrame(nil, &wire.RequestHeader{Xid: 1, Type: wire.OpAddWatch}, &wire.AddWatchRequest{Path: "/", Mode: wire.WatchPersistentRecursive})
	if _, err := nc.Write(frame); err != nil {
		return fail("addWatch", err)
	}
	if body, err = wire.ReadFrame(nc, nil, wire.DefaultMaxPacket); err != nil {
		return fail("addWatch", err)
	}
	var h wire.ReplyHeader
	h.Decode(wire.NewDecoder(body))
	if h.Xid != 1 || h.Err != wire.Ok {
		return fail("addWatch", fmt.Errorf("xid %d err %v", h.Xid, h.Err))
	}
	return &rawClient{nc: nc, sid: resp.SessionID, pw: resp.Passwd, tout: resp.TimeOut}, nil
}

// slowWatcherPaths creates n znodes with long names under /slow (so that
// each watch event is about 240 bytes) and returns their paths.
func slowWatcherPaths(t testing.TB, addr string, n int) []string {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Create("/slow", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("/slow/%s-%04d", strings.Repeat("n", 200), i)
		if _, err := c.Create(paths[i], nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

// writeLoad sets 1 KiB values on paths, pipelined (window requests in
// flight), from one raw session, until stop is closed or, when budget is
// not nil, until the writes it holds are taken (window at a time). It
// returns the number of writes.
func writeLoad(addr string, paths []string, window int, stop <-chan struct{}, budget *atomic.Int64) (int, error) {
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	if _, err := nc.Write(wire.AppendFrame(nil, &wire.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})); err != nil {
		return 0, fmt.Errorf("writer handshake: %w", err)
	}
	r := bufio.NewReaderSize(nc, 64<<10)
	if _, err := wire.ReadFrame(r, nil, wire.DefaultMaxPacket); err != nil {
		return 0, fmt.Errorf("writer handshake: %w", err)
	}
	val := bytes.Repeat([]byte("v"), 1<<10)
	var out, buf []byte
	n := 0
	for xid := int32(1); ; {
		select {
		case <-stop:
			return n, nil
		default:
		}
		if budget != nil && budget.Add(-int64(window)) < 0 {
			return n, nil
		}
		_ = nc.SetDeadline(time.Now().Add(testTimeout))
		out = out[:0]
		for range window {
			out = wire.AppendFrame(out, &wire.RequestHeader{Xid: xid, Type: wire.OpSetData},
				&wire.SetDataRequest{Path: paths[int(xid)%len(paths)], Data: val, Version: -1})
			xid++
		}
		if _, err := nc.Write(out); err != nil {
			return n, fmt.Errorf("writer, after %d writes: %w", n, err)
		}
		for range window {
			if buf, err = wire.ReadFrame(r, buf, wire.DefaultMaxPacket); err != nil {
				return n, fmt.Errorf("writer, after %d writes: %w", n, err)
			}
			var h wire.ReplyHeader
			h.Decode(wire.NewDecoder(buf))
			if h.Err != wire.Ok {
				return n, fmt.Errorf("setData: %v", h.Err)
			}
			n++
		}
	}
}

// Guarantee 8 for watch events: a client with a persistent recursive watch
// on / that never reads, while another client writes 1 KiB values as fast
// as it can, pins a bounded number of bytes of events and is closed with
// a warning naming its session, long before its session timeout; others
// keep being served; mntr counts the close; the client can resume its
// session and its watch with setWatches2.
func TestSlowWatcherIsClosed(t *testing.T) {
	const maxPacket = 64 << 10
	var logs lockedBuffer
	s := startServer(t, t.TempDir(), func(c *Config) {
		c.MaxPacket = maxPacket
		c.TickTime = time.Second // session timeouts up to 20 s: the stuck-writer close stays out of the way
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	defer s.Close()
	addr := s.Addr().String()
	paths := slowWatcherPaths(t, addr, 64)
	slow := dialSlowWatcher(t, addr, 20000)
	if slow.tout != 20000 {
		t.Fatalf("negotiated session timeout %d ms, want 20000", slow.tout)
	}
	c := connOf(t, s, slow.sid)

	stop := make(chan struct{})
	type result struct {
		n   int
		err error
	}
	wrote := make(chan result, 1)
	go func() {
		n, err := writeLoad(addr, paths, 128, stop, nil)
		wrote <- result{n, err}
	}()
	stopped := false
	stopWriter := func() result {
		if stopped {
			return result{}
		}
		stopped = true
		close(stop)
		return <-wrote
	}
	defer stopWriter()

	// Another client is served throughout.
	other := connectZK(t, s)
	var worst time.Duration
	start := time.Now()
	for closed := false; !closed; {
		select {
		case <-c.done:
			closed = true
		default:
		}
		if time.Since(start) > testTimeout {
			t.Fatalf("slow watcher not closed within %v; server log:\n%s", testTimeout, logs.String())
		}
		t0 := time.Now()
		if _, err := other.Set(paths[0], []byte("probe"), -1); err != nil {
			t.Fatal(err)
		}
		if _, _, err := other.Get(paths[1]); err != nil {
			t.Fatal(err)
		}
		worst = max(worst, time.Since(t0))
	}
	took := time.Since(start)
	res := stopWriter()
	if res.err != nil {
		t.Fatalf("writer: %v", res.err)
	}
	t.Logf("slow watcher closed after %v and %d writes; peak pinned %d bytes (bound %d); slowest request of another client %v",
		took, res.n, c.peak.Load(), c.maxPinned, worst)
	if worst > 5*time.Second {
		t.Errorf("another client waited %v for a request", worst)
	}
	if n := s.stats.slowClosed.Load(); n != 1 {
		t.Fatalf("%d connections closed as slow, want 1; server log:\n%s", n, logs.String())
	}
	if p, limit := c.peak.Load(), c.maxPinned+maxPacket; p > limit {
		t.Errorf("slow connection pinned %d bytes, want <= %d", p, limit)
	}
	if l := logs.String(); !strings.Contains(l, "client does not take its watch events") || !strings.Contains(l, "session="+sid(slow.sid)) {
		t.Errorf("no warning naming session %s:\n%s", sid(slow.sid), l)
	}
	if out := fourLetter(t, s, "mntr"); !strings.Contains(out, "zk_slow_connections_closed\t1\n") {
		t.Errorf("mntr:\n%s", out)
	}

	// The session survived: its client resumes it and re-registers the
	// watch, and events flow again.
	back := dialRaw(t, s, slow.sid, slow.pw)
	if back.sid != slow.sid {
		t.Fatalf("resumed session 0x%x, want 0x%x", back.sid, slow.sid)
	}
	back.send(1, wire.OpSetWatches2, &wire.SetWatchesRequest{V2: true, RelativeZxid: s.lastZxid(), PersistentRecursive: []string{"/"}})
	if h, _ := back.read(); h.Xid != 1 || h.Err != wire.Ok {
		t.Fatalf("setWatches2: xid %d err %v", h.Xid, h.Err)
	}
	if _, err := other.Set(paths[2], []byte("after"), -1); err != nil {
		t.Fatal(err)
	}
	for {
		h, d := back.read()
		if h.Xid != wire.XidNotification {
			t.Fatalf("unexpected reply xid %d", h.Xid)
		}
		var ev wire.WatcherEvent
		ev.Decode(d)
		if ev.Path == paths[2] && ev.Type == wire.EventNodeDataChanged {
			break
		}
	}
}
