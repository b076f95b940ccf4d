package recipes

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paddockdb/paddock/cmd/paddock/clients"
)

// The interop tests run a Curator (Java) or kazoo (Python) process that
// takes a lock on the same path as a Go Mutex, driven over stdin/stdout
// one command a line, so that one JVM per server does every step:
//
//	lock PATH        acquire (in the background); prints "locked" once held
//	try PATH         acquire without waiting; prints "locked" or "busy"
//	held             prints "held true" or "held false"
//	unlock           release; prints "unlocked"
//	rlock PATH       (Curator) lock PATH's InterProcessReadWriteLock for reading
//	wlock PATH       (Curator) lock it for writing
//	revocable PATH   (Curator) lock, revocably: prints "revoked" when asked
//	revoke NODE      (Curator) Revoker.attemptRevoke; prints "revoke sent"
//	semtry PATH N    (Curator) InterProcessSemaphoreV2(PATH, N), acquire
//	                 without waiting; prints "leased" or "busy"
//	semrelease       returns the lease taken last; prints "released"
//	quit
//
// Every process prints "ready" once connected and "error ..." on a
// failure.

const curatorLocksJava = `
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.Revoker;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.retry.RetryNTimes;

public class CuratorLocks {
    static synchronized void say(String s) { System.out.println(s); System.out.flush(); }

    interface Step { void run() throws Exception; }

    public static void main(String[] args) throws Exception {
        CuratorFramework client = CuratorFrameworkFactory.newClient(args[0], 10000, 10000, new RetryNTimes(20, 200));
        client.start();
        if (!client.blockUntilConnected(20, TimeUnit.SECONDS)) { say("error not connected"); System.exit(1); }
        // InterProcessMutex is owned by the thread that acquired it: every
        // lock step runs on this one thread.
        ExecutorService worker = Executors.newSingleThreadExecutor();
        InterProcessMutex[] mutex = new InterProcessMutex[1];
        Lease[] lease = new Lease[1];
        say("ready");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null; ) {
            String[] w = line.trim().split(" ");
            Step step;
            switch (w[0]) {
            case "lock": step = () -> { mutex[0] = new InterProcessMutex(client, w[1]); mutex[0].acquire(); say("locked"); }; break;
            case "rlock": step = () -> { mutex[0] = new InterProcessReadWriteLock(client, w[1]).readLock(); mutex[0].acquire(); say("locked"); }; break;
            case "wlock": step = () -> { mutex[0] = new InterProcessReadWriteLock(client, w[1]).writeLock(); mutex[0].acquire(); say("locked"); }; break;
            case "revocable": step = () -> {
                InterProcessMutex m = new InterProcessMutex(client, w[1]);
                m.makeRevocable(x -> say("revoked"));
                mutex[0] = m; m.acquire(); say("locked"); }; break;
            case "revoke": step = () -> { Revoker.attemptRevoke(client, w[1]); say("revoke sent"); }; break;
            case "try": step = () -> { mutex[0] = new InterProcessMutex(client, w[1]); say(mutex[0].acquire(0, TimeUnit.MILLISECONDS) ? "locked" : "busy"); }; break;
            case "unlock": step = () -> { mutex[0].release(); say("unlocked"); }; break;
            case "semtry": step = () -> { lease[0] = new InterProcessSemaphoreV2(client, w[1], Integer.parseInt(w[2])).acquire(0, TimeUnit.MILLISECONDS); say(lease[0] != null ? "leased" : "busy"); }; break;
            case "semrelease": step = () -> { lease[0].close(); say("released"); }; break;
            case "held": say("held " + (mutex[0] != null && mutex[0].isAcquiredInThisProcess())); continue;
            case "quit": worker.shutdownNow(); client.close(); System.exit(0); return;
            default: say("error unknown command " + line); continue;
            }
            worker.submit(() -> { try { step.run(); } catch (Exception e) { say("error " + e); } });
        }
        System.exit(0);
    }
}
`

const kazooLocksPy = `
import sys
import threading

from kazoo.client import KazooClient

out = threading.Lock()


def say(s):
    with out:
        sys.stdout.write(s + "\n")
        sys.stdout.flush()


zk = KazooClient(hosts=sys.argv[1], timeout=10.0)
zk.start(timeout=20)
lock = None
say("ready")


def acquire(l):
    try:
        l.acquire()
        say("locked")
    except Exception as e:
        say("error %r" % e)


for line in sys.stdin:
    w = line.split()
    if not w:
        continue
    try:
        if w[0] == "lock":
            lock = zk.Lock(w[1], extra_lock_patterns=["lock-"])
            threading.Thread(target=acquire, args=(lock,), daemon=True).start()
        elif w[0] == "try":
            lock = zk.Lock(w[1], extra_lock_patterns=["lock-"])
            say("locked" if lock.acquire(blocking=False) else "busy")
        elif w[0] == "held":
            say("held %s" % ("true" if lock is not None and lock.is_acquired else "false"))
        elif w[0] == "unlock":
            lock.release()
            say("unlocked")
        elif w[0] == "quit":
            break
        else:
            say("error unknown command " + line.strip())
    except Exception as e:
        say("error %r" % e)
zk.stop()
zk.close()
`

