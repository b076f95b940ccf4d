package robustness

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/go-zookeeper/zk"
)

// FailoverConfig is a failover measurement: Rounds SIGKILLs of the leader
// of a 3-member ensemble of each kind, with a client writing in a loop.
type FailoverConfig struct {
	Kinds          []Kind
	Rounds         int
	TickTime       time.Duration
	SessionTimeout time.Duration
	Binary         string    // paddock binary
	Dir            string    // member directories go under it
	Progress       io.Writer // a line per round; nil: none
	// Explain: a round whose gap is longer is shown with the client's
	// transcript on Progress (0: none is).
	Explain time.Duration
}

// FailoverRound is one SIGKILL of a leader.
type FailoverRound struct {
	Kind     Kind
	Round    int
	Killed   int  // the leader's id
	OnLeader bool // the client was connected to the killed leader
	// Gap is the longest time between two acknowledged writes, from the
	// last one before the kill on.
	Gap time.Duration
	// Kept: the client kept its session (same id, never told it expired).
	Kept   bool
	Writes int // acknowledged during the round
	Err    string
	// Transcript is the client's connection events, and Killed when
	// the leader was killed (the client's own clock), for a round to be
	// explained.
	Transcript string
	KilledAt   time.Duration
}

// failoverWindow bounds how long a round waits for writes to resume.
const failoverWindow = 30 * time.Second

// Failover runs the measurement, interleaving the kinds round by round so
// that a change in the machine's load hits all alike.
func Failover(ctx context.Context, cfg FailoverConfig) ([]FailoverRound, error) {
	ensembles := map[Kind]*Ensemble{}
	defer func() {
		for _, e := range ensembles {
			e.Close()
		}
	}()
	for _, k := range cfg.Kinds {
		e, err := Start(ctx, Options{Kind: k, Size: 3, TickTime: cfg.TickTime, Binary: cfg.Binary,
			Dir: filepath.Join(cfg.Dir, k.String())})
		if err != nil {
			return nil, err
		}
		ensembles[k] = e
	}
	var out []FailoverRound
	for round := 1; round <= cfg.Rounds; round++ {
		for _, k := range cfg.Kinds {
			r, err := failoverRound(ctx, ensembles[k], round, round%2 == 1, cfg.SessionTimeout)
			if err != nil {
				return out, fmt.Errorf("%s round %d: %w\n%s", k, round, err, ensembles[k].LogTails(30))
			}
			out = append(out, r)
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "%-9s round %d: leader %d killed, client on the %s: longest write gap %v, session %s\n",
					k, round, r.Killed, map[bool]string{true: "leader", false: "follower"}[r.OnLeader],
					r.Gap.Round(time.Millisecond), map[bool]string{true: "kept", false: "LOST"}[r.Kept])
				if cfg.Explain > 0 && r.Gap > cfg.Explain {
					fmt.Fprintf(cfg.Progress, "  leader killed at %.3fs; the client's transcript:\n%s\n", r.KilledAt.Seconds(), indent(r.Transcript))
				}
			}
		}
	}
	return out, nil
}

func failoverRound(ctx context.Context, e *Ensemble, round int, onLeader bool, timeout time.Duration) (FailoverRound, error) {
	res := FailoverRound{Kind: e.Opts.Kind, Round: round, OnLeader: onLeader}
	l, err := e.WaitServing(ctx)
	if err != nil {
		return res, err
	}
	res.Killed = l.ID
	first := l.ID
	if !onLeader {
		first = l.ID%len(e.Members) + 1
	}
	c, err := Dial(ctx, e.ClientAddrs(), first, fmt.Sprintf("failover-%d", round), timeout)
	if err != nil {
		return res, err
	}
	defer c.Close()
	const path = "/failover"
	if _, err := c.Conn.Create(path, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return res, err
	}
	var mu sync.Mutex
	var acked []time.Time
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for wctx.Err() == nil {
			if _, err := c.Conn.Set(path, []byte("x"), -1); err == nil {
				mu.Lock()
				acked = append(acked, time.Now())
				mu.Unlock()
			}
		}
	}()
	count := func(after time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, t := range acked {
			if t.After(after) {
				n++
			}
		}
		return n
	}
	wait := func(d time.Duration) {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	wait(time.Second)
	killed := time.Now()
	res.KilledAt = killed.Sub(c.start)
	e.Note("failover round %d: kill leader %d", round, l.ID)
	l.Kill()
	// Writes must come back; then watch a while longer for a second stall.
	deadline := killed.Add(failoverWindow)
	for count(killed) == 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		wait(10 * time.Millisecond)
	}
	resumed := count(killed) > 0
	wait(time.Second)
	stop()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	res.Writes = len(acked)
	if !resumed {
		res.Gap = time.Since(killed)
		res.Err = fmt.Sprintf("no write acknowledged within %v of the kill", failoverWindow)
	} else {
		from := 0
		for i, t := range acked {
			if t.Before(killed) {
				from = i
			}
		}
		for i := from + 1; i < len(acked); i++ {
			res.Gap = max(res.Gap, acked[i].Sub(acked[i-1]))
		}
	}
	res.Kept = len(c.Sessions()) == 1 && len(c.Expired()) == 0
	res.Transcript = c.Transcript()
	if err := l.Start(ctx); err != nil {
		return res, err
	}
	return res, nil
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

