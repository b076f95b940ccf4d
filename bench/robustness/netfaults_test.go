package robustness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The network fault classes and SIGKILL of a random member, each against
// a 3-member Paddock and a 3-member ZooKeeper (forBoth), and a follower
// that is cut off until it needs a snapshot.

// faultSeed is ROBUSTNESS_SEED, or one picked now and logged, so that a
// run's choices (which member is killed) can be made again.
func faultSeed(t *testing.T) uint64 {
	if v := os.Getenv("ROBUSTNESS_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("ROBUSTNESS_SEED=%q: want an unsigned integer", v)
		}
		return s
	}
	s := uint64(time.Now().UnixNano())
	t.Logf("ROBUSTNESS_SEED=%d", s)
	return s
}

// rounds counts the calls of a fault per run, the kinds running in
// parallel.
type rounds struct {
	mu sync.Mutex
	n  map[*Run]int
}

func (r *rounds) next(run *Run) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[*Run]int{}
	}
	r.n[run]++
	return r.n[run]
}

// TestMemberKill: SIGKILL of a random member under load, the leader half
// the time (by the seed and the round), restarted after a while.
func TestMemberKill(t *testing.T) {
	seed := faultSeed(t)
	var rs rounds
	forBoth(t, func(ctx context.Context, t *testing.T, r *Run, hold time.Duration) error {
		round := rs.next(r)
		rng := rand.New(rand.NewPCG(seed, uint64(round)))
		l, err := r.E.Leader(ctx)
		if err != nil {
			return err
		}
		victim := l
		if rng.IntN(2) == 1 {
			others := othersThan(r.E, l)
			victim = others[rng.IntN(len(others))]
		}
		role := "follower"
		if victim == l {
			role = "leader"
		}
		start := time.Now()
		r.E.Note("round %d: kill %s %d", round, role, victim.ID)
		victim.Kill()
		nl, err := r.E.LeaderAmong(ctx, othersThan(r.E, victim))
		if err != nil {
			return err
		}
		t.Logf("round %d: killed %s %d; member %d leads after %v", round, role, victim.ID, nl.ID, time.Since(start).Round(time.Millisecond))
		time.Sleep(hold)
		if err := victim.Start(ctx); err != nil {
			return err
		}
		r.MarkHealed()
		return nil
	})
}

// TestLeaderOutgoingCut: the leader's outgoing peer links black-holed,
// its incoming ones open (it hears the others, they hear nothing from
// it), then healed; then the reverse: its incoming links cut, its
// outgoing ones open.
func TestAsymmetricPartition(t *testing.T) {
	forBoth(t, func(ctx context.Context, t *testing.T, r *Run, hold time.Duration) error {
		for _, outgoing := range []bool{true, false} {
			l, err := r.E.WaitServing(ctx)
			if err != nil {
				return err
			}
			what := "incoming"
			if outgoing {
				what = "outgoing"
			}
			start := time.Now()
			r.E.Note("cut leader %d's %s peer links", l.ID, what)
			for _, m := range othersThan(r.E, l) {
				if outgoing {
					r.E.Net.Set(l.ID, m.ID, Fault{Blackhole: true})
				} else {
					r.E.Net.Set(m.ID, l.ID, Fault{Blackhole: true})
				}
			}
			nl, err := r.E.LeaderAmong(ctx, othersThan(r.E, l))
			if err != nil {
				t.Logf("leader %d's %s links cut: %v", l.ID, what, err)
			} else {
				t.Logf("leader %d's %s links cut; member %d leads the others after %v", l.ID, what, nl.ID, time.Since(start).Round(time.Millisecond))
			}
			time.Sleep(hold / 2)
			r.E.Note("heal")
			r.E.Net.Heal()
			r.MarkHealed()
		}
		return nil
	})
}

// TestFollowerPartition: a follower cut off from both peers, both ways
// (its clients still reach it), then healed.
func TestFollowerPartition(t *testing.T) {
	forBoth(t, func(ctx context.Context, t *testing.T, r *Run, hold time.Duration) error {
		l, err := r.E.Leader(ctx)
		if err != nil {
			return err
		}
		f := r.E.Members[l.ID%len(r.E.Members)]
		r.E.Note("isolate follower %d", f.ID)
		r.E.Net.Isolate(f.ID)
		t.Logf("isolated follower %d (leader %d) for %v", f.ID, l.ID, hold)
		time.Sleep(hold)
		r.E.Note("heal")
		r.E.Net.Heal()
		r.MarkHealed()
		return nil
	})
}

// everyLink sets f on every directed peer link.
func everyLink(e *Ensemble, f Fault) {
	for _, a := range e.Members {
		for _, b := range e.Members {
			if a != b {
				e.Net.Set(a.ID, b.ID, f)
			}
		}
	}
}

// TestPeerDelay: 20 ms plus up to 80 ms of jitter on every peer link
// under load, then healed.
func TestPeerDelay(t *testing.T) {
	forBoth(t, func(ctx context.Context, t *testing.T, r *Run, hold time.Duration) error {
		r.E.Note("delay every peer link 20ms + jitter 80ms")
		everyLink(r.E, Fault{Delay: 20 * time.Millisecond, Jitter: 80 * time.Millisecond})
		time.Sleep(hold)
		r.E.Note("heal")
		r.E.Net.Heal()
		r.MarkHealed()
		return nil
	})
}

