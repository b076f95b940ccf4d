package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

// Compare: Paddock against Apache ZooKeeper, side by side on one machine.
//
// Decisions:
//   - Both servers run standalone with their durability defaults:
//     ZooKeeper with forceSync=yes (fsync of its txn log before a write is
//     acknowledged), Paddock fsyncing its Raft log. Both get tickTime=2000,
//     maxClientCnxns=0 and every four-letter word.
//   - ZooKeeper runs with the JVM's default JIT and GC (no
//     TieredStopAtLevel, unlike wire/zktest, which wants a fast start) and
//     -Xms = -Xmx = -zk-heap.
//   - Readiness is the srvr four-letter word answering "Mode: ", as in
//     wire/zktest.
//   - Before the sweep each target gets WarmUp of 50%-read load (the JIT
//     of ZooKeeper needs it; Paddock gets the same so neither is favoured);
//     every point then has its own PointWarmup.
//   - The sweep interleaves the targets point by point (Sweep), ZooKeeper
//     first.
//   - Every process Compare starts is in its own process group, killed
//     (SIGTERM, then SIGKILL after a grace period) when Compare returns,
//     whatever the reason, and gets SIGKILL from the kernel if this
//     process dies first (Pdeathsig).
//   - Given -zk-addrs or -paddock-addrs, that target is an already-running
//     service (an ensemble, say) and nothing is started for it.

// Target names used by Compare.
const (
	CompareZooKeeper = "zookeeper"
	ComparePaddock   = "paddock"
)

// CompareConfig describes a Paddock-against-ZooKeeper comparison.
type CompareConfig struct {
	// Duration is the measured time per point, PointWarmup the unmeasured
	// time before each point, WarmUp the mixed load each target gets once
	// before the sweep.
	Duration, PointWarmup, WarmUp time.Duration
	// Ratios are read fractions (0..1); nil means DefaultRatios.
	Ratios                              []float64
	Sessions, InFlight, Keys, ValueSize int
	// Rate, when positive, runs every point open loop at that many
	// requests per second, the same for both targets (Config.Rate). The
	// warm-up before the sweep stays closed loop: its job is to get the
	// JIT going.
	Rate float64
	// Out, when set, receives results.json, results.csv, chart.svg,
	// chart.png and summary.md.
	Out string
	// ZKHeap is the JVM heap of the ZooKeeper started (-Xms/-Xmx), e.g. "1g".
	ZKHeap string
	// ZKAddrs and PaddockAddrs, when set, are running services to drive;
	// nothing is started for a target that has them.
	ZKAddrs, PaddockAddrs []string
	// PaddockBin is a built paddock binary; empty means build one with
	// `go build` into WorkDir.
	PaddockBin string
	// ZKClasspath is the ZooKeeper server classpath; empty means Debian's.
	ZKClasspath string
	// WorkDir holds the servers' data and logs; empty means a temporary
	// directory removed at the end (kept when the run fails).
	WorkDir string
	// Progress, when set, gets progress lines and the progress bar.
	Progress io.Writer
	// Members is the number of members of each ensemble started (both
	// targets get the same); 0 or 1 starts standalone servers. The load's
	// sessions are spread over the members round robin.
	Members int
}

// ZKDebianClasspath is where Debian's zookeeper package puts the server
// (the same as wire/zktest.Classpath).
const ZKDebianClasspath = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"

// serverStartTimeout bounds how long a server may take to serve.
const serverStartTimeout = 90 * time.Second

// onServerStart, when set (tests), is told the pid of every process
// Compare starts.
var onServerStart func(name string, pid int)

