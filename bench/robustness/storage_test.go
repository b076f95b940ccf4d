package robustness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
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

// crashAt arms point on m, waits for the process to kill itself there and
// clears the control file.
func crashAt(ctx context.Context, t *testing.T, m *Member, point string) error {
	if err := m.SetFaults("crash=" + point + "\n"); err != nil {
		return err
	}
	how, err := m.WaitExit(ctx, 20*time.Second)
	if err != nil {
		return fmt.Errorf("crash point %s on member %d: %w\n%s", point, m.ID, err, m.LogTail(20))
	}
	if err := m.SetFaults(""); err != nil {
		return err
	}
	if !strings.Contains(m.LogTail(40), "crash point "+point+" reached") {
		return fmt.Errorf("member %d exited (%s) without reaching crash point %s:\n%s", m.ID, how, point, m.LogTail(20))
	}
	return nil
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
// in turn (the leader and a follower alternately), under load, and is
// restarted on its data. The recover points are reached at the restart
// (the member loads its snapshot): that start fails, and the next one,
// disarmed, serves.
func TestStorageCrashPoints(t *testing.T) {
	t.Parallel()
	points := []string{"log-save-before", "log-save-after", "apply-before", "apply-after", "reply",
		"snapshot-save-before", "snapshot-save-after", "snapshot-recover-before", "snapshot-recover-after"}
	runFaultOpts(t, Options{Kind: Paddock, Size: 3, Faults: true, Config: storageConfig}, func(ctx context.Context, t *testing.T, r *Run, _ time.Duration) error {
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
				if err := m.SetFaults("crash=" + p + "\n"); err != nil {
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
				if err := m.SetFaults(""); err != nil {
					return err
				}
			} else if err := crashAt(ctx, t, m, p); err != nil {
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
// starts again.
func TestStorageEmptyDataDir(t *testing.T) {
	forBothWith(t, Options{Config: storageConfig}, func(ctx context.Context, t *testing.T, r *Run, _ time.Duration) error {
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
		if err := f.Start(ctx); err != nil {
			return err
		}
		r.MarkHealed()
		return nil
	})
}

// TestStorageCorruption: one byte of a follower's newest log file, or of
// its newest snapshot, is flipped while it is down; it starts again.
func TestStorageCorruption(t *testing.T) {
	for _, what := range []string{"log", "snapshot"} {
		t.Run(what, func(t *testing.T) {
			forBothWith(t, Options{Config: storageConfig}, func(ctx context.Context, t *testing.T, r *Run, _ time.Duration) error {
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
				fi, _ := os.Stat(path)
				off, err := CorruptByte(path, rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)))
				if err != nil {
					return err
				}
				r.E.Note("member %d: flipped the byte at %d of %s (%d bytes)", f.ID, off, path, fi.Size())
				t.Logf("member %d: flipped the byte at %d of %s (%d bytes)", f.ID, off, path, fi.Size())
				if err := f.Start(ctx); err != nil {
					t.Logf("member %d refused to start: %v", f.ID, err)
					return err
				}
				t.Logf("member %d started on the corrupted %s", f.ID, what)
				r.MarkHealed()
				return nil
			})
		})
	}
}

// TestStorageDiskErrors: disk full (ENOSPC on writes) and failing fsyncs
// (EIO) under a member's Raft log, one after the other, the leader's then
// a follower's: the member must stop, and start again once the fault is
// lifted.
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
			how, err := m.WaitExit(ctx, 15*time.Second)
			if err != nil {
				t.Logf("%s on member %d: %v", fault, m.ID, err)
				m.Kill()
			} else {
				t.Logf("%s on member %d: exited (%s):\n%s", fault, m.ID, how, m.LogTail(15))
			}
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
