package robustness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// The fault tests: each runs the workload against a 3-member Paddock and a
// 3-member ZooKeeper ensemble (in parallel), injects one fault, heals it
// and checks the history and the members (Run.Verify). The load runs for
// ROBUSTNESS_DURATION (default 6s) around the fault, half before and half
// after; `make robustness` sets a longer one.

var (
	paddockBinary string
	// faultsBinary is paddock built with -tags faults: the storage fault
	// layer (actors/faults) for storage_test.go.
	faultsBinary string
	moduleRoot   string
)

func TestMain(m *testing.M) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "robustness: go env GOMOD: %v\n", err)
		os.Exit(1)
	}
	moduleRoot = filepath.Dir(strings.TrimSpace(string(out)))
	paddockBinary = filepath.Join(moduleRoot, "tmp", "paddock")
	faultsBinary = filepath.Join(moduleRoot, "tmp", "paddock-faults")
	for _, b := range []struct{ out, tags string }{{paddockBinary, ""}, {faultsBinary, "faults"}} {
		build := exec.Command("go", "build", "-tags", b.tags, "-o", b.out, "./cmd/paddock")
		build.Dir = moduleRoot
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "robustness: go build -tags %q ./cmd/paddock: %v\n%s", b.tags, err, out)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// loadDuration is ROBUSTNESS_DURATION, the time the load runs around a
// fault.
func loadDuration(t *testing.T) time.Duration {
	v := os.Getenv("ROBUSTNESS_DURATION")
	if v == "" {
		return 6 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("ROBUSTNESS_DURATION=%q: want a positive duration such as 60s", v)
	}
	return d
}

const (
	tickTime       = 500 * time.Millisecond
	sessionTimeout = 5 * time.Second
)

var testWorkload = Workload{
	Keys: 4, Registers: 6, Sequencers: 2, Doomed: 3, Rate: 40, SessionTimeout: sessionTimeout,
	Setters: 2, Counters: 1, Producers: 1, Consumers: 2, Watchers: 2, Readers: 2, MoreRate: 20,
}

