package robustness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// The storage faults of the fault suite: crash points, power loss, an
// empty data directory, a corrupted byte, disk full and fsync errors. Each
// runs the workload with Run.Verify (runFaultOpts); Paddock runs as the
// faults build (tmp/paddock-faults, actors/faults), ZooKeeper as it is
// where the fault applies to it too.

// storageConfig makes members snapshot every second or so under the
// test workload, so that snapshot points and files exist.
var storageConfig = []string{"snapCount=100"}

// crashAt arms point on m (on top of the control base), waits for the
// process to kill itself there and sets the control back to base.
func crashAt(ctx context.Context, m *Member, base, point string) error {
	if err := m.SetFaults(base + "crash=" + point + "\n"); err != nil {
		return err
	}
	how, err := m.WaitExit(ctx, 20*time.Second)
	if err != nil {
		return fmt.Errorf("crash point %s on member %d: %w\n%s", point, m.ID, err, m.LogTail(20))
	}
	if err := m.SetFaults(base); err != nil {
		return err
	}
	if !strings.Contains(m.LogTail(40), "crash point "+point+" reached") {
		return fmt.Errorf("member %d exited (%s) without reaching crash point %s:\n%s", m.ID, how, point, m.LogTail(20))
	}
	return nil
}

// controlRead is what a member of the faults build logs when it has read
// a new control file (actors/faults).
const controlRead = "paddock/faults: control file read: "

