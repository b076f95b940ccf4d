package recipes

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paddockdb/paddock/cmd/paddock/clients"
	"github.com/paddockdb/paddock/wire/client"
)

// latchDriver is a Curator LeaderLatch driven over stdin, one command a
// line: "start ID" (a new LeaderLatch with id ID), "leader" (prints
// "LEADERIS ID"), "close" (prints CLOSING, closes the latch, prints
// CLOSED), "quit". The latch's listener prints "LEADER ID" and
// "NOTLEADER ID".
const latchDriver = `
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.retry.RetryOneTime;
import java.io.BufferedReader;
import java.io.InputStreamReader;

public class LatchDriver {
    static synchronized void say(String s) { System.out.println(s); System.out.flush(); }

    public static void main(String[] args) throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.newClient(args[0], 10000, 5000, new RetryOneTime(100));
        c.start();
        c.blockUntilConnected();
        String path = args[1];
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        LeaderLatch latch = null;
        say("READY");
        String line;
        while ((line = in.readLine()) != null) {
            String[] f = line.trim().split(" ");
            switch (f[0]) {
            case "start": {
                final String id = f[1];
                latch = new LeaderLatch(c, path, id);
                latch.addListener(new LeaderLatchListener() {
                    public void isLeader() { say("LEADER " + id); }
                    public void notLeader() { say("NOTLEADER " + id); }
                });
                latch.start();
                say("STARTED " + id);
                break;
            }
            case "leader":
                say("LEADERIS " + latch.getLeader().getId());
                break;
            case "close":
                say("CLOSING");
                latch.close();
                say("CLOSED");
                break;
            case "quit":
                c.close();
                say("BYE");
                return;
            default:
                say("UNKNOWN " + line);
            }
        }
    }
}
`

