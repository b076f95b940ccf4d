package actors

import (
	"fmt"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire"
)

// snapshotIndex is the Raft index of the meta shard's latest snapshot.
func snapshotIndex(t *testing.T, s *Server) uint64 {
	t.Helper()
	lr, err := s.nh.GetLogReader(MetaShard)
	if err != nil {
		t.Fatal(err)
	}
	return lr.Snapshot().Index
}

// createMany creates /n0../n(count-1), pipelined on one raw connection.
func createMany(t *testing.T, c *rawClient, count int) {
	t.Helper()
	for i := 0; i < count; i++ {
		c.send(int32(i+1), wire.OpCreate, &wire.CreateRequest{Path: fmt.Sprintf("/n%d", i), Data: []byte("v"), ACL: wire.WorldACL})
	}
	for i := 0; i < count; i++ {
		if h, _ := c.read(); h.Err != wire.Ok {
			t.Fatalf("create %d: %v", i, h.Err)
		}
	}
}

// TestSnapshotEverySnapCount: a snapshot is taken once SnapCount
// transactions have been applied, however many Raft entries carried them,
// and the server restarts from it with every znode.
func TestSnapshotEverySnapCount(t *testing.T) {
	const count = 300
	dir := t.TempDir()
	s := startServer(t, dir, func(c *Config) { c.SnapCount = 100 })
	c := dialRaw(t, s, 0, nil)
	createMany(t, c, count)
	deadline := time.Now().Add(testTimeout)
	for snapshotIndex(t, s) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot within %v after %d transactions with SnapCount 100", testTimeout, count)
		}
		time.Sleep(10 * time.Millisecond) // polling dragonboat's state
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = startServer(t, dir, nil)
	defer s.Close()
	if snapshotIndex(t, s) == 0 {
		t.Fatal("restarted without the snapshot")
	}
	r := dialRaw(t, s, 0, nil)
	for i := 0; i < count; i++ {
		r.send(int32(i+1), wire.OpExists, &wire.PathWatchRequest{Path: fmt.Sprintf("/n%d", i)})
	}
	for i := 0; i < count; i++ {
		if h, _ := r.read(); h.Err != wire.Ok {
			t.Fatalf("/n%d after restart: %v", i, h.Err)
		}
	}
}

// TestNoSnapshotBelowSnapCount: fewer transactions than SnapCount take no
// snapshot (the default, 100000, is far above what this test writes).
func TestNoSnapshotBelowSnapCount(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	defer s.Close()
	createMany(t, dialRaw(t, s, 0, nil), 300)
	if i := snapshotIndex(t, s); i != 0 {
		t.Fatalf("snapshot at index %d after 300 transactions with SnapCount %d", i, s.cfg.SnapCount)
	}
}