// Compare starts what it must, warms both targets up, sweeps them
// interleaved, writes the table and summary to stdout (and, with Out, the
// files) and stops what it started. Problems of the servers go to stderr.
func Compare(ctx context.Context, cc CompareConfig, stdout, stderr io.Writer) (err error) {
	if cc.Duration <= 0 {
		return errors.New("paddock/bench: compare duration must be positive")
	}
	if cc.ZKHeap == "" {
		cc.ZKHeap = "1g"
	}
	if cc.ZKClasspath == "" {
		cc.ZKClasspath = ZKDebianClasspath
	}
	logf := func(format string, a ...any) {
		if cc.Progress != nil {
			fmt.Fprintf(cc.Progress, "compare: "+format+"\n", a...)
		}
	}
	base := Config{
		Sessions: cc.Sessions, InFlight: cc.InFlight, Keys: cc.Keys, ValueSize: cc.ValueSize,
		Duration: cc.Duration, Warmup: cc.PointWarmup, Rate: cc.Rate, Addrs: []string{"127.0.0.1:1"},
	}
	if _, err := base.withDefaults(); err != nil {
		return err
	}

	work := cc.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("", "paddock-compare-"); err != nil {
			return err
		}
		defer func() {
			if err == nil {
				os.RemoveAll(work)
			} else {
				fmt.Fprintf(stderr, "compare: server data and logs kept in %s\n", work)
			}
		}()
	}

	var procs []*serverProc
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].kill()
		}
	}()

	zkAddrs, pdAddrs := cc.ZKAddrs, cc.PaddockAddrs
	if len(zkAddrs) == 0 {
		ps, err := startEnsemble(ctx, filepath.Join(work, "zookeeper"), cc.Members, func(ctx context.Context, m member) (*serverProc, error) {
			return startZooKeeper(ctx, m, cc.ZKClasspath, cc.ZKHeap)
		})
		procs = append(procs, ps...)
		if err != nil {
			return err
		}
		for _, p := range ps {
			logf("ZooKeeper serving on %s (pid %d, log %s)", p.addr, p.cmd.Process.Pid, p.log)
			zkAddrs = append(zkAddrs, p.addr)
		}
	}
	if len(pdAddrs) == 0 {
		bin := cc.PaddockBin
		if bin == "" {
			bin = filepath.Join(work, "paddock")
			logf("building %s", bin)
			build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/paddockdb/paddock/cmd/paddock")
			if out, err := build.CombinedOutput(); err != nil {
				return fmt.Errorf("paddock/bench: go build paddock: %v\n%s", err, out)
			}
		}
		ps, err := startEnsemble(ctx, filepath.Join(work, "paddock-server"), cc.Members, func(ctx context.Context, m member) (*serverProc, error) {
			return startPaddock(ctx, m, bin)
		})
		procs = append(procs, ps...)
		if err != nil {
			return err
		}
		for _, p := range ps {
			logf("Paddock serving on %s (pid %d, log %s)", p.addr, p.cmd.Process.Pid, p.log)
			pdAddrs = append(pdAddrs, p.addr)
		}
	}
	targets := []Target{{Name: CompareZooKeeper, Addrs: zkAddrs}, {Name: ComparePaddock, Addrs: pdAddrs}}

	if cc.WarmUp > 0 {
		for _, t := range targets {
			wc := base
			wc.Addrs, wc.ReadRatio, wc.Duration, wc.Warmup, wc.Rate = t.Addrs, 0.5, cc.WarmUp, 0, 0
			logf("warming up %s: %v of 50%% reads", t.Name, cc.WarmUp)
			res, err := Run(ctx, wc)
			if err != nil {
				return fmt.Errorf("paddock/bench: warm-up of %s: %w", t.Name, err)
			}
			logf("warm-up of %s: %.0f ops/s, p99 %s ms", t.Name, res.Throughput, ms(res.Latency.P99))
		}
	}
	for _, p := range procs {
		if !p.alive() {
			return fmt.Errorf("paddock/bench: %s exited; log:\n%s", p.name, p.logTail())
		}
	}

	results, err := Sweep(ctx, SweepConfig{Targets: targets, Ratios: cc.Ratios, Base: base, Progress: cc.Progress})
	if len(results) > 0 {
		_ = WriteTable(stdout, results)
		fmt.Fprintln(stdout)
		_ = WriteCompareSummary(stdout, results)
	}
	if err != nil {
		for _, p := range procs {
			if !p.alive() {
				err = fmt.Errorf("%w; %s exited; log:\n%s", err, p.name, p.logTail())
			}
		}
		return err
	}
	if cc.Out != "" {
		if err := writeReports(cc.Out, results); err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(cc.Out, "summary.md"))
		if err != nil {
			return err
		}
		err = WriteCompareSummary(f, results)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(cc.Out, "{results.json,results.csv,chart.svg,chart.png,summary.md}"))
	}
	return nil
}

