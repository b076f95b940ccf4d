package actors

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/paddockdb/paddock/actors/quorumauth"
)

// A follower whose data directory is replaced by an empty one rejoins as
// a new replica of its server id: the leader removes the old replica and
// adds the new one, the member receives the data, records its replica id,
// keeps it across a restart, and counts in the quorum (it serves writes
// with the leader gone).
func TestEnsembleMemberRejoinsOnEmptyDataDir(t *testing.T) {
	e := startEnsemble(t, 3, 500*time.Millisecond)
	leader := e.waitLeader()
	f := (leader + 1) % 3
	c := e.dial(leader)
	for i := range 50 {
		if _, err := c.Create(fmt.Sprintf("/k%02d", i), []byte(fmt.Sprint(i)), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	server := uint64(f + 1)
	// A member that starts after the others have elected a leader is a
	// new incarnation already (join.go): the next is one above.
	old := e.servers[f].meta.replica.ReplicaID
	e.stop(f)
	if err := os.RemoveAll(e.dirs[f]); err != nil {
		t.Fatal(err)
	}
	e.restart(f)
	want := replicaOf(server, incarnationOf(old)+1)
	if got := e.servers[f].meta.replica.ReplicaID; got != want {
		t.Fatalf("rejoined member's replica id %d, want %d (server %d, incarnation %d)", got, want, server, incarnationOf(old)+1)
	}
	if id, err := readReplicaID(e.dirs[f], server); err != nil || id != want {
		t.Fatalf("recorded replica id %d %v, want %d", id, err, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	ms, err := e.servers[leader].nh.SyncGetShardMembership(ctx, MetaShard)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ms.Nodes[want]; !ok {
		t.Fatalf("membership %v lacks replica %d", ms.Nodes, want)
	}
	if _, ok := ms.Nodes[old]; ok {
		t.Fatalf("membership %v still has the old replica %d", ms.Nodes, old)
	}
	if _, ok := ms.Removed[old]; !ok {
		t.Fatalf("the old replica %d is not among the removed: %v", old, ms.Removed)
	}
	l := e.dial(f)
	if _, err := c.Create("/after", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Sync("/after"); err != nil {
		t.Fatal(err)
	}
	if got, want := treeDump(e.servers[f]), treeDump(e.servers[leader]); got != want {
		t.Fatalf("rejoined member differs:\n%s\nleader:\n%s", got, want)
	}

	// A restart keeps the new replica.
	e.stop(f)
	e.restart(f)
	if got := e.servers[f].meta.replica.ReplicaID; got != want {
		t.Fatalf("after a restart: replica id %d, want %d", got, want)
	}
	// With the old leader gone the rejoined member is needed for a
	// quorum: writes through it succeed.
	e.stop(leader)
	e.waitLeader()
	l = e.dial(f)
	eventually(t, "a write with the rejoined member in the quorum", func() error {
		_, err := l.Create("/quorum", nil, 0, zk.WorldACL(zk.PermAll))
		if err == zk.ErrNodeExists {
			return nil
		}
		return err
	})
	if b, _, err := l.Get("/k49"); err != nil || string(b) != "49" {
		t.Fatalf("read on the rejoined member: %q %v", b, err)
	}
}

// The leader refuses to replace a member that is alive: another machine
// asking under a live member's server id gets "refused", and the
// membership is unchanged.
func TestJoinRefusedWhileTheMemberIsAlive(t *testing.T) {
	e := startEnsemble(t, 3, 500*time.Millisecond)
	leader := e.waitLeader()
	live := uint64((leader+1)%3 + 1)
	eventually(t, "the leader hears from its followers", func() error {
		if _, ok := e.servers[leader].members.lastHeard(live); !ok {
			return fmt.Errorf("no touches from server %d yet", live)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	before, err := e.servers[leader].nh.SyncGetShardMembership(ctx, MetaShard)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.DialTimeout("tcp", e.members[leader].ElectionAddr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	if _, err := nc.Write(append(appendHello(nil, live, quorumauth.MechNone), joinAsk...)); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(nc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseJoinAnswer(b[4:])
	if err != nil {
		t.Fatal(err)
	}
	if got.state != joinRefused || !strings.Contains(got.why, "alive") {
		t.Fatalf("answer %+v, want a refusal saying the member is alive", got)
	}
	after, err := e.servers[leader].nh.SyncGetShardMembership(ctx, MetaShard)
	if err != nil {
		t.Fatal(err)
	}
	if after.ConfigChangeID != before.ConfigChangeID || len(after.Nodes) != 3 {
		t.Fatalf("membership changed: %v (change %d), before %v (change %d)", after.Nodes, after.ConfigChangeID, before.Nodes, before.ConfigChangeID)
	}
}

// A replica id file that does not hold a replica id of this server is
// refused with the file's name.
func TestReplicaFileRefusesBadContent(t *testing.T) {
	for _, body := range []string{"", "abc\n", "0\n", "259\n", "-3\n", "99999999999999999999999\n"} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, replicaFile), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if id, err := readReplicaID(dir, 2); err == nil || !strings.Contains(err.Error(), replicaFile) {
			t.Errorf("%q: id %d, err %v; want an error naming the file", body, id, err)
		}
	}
	dir := t.TempDir()
	if id, err := readReplicaID(dir, 2); err != nil || id != 2 {
		t.Fatalf("no file: %d %v, want the server id", id, err)
	}
	if err := writeReplicaID(dir, replicaOf(2, 5)); err != nil {
		t.Fatal(err)
	}
	if id, err := readReplicaID(dir, 2); err != nil || id != replicaOf(2, 5) || serverOf(id) != 2 || incarnationOf(id) != 5 {
		t.Fatalf("written and read back: %d %v", id, err)
	}
}

// Malformed join answers are refused.
func TestParseJoinAnswerRefusesBadInput(t *testing.T) {
	good := appendJoinAnswer(nil, joinAnswer{state: joinReplaced, leader: 1, replica: replicaOf(3, 1)})[4:]
	if a, err := parseJoinAnswer(good); err != nil || a.replica != replicaOf(3, 1) {
		t.Fatalf("good answer: %+v %v", a, err)
	}
	for name, b := range map[string][]byte{
		"empty":       nil,
		"short":       good[:10],
		"other type":  append([]byte{memberTouch}, good[1:]...),
		"bad state":   append([]byte{memberJoinAnswer, 9}, good[2:]...),
		"no replica":  appendJoinAnswer(nil, joinAnswer{state: joinReplaced, leader: 1})[4:],
		"zero state":  append([]byte{memberJoinAnswer, 0}, good[2:]...),
		"state above": append([]byte{memberJoinAnswer, joinRefused + 1}, good[2:]...),
	} {
		if a, err := parseJoinAnswer(b); err == nil {
			t.Errorf("%s: accepted %+v", name, a)
		}
	}
}
