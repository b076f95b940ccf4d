package recipes

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddockdb/paddock/cmd/paddock/clients"
)

// qCuratorJava is a one-shot Curator program: "counter PATH" adds 5
// with a DistributedAtomicLong and prints the new value; "put PATH"
// offers c-1 and c-2 to a SimpleDistributedQueue; "poll PATH" polls it
// for one second and prints what it got ("none" for nothing).
const qCuratorJava = `
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.queue.SimpleDistributedQueue;
import org.apache.curator.retry.RetryNTimes;

public class CuratorQueues {
    public static void main(String[] args) throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.newClient(args[0], new RetryNTimes(20, 100));
        c.start();
        c.blockUntilConnected(20, TimeUnit.SECONDS);
        switch (args[1]) {
        case "counter": {
            AtomicValue<Long> v = new DistributedAtomicLong(c, args[2], new RetryNTimes(50, 10)).add(5L);
            if (!v.succeeded()) { System.err.println("add failed"); System.exit(1); }
            System.out.println(v.preValue() + " " + v.postValue());
            break;
        }
        case "put": {
            SimpleDistributedQueue q = new SimpleDistributedQueue(c, args[2]);
            q.offer("c-1".getBytes(StandardCharsets.UTF_8));
            q.offer("c-2".getBytes(StandardCharsets.UTF_8));
            break;
        }
        case "poll": {
            byte[] b = new SimpleDistributedQueue(c, args[2]).poll(1, TimeUnit.SECONDS);
            System.out.println(b == null ? "none" : new String(b, StandardCharsets.UTF_8));
            break;
        }
        }
        c.close();
    }
}
`

// qCurator compiles qCuratorJava once and returns a function that runs it.
func qCurator(t *testing.T) func(t *testing.T, s *server, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "CuratorQueues.java")
	if err := os.WriteFile(src, []byte(qCuratorJava), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, clients.Javac, "-nowarn", "-d", dir, "-cp", clients.CuratorClasspath, src).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	return func(t *testing.T, s *server, args ...string) string {
		t.Helper()
		argv := append([]string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
			"-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
			"-cp", dir + string(os.PathListSeparator) + clients.CuratorClasspath, "CuratorQueues", s.Addr}, args...)
		out, err := exec.CommandContext(testCtx(t), clients.Java, argv...).Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			t.Fatalf("curator %v: %v\n%s", args, err, msg)
		}
		return strings.TrimSpace(string(out))
	}
}

// TestQueueCurator: Curator's DistributedAtomicLong and the Go Counter
// change the same value; the Go Queue takes a Curator
// SimpleDistributedQueue's items in order, and Curator's consumer skips
// the Go queue's protected items, as Queue's doc says.
func TestQueueCurator(t *testing.T) {
	curator := qCurator(t)
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := testCtx(t)
		c := s.Connect(t)
		k := NewCounter(c, "/curator/counter")
		if _, err := k.Add(ctx, 37); err != nil {
			t.Fatal(err)
		}
		if got := curator(t, s, "counter", "/curator/counter"); got != "37 42" {
			t.Fatalf("Curator's add after the Go one: %q, want \"37 42\"", got)
		}
		if v, err := k.Add(ctx, 1); err != nil || v != 43 {
			t.Fatalf("Go add after Curator's: %d, %v", v, err)
		}

		q := NewQueue(c, "/curator/queue")
		curator(t, s, "put", "/curator/queue")
		for _, want := range []string{"c-1", "c-2"} {
			data, err := q.Take(ctx)
			if err != nil || string(data) != want {
				t.Fatalf("Go Take of Curator's items: %q, %v; want %s", data, err, want)
			}
		}
		if err := q.Put(ctx, []byte("g-1")); err != nil {
			t.Fatal(err)
		}
		if got := curator(t, s, "poll", "/curator/queue"); got != "none" {
			t.Fatalf("Curator's poll took %q: it skips protected items", got)
		}
		if data, err := q.Take(ctx); err != nil || string(data) != "g-1" {
			t.Fatalf("Go Take: %q, %v", data, err)
		}
	})
}