// WriteCompareSummary writes, per read ratio, the throughput and p99 of
// the zookeeper and paddock targets and their throughput ratio, as a
// Markdown table. For open-loop results it first says the offered rate,
// and flags a throughput under 95% of it.
func WriteCompareSummary(w io.Writer, results []Result) error {
	type pair struct{ zk, pd *Result }
	var order []float64
	by := map[float64]*pair{}
	var rates []float64
	for i := range results {
		r := &results[i]
		if r.Rate > 0 && !slices.Contains(rates, r.Rate) {
			rates = append(rates, r.Rate)
		}
		p := by[r.ReadRatio]
		if p == nil {
			p = &pair{}
			by[r.ReadRatio] = p
			order = append(order, r.ReadRatio)
		}
		switch r.Target {
		case CompareZooKeeper:
			p.zk = r
		case ComparePaddock:
			p.pd = r
		}
	}
	if len(rates) > 0 {
		var rs []string
		for _, r := range rates {
			rs = append(rs, fmt.Sprintf("%.0f", r))
		}
		fmt.Fprintf(w, "Open loop: %s ops/s offered to each target; p99 from each request's intended send time.\n\n",
			strings.Join(rs, ", "))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| reads\t| ZooKeeper ops/s\t| Paddock ops/s\t| Paddock / ZooKeeper\t| ZooKeeper p99 ms\t| Paddock p99 ms\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|---\t|")
	for _, r := range order {
		p := by[r]
		cell := func(x *Result, f func(*Result) string) string {
			if x == nil {
				return "—"
			}
			return f(x)
		}
		ops := func(x *Result) string {
			if x.Behind() {
				return fmt.Sprintf("%.0f (behind: %.0f%% of offered)", x.Throughput, 100*x.Throughput/x.Rate)
			}
			return fmt.Sprintf("%.0f", x.Throughput)
		}
		p99 := func(x *Result) string { return ms(x.Latency.P99) }
		ratio := "—"
		if p.zk != nil && p.pd != nil && p.zk.Throughput > 0 {
			ratio = fmt.Sprintf("%.2f×", p.pd.Throughput/p.zk.Throughput)
		}
		fmt.Fprintf(tw, "| %s\t| %s\t| %s\t| %s\t| %s\t| %s\t|\n", pct(r), cell(p.zk, ops), cell(p.pd, ops), ratio,
			cell(p.zk, p99), cell(p.pd, p99))
	}
	return tw.Flush()
}

// serverProc is a server process Compare started.
type serverProc struct {
	name string
	addr string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
}

// startProc starts cmd in its own process group with its output in log.
func startProc(name, log string, cmd *exec.Cmd) (*serverProc, error) {
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("paddock/bench: start %s: %w", name, err)
	}
	p := &serverProc{name: name, log: log, cmd: cmd, done: make(chan struct{})}
	if onServerStart != nil {
		onServerStart(name, cmd.Process.Pid)
	}
	go func() { // ends when the process exits
		_ = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *serverProc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill stops the process group: SIGTERM, then SIGKILL after 10s.
func (p *serverProc) kill() {
	p.once.Do(func() {
		pg := -p.cmd.Process.Pid
		_ = syscall.Kill(pg, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(pg, syscall.SIGKILL)
			<-p.done
		}
		_ = syscall.Kill(pg, syscall.SIGKILL) // stragglers of the group
	})
}

// logTail returns the last 30 lines of the process's log.
func (p *serverProc) logTail() string {
	b, _ := os.ReadFile(p.log)
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// waitServing waits until the srvr four-letter word says the server
// serves: "Mode: standalone", "leader" or "follower" (a Paddock member
// without a leader says "Mode: looking"; a ZooKeeper one does not answer).
func (p *serverProc) waitServing(ctx context.Context) error {
	deadline := time.Now().Add(serverStartTimeout)
	for {
		if out, err := fourLetter(p.addr, "srvr"); err == nil && serving(out) {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("paddock/bench: %s exited during start-up; log:\n%s", p.name, p.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("paddock/bench: %s did not serve within %v; log:\n%s", p.name, serverStartTimeout, p.logTail())
		}
	}
}

func serving(srvr string) bool {
	for _, m := range []string{"Mode: standalone", "Mode: leader", "Mode: follower"} {
		if strings.Contains(srvr, m) {
			return true
		}
	}
	return false
}

// fourLetter sends a four-letter word and returns the answer.
func fourLetter(addr, word string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	out, err := io.ReadAll(c)
	return strings.TrimSpace(string(out)), err
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, err
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	return fmt.Sprintf("127.0.0.1:%d", port), port, nil
}

// member is one server of a target: its directory, client address and
// the zoo.cfg lines of its ensemble (none when standalone).
type member struct {
	dir     string
	id      int
	addr    string
	port    int
	servers []string
}

// name is the process name of m: target, or target.N in an ensemble.
func (m member) name(target string) string {
	if len(m.servers) == 0 {
		return target
	}
	return fmt.Sprintf("%s.%d", target, m.id)
}

// zooCfg is the zoo.cfg both servers get (ZooKeeper's defaults otherwise,
// forceSync=yes among them), with the ensemble's server.N lines.
func zooCfg(dataDir string, m member) string {
	return strings.Join(append([]string{
		"tickTime=2000",
		"initLimit=10",
		"syncLimit=5",
		"dataDir=" + dataDir,
		fmt.Sprintf("clientPort=%d", m.port),
		"clientPortAddress=127.0.0.1",
		"maxClientCnxns=0",
		"4lw.commands.whitelist=*",
		"admin.enableServer=false",
	}, m.servers...), "\n") + "\n"
}

// startEnsemble starts n members (a standalone server for n <= 1) with
// start, in dir/1, dir/2, ..., and returns them once all serve. With
// members, each gets dataDir/myid and the same server.N lines on free
// loopback ports.
func startEnsemble(ctx context.Context, dir string, n int, start func(context.Context, member) (*serverProc, error)) ([]*serverProc, error) {
	ms := make([]member, max(n, 1))
	var servers []string
	for i := range ms {
		ms[i].id = i + 1
		ms[i].dir = dir
		if n > 1 {
			ms[i].dir = filepath.Join(dir, fmt.Sprint(i+1))
		}
		addr, port, err := freeAddr()
		if err != nil {
			return nil, err
		}
		ms[i].addr, ms[i].port = addr, port
		if n > 1 {
			_, q, err := freeAddr()
			if err != nil {
				return nil, err
			}
			_, e, err := freeAddr()
			if err != nil {
				return nil, err
			}
			servers = append(servers, fmt.Sprintf("server.%d=127.0.0.1:%d:%d", i+1, q, e))
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	procs := make([]*serverProc, len(ms))
	errs := make([]error, len(ms))
	var wg sync.WaitGroup
	for i := range ms {
		ms[i].servers = servers
		data := filepath.Join(ms[i].dir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			return nil, err
		}
		if n > 1 {
			if err := os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
				return nil, err
			}
		}
		wg.Add(1)
		go func() { // members start together: a quorum must be up before any serves
			defer wg.Done()
			procs[i], errs[i] = start(ctx, ms[i])
		}()
	}
	wg.Wait()
	var out []*serverProc
	for _, p := range procs {
		if p != nil {
			out = append(out, p)
		}
	}
	return out, errors.Join(errs...)
}

// standaloneMember is the member of a standalone server in dir, on a free
// loopback port.
func standaloneMember(dir string) (member, error) {
	addr, port, err := freeAddr()
	if err != nil {
		return member{}, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return member{}, err
	}
	return member{dir: dir, id: 1, addr: addr, port: port}, nil
}

// startZooKeeper runs Apache ZooKeeper for m: standalone, or a quorum
// peer of m's ensemble.
func startZooKeeper(ctx context.Context, m member, classpath, heap string) (*serverProc, error) {
	cfg := filepath.Join(m.dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(zooCfg(filepath.Join(m.dir, "data"), m)), 0o644); err != nil {
		return nil, err
	}
	main := "org.apache.zookeeper.server.ZooKeeperServerMain"
	if len(m.servers) > 0 {
		main = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
	}
	cmd := exec.Command("java", "-Xms"+heap, "-Xmx"+heap,
		"-Dzookeeper.admin.enableServer=false",
		"-cp", classpath, main, cfg)
	p, err := startProc(m.name("zookeeper"), filepath.Join(m.dir, "zk.log"), cmd)
	if err != nil {
		return nil, err
	}
	p.addr = m.addr
	return p, p.waitServing(ctx)
}

// startPaddock runs `paddock serve` for m.
func startPaddock(ctx context.Context, m member, bin string) (*serverProc, error) {
	data := filepath.Join(m.dir, "data")
	cfg := filepath.Join(m.dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(zooCfg(data, m)), 0o644); err != nil {
		return nil, err
	}
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	cmd := exec.Command(bin, "serve", "--config", cfg, "--data-dir", data, "--log-level", "warn")
	p, err := startProc(m.name("paddock"), filepath.Join(m.dir, "paddock.log"), cmd)
	if err != nil {
		return nil, err
	}
	p.addr = m.addr
	return p, p.waitServing(ctx)
}

// splitAddrs parses "h:p,h:p" (empty gives nil).
func splitAddrs(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if err := checkAddr(a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// CompareMain is `paddock bench compare`: it returns the exit status, 0 on
// success, 2 for bad flags, 1 when the run fails.
func CompareMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("paddock bench compare", flag.ContinueOnError)
	duration := fs.Duration("duration", DefaultDuration, "measured time per point")
	warmup := fs.Duration("warmup", 10*time.Second, "50%-read load each target gets once before the sweep (JIT warm-up)")
	pointWarmup := fs.Duration("point-warmup", DefaultWarmup, "unmeasured time before each point")
	ratios := fs.String("ratios", "0,50,90,99,100", "read percentages to sweep")
	sessions := fs.Int("sessions", DefaultSessions, "sessions (TCP connections) per target")
	inflight := fs.Int("inflight", DefaultInFlight, "requests in flight per session (with -rate, the most outstanding per session)")
	rate := rateFlag(fs)
	keys := fs.Int("keys", DefaultKeys, "znodes to spread reads and writes over")
	valueSize := fs.Int("value-size", DefaultValueSize, "bytes per value written")
	out := fs.String("out", "", "directory to write results.json, results.csv, chart.svg, chart.png and summary.md into")
	zkHeap := fs.String("zk-heap", "1g", "JVM heap (-Xms and -Xmx) of the ZooKeeper started")
	zkAddrs := fs.String("zk-addrs", "", "`host:port,…` of a running ZooKeeper (ensemble) to drive instead of starting one")
	pdAddrs := fs.String("paddock-addrs", "", "`host:port,…` of a running Paddock (cluster) to drive instead of starting one")
	bin := fs.String("paddock", "", "built paddock `binary` to serve with (default: go build ./cmd/paddock)")
	work := fs.String("work-dir", "", "directory for the servers' data and logs (default: a temporary one)")
	members := fs.Int("members", 1, "members of each ensemble started (1: standalone servers); the sessions are spread over them")
	if code, ok := parseFlags(fs, args, stderr,
		"usage: paddock bench compare [flags]\n\n"+
			"Starts Apache ZooKeeper 3.8 (Debian's package) and Paddock on free loopback ports, both\n"+
			"standalone (or both -members-member ensembles) with fsync on, warms both up, sweeps read\n"+
			"ratios on both interleaved point by point, reports, and stops both."); !ok {
		return code
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "paddock bench compare: "+format+"\n", a...)
		fs.Usage()
		return 2
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	rs, err := parseRatios(*ratios)
	if err != nil {
		return bad("%v", err)
	}
	if *duration <= 0 || *warmup < 0 || *pointWarmup < 0 {
		return bad("-duration must be positive, -warmup and -point-warmup not negative")
	}
	if *sessions < 1 || *inflight < 1 || *keys < 1 {
		return bad("-sessions, -inflight and -keys must be at least 1")
	}
	if *members < 1 || *members > 9 {
		return bad("-members must be 1 to 9")
	}
	if err := checkRate(*rate); err != nil {
		return bad("%v", err)
	}
	za, err := splitAddrs(*zkAddrs)
	if err != nil {
		return bad("-zk-addrs: %v", strings.TrimPrefix(err.Error(), "paddock/bench: "))
	}
	pa, err := splitAddrs(*pdAddrs)
	if err != nil {
		return bad("-paddock-addrs: %v", strings.TrimPrefix(err.Error(), "paddock/bench: "))
	}
	cc := CompareConfig{
		Duration: *duration, PointWarmup: *pointWarmup, WarmUp: *warmup, Ratios: rs,
		Sessions: *sessions, InFlight: *inflight, Keys: *keys, ValueSize: *valueSize, Rate: *rate,
		Out: *out, ZKHeap: *zkHeap, ZKAddrs: za, PaddockAddrs: pa, PaddockBin: *bin,
		WorkDir: *work, Progress: stderr, Members: *members,
	}
	if _, err := (Config{Addrs: []string{"127.0.0.1:1"}, Sessions: cc.Sessions, InFlight: cc.InFlight,
		Keys: cc.Keys, ValueSize: cc.ValueSize, Rate: cc.Rate}).withDefaults(); err != nil {
		return bad("%v", strings.TrimPrefix(err.Error(), "paddock/bench: "))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	if err := Compare(ctx, cc, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "paddock bench compare: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "\ncompared in %v. Client CPU is this process's getrusage user+sys over each measured window;\n"+
		"the servers share the machine with the generator.\n", time.Since(start).Round(time.Second))
	return 0
}
