package actors

import (
	"context"
	"errors"
	"time"

	"github.com/lni/dragonboat/v4"
)

// Snapshot policy. ZooKeeper writes a snapshot every snapCount
// transactions (zoo.cfg, default 100000) so that a restart replays at most
// that many from the log. Dragonboat's own trigger counts Raft entries,
// and one entry carries up to maxBatchTxns transactions (group commit), so
// Paddock counts transactions instead: onApply counts them and, every
// SnapCount, signals snapshotLoop, which asks dragonboat for a snapshot
// (and the log compaction that follows it). The restart time with a large
// tree is then about the time to load one snapshot plus replay at most
// SnapCount transactions.
//
// A snapshot does not stop writes: the replica freezes the tree (shared
// copy-on-write, statemachine.Freeze) and streams the frozen tree while
// entries keep being applied (statemachine.Frozen).
// It still costs a core and the disk for its duration (1-2 s for a million
// znodes under write load on the machines of bench/README.md), so after
// each one snapshotLoop waits as long as it took before the next: at most
// half the time goes to snapshots however fast writes come, and a restart
// replays at most SnapCount transactions plus what arrives during one
// snapshot's duration.

// defaultSnapCount is zoo.cfg's snapCount default.
const defaultSnapCount = 100000

// countApplied counts applied transactions (apply goroutine only) and
// signals snapshotLoop every SnapCount of them.
func (s *Server) countApplied(n int) {
	s.meta.apply.sinceSnap += n
	if s.meta.apply.sinceSnap < s.cfg.SnapCount {
		return
	}
	s.meta.apply.sinceSnap = 0
	select {
	case s.meta.snapReq <- struct{}{}:
	default: // one is pending already
	}
}

// snapshotLoop requests the snapshots countApplied asks for, until the
// server stops. One goroutine, owned by the Server (s.wg).
func (s *Server) snapshotLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.meta.snapReq:
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), snapshotTimeout)
		go func() { // Close must not wait out a slow snapshot
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		idx, err := s.nh.SyncRequestSnapshot(ctx, MetaShard, dragonboat.SnapshotOption{
			OverrideCompactionOverhead: true,
			CompactionOverhead:         s.cfg.LogRetention,
		})
		cancel()
		switch {
		case err == nil:
			took := time.Since(start)
			s.log.Info("snapshot taken", "index", idx, "took", took.Round(time.Millisecond))
			select { // at most half the time snapshotting (see above)
			case <-time.After(took):
			case <-s.stop:
				return
			}
		case errors.Is(err, dragonboat.ErrRejected):
			// One is being taken already (dragonboat's own trigger).
		case errors.Is(err, context.Canceled):
			return
		default:
			s.log.Warn("snapshot request failed", "err", err)
		}
	}
}

// snapshotTimeout bounds one snapshot request; compactionOverhead is the
// Raft entries kept in the log behind a snapshot.
const (
	snapshotTimeout    = 5 * time.Minute
	compactionOverhead = 5000
)
