package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/paddockdb/paddock/wire"
)

// Restart time of `paddock serve` with a large tree (bench/README.md,
// "Memory and restart"): MeasureRestart starts a Paddock server, creates
// the znodes of a LoadConfig over the raw protocol, stops it with SIGTERM,
// starts it again on the same data directory and times, from the exec of
// the second process, the first `srvr` that answers "Mode:" and the first
// getData of the last znode that succeeds. Dragonboat recovers the state
// machine from its last snapshot and replays the log entries after it
// (actors sets the snapshot interval), so the figure covers both.

// RestartConfig configures MeasureRestart.
type RestartConfig struct {
	Load LoadConfig
	// PaddockBin is a built paddock binary; empty means `go build` of
	// ./cmd/paddock into WorkDir.
	PaddockBin string
	// WorkDir holds the server's data and logs; empty means a temporary
	// directory, removed at the end.
	WorkDir string
	// Restarts is how many stop/start cycles are timed (at least 1).
	Restarts int
	// Progress, when set, gets progress lines.
	Progress io.Writer
}

// RestartTiming is one timed restart.
type RestartTiming struct {
	// Stop is SIGTERM to exit of the old process.
	Stop time.Duration
	// Serving is exec to the first srvr answer with "Mode:"; Ready is exec
	// to the first successful getData of the last znode.
	Serving, Ready time.Duration
}

// RestartResult is what MeasureRestart measured.
type RestartResult struct {
	Nodes    int
	LoadTime time.Duration
	Restarts []RestartTiming
	// DataDirBytes is the size of the data directory after the load.
	DataDirBytes int64
}

// MeasureRestart runs the load and the timed restarts, and stops the
// server before it returns.
func MeasureRestart(ctx context.Context, rc RestartConfig) (res RestartResult, err error) {
	logf := func(format string, a ...any) {
		if rc.Progress != nil {
			fmt.Fprintf(rc.Progress, format+"\n", a...)
		}
	}
	rc.Load = rc.Load.withDefaults()
	rc.Restarts = max(rc.Restarts, 1)
	work := rc.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("", "paddock-restart-"); err != nil {
			return res, err
		}
		defer os.RemoveAll(work)
	}
	bin := rc.PaddockBin
	if bin == "" {
		bin = filepath.Join(work, "paddock")
		logf("building %s", bin)
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/paddockdb/paddock/cmd/paddock")
		if out, err := build.CombinedOutput(); err != nil {
			return res, fmt.Errorf("paddock/bench: go build paddock: %v\n%s", err, out)
		}
	}
	dir := filepath.Join(work, "paddock-server")
	m, err := standaloneMember(dir)
	if err != nil {
		return res, err
	}
	p, err := startPaddock(ctx, m, bin)
	if p != nil {
		defer func() { p.kill() }()
	}
	if err != nil {
		return res, err
	}
	logf("Paddock serving on %s (pid %d); creating %d znodes", p.addr, p.cmd.Process.Pid, rc.Load.Nodes)
	res.Nodes = rc.Load.Nodes
	if res.LoadTime, err = LoadZnodes(ctx, p.addr, rc.Load); err != nil {
		return res, err
	}
	logf("created in %v (%.0f creates/s)", res.LoadTime.Round(time.Millisecond), float64(res.Nodes)/res.LoadTime.Seconds())
	last := rc.Load.Path(rc.Load.Nodes - 1)
	for i := 0; i < rc.Restarts; i++ {
		var tm RestartTiming
		stop := time.Now()
		p.kill()
		tm.Stop = time.Since(stop)
		if i == 0 {
			res.DataDirBytes = dirSize(filepath.Join(dir, "data"))
		}
		addr := p.addr
		cmd := exec.Command(bin, "serve", "--config", filepath.Join(dir, "zoo.cfg"), "--data-dir", filepath.Join(dir, "data"),
			"--client-addr", addr, "--log-level", "warn")
		start := time.Now()
		if p, err = startProc("paddock", filepath.Join(dir, "paddock.log"), cmd); err != nil {
			return res, err
		}
		p.addr = addr
		if tm.Serving, tm.Ready, err = waitReady(ctx, p, last, start); err != nil {
			return res, err
		}
		logf("restart %d: stop %v, srvr after %v, getData %s after %v", i+1, tm.Stop.Round(time.Millisecond),
			tm.Serving.Round(time.Millisecond), last, tm.Ready.Round(time.Millisecond))
		res.Restarts = append(res.Restarts, tm)
	}
	return res, nil
}

