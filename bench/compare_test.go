package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestCompareMainBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-ratios", "0,150"},
		{"-duration", "0s"},
		{"-sessions", "0"},
		{"-zk-addrs", "nohost"},
		{"-paddock-addrs", "127.0.0.1:0"},
		{"extra"},
		{"-no-such-flag"},
	} {
		var out, errb bytes.Buffer
		if code := CompareMain(args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2; stderr %s", args, code, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := CompareMain([]string{"-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "-zk-heap") {
		t.Errorf("-h: exit %d, stderr %s", code, errb.String())
	}
}

// With -zk-addrs and -paddock-addrs nothing is started: two fake servers
// stand in for the services.
func TestCompareMainRunningEndpoints(t *testing.T) {
	zk, pd := startFake(t), startFake(t)
	defer zk.close()
	defer pd.close()
	var started []string
	onServerStart = func(name string, _ int) { started = append(started, name) }
	defer func() { onServerStart = nil }()
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := CompareMain([]string{"-zk-addrs", zk.addr(), "-paddock-addrs", pd.addr(), "-ratios", "0,100",
		"-duration", "200ms", "-warmup", "100ms", "-point-warmup", "50ms", "-sessions", "2", "-inflight", "8",
		"-keys", "10", "-out", dir}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d; stderr %s", code, errb.String())
	}
	if len(started) != 0 {
		t.Errorf("started %v for running endpoints", started)
	}
	results := readResults(t, dir)
	var order []string
	for _, r := range results {
		order = append(order, r.Target+"@"+pct(r.ReadRatio))
	}
	want := "zookeeper@0% paddock@0% zookeeper@100% paddock@100%"
	if got := strings.Join(order, " "); got != want {
		t.Errorf("run order %s, want %s", got, want)
	}
	sum, err := os.ReadFile(filepath.Join(dir, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sum), "| 100%") || !strings.Contains(out.String(), "Paddock / ZooKeeper") {
		t.Errorf("summary:\n%s\nstdout:\n%s", sum, out.String())
	}
	for _, f := range []string{"results.csv", "chart.svg", "chart.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func readResults(t *testing.T, dir string) []Result {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rs []Result
	if err := json.Unmarshal(b, &rs); err != nil {
		t.Fatal(err)
	}
	return rs
}

// recordPids collects the pids of the processes Compare starts.
func recordPids(t *testing.T, then func(name string)) func() map[string]int {
	var mu sync.Mutex
	pids := map[string]int{}
	onServerStart = func(name string, pid int) {
		mu.Lock()
		pids[name] = pid
		mu.Unlock()
		if then != nil {
			then(name)
		}
	}
	t.Cleanup(func() { onServerStart = nil })
	return func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return pids
	}
}

// checkGone checks that every process Compare started has exited (Compare
// waits for them, so they are reaped and their pids are free).
func checkGone(t *testing.T, pids map[string]int) {
	t.Helper()
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still there after Compare: %v", name, pid, err)
		}
	}
}

// A real run: Apache ZooKeeper from Debian's package and a Paddock built
// with go build, both started and stopped by Compare.
func TestCompareStartsAndStopsServers(t *testing.T) {
	if _, err := os.Stat("/usr/share/java/zookeeper.jar"); err != nil {
		t.Fatalf("Apache ZooKeeper is not installed (run `make deps`): %v", err)
	}
	pids := recordPids(t, nil)
	dir := t.TempDir()
	var out, errb bytes.Buffer
	err := Compare(context.Background(), CompareConfig{
		Duration: 300 * time.Millisecond, PointWarmup: 100 * time.Millisecond, WarmUp: 300 * time.Millisecond,
		Ratios: []float64{0.5}, Sessions: 2, InFlight: 8, Keys: 20, ValueSize: 10, ZKHeap: "256m",
		Out: filepath.Join(dir, "out"), WorkDir: filepath.Join(dir, "work"), Progress: &errb,
	}, &out, &errb)
	if err != nil {
		t.Fatalf("Compare: %v\nstderr:\n%s", err, errb.String())
	}
	got := pids()
	if len(got) != 2 || got["zookeeper"] == 0 || got["paddock"] == 0 {
		t.Errorf("started %v, want zookeeper and paddock", got)
	}
	checkGone(t, got)
	rs := readResults(t, filepath.Join(dir, "out"))
	if len(rs) != 2 {
		t.Fatalf("%d results, want 2", len(rs))
	}
	for _, r := range rs {
		if r.Ops == 0 || r.Errors != 0 {
			t.Errorf("%s: %d ops, %d errors (%v)", r.Target, r.Ops, r.Errors, r.ErrorCodes)
		}
	}
}

// An interrupt while the servers start still stops every process.
func TestCompareInterruptStopsServers(t *testing.T) {
	if _, err := os.Stat("/usr/share/java/zookeeper.jar"); err != nil {
		t.Fatalf("Apache ZooKeeper is not installed (run `make deps`): %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pids := recordPids(t, func(name string) {
		if name == "zookeeper" {
			cancel() // while ZooKeeper starts up
		}
	})
	var out, errb bytes.Buffer
	err := Compare(ctx, CompareConfig{Duration: time.Second, WorkDir: t.TempDir()}, &out, &errb)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Compare = %v, want context.Canceled", err)
	}
	got := pids()
	if got["zookeeper"] == 0 {
		t.Fatalf("zookeeper not started: %v", got)
	}
	checkGone(t, got)
}

// With Members, Compare starts a 3-member ensemble of each, spreads the
// sessions over the members, and stops all six processes.
func TestCompareStartsEnsembles(t *testing.T) {
	if _, err := os.Stat("/usr/share/java/zookeeper.jar"); err != nil {
		t.Fatalf("Apache ZooKeeper is not installed (run `make deps`): %v", err)
	}
	pids := recordPids(t, nil)
	dir := t.TempDir()
	var out, errb bytes.Buffer
	err := Compare(context.Background(), CompareConfig{
		Duration: 300 * time.Millisecond, PointWarmup: 100 * time.Millisecond,
		Ratios: []float64{0.5}, Sessions: 3, InFlight: 4, Keys: 20, ValueSize: 10, ZKHeap: "128m",
		Members: 3, Out: filepath.Join(dir, "out"), WorkDir: filepath.Join(dir, "work"), Progress: &errb,
	}, &out, &errb)
	if err != nil {
		t.Fatalf("Compare: %v\nstderr:\n%s", err, errb.String())
	}
	got := pids()
	for _, name := range []string{"zookeeper.1", "zookeeper.2", "zookeeper.3", "paddock.1", "paddock.2", "paddock.3"} {
		if got[name] == 0 {
			t.Errorf("%s not started (%v)", name, got)
		}
	}
	checkGone(t, got)
	for _, r := range readResults(t, filepath.Join(dir, "out")) {
		if r.Ops == 0 || r.Errors != 0 {
			t.Errorf("%s: %d ops, %d errors (%v)", r.Target, r.Ops, r.Errors, r.ErrorCodes)
		}
	}
}