// TestPacketLoss: what loss does to TCP on every peer link (doc.go): 5%
// of chunks held back a retransmission timeout, one chunk in 500 resets
// its connection; then healed.
func TestPacketLoss(t *testing.T) {
	forBoth(t, func(ctx context.Context, t *testing.T, r *Run, hold time.Duration) error {
		r.E.Note("loss on every peer link: 5%% of chunks held %v, 0.2%% reset", MinRetransmit)
		everyLink(r.E, Fault{Loss: 0.05, Retransmit: MinRetransmit, Reset: 0.002})
		time.Sleep(hold)
		r.E.Note("heal")
		r.E.Net.Heal()
		r.MarkHealed()
		return nil
	})
}

// snapshotConfig makes the members compact their logs often and keep
// little behind each snapshot, so that a follower cut off for a few
// seconds must be sent a snapshot. Paddock: a snapshot every 50
// transactions, 20 Raft entries kept behind it (commitLogCount). ZooKeeper:
// a snapshot every 50 transactions, commitLogCount committed proposals
// kept in memory for a DIFF (it raises 20 to its floor of 500, with a
// warning) and no DIFF from the transaction log on disk
// (snapshotSizeFactor negative), so a learner further behind gets a SNAP.
var snapshotConfig = []string{"snapCount=50", "commitLogCount=20", "snapshotSizeFactor=-1"}

// snapshotLag is how many acknowledged writes the others make while the
// follower is cut off: more than ZooKeeper's floor of commitLogCount (500).
const snapshotLag = 600

// ackedWritesSince counts the writes of every workload acknowledged after
// the history time since.
func ackedWritesSince(r *Run, since time.Duration) int {
	n := 0
	for _, op := range r.Hist.Ops() {
		if op.Kind == CAS && op.Outcome == OK && op.Return > since {
			n++
		}
	}
	for _, op := range r.Seq.Ops() {
		if op.Outcome == OK && op.Return > since {
			n++
		}
	}
	m := r.more
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.sets {
		if o.Outcome == OK && o.Return > since {
			n++
		}
	}
	for _, o := range m.multis {
		if o.Outcome == OK && o.Return > since {
			n++
		}
	}
	for _, o := range m.produced {
		if o.Outcome == OK && o.Return > since {
			n++
		}
	}
	for _, o := range m.consumed {
		if o.Outcome == OK && o.Return > since {
			n++
		}
	}
	return n
}

// snapshotEvidence is the line a member logs when it loads a snapshot
// sent by the leader.
func snapshotEvidence(k Kind) string {
	if k == ZooKeeper {
		return "Getting a snapshot from leader"
	}
	return "loaded a snapshot"
}

// TestFollowerSnapshotCatchUp: a follower cut off while the others write
// and compact past its log; healed, it must catch up from a snapshot the
// leader streams (its log says so) and hold the same tree as the others
// (Verify).
func TestFollowerSnapshotCatchUp(t *testing.T) {
	for _, kind := range []Kind{Paddock, ZooKeeper} {
		t.Run(kind.String(), func(t *testing.T) {
			t.Parallel()
			var caught atomic.Bool
			runFaultWith(t, kind, 3, snapshotConfig, func(ctx context.Context, t *testing.T, r *Run, hold time.Duration) error {
				l, err := r.E.Leader(ctx)
				if err != nil {
					return err
				}
				f := r.E.Members[l.ID%len(r.E.Members)]
				before, err := os.ReadFile(f.logPath())
				if err != nil {
					return err
				}
				r.E.Note("isolate follower %d until it needs a snapshot", f.ID)
				cut := r.Hist.Now()
				r.E.Net.Isolate(f.ID)
				// Cut off until the others have acknowledged more writes
				// than either keeps for a follower's catch-up from the log
				// (ZooKeeper raises commitLogCount to 500).
				deadline := time.Now().Add(60 * time.Second)
				for n := 0; n < snapshotLag; n = ackedWritesSince(r, cut) {
					if time.Now().After(deadline) {
						return fmt.Errorf("only %d writes acknowledged in 60 s with follower %d cut off", n, f.ID)
					}
					time.Sleep(100 * time.Millisecond)
				}
				t.Logf("follower %d cut off for %v, %d writes acknowledged meanwhile", f.ID, (r.Hist.Now() - cut).Round(time.Millisecond), ackedWritesSince(r, cut))
				// What the leader sent meanwhile must not arrive when
				// the links heal (the proxies hold it, as TCP would
				// retransmit it): the partition lasted until TCP gave
				// up.
				r.E.Note("reset follower %d's connections, heal", f.ID)
				r.E.Net.Reset(f.ID)
				r.E.Net.Heal()
				r.MarkHealed()
				// Its log must say it loaded a snapshot after the heal.
				deadline = time.Now().Add(30 * time.Second)
				for {
					after, err := os.ReadFile(f.logPath())
					if err != nil {
						return err
					}
					if n := strings.Count(string(after[len(before):]), snapshotEvidence(kind)); n > 0 {
						t.Logf("follower %d caught up from a snapshot (%d %q lines in its log since the cut)", f.ID, n, snapshotEvidence(kind))
						caught.Store(true)
						return nil
					}
					if time.Now().After(deadline) {
						return fmt.Errorf("follower %d logged no %q within 30 s of the heal", f.ID, snapshotEvidence(kind))
					}
					time.Sleep(100 * time.Millisecond)
				}
			})
			if !caught.Load() && !t.Failed() {
				t.Fatal("the follower did not catch up from a snapshot")
			}
		})
	}
}