// waitReady polls every 10 ms: srvr until it says "Mode:", then getData
// of path until it succeeds.
func waitReady(ctx context.Context, p *serverProc, path string, start time.Time) (serving, ready time.Duration, err error) {
	deadline := start.Add(serverStartTimeout)
	tick := func() error {
		select {
		case <-p.done:
			return fmt.Errorf("paddock/bench: paddock exited during restart; log:\n%s", p.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("paddock/bench: paddock not ready within %v; log:\n%s", serverStartTimeout, p.logTail())
		}
		return nil
	}
	for {
		if out, err := fourLetter(p.addr, "srvr"); err == nil && strings.Contains(out, "Mode: ") {
			serving = time.Since(start)
			break
		}
		if err := tick(); err != nil {
			return 0, 0, err
		}
	}
	for {
		if s, err := dialSession(p.addr, 64<<10); err == nil {
			codes, err := s.call([]request{{wire.OpGetData, &wire.GetDataRequest{Path: path}}}, nil)
			s.close()
			if err == nil && codes[0] == wire.Ok {
				return serving, time.Since(start), nil
			}
			if err == nil && codes[0] == wire.ErrNoNode {
				return 0, 0, fmt.Errorf("paddock/bench: %s missing after restart", path)
			}
		}
		if err := tick(); err != nil {
			return 0, 0, err
		}
	}
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// RestartMain is `paddock bench restart`: it returns the exit status, 0 on
// success, 2 for bad flags, 1 when the run fails.
func RestartMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("paddock bench restart", flag.ContinueOnError)
	nodes := fs.Int("nodes", 1_000_000, "znodes to create before the restarts")
	valueSize := fs.Int("value-size", DefaultValueSize, "bytes per znode value")
	layout := fs.String("layout", "flat", "`flat` (/bench/kNNNNNNNN) or nested (/bench/dDDD/kNNNNNN)")
	sessions := fs.Int("sessions", 8, "sessions creating in parallel")
	window := fs.Int("window", 256, "creates in flight per session")
	restarts := fs.Int("restarts", 3, "stop/start cycles to time")
	bin := fs.String("paddock", "", "built paddock `binary` (default: go build ./cmd/paddock)")
	work := fs.String("work-dir", "", "directory for the server's data and logs (default: a temporary one)")
	if code, ok := parseFlags(fs, args, stderr,
		"usage: paddock bench restart [flags]\n\n"+
			"Starts `paddock serve`, creates -nodes znodes over the raw protocol, then -restarts times stops it\n"+
			"(SIGTERM) and starts it again on the same data, timing until srvr answers and until a getData\n"+
			"of the last znode succeeds."); !ok {
		return code
	}
	if fs.NArg() > 0 || *nodes < 1 || *valueSize < 0 || *sessions < 1 || *window < 1 || *restarts < 1 || (*layout != "flat" && *layout != "nested") {
		fmt.Fprintln(stderr, "paddock bench restart: bad arguments")
		fs.Usage()
		return 2
	}
	rc := RestartConfig{
		Load:       LoadConfig{Nodes: *nodes, ValueSize: *valueSize, Nested: *layout == "nested", Sessions: *sessions, Window: *window},
		PaddockBin: *bin, WorkDir: *work, Restarts: *restarts, Progress: stderr,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := MeasureRestart(ctx, rc)
	if err != nil {
		fmt.Fprintf(stderr, "paddock bench restart: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "Paddock %s layout, %d znodes of %d bytes (load %v, %.0f creates/s, data dir %.0f MiB):\n",
		*layout, res.Nodes, *valueSize, res.LoadTime.Round(time.Millisecond), float64(res.Nodes)/res.LoadTime.Seconds(),
		float64(res.DataDirBytes)/(1<<20))
	for i, t := range res.Restarts {
		fmt.Fprintf(stdout, "  restart %d: stop %v, serving (srvr) after %v, ready (getData of the last znode) after %v\n",
			i+1, t.Stop.Round(time.Millisecond), t.Serving.Round(time.Millisecond), t.Ready.Round(time.Millisecond))
	}
	return 0
}