// WriteFailover writes the rounds and a summary per kind.
func WriteFailover(w io.Writer, rounds []FailoverRound) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "system\tround\tkilled\tclient on\tlongest write gap\tsession\twrites")
	for _, r := range rounds {
		on := "follower"
		if r.OnLeader {
			on = "leader"
		}
		kept := "kept"
		if !r.Kept {
			kept = "LOST"
		}
		gap := r.Gap.Round(time.Millisecond).String()
		if r.Err != "" {
			gap = "> " + gap + " (" + r.Err + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%d\n", r.Kind, r.Round, r.Killed, on, gap, kept, r.Writes)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	var kinds []Kind
	for _, r := range rounds {
		if !slices.Contains(kinds, r.Kind) {
			kinds = append(kinds, r.Kind)
		}
	}
	for _, k := range kinds {
		var gaps []time.Duration
		kept := 0
		for _, r := range rounds {
			if r.Kind == k {
				gaps = append(gaps, r.Gap)
				if r.Kept {
					kept++
				}
			}
		}
		slices.Sort(gaps)
		fmt.Fprintf(w, "%s: longest write gap min %v, median %v, max %v; session kept in %d of %d rounds\n", k,
			gaps[0].Round(time.Millisecond), gaps[len(gaps)/2].Round(time.Millisecond),
			gaps[len(gaps)-1].Round(time.Millisecond), kept, len(gaps))
	}
	return nil
}

// FailoverMain is `paddock bench failover`. It returns the exit status:
// 0 on success, 2 for bad flags, 1 when a run fails.
func FailoverMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("paddock bench failover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rounds := fs.Int("rounds", 5, "leader SIGKILLs per system")
	tick := fs.Duration("tick", 500*time.Millisecond, "tickTime of both ensembles")
	timeout := fs.Duration("session-timeout", 10*time.Second, "the writing client's session timeout")
	systems := fs.String("systems", "paddock,zookeeper", "systems to measure: paddock, zookeeper or both")
	binary := fs.String("paddock", "", "paddock binary to run the members with (default: this one)")
	dir := fs.String("dir", "", "directory for the members' data and logs (default: a temporary one, removed after)")
	explain := fs.Duration("explain", 500*time.Millisecond, "show the client's transcript for rounds with a longer gap (0: never)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: paddock bench failover [flags]

Starts a 3-member Paddock and a 3-member Apache ZooKeeper 3.8 ensemble on
this machine (ports picked at run time), runs a go-zookeeper client that
writes in a loop with every member in its server list, SIGKILLs the
leader and reports the longest gap between acknowledged writes and whether
the session survived; then restarts the member, and again, -rounds times,
the systems interleaved round by round. Odd rounds start the client on the
leader, even rounds on a follower.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "paddock bench failover: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	if *rounds < 1 || *tick <= 0 || *timeout <= 0 {
		return bad("-rounds, -tick and -session-timeout must be positive")
	}
	cfg := FailoverConfig{Rounds: *rounds, TickTime: *tick, SessionTimeout: *timeout, Binary: *binary, Dir: *dir,
		Progress: stderr, Explain: *explain}
	for _, s := range strings.Split(*systems, ",") {
		switch strings.TrimSpace(s) {
		case "paddock":
			cfg.Kinds = append(cfg.Kinds, Paddock)
		case "zookeeper":
			cfg.Kinds = append(cfg.Kinds, ZooKeeper)
		default:
			return bad("-systems: unknown system %q (want paddock, zookeeper)", s)
		}
	}
	if cfg.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return bad("no -paddock given and this binary's path is unknown: %v", err)
		}
		cfg.Binary = exe
	}
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "paddock-failover-")
		if err != nil {
			fmt.Fprintf(stderr, "paddock bench failover: %v\n", err)
			return 1
		}
		defer os.RemoveAll(d)
		cfg.Dir = d
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	res, err := Failover(ctx, cfg)
	if len(res) > 0 {
		_ = WriteFailover(stdout, res)
	}
	if err != nil {
		fmt.Fprintf(stderr, "paddock bench failover: %v\n", err)
		return 1
	}
	return 0
}
