package client

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/zktest"
)

// TestReconnectAfterRestart: a server restart costs a connection, not the
// session: same session id, ephemerals kept, watches re-registered
// (DESIGN.md guarantees 5 and 6, client side).
func TestReconnectAfterRestart(t *testing.T) {
	s := zktest.Start(t)
	ctx := testCtx(t)
	// A connection ZooKeeper accepts while it is still starting may get no
	// answer; a short connect timeout retries it well inside waitState's.
	c := connect(t, s.Addr, WithSessionTimeout(30*time.Second), WithConnectTimeout(2*time.Second), WithLogger(testLogger(t)))
	p := testPath(t)
	_, err := c.Create(ctx, p, []byte("0"), wire.ModePersistent, nil)
	must(t, err)
	_, err = c.Create(ctx, p+"/eph", nil, wire.ModeEphemeral, nil)
	must(t, err)
	_, err = c.Create(ctx, p+"/kids", nil, wire.ModePersistent, nil)
	must(t, err)
	_, _, dw, err := c.GetW(ctx, p)
	must(t, err)
	// ZooKeeper 3.8 keeps one watch mode per path and connection, so a
	// child watch and a recursive watch on the same path do not mix
	// (fixed in 3.9): they watch different paths here.
	_, _, cw, err := c.ChildrenW(ctx, p+"/kids")
	must(t, err)
	_, _, ew, err := c.ExistsW(ctx, p+"/none")
	must(t, err)
	pw, err := c.AddWatch(ctx, p, wire.WatchPersistentRecursive)
	must(t, err)
	id := c.SessionID()
	waitState(t, c, wire.StateSyncConnected) // the initial one

	s.Restart()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", s.LogTail())
		}
	})
	waitState(t, c, wire.StateDisconnected)
	waitState(t, c, wire.StateSyncConnected)
	if c.SessionID() != id {
		t.Fatalf("session id %x after restart, want %x", c.SessionID(), id)
	}
	ok, st, err := c.Exists(ctx, p+"/eph")
	must(t, err)
	if !ok || st.EphemeralOwner != id {
		t.Fatalf("ephemeral after restart: %v owner %x", ok, st.EphemeralOwner)
	}
	other := connect(t, s.Addr)
	_, err = other.Set(ctx, p, []byte("1"), AnyVersion)
	must(t, err)
	expectEvent(t, dw, wire.EventNodeDataChanged, p)
	expectEvent(t, pw, wire.EventNodeDataChanged, p)
	_, err = other.Create(ctx, p+"/kids/k", nil, wire.ModePersistent, nil)
	must(t, err)
	expectEvent(t, cw, wire.EventNodeChildrenChanged, p+"/kids")
	expectEvent(t, pw, wire.EventNodeCreated, p+"/kids/k")
	_, err = other.Create(ctx, p+"/none", nil, wire.ModePersistent, nil)
	must(t, err)
	expectEvent(t, ew, wire.EventNodeCreated, p+"/none")
	expectEvent(t, pw, wire.EventNodeCreated, p+"/none")
}

// TestReconnectMissedChanges cuts the client's connection with a proxy
// while another client changes watched nodes: on reconnect, setWatches2
// relative to lastZxidSeen fires the watches for what was missed. A
// request in flight at the cut fails with ErrConnectionLoss.
func TestReconnectMissedChanges(t *testing.T) {
	s := zktest.Start(t)
	ctx := testCtx(t)
	px := newProxy(t, s.Addr)
	c := connect(t, px.Addr(), WithSessionTimeout(30*time.Second), WithAuth("digest", []byte("bob:pw")))
	other := connect(t, s.Addr)
	p := testPath(t)
	_, err := c.Create(ctx, p, nil, wire.ModePersistent, nil)
	must(t, err)
	_, err = c.Create(ctx, p+"/secret", []byte("s"), wire.ModePersistent, []wire.ACL{DigestACL(wire.PermRead, "bob", "pw")})
	must(t, err)
	_, err = c.Create(ctx, p+"/eph", nil, wire.ModeEphemeral, nil)
	must(t, err)
	_, _, dw, err := c.GetW(ctx, p)
	must(t, err)
	_, _, ew, err := c.ExistsW(ctx, p+"/later")
	must(t, err)
	pw, err := c.AddWatch(ctx, p, wire.WatchPersistentRecursive)
	must(t, err)
	id := c.SessionID()
	waitState(t, c, wire.StateSyncConnected)

	px.Pause()
	held := c.Do(ctx, wire.OpGetData, &wire.GetDataRequest{Path: p}, &wire.GetDataResponse{})
	px.Cut()
	if err := held.Wait(ctx); !errors.Is(err, wire.ErrConnectionLoss) {
		t.Fatalf("in-flight call at cut = %v, want ErrConnectionLoss", err)
	}
	waitState(t, c, wire.StateDisconnected)
	px.Resume()

	_, err = other.Set(ctx, p, []byte("missed"), AnyVersion)
	must(t, err)
	_, err = other.Create(ctx, p+"/later", nil, wire.ModePersistent, nil)
	must(t, err)

	px.Restore()
	waitState(t, c, wire.StateSyncConnected)
	if c.SessionID() != id {
		t.Fatalf("session id %x, want %x", c.SessionID(), id)
	}
	expectEvent(t, dw, wire.EventNodeDataChanged, p)
	expectEvent(t, ew, wire.EventNodeCreated, p+"/later")
	// setWatches2 fired the server's watch on p and its exist watch on
	// p/later; the client delivers both to the recursive watch on p too,
	// as ZKWatchManager does. A change after the reconnect fires it again.
	_, err = other.Set(ctx, p+"/later", []byte("after"), AnyVersion)
	must(t, err)
	seen := map[string]wire.EventType{}
	for {
		ev := nextEvent(t, pw)
		if ev.Path == p+"/later" && ev.Type == wire.EventNodeDataChanged {
			break
		}
		seen[ev.Path] = ev.Type
	}
	if seen[p] != wire.EventNodeDataChanged || seen[p+"/later"] != wire.EventNodeCreated {
		t.Fatalf("recursive watch saw %v before the later change", seen)
	}
	if ok, st, err := c.Exists(ctx, p+"/eph"); err != nil || !ok || st.EphemeralOwner != id {
		t.Fatalf("ephemeral after reconnect: %v %x %v", ok, st.EphemeralOwner, err)
	}
	// The auth was sent again on the new connection.
	if data, _, err := c.Get(ctx, p+"/secret"); err != nil || string(data) != "s" {
		t.Fatalf("Get with digest ACL after reconnect = %q, %v", data, err)
	}
	_, _, err = other.Get(ctx, p+"/secret")
	isCode(t, err, wire.ErrNoAuth)
}

