package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Memory per znode of Apache ZooKeeper (bench/README.md, "Memory and
// restart"): MeasureZooKeeperMemory starts a standalone ZooKeeper 3.8 from
// Debian's package, reads its live heap after a full GC, creates a tree of
// znodes over the raw protocol, forces a full GC again and reports the
// difference per znode. Paddock's figure for the same tree comes from the
// statemachine benchmarks (BenchmarkMemory1M*), since bench does not import
// the tree.

// LoadConfig describes a tree of znodes to create: Nodes znodes of
// ValueSize bytes under Root, either Root/kNNNNNNNN (flat: one parent) or
// Root/dDDD/kNNNNNN (nested: directories of 1000).
type LoadConfig struct {
	Root      string
	Nodes     int
	ValueSize int
	Nested    bool
	// Sessions load in parallel, each with Window creates in flight.
	Sessions, Window int
}

func (c LoadConfig) withDefaults() LoadConfig {
	if c.Root == "" {
		c.Root = "/bench"
	}
	if c.Sessions <= 0 {
		c.Sessions = 8
	}
	if c.Window <= 0 {
		c.Window = 256
	}
	return c
}

// Path returns the path of znode i.
func (c LoadConfig) Path(i int) string {
	c = c.withDefaults()
	if c.Nested {
		return fmt.Sprintf("%s/d%03d/k%06d", c.Root, i/1000, i)
	}
	return keyPath(c.Root, i)
}

// LoadZnodes creates the tree at addr (znodes that exist are left alone)
// and returns how long the creates took.
func LoadZnodes(ctx context.Context, addr string, c LoadConfig) (time.Duration, error) {
	c = c.withDefaults()
	s, err := dialSession(addr, 64<<10)
	if err != nil {
		return 0, err
	}
	err = s.ensurePath(c.Root)
	if err == nil && c.Nested {
		var dirs []string
		for d := 0; d*1000 < c.Nodes; d++ {
			dirs = append(dirs, fmt.Sprintf("%s/d%03d", c.Root, d))
		}
		err = s.createAll(dirs, nil)
	}
	s.close()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	val := value(c.ValueSize)
	var wg sync.WaitGroup
	errs := make([]error, c.Sessions)
	per := (c.Nodes + c.Sessions - 1) / c.Sessions
	for w := 0; w < c.Sessions; w++ {
		lo, hi := w*per, min((w+1)*per, c.Nodes)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := dialSession(addr, 256<<10)
			if err != nil {
				errs[w] = err
				return
			}
			defer s.close()
			paths := make([]string, 0, c.Window)
			for i := lo; i < hi && ctx.Err() == nil; i += c.Window {
				paths = paths[:0]
				for j := i; j < min(i+c.Window, hi); j++ {
					paths = append(paths, c.Path(j))
				}
				if err := s.createAll(paths, val); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// MemoryConfig configures MeasureZooKeeperMemory.
type MemoryConfig struct {
	Load LoadConfig
	// ZKHeap is the JVM heap (-Xms and -Xmx), e.g. "2g".
	ZKHeap string
	// ZKClasspath is the ZooKeeper server classpath; empty means Debian's.
	ZKClasspath string
	// WorkDir holds ZooKeeper's data and log; empty means a temporary
	// directory, removed at the end.
	WorkDir string
	// Histogram, when set, receives the top of `jmap -histo:live` after
	// the load.
	Histogram io.Writer
	// Progress, when set, gets progress lines.
	Progress io.Writer
}

// MemoryResult is what MeasureZooKeeperMemory measured.
type MemoryResult struct {
	Nodes int
	// BaseHeap and LoadedHeap are the JVM heap in use after a full GC
	// (jcmd GC.run, then GC.heap_info), before and after the load.
	BaseHeap, LoadedHeap int64
	LoadTime             time.Duration
}

// BytesPerZnode is the heap the load added, per znode created.
func (r MemoryResult) BytesPerZnode() float64 {
	return float64(r.LoadedHeap-r.BaseHeap) / float64(r.Nodes)
}

// MeasureZooKeeperMemory starts ZooKeeper, loads the tree and reads the
// heap; it stops ZooKeeper before it returns.
func MeasureZooKeeperMemory(ctx context.Context, mc MemoryConfig) (res MemoryResult, err error) {
	logf := func(format string, a ...any) {
		if mc.Progress != nil {
			fmt.Fprintf(mc.Progress, format+"\n", a...)
		}
	}
	if mc.ZKHeap == "" {
		mc.ZKHeap = "2g"
	}
	if mc.ZKClasspath == "" {
		mc.ZKClasspath = ZKDebianClasspath
	}
	work := mc.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("", "paddock-memory-"); err != nil {
			return res, err
		}
		defer os.RemoveAll(work)
	}
	m, err := standaloneMember(filepath.Join(work, "zookeeper"))
	if err != nil {
		return res, err
	}
	p, err := startZooKeeper(ctx, m, mc.ZKClasspath, mc.ZKHeap)
	if p != nil {
		defer p.kill()
	}
	if err != nil {
		return res, err
	}
	pid := p.cmd.Process.Pid
	logf("ZooKeeper serving on %s (pid %d, heap %s)", p.addr, pid, mc.ZKHeap)
	if res.BaseHeap, err = jvmLiveHeap(ctx, pid); err != nil {
		return res, err
	}
	res.Nodes = mc.Load.Nodes
	logf("heap after full GC, empty tree: %.1f MiB; creating %d znodes", float64(res.BaseHeap)/(1<<20), res.Nodes)
	if res.LoadTime, err = LoadZnodes(ctx, p.addr, mc.Load); err != nil {
		return res, err
	}
	logf("created in %v", res.LoadTime.Round(time.Millisecond))
	if res.LoadedHeap, err = jvmLiveHeap(ctx, pid); err != nil {
		return res, err
	}
	if mc.Histogram != nil {
		out, err := exec.CommandContext(ctx, "jmap", "-histo:live", strconv.Itoa(pid)).Output()
		if err != nil {
			return res, fmt.Errorf("paddock/bench: jmap -histo:live: %w", err)
		}
		lines := strings.Split(string(out), "\n")
		fmt.Fprintln(mc.Histogram, strings.Join(lines[:min(len(lines), 18)], "\n"))
	}
	return res, nil
}

var heapUsedRE = regexp.MustCompile(`heap\s+total \d+K, used (\d+)K`)

// jvmLiveHeap forces two full GCs (jcmd GC.run: System.gc(), a full
// collection with JDK 17's G1) and returns the heap in use after them.
func jvmLiveHeap(ctx context.Context, pid int) (int64, error) {
	for range 2 {
		if out, err := exec.CommandContext(ctx, "jcmd", strconv.Itoa(pid), "GC.run").CombinedOutput(); err != nil {
			return 0, fmt.Errorf("paddock/bench: jcmd GC.run: %v\n%s", err, out)
		}
	}
	out, err := exec.CommandContext(ctx, "jcmd", strconv.Itoa(pid), "GC.heap_info").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("paddock/bench: jcmd GC.heap_info: %v\n%s", err, out)
	}
	m := heapUsedRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("paddock/bench: no heap figure in GC.heap_info:\n%s", out)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10, nil
}

// MemoryMain is `paddock bench memory`: it returns the exit status, 0 on
// success, 2 for bad flags, 1 when the run fails.
func MemoryMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("paddock bench memory", flag.ContinueOnError)
	nodes := fs.Int("nodes", 1_000_000, "znodes to create")
	valueSize := fs.Int("value-size", DefaultValueSize, "bytes per znode value")
	layout := fs.String("layout", "flat", "`flat` (/bench/kNNNNNNNN) or nested (/bench/dDDD/kNNNNNN)")
	sessions := fs.Int("sessions", 8, "sessions creating in parallel")
	window := fs.Int("window", 256, "creates in flight per session")
	zkHeap := fs.String("zk-heap", "2g", "JVM heap (-Xms and -Xmx) of the ZooKeeper started")
	work := fs.String("work-dir", "", "directory for ZooKeeper's data and log (default: a temporary one)")
	histo := fs.Bool("histo", false, "also print the top of jmap -histo:live after the load")
	if code, ok := parseFlags(fs, args, stderr,
		"usage: paddock bench memory [flags]\n\n"+
			"Starts Apache ZooKeeper 3.8 (Debian's package), creates -nodes znodes over the raw protocol\n"+
			"and reports its live heap (after full GCs) per znode. Paddock's figure for the same tree:\n"+
			"go test ./statemachine -run '^$' -bench Memory1M -benchtime 1x"); !ok {
		return code
	}
	if fs.NArg() > 0 || *nodes < 1 || *valueSize < 0 || *sessions < 1 || *window < 1 || (*layout != "flat" && *layout != "nested") {
		fmt.Fprintln(stderr, "paddock bench memory: bad arguments")
		fs.Usage()
		return 2
	}
	mc := MemoryConfig{
		Load:   LoadConfig{Nodes: *nodes, ValueSize: *valueSize, Nested: *layout == "nested", Sessions: *sessions, Window: *window},
		ZKHeap: *zkHeap, WorkDir: *work, Progress: stderr,
	}
	if *histo {
		mc.Histogram = stdout
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := MeasureZooKeeperMemory(ctx, mc)
	if err != nil {
		fmt.Fprintf(stderr, "paddock bench memory: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "ZooKeeper %s layout, %d znodes of %d bytes: heap after full GC %.1f MiB empty, %.1f MiB loaded: %.1f bytes/znode (load %v, %.0f creates/s)\n",
		*layout, res.Nodes, *valueSize, float64(res.BaseHeap)/(1<<20), float64(res.LoadedHeap)/(1<<20), res.BytesPerZnode(),
		res.LoadTime.Round(time.Millisecond), float64(res.Nodes)/res.LoadTime.Seconds())
	return 0
}
