package actors

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/paddockdb/paddock/wire"
)

const testTimeout = 20 * time.Second

func startServer(t testing.TB, dir string, mod func(*Config)) *Server {
	t.Helper()
	s, err := startTestServer(dir, mod)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s
}

// startTestServer is startServer without the test, for a goroutine of
// its own.
func startTestServer(dir string, mod func(*Config)) (*Server, error) {
	cfg := Config{
		DataDir:         dir,
		ClientAddr:      "127.0.0.1:0",
		TickTime:        100 * time.Millisecond,
		FourLetterWords: []string{"*"},
		Logger:          slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	return Start(ctx, cfg)
}

func connectZK(t *testing.T, s *Server) *zk.Conn {
	t.Helper()
	return dialZK(t, s.Addr().String())
}

// rawClient speaks the protocol with hand-built frames.
type rawClient struct {
	t    *testing.T
	nc   net.Conn
	sid  int64
	pw   []byte
	tout int32
}

func dialRaw(t *testing.T, s *Server, sid int64, pw []byte) *rawClient {
	t.Helper()
	return dialRawAddr(t, s.Addr().String(), sid, pw)
}

// dialRawAddr is dialRaw to any server (Apache ZooKeeper's too).
func dialRawAddr(t *testing.T, addr string, sid int64, pw []byte) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	if pw == nil {
		pw = make([]byte, 16)
	}
	req := wire.ConnectRequest{TimeOut: 4000, SessionID: sid, Passwd: pw}
	if _, err := nc.Write(wire.AppendFrame(nil, &req)); err != nil {
		t.Fatal(err)
	}
	body, err := wire.ReadFrame(nc, nil, wire.DefaultMaxPacket)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	var resp wire.ConnectResponse
	d := wire.NewDecoder(body)
	resp.Decode(d)
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	return &rawClient{t: t, nc: nc, sid: resp.SessionID, pw: resp.Passwd, tout: resp.TimeOut}
}