// TestConnectSkipsDeadServer: a server of the connect string that refuses
// connections is skipped, whatever the shuffled order.
func TestConnectSkipsDeadServer(t *testing.T) {
	s := zktest.Start(t)
	ctx := testCtx(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	dead := ln.Addr().String()
	ln.Close()
	for range 3 {
		c := connect(t, dead+","+s.Addr)
		if c.Server() != s.Addr {
			t.Fatalf("connected to %q", c.Server())
		}
		_, _, err := c.Get(ctx, "/")
		must(t, err)
		must(t, c.Close())
	}
}

// TestPingKeepsSessionAlive: a session with the smallest timeout stays
// connected through an idle period several timeouts long, because the
// client pings at a third of the negotiated timeout. The idle period is
// the condition under test, not a synchronisation.
func TestPingKeepsSessionAlive(t *testing.T) {
	s := zktest.Start(t)
	ctx := testCtx(t)
	c := connect(t, s.Addr, WithSessionTimeout(400*time.Millisecond))
	if c.SessionTimeout() != 400*time.Millisecond {
		t.Fatalf("negotiated %v", c.SessionTimeout())
	}
	id := c.SessionID()
	waitState(t, c, wire.StateSyncConnected)
	time.Sleep(2 * time.Second)
	noEvent(t, c.Events())
	_, _, err := c.Get(ctx, "/")
	must(t, err)
	if c.SessionID() != id || c.State() != wire.StateSyncConnected {
		t.Fatalf("session %x state %v", c.SessionID(), c.State())
	}
	noEvent(t, c.Events())
}

// TestSessionExpiry lets the session expire while the client is cut off:
// on reconnect the server refuses it, Events reports Expired and every
// call fails with ErrSessionExpired; the Conn stops reconnecting.
func TestSessionExpiry(t *testing.T) {
	s := zktest.Start(t)
	ctx := testCtx(t)
	px := newProxy(t, s.Addr)
	other := connect(t, s.Addr)
	_, _, err := other.Exists(ctx, "/") // other's reader is running before we count
	must(t, err)
	before := runtimeGoroutines()
	c, err := Connect(ctx, px.Addr(), WithSessionTimeout(400*time.Millisecond), WithLogger(testLogger(t)))
	must(t, err)
	defer c.Close()
	p := testPath(t)
	_, err = c.Create(ctx, p, nil, wire.ModeEphemeral, nil)
	must(t, err)
	_, _, gone, err := other.ExistsW(ctx, p)
	must(t, err)
	_, _, w, err := c.GetW(ctx, p)
	must(t, err)

	px.Cut()
	waitState(t, c, wire.StateDisconnected)
	// The server expires the session: its ephemeral goes.
	expectEvent(t, gone, wire.EventNodeDeleted, p)
	px.Restore()
	waitState(t, c, wire.StateExpired)
	if _, ok := <-c.Events(); ok {
		t.Fatal("Events not closed after expiry")
	}
	ev := nextEvent(t, w)
	if ev.State != wire.StateExpired || !errors.Is(ev.Err, wire.ErrSessionExpired) {
		t.Fatalf("watch after expiry = %+v", ev)
	}
	_, _, err = c.Get(ctx, "/")
	isCode(t, err, wire.ErrSessionExpired)
	if c.State() != wire.StateExpired {
		t.Fatalf("state = %v", c.State())
	}
	must(t, c.Close())
	// The Conn's goroutines are gone; the proxy's pipes end with the cut.
	px.Cut()
	waitGoroutines(t, before)
}
