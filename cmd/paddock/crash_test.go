package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestCrashKeepsAcknowledgedWrites protects DESIGN.md guarantee 1 (a write
// is acknowledged only after it is durable): it runs the real binary under
// a write load from several sessions, kills it with SIGKILL once a chosen
// number of writes has been acknowledged, restarts it on the same data
// directory and checks that every acknowledged write is there with its
// value. Rounds accumulate on one data directory, so each restart also
// re-checks every earlier round.
//
// PADDOCK_CRASH_ROUNDS sets the number of rounds (default 3); a soak:
//
//	PADDOCK_CRASH_ROUNDS=50 go test ./cmd/paddock -run Crash -count=1 -timeout 30m
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and crashes the binary")
	}
	rounds := 3
	if v := os.Getenv("PADDOCK_CRASH_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("PADDOCK_CRASH_ROUNDS=%q: want a positive integer", v)
		}
		rounds = n
	}
	bin := buildPaddock(t)
	dataDir := t.TempDir()
	ledger := newCrashLedger()

	for round := 0; round < rounds; round++ {
		p := startCrashProcess(t, bin, dataDir)
		c := crashDial(t, p.addr)
		ledger.verify(t, c, round)
		if round == 0 {
			if _, err := c.Create("/crash", nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				t.Fatalf("create /crash: %v", err)
			}
		}
		c.Close()
		// Kill after a number of acknowledged writes that varies with the
		// round, so the crash lands at different points of the log.
		killAt := int64(120 + 37*round)
		crashLoad(t, p, ledger, round, killAt)
		t.Logf("round %d: killed after %d acknowledged writes (%d in the ledger)", round, killAt, ledger.size())
	}
	p := startCrashProcess(t, bin, dataDir)
	c := crashDial(t, p.addr)
	ledger.verify(t, c, rounds)
	c.Close()
	if code := p.stop(t); code != 0 {
		t.Fatalf("graceful stop exited %d; stderr:\n%s", code, p.stderr())
	}
}

// buildPaddock builds this package's binary into a temporary directory,
// static (CGO_ENABLED=0) as make build does, so that it also runs in a
// FROM scratch container.
func buildPaddock(t *testing.T) string {
	t.Helper()
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		if goTool, err = exec.LookPath("go"); err != nil {
			t.Fatalf("no go tool to build paddock: %v", err)
		}
	}
	bin := filepath.Join(t.TempDir(), "paddock")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// crashProcess is one run of `paddock serve`.
type crashProcess struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
	mu   sync.Mutex
	log  bytes.Buffer
}

// servingAddr finds the client address in serve's "serving" line, text
// or JSON (--log-format json).
var servingAddr = regexp.MustCompile(`msg=serving addr=(\S+)|"msg":"serving","addr":"([^"]+)"`)

func startCrashProcess(t *testing.T, bin, dataDir string) *crashProcess {
	t.Helper()
	return startServeProcess(t, bin, "--data-dir", dataDir, "--client-addr", "127.0.0.1:0")
}

// startServeProcess runs `paddock serve args...` (at log level info) and waits
// until it serves.
func startServeProcess(t *testing.T, bin string, args ...string) *crashProcess {
	t.Helper()
	return startProcess(t, bin, append(append([]string{"serve"}, args...), "--log-level", "info")...)
}

// startProcess runs name with args, a `paddock serve` (maybe behind
// unshare), and returns once it serves.
func startProcess(t *testing.T, name string, args ...string) *crashProcess {
	t.Helper()
	p := &crashProcess{done: make(chan struct{})}
	p.cmd = exec.Command(name, args...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrC := make(chan string, 1)
	go func() { // ends when the process's stderr closes
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			l := sc.Text()
			p.mu.Lock()
			p.log.WriteString(l + "\n")
			p.mu.Unlock()
			if m := servingAddr.FindStringSubmatch(l); m != nil && !sent {
				addrC <- m[1] + m[2]
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	select {
	case p.addr = <-addrC:
	case <-p.done:
		t.Fatalf("paddock exited during start-up:\n%s", p.stderr())
	case <-time.After(60 * time.Second):
		t.Fatalf("paddock did not serve within 60s:\n%s", p.stderr())
	}
	return p
}

func (p *crashProcess) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *crashProcess) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and returns the exit code.
func (p *crashProcess) stop(t *testing.T) int {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("paddock did not stop within 30s:\n%s", p.stderr())
	}
	return p.cmd.ProcessState.ExitCode()
}

func crashDial(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, ev, err := zk.Connect(strings.Split(addr, ","), 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				go func() {
					for range ev {
					}
				}()
				return c
			}
		case <-deadline:
			c.Close()
			t.Fatalf("no session with %s", addr)
		}
	}
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// crashLedger records every acknowledged write.
type crashLedger struct {
	mu      sync.Mutex
	created map[string]string // path -> data, acknowledged creates
	// counters: path -> [last acknowledged value, last value sent]
	counters map[string][2]int
}

