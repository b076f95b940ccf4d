package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/zktest"
)

// TestOperations runs every request against a real Apache ZooKeeper.
func TestOperations(t *testing.T) {
	s := zktest.Start(t, zktest.WithConfig("extendedTypesEnabled=true"))
	c := connect(t, s.Addr)
	ctx := testCtx(t)

	t.Run("CreateModes", func(t *testing.T) {
		base := testPath(t)
		p, err := c.Create(ctx, base, []byte("d"), wire.ModePersistent, nil)
		must(t, err)
		if p != base {
			t.Fatalf("Create path = %q", p)
		}
		p, st, err := c.Create2(ctx, base+"/eph", nil, wire.ModeEphemeral, nil)
		must(t, err)
		if p != base+"/eph" || st.EphemeralOwner != c.SessionID() || st.Czxid == 0 {
			t.Fatalf("Create2 ephemeral = %q %+v (session %x)", p, st, c.SessionID())
		}
		for i := range 3 {
			p, err := c.Create(ctx, base+"/seq-", nil, wire.ModePersistentSequential, nil)
			must(t, err)
			// The eph child bumped the parent's cversion to 1.
			if want := fmt.Sprintf("%s/seq-%010d", base, i+1); p != want {
				t.Fatalf("sequential path = %q, want %q", p, want)
			}
		}
		p, err = c.Create(ctx, base+"/eseq-", nil, wire.ModeEphemeralSequential, nil)
		must(t, err)
		if !strings.HasPrefix(p, base+"/eseq-") || len(p) != len(base+"/eseq-")+10 {
			t.Fatalf("ephemeral sequential path = %q", p)
		}
		p, st, err = c.CreateContainer(ctx, base+"/container", nil, nil)
		must(t, err)
		_, st2, err := c.Exists(ctx, base+"/container")
		must(t, err)
		if p != base+"/container" || st.Czxid != st2.Czxid {
			t.Fatalf("container = %q %+v, exists %+v", p, st, st2)
		}
		// DataNode.copyStat reports ephemeralOwner 0 for containers and
		// TTL nodes (the special owner value stays inside the server).
		if st.EphemeralOwner != 0 {
			t.Fatalf("container owner %x", st.EphemeralOwner)
		}
		p, st, err = c.CreateTTL(ctx, base+"/ttl", []byte("x"), wire.ModePersistentWithTTL, nil, time.Hour)
		must(t, err)
		if p != base+"/ttl" || st.EphemeralOwner != 0 || st.DataLength != 1 {
			t.Fatalf("ttl = %q owner %x", p, st.EphemeralOwner)
		}
		p, _, err = c.CreateTTL(ctx, base+"/ttlseq-", nil, wire.ModePersistentSequentialWithTTL, nil, time.Hour)
		must(t, err)
		if !strings.HasPrefix(p, base+"/ttlseq-") {
			t.Fatalf("ttl sequential = %q", p)
		}
		// A TTL out of range is refused by the server.
		_, _, err = c.CreateTTL(ctx, base+"/ttl0", nil, wire.ModePersistentWithTTL, nil, 0)
		isCode(t, err, wire.ErrBadArguments)
	})

	t.Run("Errors", func(t *testing.T) {
		base := testPath(t)
		_, err := c.Create(ctx, base, nil, wire.ModePersistent, nil)
		must(t, err)
		_, err = c.Create(ctx, base, nil, wire.ModePersistent, nil)
		isCode(t, err, wire.ErrNodeExists)
		_, _, err = c.Get(ctx, base+"/missing")
		isCode(t, err, wire.ErrNoNode)
		_, err = c.Create(ctx, base+"/missing/child", nil, wire.ModePersistent, nil)
		isCode(t, err, wire.ErrNoNode)
		_, err = c.Set(ctx, base, []byte("v"), 7)
		isCode(t, err, wire.ErrBadVersion)
		isCode(t, c.Delete(ctx, base, 3), wire.ErrBadVersion)
		_, err = c.Create(ctx, base+"/child", nil, wire.ModePersistent, nil)
		must(t, err)
		isCode(t, c.Delete(ctx, base, AnyVersion), wire.ErrNotEmpty)
		_, err = c.Create(ctx, base+"/eph", nil, wire.ModeEphemeral, nil)
		must(t, err)
		_, err = c.Create(ctx, base+"/eph/child", nil, wire.ModePersistent, nil)
		isCode(t, err, wire.ErrNoChildrenForEphemerals)
		_, err = c.Create(ctx, base+"/noacl", nil, wire.ModePersistent, []wire.ACL{})
		isCode(t, err, wire.ErrInvalidACL)
		_, _, err = c.Reconfig(ctx, "", "", "server.1=127.0.0.1:2888:3888;2181", -1)
		if !errors.Is(err, wire.ErrReconfigDisabled) && !errors.Is(err, wire.ErrUnimplemented) {
			t.Fatalf("Reconfig err = %v, want ReconfigDisabled or Unimplemented", err)
		}
		// Container and TTL modes are refused by Create before sending.
		_, err = c.Create(ctx, base+"/x", nil, wire.ModeContainer, nil)
		isCode(t, err, wire.ErrBadArguments)
	})

	t.Run("ReadWrite", func(t *testing.T) {
		base := testPath(t)
		_, err := c.Create(ctx, base, []byte("one"), wire.ModePersistent, nil)
		must(t, err)
		data, st, err := c.Get(ctx, base)
		must(t, err)
		if string(data) != "one" || st.Version != 0 || st.DataLength != 3 {
			t.Fatalf("Get = %q %+v", data, st)
		}
		st2, err := c.Set(ctx, base, []byte("two"), st.Version)
		must(t, err)
		if st2.Version != 1 {
			t.Fatalf("Set version = %d", st2.Version)
		}
		ok, st3, err := c.Exists(ctx, base)
		must(t, err)
		if !ok || st3.Version != 1 {
			t.Fatalf("Exists = %v %+v", ok, st3)
		}
		ok, _, err = c.Exists(ctx, base+"/none")
		if ok || err != nil {
			t.Fatalf("Exists(missing) = %v, %v", ok, err)
		}
		for _, n := range []string{"b", "a", "c"} {
			_, err := c.Create(ctx, base+"/"+n, nil, wire.ModePersistent, nil)
			must(t, err)
		}
		_, err = c.Create(ctx, base+"/a/deep", nil, wire.ModePersistent, nil)
		must(t, err)
		kids, err := c.Children(ctx, base)
		must(t, err)
		slices.Sort(kids)
		if !slices.Equal(kids, []string{"a", "b", "c"}) {
			t.Fatalf("Children = %v", kids)
		}
		kids, st4, err := c.Children2(ctx, base)
		must(t, err)
		if len(kids) != 3 || st4.NumChildren != 3 {
			t.Fatalf("Children2 = %v %+v", kids, st4)
		}
		n, err := c.GetAllChildrenNumber(ctx, base)
		must(t, err)
		if n != 4 {
			t.Fatalf("GetAllChildrenNumber = %d, want 4", n)
		}
		p, err := c.Sync(ctx, base)
		must(t, err)
		if p != base {
			t.Fatalf("Sync path = %q", p)
		}
		must(t, c.Delete(ctx, base+"/b", AnyVersion))
		_, err = c.Create(ctx, base+"/e1", nil, wire.ModeEphemeral, nil)
		must(t, err)
		_, err = c.Create(ctx, base+"/e2", nil, wire.ModeEphemeral, nil)
		must(t, err)
		eph, err := c.GetEphemerals(ctx, base)
		must(t, err)
		slices.Sort(eph)
		if !slices.Equal(eph, []string{base + "/e1", base + "/e2"}) {
			t.Fatalf("GetEphemerals = %v", eph)
		}
		acl, ast, err := c.GetACL(ctx, base)
		must(t, err)
		if !slices.Equal(acl, wire.WorldACL) || ast.Aversion != 0 {
			t.Fatalf("GetACL = %v %+v", acl, ast)
		}
		_, err = c.SetACL(ctx, base, wire.ReadACL, 5)
		isCode(t, err, wire.ErrBadVersion)
		ast, err = c.SetACL(ctx, base, wire.ReadACL, 0)
		must(t, err)
		if ast.Aversion != 1 {
			t.Fatalf("SetACL aversion = %d", ast.Aversion)
		}
		_, err = c.Set(ctx, base, []byte("x"), AnyVersion)
		isCode(t, err, wire.ErrNoAuth)
		who, err := c.WhoAmI(ctx)
		must(t, err)
		if len(who) != 1 || who[0].AuthScheme != "ip" {
			t.Fatalf("WhoAmI = %+v", who)
		}
	})

	t.Run("DigestAuth", func(t *testing.T) {
		base := testPath(t)
		owner := connect(t, s.Addr, WithAuth("digest", []byte("alice:secret")))
		acl := []wire.ACL{DigestACL(wire.PermAll, "alice", "secret")}
		// From `java ... DigestAuthenticationProvider alice:secret`.
		if acl[0].ID.ID != "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=" {
			t.Fatalf("digest id = %q", acl[0].ID.ID)
		}
		_, err := owner.Create(ctx, base, []byte("s"), wire.ModePersistent, acl)
		must(t, err)
		who, err := owner.WhoAmI(ctx)
		must(t, err)
		if !slices.ContainsFunc(who, func(ci wire.ClientInfo) bool { return ci.AuthScheme == "digest" && ci.User == "alice" }) {
			t.Fatalf("WhoAmI = %+v", who)
		}
		// CreatorACL ("auth" scheme) becomes the creator's digest identity.
		_, err = owner.Create(ctx, base+"/creator", nil, wire.ModePersistent, wire.CreatorACL)
		must(t, err)
		got, _, err := owner.GetACL(ctx, base+"/creator")
		must(t, err)
		if len(got) != 1 || got[0] != acl[0] {
			t.Fatalf("creator ACL = %+v, want %+v", got, acl)
		}

		_, _, err = c.Get(ctx, base)
		isCode(t, err, wire.ErrNoAuth)
		other := connect(t, s.Addr)
		must(t, other.AddAuth(ctx, "digest", []byte("alice:wrong")))
		_, _, err = other.Get(ctx, base)
		isCode(t, err, wire.ErrNoAuth)
		must(t, other.AddAuth(ctx, "digest", []byte("alice:secret")))
		data, _, err := other.Get(ctx, base)
		must(t, err)
		if string(data) != "s" {
			t.Fatalf("Get after auth = %q", data)
		}
	})

	t.Run("AuthFailed", func(t *testing.T) {
		bad := connect(t, s.Addr)
		err := bad.AddAuth(ctx, "nosuchscheme", []byte("x"))
		isCode(t, err, wire.ErrAuthFailed)
		waitState(t, bad, wire.StateAuthFailed)
		if _, ok := <-bad.Events(); ok {
			t.Fatal("Events not closed after AuthFailed")
		}
		_, _, err = bad.Get(ctx, "/")
		isCode(t, err, wire.ErrAuthFailed)
		// WithAuth that fails makes Connect fail.
		_, err = Connect(ctx, s.Addr, WithAuth("nosuchscheme", nil))
		isCode(t, err, wire.ErrAuthFailed)
	})

	t.Run("Multi", func(t *testing.T) {
		base := testPath(t)
		_, err := c.Create(ctx, base, nil, wire.ModePersistent, nil)
		must(t, err)
		res, err := c.Multi(ctx,
			CreateOp(base+"/a", []byte("a"), wire.ModePersistent, nil),
			CreateOp(base+"/s-", nil, wire.ModePersistentSequential, nil),
			SetDataOp(base+"/a", []byte("A"), 0),
			CheckOp(base+"/a", 1),
			DeleteOp(base+"/a", 1),
		)
		must(t, err)
		want := []wire.OpCode{wire.OpCreate, wire.OpCreate, wire.OpSetData, wire.OpCheck, wire.OpDelete}
		if len(res) != len(want) {
			t.Fatalf("Multi results = %+v", res)
		}
		for i, r := range res {
			if r.Type != want[i] {
				t.Fatalf("result %d = %+v, want type %v", i, r, want[i])
			}
		}
		if res[0].Path != base+"/a" || res[1].Path != base+"/s-0000000001" || res[2].Stat.Version != 1 {
			t.Fatalf("Multi results = %+v", res)
		}
		// All or nothing: the failing op's error, nothing applied.
		res, err = c.Multi(ctx,
			CreateOp(base+"/b", nil, wire.ModePersistent, nil),
			CreateOp(base+"/s-0000000001", nil, wire.ModePersistent, nil),
			DeleteOp(base+"/s-0000000001", AnyVersion),
		)
		isCode(t, err, wire.ErrNodeExists)
		codes := []wire.Code{wire.Ok, wire.ErrNodeExists, wire.ErrRuntimeInconsistency}
		if len(res) != 3 {
			t.Fatalf("failed Multi results = %+v", res)
		}
		for i, r := range res {
			if r.Type != wire.OpError || r.Err != codes[i] {
				t.Fatalf("failed Multi result %d = %+v, want %v", i, r, codes[i])
			}
		}
		if ok, _, _ := c.Exists(ctx, base+"/b"); ok {
			t.Fatal("failed multi applied its first op")
		}
		// MultiRead: independent per-op results.
		res, err = c.MultiRead(ctx, GetDataOp(base+"/s-0000000001"), GetDataOp(base+"/nope"), GetChildrenOp(base))
		must(t, err)
		if len(res) != 3 || res[0].Type != wire.OpGetData || res[1].Type != wire.OpError ||
			res[1].Err != wire.ErrNoNode || res[2].Type != wire.OpGetChildren ||
			!slices.Equal(res[2].Children, []string{"s-0000000001"}) {
			t.Fatalf("MultiRead = %+v", res)
		}
	})

	t.Run("Chroot", func(t *testing.T) {
		base := testPath(t)
		_, err := c.Create(ctx, base, nil, wire.ModePersistent, nil)
		must(t, err)
		cr := connect(t, s.Addr+base)
		p, err := cr.Create(ctx, "/a", []byte("x"), wire.ModePersistent, nil)
		must(t, err)
		if p != "/a" {
			t.Fatalf("chroot Create = %q", p)
		}
		if data, _, err := c.Get(ctx, base+"/a"); err != nil || string(data) != "x" {
			t.Fatalf("Get through root = %q, %v", data, err)
		}
		p, _, err = cr.Create2(ctx, "/seq-", nil, wire.ModeEphemeralSequential, nil)
		must(t, err)
		if p != "/seq-0000000001" {
			t.Fatalf("chroot Create2 = %q", p)
		}
		kids, err := cr.Children(ctx, "/")
		must(t, err)
		slices.Sort(kids)
		if !slices.Equal(kids, []string{"a", "seq-0000000001"}) {
			t.Fatalf("chroot Children(/) = %v", kids)
		}
		eph, err := cr.GetEphemerals(ctx, "/")
		must(t, err)
		if !slices.Equal(eph, []string{"/seq-0000000001"}) {
			t.Fatalf("chroot GetEphemerals = %v", eph)
		}
		if p, err := cr.Sync(ctx, "/a"); err != nil || p != "/a" {
			t.Fatalf("chroot Sync = %q, %v", p, err)
		}
		res, err := cr.Multi(ctx, CreateOp("/m", nil, wire.ModePersistent, nil))
		must(t, err)
		if res[0].Path != "/m" {
			t.Fatalf("chroot Multi path = %q", res[0].Path)
		}
		_, _, w, err := cr.GetW(ctx, "/a")
		must(t, err)
		rw, err := cr.AddWatch(ctx, "/", wire.WatchPersistentRecursive)
		must(t, err)
		_, err = c.Set(ctx, base+"/a", []byte("y"), AnyVersion)
		must(t, err)
		expectEvent(t, w, wire.EventNodeDataChanged, "/a")
		expectEvent(t, rw, wire.EventNodeDataChanged, "/a")
		// Do takes raw records and applies the chroot too.
		var resp wire.GetDataResponse
		call := cr.Do(ctx, wire.OpGetData, &wire.GetDataRequest{Path: "/a"}, &resp)
		must(t, call.Wait(ctx))
		if string(resp.Data) != "y" {
			t.Fatalf("Do getData = %q", resp.Data)
		}
	})

	t.Run("Pipelining", func(t *testing.T) {
		base := testPath(t)
		_, err := c.Create(ctx, base, nil, wire.ModePersistent, nil)
		must(t, err)
		const n = 1000
		calls := make([]*Call, n)
		resps := make([]wire.CreateResponse, n)
		for i := range calls {
			req := &wire.CreateRequest{Path: base + "/n-", Data: []byte{byte(i)}, ACL: wire.WorldACL, Flags: wire.ModePersistentSequential}
			calls[i] = c.Do(ctx, wire.OpCreate, req, &resps[i])
		}
		for i, call := range calls {
			must(t, call.Wait(ctx))
			// Replies complete in order: every earlier call is done.
			for j := range i {
				select {
				case <-calls[j].Done:
				default:
					t.Fatalf("call %d completed before call %d", i, j)
				}
			}
			if want := fmt.Sprintf("%s/n-%010d", base, i); resps[i].Path != want {
				t.Fatalf("call %d path = %q, want %q", i, resps[i].Path, want)
			}
			if i > 0 && call.Zxid <= calls[i-1].Zxid {
				t.Fatalf("zxids out of order: %d after %d", call.Zxid, calls[i-1].Zxid)
			}
		}
		n2, err := c.GetAllChildrenNumber(ctx, base)
		must(t, err)
		if n2 != n {
			t.Fatalf("children = %d", n2)
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		base := testPath(t)
		_, err := c.Create(ctx, base, []byte("v"), wire.ModePersistent, nil)
		must(t, err)
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		_, _, err = c.Get(cancelled, base)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Get(cancelled) = %v", err)
		}
		// A call whose ctx ends while its reply is held by the proxy
		// returns ctx.Err(); later calls on the stream still get their
		// own replies.
		p := newProxy(t, s.Addr)
		pc := connect(t, p.Addr())
		p.Pause()
		short, cancel2 := context.WithCancel(ctx)
		held := pc.Do(ctx, wire.OpGetData, &wire.GetDataRequest{Path: base}, &wire.GetDataResponse{})
		errc := make(chan error, 1)
		go func() {
			_, _, err := pc.Get(short, base+"/nope")
			errc <- err
		}()
		cancel2()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Get with cancelled ctx = %v", err)
		}
		p.Resume()
		must(t, held.Wait(ctx))
		if d := held.Resp.(*wire.GetDataResponse).Data; string(d) != "v" {
			t.Fatalf("held reply = %q", d)
		}
		data, _, err := pc.Get(ctx, base)
		if err != nil || !bytes.Equal(data, []byte("v")) {
			t.Fatalf("Get after cancel = %q, %v", data, err)
		}
	})

	t.Run("PacketTooLarge", func(t *testing.T) {
		small := connect(t, s.Addr, WithMaxPacketSize(1024))
		_, err := small.Create(ctx, testPath(t), make([]byte, 2048), wire.ModePersistent, nil)
		if !errors.Is(err, wire.ErrPacketTooLarge) {
			t.Fatalf("oversize Create = %v", err)
		}
		_, _, err = small.Get(ctx, "/")
		must(t, err)
	})
}