func (c *rawClient) send(xid int32, op wire.OpCode, body wire.Record) {
	c.t.Helper()
	recs := []wire.Record{&wire.RequestHeader{Xid: xid, Type: op}}
	if body != nil {
		recs = append(recs, body)
	}
	if _, err := c.nc.Write(wire.AppendFrame(nil, recs...)); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next frame's header and a decoder on its body.
func (c *rawClient) read() (wire.ReplyHeader, *wire.Decoder) {
	c.t.Helper()
	body, err := wire.ReadFrame(c.nc, nil, wire.DefaultMaxPacket)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	d := wire.NewDecoder(body)
	var h wire.ReplyHeader
	h.Decode(d)
	return h, d
}

func TestOpsThroughGoZookeeper(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	defer s.Close()
	c := connectZK(t, s)

	if p, err := c.Create("/a", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil || p != "/a" {
		t.Fatalf("create: %q %v", p, err)
	}
	if _, err := c.Create("/a", nil, 0, zk.WorldACL(zk.PermAll)); err != zk.ErrNodeExists {
		t.Fatalf("create twice: %v", err)
	}
	if p, err := c.Create("/a/s-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil || p != "/a/s-0000000000" {
		t.Fatalf("sequential: %q %v", p, err)
	}
	data, st, err := c.Get("/a")
	if err != nil || string(data) != "x" || st.NumChildren != 1 {
		t.Fatalf("get: %q %+v %v", data, st, err)
	}
	if _, err := c.Set("/a", []byte("y"), 5); err != zk.ErrBadVersion {
		t.Fatalf("set bad version: %v", err)
	}
	st, err = c.Set("/a", []byte("y"), st.Version)
	if err != nil || st.Version != 1 {
		t.Fatalf("set: %+v %v", st, err)
	}
	kids, _, err := c.Children("/a")
	if err != nil || len(kids) != 1 {
		t.Fatalf("children: %v %v", kids, err)
	}
	ok, _, err := c.Exists("/nope")
	if err != nil || ok {
		t.Fatalf("exists: %v %v", ok, err)
	}
	if _, err := c.Create("/c", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	res, err := c.Multi(&zk.CreateRequest{Path: "/m", Acl: zk.WorldACL(zk.PermAll)}, &zk.SetDataRequest{Path: "/m", Data: []byte("1"), Version: -1})
	if err != nil || len(res) != 2 {
		t.Fatalf("multi: %v %v", res, err)
	}
	if _, err := c.Multi(&zk.CreateRequest{Path: "/m2", Acl: zk.WorldACL(zk.PermAll)}, &zk.DeleteRequest{Path: "/nope", Version: -1}); err == nil {
		t.Fatal("failing multi succeeded")
	}
	if ok, _, _ := c.Exists("/m2"); ok {
		t.Fatal("failed multi left /m2")
	}
	if err := c.Delete("/a", -1); err != zk.ErrNotEmpty {
		t.Fatalf("delete non-empty: %v", err)
	}
	if _, err := c.Sync("/a"); err != nil {
		t.Fatalf("sync: %v", err)
	}
	// ACLs and digest auth.
	acl := zk.DigestACL(zk.PermAll, "u", "p")
	if _, err := c.Create("/secret", []byte("s"), 0, acl); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get("/secret"); err != zk.ErrNoAuth {
		t.Fatalf("get without auth: %v", err)
	}
	if err := c.AddAuth("digest", []byte("u:p")); err != nil {
		t.Fatal(err)
	}
	if d, _, err := c.Get("/secret"); err != nil || string(d) != "s" {
		t.Fatalf("get with auth: %q %v", d, err)
	}
	if got, _, err := c.GetACL("/secret"); err != nil || len(got) != 1 || got[0].Scheme != "digest" {
		t.Fatalf("getACL: %v %v", got, err)
	}
	if _, err := c.SetACL("/m", zk.WorldACL(zk.PermRead), -1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set("/m", nil, -1); err != zk.ErrNoAuth {
		t.Fatalf("set on read-only ACL: %v", err)
	}
}

// TestRawOpcodes drives the opcodes go-zookeeper does not send.
func TestRawOpcodes(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	defer s.Close()
	c := dialRaw(t, s, 0, nil)

	c.send(1, wire.OpCreate2, &wire.CreateRequest{Path: "/e", ACL: wire.WorldACL, Flags: wire.ModeEphemeral})
	h, d := c.read()
	var cr wire.Create2Response
	cr.Decode(d)
	if h.Err != wire.Ok || cr.Path != "/e" || cr.Stat.EphemeralOwner != c.sid {
		t.Fatalf("create2: %+v %+v", h, cr)
	}
	c.send(2, wire.OpGetEphemerals, &wire.PathRequest{Path: "/"})
	h, d = c.read()
	var eph wire.ChildrenResponse
	eph.Decode(d)
	if h.Err != wire.Ok || len(eph.Children) != 1 || eph.Children[0] != "/e" {
		t.Fatalf("getEphemerals: %+v %v", h, eph.Children)
	}
	c.send(3, wire.OpGetAllChildrenNumber, &wire.PathRequest{Path: "/"})
	h, d = c.read()
	var cnt wire.CountResponse
	cnt.Decode(d)
	if h.Err != wire.Ok || cnt.Count < 1 {
		t.Fatalf("getAllChildrenNumber: %+v %+v", h, cnt)
	}
	c.send(4, wire.OpWhoAmI, nil)
	h, d = c.read()
	var who wire.WhoAmIResponse
	who.Decode(d)
	if h.Err != wire.Ok || len(who.ClientInfo) != 1 || who.ClientInfo[0].AuthScheme != "ip" {
		t.Fatalf("whoAmI: %+v %+v", h, who)
	}
	c.send(5, wire.OpCreateTTL, &wire.CreateRequest{Path: "/ttl", ACL: wire.WorldACL, Flags: wire.ModePersistentWithTTL, TTL: 1000, HasTTL: true})
	if h, _ = c.read(); h.Err != wire.ErrUnimplemented {
		t.Fatalf("createTTL without extended types: %v", h.Err)
	}
	c.send(6, wire.OpReconfig, &wire.ReconfigRequest{})
	if h, _ = c.read(); h.Err != wire.ErrReconfigDisabled {
		t.Fatalf("reconfig: %v", h.Err)
	}
	c.send(8, wire.OpSASL, &wire.SASLPacket{})
	if h, _ = c.read(); h.Err != wire.Ok { // no SASL users: OK, no token, as ZooKeeper (sasl_test.go)
		t.Fatalf("sasl: %+v", h)
	}
	c.send(9, wire.OpMultiRead, &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpGetData, Body: &wire.PathWatchRequest{Path: "/e"}},
		{Type: wire.OpGetChildren, Body: &wire.PathWatchRequest{Path: "/nope"}},
	}})
	h, d = c.read()
	var mr wire.MultiResponse
	mr.Decode(d)
	if h.Err != wire.Ok || len(mr.Results) != 2 || mr.Results[0].Type != wire.OpGetData || mr.Results[1].Err != wire.ErrNoNode {
		t.Fatalf("multiRead: %+v %+v", h, mr.Results)
	}
	c.send(10, wire.OpCheck, &wire.PathVersionRequest{Path: "/e", Version: 3})
	if h, _ = c.read(); h.Err != wire.ErrBadVersion {
		t.Fatalf("check: %+v", h)
	}
	c.send(11, wire.OpCheckWatches, &wire.WatchesRequest{Path: "/e", Type: wire.WatcherData})
	if h, _ = c.read(); h.Err != wire.ErrNoWatcher {
		t.Fatalf("checkWatches without a watch: %+v", h)
	}
	c.send(12, wire.OpAddWatch, &wire.AddWatchRequest{Path: "/e", Mode: wire.WatchPersistent})
	if h, _ = c.read(); h.Err != wire.Ok {
		t.Fatalf("addWatch: %+v", h)
	}
	// ZooKeeper 3.8 has no persistent WatcherType: MarshallingError; a
	// persistent watch counts as a data watch.
	c.send(13, wire.OpCheckWatches, &wire.WatchesRequest{Path: "/e", Type: wire.WatcherPersistent})
	if h, _ = c.read(); h.Err != wire.ErrMarshallingError {
		t.Fatalf("checkWatches persistent: %+v", h)
	}
	c.send(13, wire.OpCheckWatches, &wire.WatchesRequest{Path: "/e", Type: wire.WatcherData})
	if h, _ = c.read(); h.Err != wire.Ok {
		t.Fatalf("checkWatches: %+v", h)
	}
	c.send(14, wire.OpRemoveWatches, &wire.WatchesRequest{Path: "/e", Type: wire.WatcherAny})
	if h, _ = c.read(); h.Err != wire.Ok {
		t.Fatalf("removeWatches: %+v", h)
	}
	c.send(15, wire.OpRemoveWatches, &wire.WatchesRequest{Path: "/e", Type: wire.WatcherAny})
	if h, _ = c.read(); h.Err != wire.ErrNoWatcher {
		t.Fatalf("removeWatches twice: %+v", h)
	}
	c.send(wire.XidPing, wire.OpPing, nil)
	if h, _ = c.read(); h.Xid != wire.XidPing || h.Err != wire.Ok {
		t.Fatalf("ping: %+v", h)
	}
	c.send(16, wire.OpCloseSession, nil)
	if h, _ = c.read(); h.Xid != 16 || h.Err != wire.Ok {
		t.Fatalf("closeSession: %+v", h)
	}
	if _, err := wire.ReadFrame(c.nc, nil, wire.DefaultMaxPacket); err == nil {
		t.Fatal("connection open after closeSession")
	}
	// An unknown opcode: Unimplemented, then ZooKeeper closes the connection.
	u := dialRaw(t, s, 0, nil)
	u.send(7, wire.OpCode(77), nil)
	if h, _ = u.read(); h.Err != wire.ErrUnimplemented || h.Xid != 7 {
		t.Fatalf("unknown opcode: %+v", h)
	}
	if _, err := wire.ReadFrame(u.nc, nil, wire.DefaultMaxPacket); err == nil {
		t.Fatal("connection open after an unknown opcode")
	}
	// Guarantee 6: ephemerals vanish with their session.
	z := connectZK(t, s)
	if ok, _, _ := z.Exists("/e"); ok {
		t.Fatal("ephemeral survived closeSession")
	}
}

// TestWatchEventBeforeResponse protects guarantee 5: a client sees the
// event for a znode before any response that reflects the change, and
// watches fire for changes made by others.
func TestWatchEventBeforeResponse(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	defer s.Close()
	a := dialRaw(t, s, 0, nil)
	b := dialRaw(t, s, 0, nil)
	b.send(1, wire.OpCreate, &wire.CreateRequest{Path: "/w", Data: []byte("0"), ACL: wire.WorldACL})
	if h, _ := b.read(); h.Err != wire.Ok {
		t.Fatalf("create: %v", h.Err)
	}
	for i := 0; i < 50; i++ {
		a.send(int32(2*i+1), wire.OpGetData, &wire.PathWatchRequest{Path: "/w", Watch: true})
		if h, _ := a.read(); h.Err != wire.Ok {
			t.Fatalf("getData: %v", h.Err)
		}
		b.send(int32(i+2), wire.OpSetData, &wire.SetDataRequest{Path: "/w", Data: []byte{byte(i)}, Version: -1})
		hb, _ := b.read()
		if hb.Err != wire.Ok {
			t.Fatalf("setData: %v", hb.Err)
		}
		// b's write is applied: a's next read reflects it, so the event
		// must come first.
		a.send(int32(2*i+2), wire.OpExists, &wire.PathWatchRequest{Path: "/w"})
		h, d := a.read()
		if h.Xid != wire.XidNotification {
			t.Fatalf("round %d: got reply xid %d (zxid %x) before the watch event", i, h.Xid, h.Zxid)
		}
		var ev wire.WatcherEvent
		ev.Decode(d)
		if ev.Type != wire.EventNodeDataChanged || ev.Path != "/w" {
			t.Fatalf("event: %+v", ev)
		}
		h, d = a.read()
		var st wire.StatResponse
		st.Decode(d)
		if h.Xid != int32(2*i+2) || st.Stat.Mzxid != hb.Zxid {
			t.Fatalf("exists after event: %+v mzxid %x want %x", h, st.Stat.Mzxid, hb.Zxid)
		}
	}
}

// TestPersistentRecursiveWatch checks addWatch recursive: created, changed
// and deleted events for the subtree and never NodeChildrenChanged.
func TestPersistentRecursiveWatch(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	defer s.Close()
	a := dialRaw(t, s, 0, nil)
	b := connectZK(t, s)
	a.send(1, wire.OpAddWatch, &wire.AddWatchRequest{Path: "/r", Mode: wire.WatchPersistentRecursive})
	if h, _ := a.read(); h.Err != wire.Ok {
		t.Fatal(h.Err)
	}
	for _, p := range []string{"/r", "/r/x", "/r/x/y"} {
		if _, err := b.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Set("/r/x/y", []byte("1"), -1); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete("/r/x/y", -1); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		typ  wire.EventType
		path string
	}{
		{wire.EventNodeCreated, "/r"}, {wire.EventNodeCreated, "/r/x"}, {wire.EventNodeCreated, "/r/x/y"},
		{wire.EventNodeDataChanged, "/r/x/y"}, {wire.EventNodeDeleted, "/r/x/y"},
	}
	for _, w := range want {
		h, d := a.read()
		var ev wire.WatcherEvent
		ev.Decode(d)
		if h.Xid != wire.XidNotification || ev.Type != w.typ || ev.Path != w.path {
			t.Fatalf("got %+v %+v, want %v %s", h, ev, w.typ, w.path)
		}
	}
}

// TestSetWatchesFiresMissedEvents checks setWatches on reconnect (guarantee 5).
func TestSetWatchesFiresMissedEvents(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	defer s.Close()
	b := connectZK(t, s)
	if _, err := b.Create("/sw", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, st, _ := b.Get("/sw")
	if _, err := b.Set("/sw", []byte("changed"), -1); err != nil {
		t.Fatal(err)
	}
	a := dialRaw(t, s, 0, nil)
	a.send(wire.XidSetWatches, wire.OpSetWatches2, &wire.SetWatchesRequest{V2: true, RelativeZxid: st.Mzxid,
		DataWatches: []string{"/sw"}, ExistWatches: []string{"/nothere"}, ChildWatches: []string{"/gone"}})
	h, d := a.read()
	var ev wire.WatcherEvent
	ev.Decode(d)
	if h.Xid != wire.XidNotification || ev.Type != wire.EventNodeDataChanged || ev.Path != "/sw" {
		t.Fatalf("first: %+v %+v", h, ev)
	}
	h, d = a.read()
	ev.Decode(d)
	if h.Xid != wire.XidNotification || ev.Type != wire.EventNodeDeleted || ev.Path != "/gone" {
		t.Fatalf("second: %+v %+v", h, ev)
	}
	if h, _ = a.read(); h.Xid != wire.XidSetWatches || h.Err != wire.Ok {
		t.Fatalf("setWatches reply: %+v", h)
	}
	// The exist watch was registered: creating the node fires it.
	if _, err := b.Create("/nothere", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	h, d = a.read()
	ev.Decode(d)
	if h.Xid != wire.XidNotification || ev.Type != wire.EventNodeCreated || ev.Path != "/nothere" {
		t.Fatalf("exist watch: %+v %+v", h, ev)
	}
}

// TestRestartKeepsZnodesAndSessions protects guarantees 1 and 6: acknowledged
// writes and open sessions survive a restart; the session resumes with its
// password and a wrong password is refused.
func TestRestartKeepsZnodesAndSessions(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, func(c *Config) { c.TickTime = time.Second })
	a := dialRaw(t, s, 0, nil)
	a.send(1, wire.OpCreate, &wire.CreateRequest{Path: "/keep", Data: []byte("v"), ACL: wire.WorldACL})
	if h, _ := a.read(); h.Err != wire.Ok {
		t.Fatal(h.Err)
	}
	a.send(2, wire.OpCreate, &wire.CreateRequest{Path: "/eph", ACL: wire.WorldACL, Flags: wire.ModeEphemeral})
	if h, _ := a.read(); h.Err != wire.Ok {
		t.Fatal(h.Err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = startServer(t, dir, func(c *Config) { c.TickTime = time.Second })
	defer s.Close()
	bad := dialRaw(t, s, a.sid, make([]byte, 16))
	if bad.sid != 0 || bad.tout != 0 {
		t.Fatalf("wrong password accepted: %+v", bad)
	}
	r := dialRaw(t, s, a.sid, a.pw)
	if r.sid != a.sid {
		t.Fatalf("session not resumed: got %x want %x", r.sid, a.sid)
	}
	r.send(1, wire.OpGetData, &wire.PathWatchRequest{Path: "/keep"})
	h, d := r.read()
	var gd wire.GetDataResponse
	gd.Decode(d)
	if h.Err != wire.Ok || string(gd.Data) != "v" {
		t.Fatalf("after restart: %+v %q", h, gd.Data)
	}
	r.send(2, wire.OpExists, &wire.PathWatchRequest{Path: "/eph"})
	if h, _ := r.read(); h.Err != wire.Ok {
		t.Fatalf("ephemeral lost across restart: %v", h.Err)
	}
}

// TestSessionExpiryRemovesEphemerals protects guarantee 6.
func TestSessionExpiryRemovesEphemerals(t *testing.T) {
	s := startServer(t, t.TempDir(), func(c *Config) {
		c.TickTime = 50 * time.Millisecond
		c.MinSessionTimeout = 200 * time.Millisecond
		c.MaxSessionTimeout = 200 * time.Millisecond
	})
	defer s.Close()
	a := dialRaw(t, s, 0, nil)
	if a.tout != 200 {
		t.Fatalf("negotiated timeout %d, want 200", a.tout)
	}
	a.send(1, wire.OpCreate, &wire.CreateRequest{Path: "/x", ACL: wire.WorldACL, Flags: wire.ModeEphemeral})
	if h, _ := a.read(); h.Err != wire.Ok {
		t.Fatal(h.Err)
	}
	b := connectZK(t, s)
	ok, _, ch, err := b.ExistsW("/x")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	// a goes silent: no pings. The expiry must delete /x.
	select {
	case ev := <-ch:
		if ev.Type != zk.EventNodeDeleted {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(testTimeout):
		t.Fatal("ephemeral of a silent session not removed")
	}
	// Resuming the expired session is refused as ZooKeeper does.
	r := dialRaw(t, s, a.sid, a.pw)
	if r.sid != 0 || r.tout != 0 {
		t.Fatalf("expired session resumed: %+v", r)
	}
}

// TestBadInputClosesOnlyThatConnection protects guarantee 8.
func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	s := startServer(t, t.TempDir(), func(c *Config) { c.MaxPacket = 4096 })
	defer s.Close()
	good := connectZK(t, s)

	big := dialRaw(t, s, 0, nil)
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], 1<<20)
	big.nc.Write(hdr[:])
	if _, err := io.ReadAll(big.nc); err != nil {
		t.Fatalf("oversize frame: %v", err)
	}

	garbage, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer garbage.Close()
	garbage.SetDeadline(time.Now().Add(testTimeout))
	garbage.Write([]byte{0, 0, 0, 3, 1, 2, 3}) // a frame that is no ConnectRequest
	if _, err := io.ReadAll(garbage); err != nil {
		t.Fatalf("garbage before handshake: %v", err)
	}

	short := dialRaw(t, s, 0, nil)
	short.nc.Write([]byte{0, 0, 0, 2, 0, 1}) // header cut short
	if _, err := io.ReadAll(short.nc); err != nil {
		t.Fatal(err)
	}

	if _, err := good.Create("/still", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("other client hurt: %v", err)
	}
}

func fourLetter(t *testing.T, s *Server, w string) string {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testTimeout))
	c.Write([]byte(w))
	b, _ := io.ReadAll(c)
	return string(b)
}

