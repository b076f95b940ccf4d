package recipes

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/paddockdb/paddock/cmd/paddock/clients"
)

// qKazooScript runs a kazoo LockingQueue: "put" puts two items, "get N"
// gets and consumes N items and prints them, one a line.
const qKazooScript = `
import sys
from kazoo.client import KazooClient
hosts, path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
zk = KazooClient(hosts=hosts)
zk.start(timeout=20)
q = zk.LockingQueue(path)
if mode == "put":
    q.put(b"k-low", priority=500)
    q.put(b"k-high", priority=1)
else:
    for _ in range(int(sys.argv[4])):
        v = q.get(timeout=20)
        if v is None:
            sys.exit("no item within 20 s")
        if not q.consume():
            sys.exit("consume failed")
        print(v.decode())
zk.stop()
`

// qKazoo runs qKazooScript with Debian's python3 (which has kazoo).
func qKazoo(t *testing.T, s *server, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(testCtx(t), clients.Python, append([]string{"-c", qKazooScript, s.Addr}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("kazoo %v: %v\n%s", args, err, msg)
	}
	return string(out)
}

// TestLockingQueueKazoo: a kazoo LockingQueue and a Go one share a queue:
// each takes the other's items, in priority order on the Go side.
func TestLockingQueueKazoo(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := testCtx(t)
		q := NewLockingQueue(s.Connect(t), "/lq/kazoo")
		qKazoo(t, s, "/lq/kazoo", "put")
		if err := q.Put(ctx, []byte("g-mid")); err != nil { // priority 100
			t.Fatal(err)
		}
		for _, want := range []string{"k-high", "g-mid", "k-low"} {
			it, err := q.Take(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if string(it.Data()) != want {
				t.Fatalf("took %q, want %q", it.Data(), want)
			}
			if err := it.Ack(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for _, d := range []string{"g-1", "g-2"} {
			if err := q.PutPriority(ctx, []byte(d), 5); err != nil {
				t.Fatal(err)
			}
		}
		got := strings.Fields(qKazoo(t, s, "/lq/kazoo", "get", "2"))
		slices.Sort(got) // kazoo orders protected names by their uuid
		if !slices.Equal(got, []string{"g-1", "g-2"}) {
			t.Fatalf("kazoo took %q", got)
		}
		if n, err := q.Len(ctx); err != nil || n != 0 {
			t.Fatalf("Len after kazoo consumed: %d, %v", n, err)
		}
	})
}