// keepDir is a directory under tmp/robustness for the ensemble, kept when
// the test fails (data directories, logs, the history) and removed when
// it passes.
func keepDir(t *testing.T) string {
	base := filepath.Join(moduleRoot, "tmp", "robustness")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")
	dir, err := os.MkdirTemp(base, name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if os.Getenv("ROBUSTNESS_KEEP") != "" {
			t.Logf("kept %s (ROBUSTNESS_KEEP is set)", dir)
			return
		}
		if t.Failed() {
			t.Logf("kept %s (member data and logs, history.txt, seq.txt, clients.txt, more.txt, history.html)", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

// fault injects a fault into a running workload, holds it, heals it and
// calls r.MarkHealed.
type fault func(ctx context.Context, t *testing.T, r *Run, hold time.Duration) error

func forBoth(t *testing.T, f fault) {
	for _, kind := range []Kind{Paddock, ZooKeeper} {
		t.Run(kind.String(), func(t *testing.T) {
			t.Parallel()
			runFault(t, kind, 3, f)
		})
	}
}

func runFault(t *testing.T, kind Kind, size int, f fault) { runFaultWith(t, kind, size, nil, f) }

// runFaultWith is runFault with more zoo.cfg lines for every member.
func runFaultWith(t *testing.T, kind Kind, size int, config []string, f fault) {
	runFaultOpts(t, Options{Kind: kind, Size: size, Config: config}, f)
}

// runFaultOpts is runFault on an ensemble of o's kind, size, zoo.cfg lines
// and storage fault options (Faults, FaultControl); the rest is runFault's.
func runFaultOpts(t *testing.T, o Options, f fault) {
	kind := o.Kind
	d := loadDuration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute+4*d)
	defer cancel()
	dir := keepDir(t)
	o.TickTime, o.Proxies, o.Binary, o.Dir = tickTime, true, paddockBinary, dir
	if o.Faults {
		o.Binary = faultsBinary
	}
	e, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	r, err := StartRun(ctx, e, testWorkload)
	if err != nil {
		t.Fatalf("%v\n%s", err, e.LogTails(20))
	}
	defer r.Close()

	// Half the load before the fault, half after; a longer run injects
	// the fault again every 30 s of it, with load in between.
	cycles := 1 + int(d/(30*time.Second))
	hold := d / time.Duration(2*cycles)
	time.Sleep(d / 2)
	r.CutDoomed()
	for i := range cycles {
		if i > 0 {
			time.Sleep(hold)
		}
		if err := f(ctx, t, r, hold); err != nil {
			t.Fatalf("fault %d of %d: %v\n%s", i+1, cycles, err, e.LogTails(40))
		}
		if _, err := e.WaitServing(ctx); err != nil {
			t.Fatalf("after healing: %v\n%s", err, e.LogTails(40))
		}
	}
	time.Sleep(d / 2)
	if err := r.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	findings, dumps := r.Verify(ctx, time.Minute)
	rp50, rp99 := r.Hist.Latency(Read)
	wp50, wp99 := r.Hist.Latency(CAS)
	t.Logf("%s: %d register operations (%v; sync+read p50 %v p99 %v, cas p50 %v p99 %v), unique ids %s, %d znodes per member; first write %s after healing",
		kind, len(r.Hist.Ops()), r.Hist.Count(), rp50, rp99, wp50, wp99, CountSeq(r.Seq.Ops()), dumpSize(dumps), seconds(r.FirstWriteAfterHeal()))
	t.Logf("%s: %s", kind, r.MoreSummary())
	if kind == ZooKeeper && len(findings) > 0 && e.logsContain(zookeeper4394) {
		// The baseline's own known defect, not a finding about Paddock:
		// logged in full (README lists it), not failed.
		keepEvidence(t, dir, r)
		for _, f := range findings {
			t.Logf("%s (a member hit ZOOKEEPER-4394, %q, in Learner.syncWithLeader): %s", kind, zookeeper4394, f)
		}
		return
	}
	for _, f := range findings {
		if f.Check == "excluded" { // a storage test stopped that member for good, and said why
			t.Logf("%s: %s", kind, f)
			continue
		}
		t.Errorf("%s: %s", kind, f)
	}
	if t.Failed() {
		keepEvidence(t, dir, r)
		t.Logf("member logs:\n%s", e.LogTails(40))
	}
}

// zookeeper4394 is what ZooKeeper 3.8.0 logs when a follower's DIFF sync
// meets a commit before UPTODATE (ZOOKEEPER-4394); the follower can then
// miss a committed transaction and hold another tree than the others.
const zookeeper4394 = `Cannot read field "hdr" because "pif" is null`

// logsContain reports whether any member's log holds s.
func (e *Ensemble) logsContain(s string) bool {
	for _, m := range e.Members {
		if b, err := os.ReadFile(m.logPath()); err == nil && strings.Contains(string(b), s) {
			return true
		}
	}
	return false
}

func dumpSize(ds []Dump) int {
	if len(ds) == 0 {
		return 0
	}
	return len(ds[0])
}

// keepEvidence writes the history, the unique-id creates, the client
// transcripts and porcupine's timeline into dir.
func keepEvidence(t *testing.T, dir string, r *Run) {
	var hist strings.Builder
	if err := r.Hist.Write(&hist); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "history.txt"), []byte(hist.String()), 0o644)
	}
	var seq strings.Builder
	for _, o := range r.Seq.Ops() {
		seq.WriteString(o.String() + "\n")
	}
	_ = os.WriteFile(filepath.Join(dir, "seq.txt"), []byte(seq.String()), 0o644)
	var cl strings.Builder
	for _, c := range slices.Concat(r.Live, r.Doomed) {
		fmt.Fprintf(&cl, "==== %s sessions %s\n%s\n", c.Name, hexIDs(c.Sessions()), c.Transcript())
	}
	_ = os.WriteFile(filepath.Join(dir, "clients.txt"), []byte(cl.String()), 0o644)
	var more strings.Builder
	if err := r.WriteMore(&more); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "more.txt"), []byte(more.String()), 0o644)
	}
	lin := CheckLinearizable(r.Hist.Ops(), time.Minute)
	if err := porcupine.VisualizePath(RegisterModel, lin.Info, filepath.Join(dir, "history.html")); err != nil {
		t.Logf("porcupine visualization: %v", err)
	}
}

// TestLeaderKill: SIGKILL of the leader under load, a new leader among the
// others, the old one restarted after a while.
func TestLeaderKill(t *testing.T) {
	forBoth(t, func(ctx context.Context, t *testing.T, r *Run, hold time.Duration) error {
		l, err := r.E.Leader(ctx)
		if err != nil {
			return err
		}
		start := time.Now()
		r.E.Note("kill leader %d", l.ID)
		l.Kill()
		nl, err := r.E.Leader(ctx)
		if err != nil {
			return err
		}
		t.Logf("killed leader %d; member %d leads after %v", l.ID, nl.ID, time.Since(start).Round(time.Millisecond))
		time.Sleep(hold)
		if err := l.Start(ctx); err != nil {
			return err
		}
		r.MarkHealed()
		return nil
	})
}

// TestFollowerStop: SIGSTOP of a follower for longer than the session
// timeout (its clients must move and keep their sessions), then SIGCONT.
func TestFollowerStop(t *testing.T) {
	forBoth(t, func(ctx context.Context, t *testing.T, r *Run, _ time.Duration) error {
		l, err := r.E.Leader(ctx)
		if err != nil {
			return err
		}
		f := r.E.Members[l.ID%len(r.E.Members)] // the member after the leader
		r.E.Note("stop follower %d", f.ID)
		f.Stop()
		t.Logf("stopped follower %d (leader %d) for %v", f.ID, l.ID, sessionTimeout+2*time.Second)
		time.Sleep(sessionTimeout + 2*time.Second)
		r.E.Note("continue follower %d", f.ID)
		f.Cont()
		r.MarkHealed()
		return nil
	})
}

