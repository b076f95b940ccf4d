package actors

import (
	"fmt"
	"strings"
	"testing"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/zktest"
)

// watchCountWorkload sets one-shot, persistent and recursive watches from
// two raw sessions, takes halves of persistent watches out with
// removeWatches, and returns every reply code in order.
func watchCountWorkload(t *testing.T, addr string) []string {
	t.Helper()
	a, b := dialRawAddr(t, addr, 0, nil), dialRawAddr(t, addr, 0, nil)
	var codes []string
	xid := int32(0)
	do := func(c *rawClient, name string, op wire.OpCode, body wire.Record) {
		t.Helper()
		xid++
		c.send(xid, op, body)
		for {
			h, _ := c.read()
			if h.Xid == wire.XidNotification {
				continue
			}
			if h.Xid != xid {
				t.Fatalf("%s: reply xid %d, want %d", name, h.Xid, xid)
			}
			codes = append(codes, fmt.Sprintf("%s=%v", name, h.Err))
			return
		}
	}
	for _, p := range []string{"/w", "/w/c", "/p1", "/p2", "/p3", "/r"} {
		do(a, "create "+p, wire.OpCreate, &wire.CreateRequest{Path: p, ACL: wire.WorldACL})
	}
	do(a, "getData /w", wire.OpGetData, &wire.PathWatchRequest{Path: "/w", Watch: true})
	do(a, "exists /missing", wire.OpExists, &wire.PathWatchRequest{Path: "/missing", Watch: true})
	do(a, "getChildren /w", wire.OpGetChildren, &wire.PathWatchRequest{Path: "/w", Watch: true})
	for _, p := range []string{"/p1", "/p2", "/p3"} {
		do(a, "addWatch persistent "+p, wire.OpAddWatch, &wire.AddWatchRequest{Path: p, Mode: wire.WatchPersistent})
	}
	do(a, "addWatch recursive /r", wire.OpAddWatch, &wire.AddWatchRequest{Path: "/r", Mode: wire.WatchPersistentRecursive})
	do(a, "removeWatches data /p1", wire.OpRemoveWatches, &wire.WatchesRequest{Path: "/p1", Type: wire.WatcherData})
	do(a, "removeWatches children /p2", wire.OpRemoveWatches, &wire.WatchesRequest{Path: "/p2", Type: wire.WatcherChildren})
	do(b, "addWatch recursive /r", wire.OpAddWatch, &wire.AddWatchRequest{Path: "/r", Mode: wire.WatchPersistentRecursive})
	do(b, "getData /w", wire.OpGetData, &wire.PathWatchRequest{Path: "/w", Watch: true})
	do(b, "addWatch persistent /p3", wire.OpAddWatch, &wire.AddWatchRequest{Path: "/p3", Mode: wire.WatchPersistent})
	do(b, "removeWatches data /p3", wire.OpRemoveWatches, &wire.WatchesRequest{Path: "/p3", Type: wire.WatcherData})
	return codes
}

// zk_watch_count and wchs count what ZooKeeper 3.8's two watch tables
// hold, persistent and recursive watches and removed halves included.
func TestWatchCountsMatchZooKeeper(t *testing.T) {
	z := zktest.Start(t)
	s := startServer(t, t.TempDir(), nil)
	defer s.Close()
	zc, pc := watchCountWorkload(t, z.Addr), watchCountWorkload(t, s.Addr().String())
	if strings.Join(zc, " ") != strings.Join(pc, " ") {
		t.Errorf("reply codes:\nzookeeper %v\npaddock   %v", zc, pc)
	}
	zp, pp := zkPeer(t, z), paddockPeer(t, s)
	if zm, pm := keyed(zp.ask("mntr"), "\t")["zk_watch_count"], keyed(pp.ask("mntr"), "\t")["zk_watch_count"]; zm != pm {
		t.Errorf("zk_watch_count: zookeeper %s, paddock %s", zm, pm)
	}
	if zo, po := zp.ask("wchs"), pp.ask("wchs"); zo != po {
		t.Errorf("wchs: zookeeper %q, paddock %q", zo, po)
	}
}

// mntr and wchs read counters: what they cost does not grow with the
// number of watched paths (they used to ask every path actor), and the
// counters follow registrations, firings and closed sessions.
func TestWatchCountersCostNothingPerWatch(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	defer s.Close()
	c := dialRaw(t, s, 0, nil)
	const n = 20000
	var out []byte
	for i := range n {
		out = wire.AppendFrame(out, &wire.RequestHeader{Xid: int32(i + 1), Type: wire.OpExists},
			&wire.PathWatchRequest{Path: fmt.Sprintf("/w%05d", i), Watch: true})
	}
	go func() { _, _ = c.nc.Write(out) }()
	for i := range n {
		if h, _ := c.read(); h.Xid != int32(i+1) || h.Err != wire.ErrNoNode {
			t.Fatalf("exists %d: xid %d err %v", i, h.Xid, h.Err)
		}
	}
	// Every exists was answered after its registration (watchRegistered),
	// but the path actors may still be taking theirs.
	want := fmt.Sprintf("1 connections watching %d paths\nTotal watches:%d\n", n, n)
	waitFor(t, "wchs to count the watches", func() bool { return s.fourLetterOutput("wchs") == want })
	if got := keyed(s.fourLetterOutput("mntr"), "\t")["zk_watch_count"]; got != fmt.Sprint(n) {
		t.Errorf("zk_watch_count %s, want %d", got, n)
	}
	allocs := testing.AllocsPerRun(10, func() {
		_ = s.fourLetterOutput("mntr")
		_ = s.fourLetterOutput("wchs")
	})
	t.Logf("mntr + wchs: %.0f allocations with %d watched paths", allocs, n)
	if allocs > n/20 {
		t.Errorf("mntr + wchs made %.0f allocations with %d watched paths: their cost grows with the watches", allocs, n)
	}

	// Firing one-shot watches uncounts them.
	other := dialRaw(t, s, 0, nil)
	for i := range 100 {
		other.send(int32(i+1), wire.OpCreate, &wire.CreateRequest{Path: fmt.Sprintf("/w%05d", i), ACL: wire.WorldACL})
		if h, _ := other.read(); h.Err != wire.Ok {
			t.Fatalf("create: %v", h.Err)
		}
	}
	want = fmt.Sprintf("1 connections watching %d paths\nTotal watches:%d\n", n-100, n-100)
	waitFor(t, "wchs to uncount the fired watches", func() bool { return s.fourLetterOutput("wchs") == want })
	// A closed session takes its watches with it.
	c.nc.Close()
	waitFor(t, "wchs to forget the closed session", func() bool {
		return s.fourLetterOutput("wchs") == "0 connections watching 0 paths\nTotal watches:0\n"
	})
	if got := keyed(s.fourLetterOutput("mntr"), "\t")["zk_watch_count"]; got != "0" {
		t.Errorf("zk_watch_count %s after the session closed, want 0", got)
	}
}