// goLockNode is the name of a Go Mutex's node: Curator's protected form.
var goLockNode = regexp.MustCompile(`^_c_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-lock-[0-9]{10}$`)

// peer is a running Curator or kazoo process.
type peer struct {
	t     *testing.T
	name  string
	stdin io.WriteCloser
	lines chan string
}

func startPeer(t *testing.T, name string, argv ...string) *peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stderr = &testWriter{t: t, prefix: name + " stderr: "}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	p := &peer{t: t, name: name, stdin: stdin, lines: make(chan string, 16)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		io.WriteString(stdin, "quit\n")
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		cancel()
	})
	p.expect("ready")
	return p
}

// testWriter logs what a peer writes to stderr.
type testWriter struct {
	t      *testing.T
	prefix string
}

func (w *testWriter) Write(b []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		w.t.Log(w.prefix + l)
	}
	return len(b), nil
}

func (p *peer) send(cmd string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, cmd+"\n"); err != nil {
		p.t.Fatalf("%s: send %q: %v", p.name, cmd, err)
	}
}

func (p *peer) expect(want string) {
	p.t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			p.t.Fatalf("%s exited; want %q", p.name, want)
		}
		if l != want {
			p.t.Fatalf("%s said %q, want %q", p.name, l, want)
		}
	case <-time.After(waitTimeout):
		p.t.Fatalf("%s: no %q within %v", p.name, want, waitTimeout)
	}
}

// do sends a command and expects its answer.
func (p *peer) do(cmd, want string) { p.t.Helper(); p.send(cmd); p.expect(want) }

// compileCurator compiles CuratorLocks.java once for the test and returns
// the java command line that runs it.
func compileCurator(t *testing.T) []string {
	t.Helper()
	for _, tool := range []string{clients.Java, clients.Javac} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (openjdk-17-jdk-headless): %v", tool, err)
		}
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "CuratorLocks.java")
	if err := os.WriteFile(src, []byte(curatorLocksJava), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, clients.Javac, "-nowarn", "-d", dir, "-cp", clients.CuratorClasspath, src).CombinedOutput(); err != nil {
		t.Fatalf("javac CuratorLocks.java: %v\n%s", err, out)
	}
	return []string{clients.Java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
		"-cp", dir + string(os.PathListSeparator) + clients.CuratorClasspath, "CuratorLocks"}
}

// testMutexInterop: the peer takes the lock, the Go Mutex cannot and
// waits, then gets it once the peer releases; and the reverse.
// peerMark is in the name of the peer's lock nodes.
func testMutexInterop(t *testing.T, s *server, p *peer, path, peerMark string) {
	ctx := testCtx(t)
	c := s.Connect(t)
	m := NewMutex(c, path)

	p.do("lock "+path, "locked")
	if ok, err := m.TryLock(ctx); ok || err != nil {
		t.Fatalf("Go TryLock while %s holds: %v %v", p.name, ok, err)
	}
	done := async(func() error { return m.Lock(ctx) })
	nodes := waitContenders(t, c, path, 2)
	t.Logf("contenders: %s (%s), %s (Go)", nodes[0].Name, p.name, nodes[1].Name)
	if !strings.Contains(nodes[0].Name, peerMark) || !goLockNode.MatchString(nodes[1].Name) {
		t.Fatalf("contenders %s, %s: want a %s node (%q) then a Go one", nodes[0].Name, nodes[1].Name, p.name, peerMark)
	}
	notDone(t, "Go Lock while "+p.name+" holds", done)
	p.do("unlock", "unlocked")
	wait(t, "Go Lock after "+p.name+" released", done)

	p.do("try "+path, "busy")
	p.send("lock " + path)
	waitContenders(t, c, path, 2)
	p.do("held", "held false")
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	p.expect("locked")
	if ok, err := m.TryLock(ctx); ok || err != nil {
		t.Fatalf("Go TryLock while %s holds: %v %v", p.name, ok, err)
	}
	p.do("unlock", "unlocked")
	waitContenders(t, c, path, 0)
}