func newCrashLedger() *crashLedger {
	return &crashLedger{created: map[string]string{}, counters: map[string][2]int{}}
}

func (l *crashLedger) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.created) + len(l.counters)
}

// verify checks every acknowledged write after the restart before round.
func (l *crashLedger) verify(t *testing.T, c *zk.Conn, round int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, want := range l.created {
		got, _, err := c.Get(p)
		if err != nil || string(got) != want {
			t.Fatalf("before round %d: acknowledged create %s = %q lost: got %q, %v", round, p, want, got, err)
		}
	}
	for p, v := range l.counters {
		got, _, err := c.Get(p)
		if err != nil {
			t.Fatalf("before round %d: counter %s: %v", round, p, err)
		}
		n, err := strconv.Atoi(string(got))
		// A write sent but not acknowledged may or may not have landed.
		if err != nil || n < v[0] || n > v[1] {
			t.Fatalf("before round %d: counter %s = %q, acknowledged %d, last sent %d", round, p, got, v[0], v[1])
		}
		l.counters[p] = [2]int{n, n}
	}
}

// crashLoad runs writers until killAt writes are acknowledged, then kills
// the process from the goroutine that saw that acknowledgement.
func crashLoad(t *testing.T, p *crashProcess, l *crashLedger, round int, killAt int64) {
	t.Helper()
	const writers = 4
	var acked atomic.Int64
	var killed atomic.Bool
	clients := make([]*zk.Conn, writers)
	for i := range clients {
		clients[i] = crashDial(t, p.addr)
	}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int, c *zk.Conn) {
			defer wg.Done()
			counter := fmt.Sprintf("/crash/counter-%d", w)
			l.mu.Lock()
			last := l.counters[counter]
			l.mu.Unlock()
			next := last[1]
			if last == ([2]int{}) {
				if _, err := c.Create(counter, []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
					return
				}
				l.mu.Lock()
				l.counters[counter] = [2]int{0, 0}
				l.mu.Unlock()
			}
			for i := 0; !killed.Load(); i++ {
				var err error
				if i%2 == 0 {
					path := fmt.Sprintf("/crash/r%d-w%d-%d", round, w, i)
					data := fmt.Sprintf("v%d", i)
					if _, err = c.Create(path, []byte(data), 0, zk.WorldACL(zk.PermAll)); err == nil {
						l.mu.Lock()
						l.created[path] = data
						l.mu.Unlock()
					}
				} else {
					next++
					l.mu.Lock()
					v := l.counters[counter]
					v[1] = next
					l.counters[counter] = v
					l.mu.Unlock()
					if _, err = c.Set(counter, []byte(strconv.Itoa(next)), -1); err == nil {
						l.mu.Lock()
						v := l.counters[counter]
						if next > v[0] {
							v[0] = next
						}
						l.counters[counter] = v
						l.mu.Unlock()
					}
				}
				if err != nil {
					return // the server is gone; the outcome of this write is unknown
				}
				if acked.Add(1) == killAt {
					killed.Store(true)
					p.kill()
					return
				}
			}
		}(w, clients[w])
	}
	// Writers stop when they see the kill or an error; closing the
	// clients fails any request still waiting on the dead connection.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-p.done:
		for _, c := range clients {
			c.Close()
		}
		<-done
	case <-time.After(2 * time.Minute):
		t.Fatalf("round %d: load did not finish (%d acknowledged):\n%s", round, acked.Load(), p.stderr())
	}
	for _, c := range clients {
		c.Close()
	}
	if !killed.Load() {
		t.Fatalf("round %d: writers stopped after %d acknowledged writes before the kill:\n%s", round, acked.Load(), p.stderr())
	}
}
