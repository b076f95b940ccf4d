package actors

import (
	"fmt"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/go-zookeeper/zk"

	"github.com/paddockdb/paddock/statemachine"
	"github.com/paddockdb/paddock/wire"
)

func setTestHook(t *testing.T, h func(kind string, msg any)) {
	testHook.Store(&h)
	t.Cleanup(func() { testHook.Store(nil) })
}

func hasXid(msg any, xid int32) bool {
	switch m := msg.(type) {
	case *request:
		return m.xid == xid
	case *requestBatch:
		for _, r := range m.reqs {
			if r.xid == xid {
				return true
			}
		}
	}
	return false
}

// R1: a panic in a session actor closes that connection (the client sees
// it at once instead of waiting forever) and the server keeps serving.
func TestSessionPanicClosesConnection(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	defer s.Close()
	setTestHook(t, func(kind string, msg any) {
		if kind == "session" && hasXid(msg, 666) {
			panic("test: session actor panics")
		}
	})
	c := dialRaw(t, s, 0, nil)
	c.send(666, wire.OpExists, &wire.PathWatchRequest{Path: "/"})
	if _, err := wire.ReadFrame(c.nc, nil, wire.DefaultMaxPacket); err == nil {
		t.Fatal("got a reply from a panicked session actor")
	} else if isTimeout(err) {
		t.Fatalf("connection of a panicked session actor still open after %v", testTimeout)
	}
	zc := connectZK(t, s)
	if _, err := zc.Create("/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("server failed: %v", err)
	}
}

// R1: a panic in the router (state that cannot be rebuilt) stops the server
// loudly instead of restarting it empty.
func TestRouterPanicStopsServer(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	defer s.Close()
	setTestHook(t, func(kind string, msg any) {
		if _, ok := msg.(*watchRegister); ok && kind == "router" {
			panic("test: router panics")
		}
	})
	c := dialRaw(t, s, 0, nil)
	c.send(1, wire.OpExists, &wire.PathWatchRequest{Path: "/", Watch: true})
	select {
	case <-s.Done():
	case <-time.After(testTimeout):
		t.Fatalf("server still running %v after its router panicked", testTimeout)
	}
	if s.Err() == nil {
		t.Fatal("Err is nil after a router panic")
	}
	// The connection goes with the server.
	if _, err := wire.ReadFrame(c.nc, nil, wire.DefaultMaxPacket); err == nil {
		if _, err := wire.ReadFrame(c.nc, nil, wire.DefaultMaxPacket); err == nil {
			t.Fatal("connection still served after the server stopped")
		}
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(interface{ Timeout() bool })
	return ok && ne.Timeout()
}

// R3: the router forgets a one-shot watch once it has fired, so a
// long-lived session watching many distinct paths does not grow it.
func TestRouterForgetsFiredWatches(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	defer s.Close()
	zc := connectZK(t, s)
	const n = 100
	var evs []<-chan zk.Event
	for i := range n {
		p := fmt.Sprintf("/w%d", i)
		if _, err := zc.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		_, _, ev, err := zc.GetW(p)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if got := routerEntries(t, s); got < n {
		t.Fatalf("router keeps %d watch entries, want >= %d while the watches are set", got, n)
	}
	for i := range n {
		if _, err := zc.Set(fmt.Sprintf("/w%d", i), []byte("x"), -1); err != nil {
			t.Fatal(err)
		}
	}
	for i, ev := range evs {
		select {
		case e := <-ev:
			if e.Type != zk.EventNodeDataChanged {
				t.Fatalf("watch %d: %v", i, e)
			}
		case <-time.After(testTimeout):
			t.Fatalf("watch %d did not fire within %v", i, testTimeout)
		}
	}
	// Each watchConsumed reached the router before the fan-out it belongs
	// to was acknowledged, so before the events were released.
	if got := routerEntries(t, s); got != 0 {
		t.Fatalf("router keeps %d entries for fired one-shot watches, want 0", got)
	}
}

func routerEntries(t *testing.T, s *Server) int {
	t.Helper()
	ch := make(chan int, 1)
	s.root.Send(s.meta.router, &routerCount{reply: ch})
	select {
	case n := <-ch:
		return n
	case <-time.After(testTimeout):
		t.Fatalf("router did not answer within %v", testTimeout)
		return 0
	}
}

// R4: a client write whose (session, cxid) equals a pending server-made
// txn's goes into a later entry, so results matched by key in apply order
// reach the right one; a server-made txn never takes a pending key.
func TestInternalCxidDoesNotCollide(t *testing.T) {
	p := newProposer(&Server{})
	p.flushing = true // no flush message: the test looks at the open batches
	const sess = 42
	client := &actor.PID{Id: "client"}
	// The session's writes fill batches 0 and 1 (a parked read between).
	p.write(nil, &proposeWrite{txn: statemachine.Txn{Type: wire.OpSetData, SessionID: sess, Cxid: 1}, from: client})
	p.write(nil, &proposeWrite{txn: statemachine.Txn{Type: wire.OpSetData, SessionID: sess, Cxid: 2}, from: client, barrier: true})
	p.where[sess] = 0 // the session's latest write as if in batch 0
	// A client write holding the first internal cxid is pending: the
	// server-made txn must skip it.
	p.write(nil, &proposeWrite{txn: statemachine.Txn{Type: wire.OpSetData, SessionID: sess, Cxid: -1001}, from: client})
	exp := make(chan statemachine.Result, 1)
	p.internalTxn(nil, &proposeInternal{txn: statemachine.Txn{Type: wire.OpCloseSession, SessionID: sess}, reply: exp})
	// The expiry close took cxid -1002; a client write with that xid comes after it.
	p.write(nil, &proposeWrite{txn: statemachine.Txn{Type: wire.OpSetData, SessionID: sess, Cxid: -1002}, from: client})
	// Apply in entry order and match by key, as applied() does.
	var got []string
	for i := 0; i < p.nopen; i++ {
		for _, txn := range p.open[i].txns {
			w, ok := p.pop(pendingKey{txn.SessionID, txn.Cxid})
			if !ok {
				t.Fatalf("no pending write for %v/%d", txn.Type, txn.Cxid)
			}
			who := "client"
			if w.from == nil {
				who = "server"
			}
			if (txn.Type == wire.OpCloseSession) != (who == "server") {
				t.Fatalf("%v cxid %d matched the %s's pending write", txn.Type, txn.Cxid, who)
			}
			got = append(got, fmt.Sprintf("%v/%d", txn.Type, txn.Cxid))
		}
	}
	if len(got) != 5 {
		t.Fatalf("applied %v", got)
	}
}