// TestCloseEndsSession checks that Close removes ephemerals, fails later
// calls, closes Events and leaves no goroutine behind.
func TestCloseEndsSession(t *testing.T) {
	s := zktest.Start(t)
	ctx := testCtx(t)
	observer := connect(t, s.Addr)
	base := testPath(t)
	_, err := observer.Create(ctx, base, nil, wire.ModePersistent, nil)
	must(t, err) // also: observer's reader is running before we count

	before := runtimeGoroutines()
	c, err := Connect(ctx, s.Addr)
	must(t, err)
	_, err = c.Create(ctx, base+"/eph", nil, wire.ModeEphemeral, nil)
	must(t, err)
	_, _, w, err := c.GetW(ctx, base)
	must(t, err)
	_, _, ow, err := observer.ExistsW(ctx, base+"/eph")
	must(t, err)
	must(t, c.Close())
	expectEvent(t, ow, wire.EventNodeDeleted, base+"/eph")
	ev := nextEvent(t, w)
	if ev.Type != wire.EventNone || ev.State != wire.StateClosed || !errors.Is(ev.Err, ErrClosed) {
		t.Fatalf("watch after Close = %+v", ev)
	}
	if _, ok := <-w; ok {
		t.Fatal("watch channel not closed")
	}
	var states []wire.State
	for ev := range c.Events() {
		states = append(states, ev.State)
	}
	if !slices.Equal(states, []wire.State{wire.StateSyncConnected, wire.StateClosed}) {
		t.Fatalf("states = %v", states)
	}
	_, _, err = c.Get(ctx, "/")
	if !errors.Is(err, ErrClosed) || !errors.Is(err, wire.ErrSessionExpired) {
		t.Fatalf("Get after Close = %v", err)
	}
	must(t, c.Close()) // idempotent
	waitGoroutines(t, before)
}