// TestKillAll: SIGKILL of every member at once, then all restarted.
func TestKillAll(t *testing.T) {
	forBoth(t, func(ctx context.Context, t *testing.T, r *Run, _ time.Duration) error {
		r.E.Note("kill every member")
		r.E.KillAll()
		start := time.Now()
		if err := r.E.RestartAll(ctx); err != nil {
			return err
		}
		r.MarkHealed()
		l, err := r.E.WaitServing(ctx)
		if err != nil {
			return err
		}
		t.Logf("killed every member; serving again with leader %d after %v", l.ID, time.Since(start).Round(time.Millisecond))
		return nil
	})
}

// TestLeaderIsolation: the leader's peer links black-holed both ways (its
// clients still reach it); the others elect a leader; then the links heal.
func TestLeaderIsolation(t *testing.T) {
	forBoth(t, func(ctx context.Context, t *testing.T, r *Run, hold time.Duration) error {
		l, err := r.E.Leader(ctx)
		if err != nil {
			return err
		}
		others := othersThan(r.E, l)
		start := time.Now()
		r.E.Note("isolate leader %d", l.ID)
		r.E.Net.Isolate(l.ID)
		nl, err := r.E.LeaderAmong(ctx, others)
		if err != nil {
			return err
		}
		t.Logf("isolated leader %d; member %d leads the others after %v", l.ID, nl.ID, time.Since(start).Round(time.Millisecond))
		time.Sleep(hold)
		r.E.Note("heal")
		r.E.Net.Heal()
		r.MarkHealed()
		return nil
	})
}

// TestFiveMembers: a 5-member Paddock ensemble loses two members at once,
// by SIGKILL (the leader and a follower) and by a partition (the leader
// and a follower cut off from the other three, their clients still
// reaching them); the three left elect a leader and serve. (ZooKeeper's
// fault runs are at 3 members: five more JVMs do not fit this machine's
// CI alongside the rest.)
func TestFiveMembers(t *testing.T) {
	t.Run("KillTwo", func(t *testing.T) {
		t.Parallel()
		runFault(t, Paddock, 5, func(ctx context.Context, t *testing.T, r *Run, hold time.Duration) error {
			l, err := r.E.Leader(ctx)
			if err != nil {
				return err
			}
			f := r.E.Members[l.ID%len(r.E.Members)]
			start := time.Now()
			r.E.Note("kill leader %d and follower %d", l.ID, f.ID)
			l.Kill()
			f.Kill()
			nl, err := r.E.LeaderAmong(ctx, othersThan(r.E, l, f))
			if err != nil {
				return err
			}
			t.Logf("killed leader %d and follower %d; member %d leads after %v", l.ID, f.ID, nl.ID, time.Since(start).Round(time.Millisecond))
			time.Sleep(hold)
			for _, m := range []*Member{l, f} {
				if err := m.Start(ctx); err != nil {
					return err
				}
			}
			r.MarkHealed()
			return nil
		})
	})
	t.Run("MinorityPartition", func(t *testing.T) {
		t.Parallel()
		runFault(t, Paddock, 5, func(ctx context.Context, t *testing.T, r *Run, hold time.Duration) error {
			l, err := r.E.Leader(ctx)
			if err != nil {
				return err
			}
			f := r.E.Members[l.ID%len(r.E.Members)]
			majority := othersThan(r.E, l, f)
			start := time.Now()
			r.E.Note("partition leader %d and follower %d from the others", l.ID, f.ID)
			for _, m := range majority {
				r.E.Net.SetBoth(l.ID, m.ID, Fault{Blackhole: true})
				r.E.Net.SetBoth(f.ID, m.ID, Fault{Blackhole: true})
			}
			nl, err := r.E.LeaderAmong(ctx, majority)
			if err != nil {
				return err
			}
			t.Logf("partitioned leader %d and follower %d; member %d leads the majority after %v", l.ID, f.ID, nl.ID, time.Since(start).Round(time.Millisecond))
			time.Sleep(hold)
			r.E.Note("heal")
			r.E.Net.Heal()
			r.MarkHealed()
			return nil
		})
	})
}

// othersThan returns the members of e but those given.
func othersThan(e *Ensemble, but ...*Member) []*Member {
	var out []*Member
	for _, m := range e.Members {
		if !slices.Contains(but, m) {
			out = append(out, m)
		}
	}
	return out
}

// TestFailover runs one round of the failover measurement for each system
// (the figures go to bench/README.md from `paddock bench failover`; this
// checks the machinery): writes resume and the session survives.
func TestFailover(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress strings.Builder
	rounds, err := Failover(ctx, FailoverConfig{Kinds: []Kind{Paddock, ZooKeeper}, Rounds: 1, TickTime: tickTime,
		SessionTimeout: 10 * time.Second, Binary: paddockBinary, Dir: t.TempDir(), Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	if err := WriteFailover(&table, rounds); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())
	if len(rounds) != 2 {
		t.Fatalf("%d rounds, want 2", len(rounds))
	}
	for _, r := range rounds {
		if r.Err != "" || !r.Kept || r.Gap <= 0 {
			t.Errorf("%s: gap %v, session kept %v, %s", r.Kind, r.Gap, r.Kept, r.Err)
		}
	}
}
