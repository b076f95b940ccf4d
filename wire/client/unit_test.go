package client

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/paddockdb/paddock/wire"
)

func TestParseConnectString(t *testing.T) {
	for _, tc := range []struct {
		in      string
		servers []string
		chroot  string
		bad     bool
	}{
		{in: "a:1", servers: []string{"a:1"}},
		{in: "a:1,b:2/app/x", servers: []string{"a:1", "b:2"}, chroot: "/app/x"},
		{in: "a,b:3/", servers: []string{"a:2181", "b:3"}},
		{in: "[::1]:5,::1", servers: []string{"[::1]:5", "[::1]:2181"}},
		{in: "", bad: true},
		{in: "a:1/app/", bad: true},
		{in: "a:1/app//b", bad: true},
	} {
		servers, chroot, err := ParseConnectString(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil || !slices.Equal(servers, tc.servers) || chroot != tc.chroot {
			t.Errorf("%q = %v %q %v, want %v %q", tc.in, servers, chroot, err, tc.servers, tc.chroot)
		}
	}
}

func TestChrootPaths(t *testing.T) {
	c := &Conn{chroot: "/app"}
	for in, want := range map[string]string{"/": "/app", "/a": "/app/a", "/a/b": "/app/a/b"} {
		if got := c.fullPath(in); got != want {
			t.Errorf("fullPath(%q) = %q, want %q", in, got, want)
		}
		if got := c.stripChroot(want); got != in {
			t.Errorf("stripChroot(%q) = %q, want %q", want, got, in)
		}
	}
	if got := c.stripChroot("/apple"); got != "/apple" {
		t.Errorf("stripChroot(/apple) = %q", got)
	}
	req := &wire.CreateRequest{Path: "/x"}
	sent := c.chrootRequest(req).(*wire.CreateRequest)
	if sent.Path != "/app/x" || req.Path != "/x" {
		t.Errorf("chrootRequest: sent %q, caller's record now %q", sent.Path, req.Path)
	}
	m := c.chrootRequest(&wire.MultiRequest{Ops: []wire.MultiOp{DeleteOp("/d", 1)}}).(*wire.MultiRequest)
	if m.Ops[0].Body.(*wire.PathVersionRequest).Path != "/app/d" {
		t.Errorf("multi op path = %+v", m.Ops[0].Body)
	}
}

// TestSetWatchesSplit checks that re-registration of many watches is
// split into packets under the Java client's limit, loses nothing, and
// uses setWatches2 only when persistent watches exist.
func TestSetWatchesSplit(t *testing.T) {
	c := &Conn{watches: map[string]*watchSet{}}
	c.lastZxid.Store(42)
	want := map[string]bool{}
	for i := range 5000 {
		p := fmt.Sprintf("/%s/%d", strings.Repeat("p", 100), i)
		c.addWatch(p, watchKind(i%3), make(chan Event, 1))
		want[fmt.Sprint(i%3, p)] = true
	}
	reqs := c.setWatchesRequests()
	if len(reqs) < 4 {
		t.Fatalf("%d packets for ~530 KB of paths", len(reqs))
	}
	got := map[string]bool{}
	for _, r := range reqs {
		if r.V2 || r.RelativeZxid != 42 {
			t.Fatalf("packet V2=%v rel=%d", r.V2, r.RelativeZxid)
		}
		size := 0
		for k, l := range [][]string{r.DataWatches, r.ExistWatches, r.ChildWatches} {
			for _, p := range l {
				size += len(p)
				got[fmt.Sprint(k, p)] = true
			}
		}
		if size > setWatchesMaxLength {
			t.Fatalf("packet carries %d bytes of paths", size)
		}
		if n := len(wire.Marshal(r)); n > wire.DefaultMaxPacket {
			t.Fatalf("packet of %d bytes", n)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("re-registered %d watches, want %d", len(got), len(want))
	}
	c.addWatch("/r", kindRecursive, make(chan Event, 1))
	reqs = c.setWatchesRequests()
	if !reqs[0].V2 {
		t.Fatal("persistent watches need setWatches2")
	}
}

func TestDigest(t *testing.T) {
	// From `java ... DigestAuthenticationProvider alice:secret`.
	if got := DigestID("alice", "secret"); got != "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=" {
		t.Fatalf("DigestID = %q", got)
	}
	acl := DigestACL(wire.PermRead, "alice", "secret")
	if acl.Perms != wire.PermRead || acl.ID.Scheme != "digest" {
		t.Fatalf("DigestACL = %+v", acl)
	}
}