func TestFourLetterWords(t *testing.T) {
	s := startServer(t, t.TempDir(), func(c *Config) { c.FourLetterWords = []string{"srvr", "ruok"} })
	defer s.Close()
	if out := fourLetter(t, s, "ruok"); out != "imok" {
		t.Fatalf("ruok: %q", out)
	}
	out := fourLetter(t, s, "srvr")
	for _, want := range []string{"Zookeeper version: ", "Latency min/avg/max: ", "Received: ", "Zxid: 0x", "Mode: standalone\n", "Node count: "} {
		if !strings.Contains(out, want) {
			t.Fatalf("srvr lacks %q:\n%s", want, out)
		}
	}
	if out := fourLetter(t, s, "mntr"); out != "mntr is not executed because it is not in the whitelist.\n" {
		t.Fatalf("mntr off the whitelist: %q", out)
	}
	all := startServer(t, t.TempDir(), nil)
	defer all.Close()
	out = fourLetter(t, all, "mntr")
	for _, want := range []string{"zk_version\t", "zk_server_state\tstandalone\n", "zk_znode_count\t", "zk_num_alive_connections\t"} {
		if !strings.Contains(out, want) {
			t.Fatalf("mntr lacks %q:\n%s", want, out)
		}
	}
}

// Two Servers in one process keep their own session counters, each with
// its own server id in the top byte (in-process ensembles need it).
func TestSessionIDsPerServer(t *testing.T) {
	a := startServer(t, t.TempDir(), func(c *Config) { c.ServerID = 1 })
	defer a.Close()
	b := startServer(t, t.TempDir(), func(c *Config) { c.ServerID = 2 })
	defer b.Close()
	for _, tc := range []struct {
		s  *Server
		id uint64
	}{{a, 1}, {b, 2}, {a, 1}, {b, 2}} {
		c := dialRaw(t, tc.s, 0, nil)
		if got := uint64(c.sid) >> 56; got != tc.id {
			t.Errorf("session 0x%x of server %d has server id %d in its top byte", uint64(c.sid), tc.id, got)
		}
		c.nc.Close()
	}
}

// Server ids that do not fit the session id's top byte are refused, and
// 255 with extended types (its sessions would read as TTL owners).
func TestServerIDRange(t *testing.T) {
	for _, tc := range []struct {
		id       uint64
		extended bool
		ok       bool
	}{{255, false, true}, {256, false, false}, {1 << 40, false, false}, {254, true, true}, {255, true, false}} {
		cfg := Config{DataDir: t.TempDir(), ServerID: tc.id, ExtendedTypes: tc.extended}
		err := cfg.setDefaults()
		if (err == nil) != tc.ok {
			t.Errorf("server id %d (extended types %v): err %v, want ok=%v", tc.id, tc.extended, err, tc.ok)
		}
	}
	if got := uint64(firstSessionID(255, time.Now())) >> 56; got != 255 {
		t.Errorf("server 255's session ids have %d in the top byte", got)
	}
}
