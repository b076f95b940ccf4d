package actors

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/paddockdb/paddock/statemachine"
	"github.com/paddockdb/paddock/wire"
)

// waitFor polls cond until it holds, failing loudly after testTimeout. It
// waits for a state, not for time to pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", testTimeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func connOf(t *testing.T, s *Server, id int64) *conn {
	t.Helper()
	var c *conn
	waitFor(t, "the session's connection", func() bool {
		v, ok := s.sessionConns.Load(id)
		if ok {
			c = v.(*conn)
		}
		return ok
	})
	return c
}

// B1 / guarantee 8: a client that pipelines large reads and never reads
// its socket pins a bounded amount of server memory, the server stops
// reading from it, others keep being served, and it is closed once stuck
// for its session timeout.
func TestSlowReaderIsBounded(t *testing.T) {
	const maxPacket = 128 << 10
	s := startServer(t, t.TempDir(), func(c *Config) { c.MaxPacket = maxPacket })
	defer s.Close()
	zc := connectZK(t, s)
	big := bytes.Repeat([]byte("x"), 100<<10)
	if _, err := zc.Create("/big", big, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}

	slow := dialRaw(t, s, 0, nil)
	if tc, ok := slow.nc.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10)
	}
	c := connOf(t, s, slow.sid)
	const n = 2000 // 200 MB of replies if nothing limits them
	var frames []byte
	for i := range n {
		frames = wire.AppendFrame(frames, &wire.RequestHeader{Xid: int32(i + 1), Type: wire.OpGetData}, &wire.PathWatchRequest{Path: "/big"})
	}
	go func() { _, _ = slow.nc.Write(frames) }() // may block once the server stops reading

	waitFor(t, "the server to stop reading the slow client", func() bool { return c.pauses.Load() > 0 })
	// Another client is served while the slow one is stuck.
	if _, err := zc.Set("/big", []byte("small"), -1); err != nil {
		t.Fatal(err)
	}
	if d, _, err := zc.Get("/big"); err != nil || string(d) != "small" {
		t.Fatalf("get: %q %v", d, err)
	}
	limit := c.maxOut + 2*maxPacket // the cap plus one reply, with slack
	if p := c.peak.Load(); p > limit {
		t.Fatalf("slow connection pinned %d bytes of replies, want <= %d", p, limit)
	}
	t.Logf("peak pinned reply bytes %d (limit %d), requests outstanding %d", c.peak.Load(), limit, c.pending.Load())
	if p := c.pending.Load(); p > defaultMaxOutstanding {
		t.Fatalf("%d requests outstanding, want <= %d", p, defaultMaxOutstanding)
	}
	select {
	case <-c.done: // closed: stuck past its session timeout (or expired)
	case <-time.After(testTimeout):
		t.Fatalf("stuck client not closed within %v", testTimeout)
	}
	if p := c.peak.Load(); p > limit {
		t.Fatalf("slow connection pinned %d bytes of replies, want <= %d", p, limit)
	}
}

// B5: the proposer sizes batches by txnBound, which must cover the real
// encoding, auth ids, ACLs and multi ops included.
func TestTxnBoundCoversEncoding(t *testing.T) {
	var auth []wire.ID
	for i := range 50 {
		auth = append(auth, wire.ID{Scheme: "digest", ID: fmt.Sprintf("user%d:%s", i, strings.Repeat("h", 28))})
	}
	acl := []wire.ACL{{Perms: 31, ID: wire.ID{Scheme: "digest", ID: "alice:" + strings.Repeat("a", 28)}}, {Perms: 1, ID: wire.ID{Scheme: "world", ID: "anyone"}}}
	sub := statemachine.Txn{Type: wire.OpCreate, Path: "/a/b", Data: []byte("d"), ACL: acl}
	ops := make([]statemachine.Txn, 200)
	for i := range ops {
		ops[i] = sub
	}
	for _, txn := range []statemachine.Txn{
		{Type: wire.OpSetData, SessionID: -1 << 62, Cxid: -7, Time: 1 << 50, MinZxid: 1 << 60, Path: "/x", Data: []byte("1"), Version: -1},
		{Type: wire.OpSetData, SessionID: 1 << 62, Path: "/x", Data: make([]byte, 70000), Auth: auth},
		{Type: wire.OpCreate, Path: "/x", ACL: acl, Auth: auth, Mode: 3, TTL: 1 << 40},
		{Type: wire.OpMulti, Ops: ops, Auth: auth},
		{Type: wire.OpCreateSession, SessionID: 5, Timeout: 40000, Passwd: make([]byte, 16)},
	} {
		if b, n := txnBound(&txn), encodedSize(&txn); b < n {
			t.Errorf("%v: txnBound %d < encoded %d", txn.Type, b, n)
		}
	}
	// The old sizing (64+path+data) missed the auth ids.
	if b := txnBound(&statemachine.Txn{Type: wire.OpSetData, Path: "/x", Data: []byte("1"), Auth: auth}); b < 50*40 {
		t.Errorf("txnBound %d ignores the auth ids", b)
	}
}