// compileLatchDriver compiles LatchDriver.java into a directory of the
// test's and returns it.
func compileLatchDriver(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("javac"); err != nil {
		t.Fatalf("javac not found (install openjdk-17-jdk-headless): %v", err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "LatchDriver.java")
	if err := os.WriteFile(src, []byte(latchDriver), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("javac", "-nowarn", "-d", dir, "-cp", clients.CuratorClasspath, src).CombinedOutput()
	if err != nil {
		t.Fatalf("javac LatchDriver.java: %v\n%s", err, out)
	}
	return dir
}

// javaLatch is a running LatchDriver.
type javaLatch struct {
	t     testing.TB
	stdin io.WriteCloser
	lines chan string
	cmd   *exec.Cmd
}

func startJavaLatch(t *testing.T, classes, addr, path string, onLine func(string)) *javaLatch {
	t.Helper()
	cmd := exec.Command("java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
		"-cp", classes+string(os.PathListSeparator)+clients.CuratorClasspath, "LatchDriver", addr, path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	j := &javaLatch{t: t, stdin: stdin, lines: make(chan string, 64), cmd: cmd}
	var read sync.WaitGroup
	read.Add(1)
	go func() {
		defer read.Done()
		defer close(j.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			onLine(line)
			j.lines <- line
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { read.Wait(); cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	j.expect("READY")
	return j
}

func (j *javaLatch) send(cmd string) {
	j.t.Helper()
	if _, err := fmt.Fprintln(j.stdin, cmd); err != nil {
		j.t.Fatalf("curator: send %q: %v", cmd, err)
	}
}

// expect reads lines until one starting with prefix, failing on any
// line that starts with LEADER or NOTLEADER unless that is the prefix.
func (j *javaLatch) expect(prefix string) string {
	j.t.Helper()
	timeout := time.NewTimer(waitTimeout)
	defer timeout.Stop()
	for {
		select {
		case line, ok := <-j.lines:
			if !ok {
				j.t.Fatalf("curator: exited waiting for %q", prefix)
			}
			if strings.HasPrefix(line, prefix) {
				return line
			}
			if strings.HasPrefix(line, "LEADER ") || strings.HasPrefix(line, "NOTLEADER ") {
				j.t.Fatalf("curator: %q while waiting for %q", line, prefix)
			}
		case <-timeout.C:
			j.t.Fatalf("curator: no %q within %v", prefix, waitTimeout)
		}
	}
}

// TestLeaderLatchInterop: a Curator LeaderLatch and Go candidates on one
// path elect one leader among them: the Go candidates wait while Curator
// leads, one of them leads once it closes, and a new Curator latch waits
// behind the Go candidates until all of them have resigned. One JVM per
// server.
func TestLeaderLatchInterop(t *testing.T) {
	classes := compileLatchDriver(t)
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := testCtx(t)
		const path = "/interop/latch"
		var leaders elLeaders
		var javaMu sync.Mutex
		javaLeads := false
		j := startJavaLatch(t, classes, s.Addr, path, func(line string) {
			javaMu.Lock()
			defer javaMu.Unlock()
			switch {
			case strings.HasPrefix(line, "LEADER "):
				leaders.mark(t, "curator "+line[len("LEADER "):])
				javaLeads = true
			case strings.HasPrefix(line, "NOTLEADER ") || line == "CLOSING":
				if javaLeads {
					leaders.unmark()
					javaLeads = false
				}
			}
		})
		j.send("start java-1")
		j.expect("STARTED java-1")
		j.expect("LEADER java-1")

		// Three Go candidates on two sessions wait behind it.
		conns := []*client.Conn{s.Connect(t), s.Connect(t)}
		watcher := s.Connect(t)
		const goCandidates = 3
		leads := make(chan string, goCandidates)
		resign := map[string]chan struct{}{}
		var wg sync.WaitGroup
		for i := range goCandidates {
			id := fmt.Sprintf("go-%d", i)
			resign[id] = make(chan struct{})
			e := NewElection(conns[i%len(conns)], path, id)
			t.Cleanup(e.Close)
			wg.Add(1)
			go func() {
				defer wg.Done()
				lctx, err := e.Campaign(ctx)
				if err != nil {
					t.Errorf("%s: %v", id, err)
					return
				}
				leaders.mark(t, id)
				leads <- id
				select {
				case <-resign[id]:
				case <-lctx.Done():
					t.Errorf("%s lost leadership: %v", id, context.Cause(lctx))
				}
				leaders.unmark()
				if err := e.Resign(ctx); err != nil {
					t.Errorf("%s: resign: %v", id, err)
				}
			}()
		}
		elAwaitChildren(t, ctx, watcher, path, 1+goCandidates)
		if got, err := elLeader(ctx, watcher, path); err != nil || got != "java-1" {
			t.Fatalf("Go's Leader = %q (%v), want java-1", got, err)
		}
		select {
		case id := <-leads:
			t.Fatalf("%s leads while Curator does", id)
		case <-time.After(200 * time.Millisecond):
		}

		// Curator closes its latch: a Go candidate leads.
		j.send("close")
		j.expect("CLOSED")
		var first string
		select {
		case first = <-leads:
		case <-ctx.Done():
			t.Fatal("no Go candidate leads after Curator closed its latch")
		}

		// A new Curator latch stands behind the Go candidates.
		j.send("start java-2")
		j.expect("STARTED java-2")
		elAwaitChildren(t, ctx, watcher, path, 1+goCandidates)
		j.send("leader")
		if line := j.expect("LEADERIS "); line != "LEADERIS "+first {
			t.Fatalf("Curator says %q, want %s", line, first)
		}
		// The Go candidates resign one by one; Curator leads last.
		cur := first
		for range goCandidates - 1 {
			close(resign[cur])
			select {
			case cur = <-leads:
			case <-ctx.Done():
				t.Fatal("leadership did not pass to the next Go candidate")
			}
		}
		close(resign[cur])
		j.expect("LEADER java-2")
		wg.Wait()
		if got, err := elLeader(ctx, watcher, path); err != nil || got != "java-2" {
			t.Fatalf("Go's Leader = %q (%v), want java-2", got, err)
		}
		j.send("close")
		j.expect("CLOSED")
		j.send("quit")
		j.expect("BYE")
		if m := leaders.max.Load(); m > 1 {
			t.Errorf("%d leaders at once", m)
		}
	})
}