// crashAny arms point on every running member, waits until one of them
// has killed itself there (the reply point needs a member with clients
// writing, and clients move away from a member that dies), sets every
// control back to base and returns the members that ended.
func crashAny(ctx context.Context, r *Run, base, point string) ([]*Member, error) {
	for _, m := range r.E.Members {
		if m.Running() {
			if err := m.SetFaults(base + "crash=" + point + "\n"); err != nil {
				return nil, err
			}
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	var ended []*Member
	for len(ended) == 0 {
		for _, m := range r.E.Members {
			if m.Exited() {
				ended = append(ended, m)
			}
		}
		if len(ended) > 0 {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no member reached crash point %s within 20s", point)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Disarm the others; one may reach the point before it has read the
	// new control file, so wait for each to say it read it, or to end.
	for _, m := range r.E.Members {
		if slices.Contains(ended, m) || !m.Running() {
			continue
		}
		reads := strings.Count(m.LogTail(1<<20), controlRead)
		if err := m.SetFaults(base); err != nil {
			return nil, err
		}
		for strings.Count(m.LogTail(1<<20), controlRead) == reads {
			if m.Exited() {
				ended = append(ended, m)
				break
			}
			if time.Now().After(deadline.Add(10 * time.Second)) {
				return nil, fmt.Errorf("member %d did not read its control file", m.ID)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	for _, m := range ended {
		if err := m.SetFaults(base); err != nil {
			return nil, err
		}
	}
	for _, m := range ended {
		if !strings.Contains(m.LogTail(40), "crash point "+point+" reached") {
			return nil, fmt.Errorf("member %d ended without reaching crash point %s:\n%s", m.ID, point, m.LogTail(20))
		}
	}
	return ended, nil
}

// waitSnapshot waits until m has a snapshot file.
func waitSnapshot(ctx context.Context, m *Member) (string, error) {
	for {
		if p, err := m.NewestSnapshot(); err == nil {
			return p, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("member %d has no snapshot: %w", m.ID, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestStorageCrashPoints: a member kills itself at each named crash point
// in turn (the leader and a follower alternately; for the reply point,
// whichever member's clients write first), under load, and is
// restarted on its data. The fault layer keeps unsynced writes in memory,
// so each crash is also a power loss of that member (log-save-before
// loses the entries written and not yet fsynced). The recover points are
// reached at the restart (the member loads its snapshot): that start
// fails, and the next one, disarmed, serves.
func TestStorageCrashPoints(t *testing.T) {
	t.Parallel()
	points := []string{"log-save-before", "log-save-after", "apply-before", "apply-after", "reply",
		"snapshot-save-before", "snapshot-save-after", "snapshot-recover-before", "snapshot-recover-after"}
	const base = "lose-unsynced=true\n"
	runFaultOpts(t, Options{Kind: Paddock, Size: 3, Faults: true, FaultControl: base, Config: storageConfig}, func(ctx context.Context, t *testing.T, r *Run, _ time.Duration) error {
		for i, p := range points {
			l, err := r.E.Leader(ctx)
			if err != nil {
				return err
			}
			m := l
			if i%2 == 1 {
				m = r.E.Members[l.ID%len(r.E.Members)]
			}
			r.E.Note("crash point %s on member %d", p, m.ID)
			if strings.HasPrefix(p, "snapshot-recover") {
				if _, err := waitSnapshot(ctx, m); err != nil {
					return err
				}
				m.Kill()
				if err := m.SetFaults(base + "crash=" + p + "\n"); err != nil {
					return err
				}
				// The member may answer srvr before Dragonboat loads
				// its snapshot: the start fails, or it ends soon after.
				if err := m.Start(ctx); err == nil {
					if _, err := m.WaitExit(ctx, 20*time.Second); err != nil {
						return fmt.Errorf("member %d started and did not reach %s: %w", m.ID, p, err)
					}
				}
				if !strings.Contains(m.LogTail(60), "crash point "+p+" reached") {
					return fmt.Errorf("member %d did not reach %s:\n%s", m.ID, p, m.LogTail(30))
				}
				if err := m.SetFaults(base); err != nil {
					return err
				}
			} else if p == "reply" {
				ended, err := crashAny(ctx, r, base, p)
				if err != nil {
					return err
				}
				m = ended[0]
				for _, e := range ended[1:] {
					if err := e.Start(ctx); err != nil {
						return err
					}
				}
			} else if err := crashAt(ctx, m, base, p); err != nil {
				return err
			}
			if err := m.Start(ctx); err != nil {
				return err
			}
			if _, err := r.E.WaitServing(ctx); err != nil {
				return err
			}
			t.Logf("member %d crashed at %s and serves again", m.ID, p)
		}
		r.MarkHealed()
		return nil
	})
}

// TestStoragePowerLoss: every member loses power at once (Paddock: the
// fault layer keeps unsynced writes in memory and undoes directory
// operations never fsynced; ZooKeeper: SIGKILL, its page cache survives,
// the nearest this machine has), then all start again; acknowledged
// writes must all be there.
func TestStoragePowerLoss(t *testing.T) {
	for _, kind := range []Kind{Paddock, ZooKeeper} {
		t.Run(kind.String(), func(t *testing.T) {
			t.Parallel()
			o := Options{Kind: kind, Size: 3, Config: storageConfig}
			if kind == Paddock {
				o.Faults, o.FaultControl = true, "lose-unsynced=true\n"
			}
			runFaultOpts(t, o, func(ctx context.Context, t *testing.T, r *Run, hold time.Duration) error {
				l, err := r.E.Leader(ctx)
				if err != nil {
					return err
				}
				r.E.Note("power loss of leader %d", l.ID)
				l.Kill()
				if _, err := r.E.Leader(ctx); err != nil {
					return err
				}
				if err := l.Start(ctx); err != nil {
					return err
				}
				if _, err := r.E.WaitServing(ctx); err != nil {
					return err
				}
				time.Sleep(hold / 2)
				r.E.Note("power loss of every member")
				r.E.KillAll()
				if err := r.E.RestartAll(ctx); err != nil {
					return err
				}
				r.MarkHealed()
				return nil
			})
		})
	}
}

// TestStorageEmptyDataDir: a follower's data directory is replaced by an
// empty one holding only its myid (a new machine in its place), and it
// starts again. ZooKeeper's member rejoins and syncs from the leader.
// Paddock's must too: the leader replaces its replica with a new
// incarnation of its server id (actors/join.go), which is sent the data;
// Verify then checks it with the others. It may not stop.
func TestStorageEmptyDataDir(t *testing.T) {
	forBothWith(t, Options{Config: storageConfig}, func(ctx context.Context, t *testing.T, r *Run, _ time.Duration) error {
		if len(r.Excluded) > 0 {
			return nil // a longer run's later cycles: a second member lost would cost the quorum
		}
		l, err := r.E.Leader(ctx)
		if err != nil {
			return err
		}
		f := r.E.Members[l.ID%len(r.E.Members)]
		r.E.Note("replace member %d's data directory with an empty one", f.ID)
		f.Kill()
		if err := f.WipeData(); err != nil {
			return err
		}
		stopped, err := f.StartOrStop(ctx, 3*time.Second)
		if err != nil {
			return err
		}
		r.MarkHealed()
		if r.E.Opts.Kind == Paddock && stopped == "" && !strings.Contains(f.LogTail(1<<20), "rejoins as a new replica") {
			return fmt.Errorf("member %d serves without having rejoined as a new replica:\n%s", f.ID, f.LogTail(20))
		}
		return refusedOrServes(t, r, f, stopped, nil)
	})
}

// refusedOrServes accepts a member that serves (Verify then checks it) or
// one that stopped for the reason its kind is expected to give; the
// stopped one is excluded from Verify.
func refusedOrServes(t *testing.T, r *Run, m *Member, stopped string, reasons map[Kind][]string) error {
	kind := r.E.Opts.Kind
	if stopped == "" {
		t.Logf("%s member %d serves again (checked by Verify)", kind, m.ID)
		return nil
	}
	if !slices.ContainsFunc(reasons[kind], func(want string) bool { return strings.Contains(stopped, want) }) {
		return fmt.Errorf("%s member %d stopped: %q; want it to serve, or to stop with one of %q", kind, m.ID, stopped, reasons[kind])
	}
	t.Logf("%s member %d stopped, as expected of it: %s", kind, m.ID, stopped)
	if r.Excluded == nil {
		r.Excluded = map[int]string{}
	}
	r.Excluded[m.ID] = "stopped: " + stopped
	return nil
}

// Why each kind stops a member whose newest log or snapshot has a flipped
// byte, when it does (README "Storage faults"):
//   - Paddock, log: pebble (Dragonboat's LogDB) would end the replay of its
//     last WAL at the first chunk whose checksum fails, as it does for a
//     torn write, and drop the rest, though it was fsynced. Paddock scans
//     that WAL first (actors/walcheck) and refuses to start when valid
//     chunks follow the bad one ("refusing to start: write-ahead log … is
//     corrupt"). A flip in the last record looks like a torn write and is
//     dropped alone: if the member had acknowledged it, the leader, which
//     remembers that, sends a commit index past the shorter log, which
//     Dragonboat refuses ("invalid commitTo index"); if it was a snapshot
//     record whose file is gone, loading fails ("recover failed");
//     otherwise the member catches up from the leader.
//   - Paddock, snapshot: Dragonboat's snapshot blocks carry checksums;
//     loading the snapshot panics ("corrupted block").
//   - ZooKeeper, log: "CRC check failed" while loading the database; a
//     corrupted snapshot is skipped for an older one and the log replayed.
var corruptionStops = map[string]map[Kind][]string{
	"log":      {Paddock: {"refusing to start: write-ahead log", "invalid commitTo index", "recover failed"}, ZooKeeper: {"CRC check failed"}},
	"snapshot": {Paddock: {"corrupted block"}, ZooKeeper: {"CRC check failed"}},
}

// TestStorageCorruption: one byte of a follower's newest log file, or of
// its newest snapshot, is flipped while it is down; it starts again. It
// must serve the same data as the others or stop; it never serves data
// that differs. One that stops has its data directory moved aside and is
// started again: it must rejoin and serve the same data.
func TestStorageCorruption(t *testing.T) {
	for _, what := range []string{"log", "snapshot"} {
		t.Run(what, func(t *testing.T) {
			forBothWith(t, Options{Config: storageConfig}, func(ctx context.Context, t *testing.T, r *Run, _ time.Duration) error {
				if len(r.Excluded) > 0 {
					return nil // a longer run's later cycles: a second member lost would cost the quorum
				}
				l, err := r.E.Leader(ctx)
				if err != nil {
					return err
				}
				f := r.E.Members[l.ID%len(r.E.Members)]
				if what == "snapshot" {
					if _, err := waitSnapshot(ctx, f); err != nil {
						return err
					}
				}
				f.Kill()
				path, err := f.NewestLog()
				if what == "snapshot" {
					path, err = f.NewestSnapshot()
				}
				if err != nil {
					return err
				}
				fi, err := os.Stat(path)
				if err != nil {
					return err
				}
				off, err := CorruptByte(path, rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)))
				if err != nil {
					return err
				}
				r.E.Note("member %d: flipped the byte at %d of %s (%d bytes)", f.ID, off, path, fi.Size())
				t.Logf("member %d: flipped the byte at %d of %s (%d bytes)", f.ID, off, path, fi.Size())
				stopped, err := f.StartOrStop(ctx, 3*time.Second)
				if err != nil {
					return err
				}
				r.MarkHealed()
				if err := refusedOrServes(t, r, f, stopped, corruptionStops[what]); err != nil || stopped == "" {
					return err
				}
				// The operator's remedy for a refused start: the data
				// directory moved aside; on an empty one the member
				// rejoins, is sent the data, and Verify checks it.
				r.E.Note("member %d: data directory moved aside", f.ID)
				if err := f.MoveDataAside(); err != nil {
					return err
				}
				if stopped, err = f.StartOrStop(ctx, 3*time.Second); err != nil {
					return err
				} else if stopped != "" {
					return fmt.Errorf("%s member %d stopped on an empty data directory: %s", r.E.Opts.Kind, f.ID, stopped)
				}
				delete(r.Excluded, f.ID)
				return nil
			})
		})
	}
}

// Disk faults end a Paddock member with Dragonboat's panic naming the
// file and the error.
var diskFaultStops = map[string]string{"enospc": "no space left on device", "eio": "input/output error"}

// TestStorageDiskErrors: disk full (ENOSPC on writes and creates) and
// failing fsyncs (EIO), under a member's WAL, its snapshots or everything,
// one after the other on the leader or a follower: the member must stop
// at once with an error naming the file, and catch up once the fault is
// lifted and it is started again. (Paddock only: ZooKeeper has no file
// layer to inject through here.)
func TestStorageDiskErrors(t *testing.T) {
	t.Parallel()
	runFaultOpts(t, Options{Kind: Paddock, Size: 3, Faults: true, Config: storageConfig}, func(ctx context.Context, t *testing.T, r *Run, _ time.Duration) error {
		for i, fault := range []string{"enospc=wal", "eio=wal", "enospc=snapshot", "eio=snapshot", "enospc=all"} {
			l, err := r.E.Leader(ctx)
			if err != nil {
				return err
			}
			m := l
			if i%2 == 1 {
				m = r.E.Members[l.ID%len(r.E.Members)]
			}
			r.E.Note("%s on member %d", fault, m.ID)
			if err := m.SetFaults(fault + "\n"); err != nil {
				return err
			}
			// A snapshot fault waits for the next snapshot (every
			// snapCount=100 transactions).
			if _, err := m.WaitExit(ctx, 15*time.Second); err != nil {
				return fmt.Errorf("%s on member %d: %w (want a fail-stop)", fault, m.ID, err)
			}
			why := m.FailureLine()
			class, _, _ := strings.Cut(fault, "=")
			if !strings.Contains(why, diskFaultStops[class]) {
				return fmt.Errorf("%s on member %d: it stopped with %q, want an error with %q", fault, m.ID, why, diskFaultStops[class])
			}
			t.Logf("%s on member %d: stopped: %s", fault, m.ID, why)
			if err := m.SetFaults(""); err != nil {
				return err
			}
			if err := m.Start(ctx); err != nil {
				return err
			}
			if _, err := r.E.WaitServing(ctx); err != nil {
				return err
			}
		}
		r.MarkHealed()
		return nil
	})
}

// forBothWith is forBoth on ensembles with o's storage options.
func forBothWith(t *testing.T, o Options, f fault) {
	for _, kind := range []Kind{Paddock, ZooKeeper} {
		t.Run(kind.String(), func(t *testing.T) {
			t.Parallel()
			o := o
			o.Kind, o.Size = kind, 3
			runFaultOpts(t, o, f)
		})
	}
}