// B5: a txn whose encoding exceeds the max packet size (plus ZooKeeper's
// extrasize and the auth allowance) is refused before it is proposed.
func TestOversizeTxnRefused(t *testing.T) {
	s := startServer(t, t.TempDir(), func(c *Config) { c.MaxPacket = 4 << 10 })
	defer s.Close()
	ok := statemachine.Txn{Type: wire.OpSetData, Path: "/x", Data: make([]byte, 4<<10)}
	if n, limit, big := s.txnTooLarge(&ok); big {
		t.Fatalf("a %d-byte txn refused (limit %d)", n, limit)
	}
	ops := make([]statemachine.Txn, 3000)
	for i := range ops {
		ops[i] = statemachine.Txn{Type: wire.OpCheck, Path: "/some/long/path/of/a/node", Version: -1}
	}
	multi := statemachine.Txn{Type: wire.OpMulti, Ops: ops}
	if n, limit, big := s.txnTooLarge(&multi); !big {
		t.Fatalf("a %d-byte multi accepted (limit %d)", n, limit)
	}
}

// B5: a session's auth ids are capped: a duplicate is ignored, too many
// distinct ones answer AuthFailed and close the connection.
func TestAuthIDsCapped(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	defer s.Close()
	c := dialRaw(t, s, 0, nil)
	auth := func(cred string) wire.Code {
		c.send(-4, wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte(cred)})
		h, _ := c.read()
		return h.Err
	}
	for range 3 * maxAuthIDs {
		if code := auth("same:pw"); code != wire.Ok {
			t.Fatalf("duplicate addAuth: %v", code)
		}
	}
	var code wire.Code
	for i := 0; i < 2*maxAuthIDs && code == wire.Ok; i++ {
		code = auth(fmt.Sprintf("user%d:pw", i))
	}
	if code != wire.ErrAuthFailed {
		t.Fatalf("%d distinct addAuth: last answered %v, want AuthFailed", 2*maxAuthIDs, code)
	}
	if _, err := wire.ReadFrame(c.nc, nil, wire.DefaultMaxPacket); err == nil {
		t.Fatal("connection not closed after AuthFailed")
	}
}

// B4: a connection that does not complete its handshake within the
// sessionless timeout is closed, and a handshake declaring more than
// maxHandshake bytes is refused before its body is read.
func TestHandshakeTimeoutAndSize(t *testing.T) {
	s := startServer(t, t.TempDir(), func(c *Config) { c.SessionlessTimeout = 200 * time.Millisecond })
	defer s.Close()
	dial := func() net.Conn {
		nc, err := net.DialTimeout("tcp", s.Addr().String(), testTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		_ = nc.SetReadDeadline(time.Now().Add(testTimeout)) // loud failure if the server keeps it
		return nc
	}
	closed := func(nc net.Conn, what string) {
		t.Helper()
		var b [1]byte
		if _, err := nc.Read(b[:]); err == nil {
			t.Fatalf("%s: server sent data", what)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("%s: connection not closed within %v", what, testTimeout)
		}
	}
	idle := dial()
	half := dial()
	if _, err := half.Write([]byte{0, 0, 0, 45, 0, 0}); err != nil { // a handshake cut short
		t.Fatal(err)
	}
	huge := dial()
	if _, err := huge.Write([]byte{0, 0x0f, 0xff, 0xf0}); err != nil { // declares ~1 MB
		t.Fatal(err)
	}
	closed(huge, "oversize handshake")
	closed(idle, "idle connection")
	closed(half, "half a handshake")
	// A real client still connects and works.
	zc := connectZK(t, s)
	if _, err := zc.Create("/ok", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
}