func TestInteropCurator(t *testing.T) {
	java := compileCurator(t)
	forEachServer(t, func(t *testing.T, s *server) {
		p := startPeer(t, "curator", append(java, s.Addr)...)
		t.Run("mutex", func(t *testing.T) { p.t = t; testMutexInterop(t, s, p, "/interop/curator/mutex", "-lock-") })
		t.Run("rwlock", func(t *testing.T) { p.t = t; testRWInterop(t, s, p, "/interop/curator/rw") })
		t.Run("revoke", func(t *testing.T) { p.t = t; testRevokeInterop(t, s, p, "/interop/curator/revoke") })
		t.Run("semaphore", func(t *testing.T) { p.t = t; testSemaphoreInterop(t, s, p, "/interop/curator/sem") })
	})
}

func TestInteropKazoo(t *testing.T) {
	if _, err := os.Stat(clients.Python); err != nil {
		t.Fatalf("%s: %v", clients.Python, err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "kazoo_locks.py")
	if err := os.WriteFile(script, []byte(kazooLocksPy), 0o644); err != nil {
		t.Fatal(err)
	}
	forEachServer(t, func(t *testing.T, s *server) {
		p := startPeer(t, "kazoo", clients.Python, script, s.Addr)
		testMutexInterop(t, s, p, "/interop/kazoo/mutex", "__lock__")
	})
}

// testSemaphoreInterop: a Go Semaphore and Curator's
// InterProcessSemaphoreV2 on one path share its two permits.
func testSemaphoreInterop(t *testing.T, s *server, p *peer, path string) {
	ctx := testCtx(t)
	c := s.Connect(t)
	sem := NewSemaphore(c, path, 2)

	p.do("semtry "+path+" 2", "leased")
	l1, err := sem.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var l2 *Lease
	done := async(func() (err error) { l2, err = sem.Acquire(ctx); return err })
	waitContenders(t, c, path+"/leases", 3) // the Go waiter's lease, over the count
	notDone(t, "a third lease", done)
	p.do("semrelease", "released")
	wait(t, "the Go lease after Curator's release", done)

	p.do("semtry "+path+" 2", "busy")
	if err := l1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	p.do("semtry "+path+" 2", "leased")
	if err := l2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	p.do("semrelease", "released")
	waitContenders(t, c, path+"/leases", 0)
}

// testRWInterop: a Go RWLock and Curator's InterProcessReadWriteLock on
// one path: a Curator writer excludes a Go reader, readers share, a Go
// reader excludes a Curator writer.
func testRWInterop(t *testing.T, s *server, p *peer, path string) {
	ctx := testCtx(t)
	c := s.Connect(t)
	rw := NewRWLock(c, path)
	r := rw.ReadLock()

	p.do("wlock "+path, "locked")
	if ok, err := r.TryLock(ctx); ok || err != nil {
		t.Fatalf("Go read TryLock while Curator writes: %v %v", ok, err)
	}
	done := async(func() error { return r.Lock(ctx) })
	nodes := waitContenders(t, c, path, 2)
	t.Logf("contenders: %s (curator), %s (Go)", nodes[0].Name, nodes[1].Name)
	if !strings.Contains(nodes[0].Name, "-"+writeLockName) || !strings.HasSuffix(nodes[1].Name[:len(nodes[1].Name)-seqDigits], "-"+readLockName) {
		t.Fatalf("contenders %s, %s: want Curator's writer then a Go reader", nodes[0].Name, nodes[1].Name)
	}
	notDone(t, "Go read Lock while Curator writes", done)
	p.do("unlock", "unlocked")
	wait(t, "Go read Lock after Curator's write unlock", done)

	p.do("rlock "+path, "locked") // shared with the Go reader
	p.do("unlock", "unlocked")

	p.send("wlock " + path)
	waitContenders(t, c, path, 2)
	p.do("held", "held false")
	if err := r.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	p.expect("locked")
	if ok, err := rw.WriteLock().TryLock(ctx); ok || err != nil {
		t.Fatalf("Go write TryLock while Curator writes: %v %v", ok, err)
	}
	p.do("unlock", "unlocked")
	waitContenders(t, c, path, 0)
}

// testRevokeInterop: Go asks a Curator holder to release (Revoke), and
// Curator's Revoker asks a Go holder.
func testRevokeInterop(t *testing.T, s *server, p *peer, path string) {
	ctx := testCtx(t)
	c := s.Connect(t)
	m := NewMutex(c, path)

	p.do("revocable "+path, "locked")
	done := async(func() error { return m.Lock(ctx) })
	nodes := waitContenders(t, c, path, 2)
	if err := Revoke(ctx, c, path+"/"+nodes[0].Name); err != nil {
		t.Fatal(err)
	}
	p.expect("revoked")
	notDone(t, "Go Lock before Curator releases", done)
	p.do("unlock", "unlocked")
	wait(t, "Go Lock after Curator released", done)

	p.do("revoke "+m.Node(), "revoke sent")
	closed(t, "Revoked after Curator's Revoker", m.Revoked())
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}