// TestCancelledCallsReturnNothing: a call whose ctx ends while its reply
// is on the way returns zero values, never the response the reader is
// still decoding (under -race, reading it was a data race).
func TestCancelledCallsReturnNothing(t *testing.T) {
	s := zktest.Start(t)
	ctx := testCtx(t)
	c := connect(t, s.Addr)
	base := testPath(t)
	_, err := c.Create(ctx, base, nil, wire.ModePersistent, nil)
	must(t, err)
	cancelled := 0
	for i := range 300 {
		// End the call at a point of its round trip that moves with i
		// (loopback round trips take some hundred microseconds).
		cctx, cancel := context.WithCancel(ctx)
		stop := time.AfterFunc(time.Duration(i%100)*10*time.Microsecond, cancel)
		p, st, err := c.Create2(cctx, fmt.Sprintf("%s/n%d", base, i), []byte("x"), wire.ModePersistent, nil)
		kids, err2 := c.Children(cctx, base)
		stop.Stop()
		cancel()
		if err != nil && (p != "" || st != (wire.Stat{})) {
			t.Fatalf("Create2 failed (%v) but returned %q %+v", err, p, st)
		}
		if err2 != nil && kids != nil {
			t.Fatalf("Children failed (%v) but returned %d names", err2, len(kids))
		}
		if err != nil {
			cancelled++
		}
	}
	t.Logf("%d of 300 creates cancelled", cancelled)
	_, _, err = c.Get(ctx, base) // the stream is still in step
	must(t, err)
}
