package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// targetFlags collects repeated -target name=addr[,addr…] flags.
type targetFlags []Target

func (t *targetFlags) String() string {
	var parts []string
	for _, x := range *t {
		parts = append(parts, x.Name+"="+strings.Join(x.Addrs, ","))
	}
	return strings.Join(parts, " ")
}

func (t *targetFlags) Set(v string) error {
	name, addrs, ok := strings.Cut(v, "=")
	if !ok {
		name, addrs = v, v
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return fmt.Errorf("target %q has an empty name (want name=host:port)", v)
	}
	for _, x := range *t {
		if x.Name == name {
			return fmt.Errorf("target name %q given twice", name)
		}
	}
	tg := Target{Name: name}
	for _, a := range strings.Split(addrs, ",") {
		a = strings.TrimSpace(a)
		if err := checkAddr(a); err != nil {
			return fmt.Errorf("target %s: %w", name, err)
		}
		tg.Addrs = append(tg.Addrs, a)
	}
	*t = append(*t, tg)
	return nil
}

// parseRatios parses "0,50,90,99,100" (percentages) into fractions.
func parseRatios(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSuffix(strings.TrimSpace(f), "%")
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v < 0 || v > 100 {
			return nil, fmt.Errorf("bad read ratio %q: want a percentage from 0 to 100", f)
		}
		out = append(out, v/100)
	}
	return out, nil
}

// rateFlag defines -rate, shared by `paddock bench` and `paddock bench
// compare`.
func rateFlag(fs *flag.FlagSet) *float64 {
	return fs.Float64("rate", 0, "open loop: requests per second offered to each target, spread evenly over its\n"+
		"sessions and sent on schedule whatever the replies do; latency counts from each request's\n"+
		"intended send time (0: closed loop, every session keeps -inflight requests outstanding)")
}

// checkRate checks the value of -rate.
func checkRate(r float64) error {
	if !(r >= 0) || math.IsInf(r, 0) {
		return fmt.Errorf("-rate %v: want a finite number of requests per second, 0 or more (0: closed loop)", r)
	}
	return nil
}

// Main is the `paddock bench` subcommand. It returns the exit status: 0
// on success, 2 for bad flags, 1 when a run fails.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "compare": // Paddock against Apache ZooKeeper, side by side
			return CompareMain(args[1:], stdout, stderr)
		case "memory": // heap per znode, Paddock's tree against ZooKeeper's heap
			return MemoryMain(args[1:], stdout, stderr)
		case "restart": // time for paddock serve to serve again with a large tree
			return RestartMain(args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("paddock bench", flag.ContinueOnError)
	var targets targetFlags
	fs.Var(&targets, "target", "`name=host:port[,host:port…]` of a ZooKeeper-protocol service to drive (repeatable)")
	workload := fs.String("workload", WorkloadRatio, "workload: "+strings.Join(Workloads, ", "))
	ratios := fs.String("ratios", "0,50,90,99,100", "read percentages to sweep (ratio workload)")
	sessions := fs.Int("sessions", DefaultSessions, "sessions (TCP connections) per target")
	inflight := fs.Int("inflight", DefaultInFlight, "requests in flight per session (with -rate, the most outstanding per session)")
	rate := rateFlag(fs)
	duration := fs.Duration("duration", DefaultDuration, "measured time per point")
	warmup := fs.Duration("warmup", DefaultWarmup, "unmeasured time before each point")
	keys := fs.Int("keys", DefaultKeys, "znodes to spread reads and writes over (children: child count)")
	valueSize := fs.Int("value-size", DefaultValueSize, "bytes per value written")
	multiOps := fs.Int("multi-ops", DefaultMultiOps, "setData ops per multi (multi workload)")
	root := fs.String("root", DefaultRoot, "znode under which the benchmark creates its nodes")
	out := fs.String("out", "", "directory to write results.json, results.csv, chart.svg and chart.png into")
	if code, ok := parseFlags(fs, args, stderr,
		"usage: paddock bench -target name=host:port [-target …] [flags]\n\n"+
			"Drives ZooKeeper-protocol endpoints over the raw protocol and reports throughput,\n"+
			"latency and the generator's own CPU per million ops."); !ok {
		return code
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "paddock bench: "+format+"\n", a...)
		fs.Usage()
		return 2
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	if len(targets) == 0 {
		return bad("no -target given")
	}
	rs, err := parseRatios(*ratios)
	if err != nil {
		return bad("%v", err)
	}
	if *duration <= 0 {
		return bad("-duration must be positive")
	}
	if err := checkRate(*rate); err != nil {
		return bad("%v", err)
	}
	base := Config{
		Workload: *workload, Sessions: *sessions, InFlight: *inflight, Duration: *duration,
		Warmup: *warmup, Keys: *keys, ValueSize: *valueSize, MultiOps: *multiOps, Root: *root,
		Rate: *rate, Addrs: targets[0].Addrs,
	}
	if *sessions < 1 || *inflight < 1 || *keys < 1 || *multiOps < 1 {
		return bad("-sessions, -inflight, -keys and -multi-ops must be at least 1")
	}
	if _, err := base.withDefaults(); err != nil {
		return bad("%v", strings.TrimPrefix(err.Error(), "paddock/bench: "))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	results, err := Sweep(ctx, SweepConfig{Targets: targets, Ratios: rs, Base: base, Progress: stderr})
	if len(results) > 0 {
		_ = WriteTable(stdout, results)
	}
	if err != nil {
		fmt.Fprintf(stderr, "paddock bench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "\n%d points in %v. Client CPU is this process's getrusage user+sys over each measured window;\n"+
		"client cores near the machine's core count would mean the generator, not the server, set the pace.\n",
		len(results), time.Since(start).Round(time.Second))
	if *out != "" {
		if err := writeReports(*out, results); err != nil {
			fmt.Fprintf(stderr, "paddock bench: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(*out, "{results.json,results.csv,chart.svg,chart.png}"))
	}
	return 0
}

// writeReports writes every report format into dir.
func writeReports(dir string, results []Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer, []Result) error{
		"results.json": WriteJSON, "results.csv": WriteCSV, "chart.svg": WriteSVG, "chart.png": WritePNG,
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		err = write(f, results)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// parseFlags parses a bench command's flags, with usage (the text, then
// the flags) on stderr for -h and for a flag error. ok false means the
// command exits with code: 0 after -h, 2 for a bad flag.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer, usage string) (code int, ok bool) {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}
