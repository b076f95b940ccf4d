package statemachine

import (
	"fmt"
	"io"
	"sync"

	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Replica adapts a Tree to dragonboat v4's IConcurrentStateMachine (the
// in-memory kind whose snapshots are saved while entries keep being
// applied). Its contract, per method:
//
//   - Update is called by dragonboat's apply goroutine with a batch of
//     entries in log order; each is applied under r.mu held for writing.
//     An entry's Cmd is an EncodeEntry entry. Every transaction is checked
//     (CheckTxn) before any is applied; an entry that does not decode or
//     holds an unknown transaction returns an ErrCorrupt error, which
//     makes dragonboat panic: a replica that cannot apply the log must
//     stop, not diverge. The entry's Origin is admitted (Tree.Admit)
//     before its transactions are applied; a Duplicate or Refused entry
//     changes nothing. onApply runs synchronously after each entry, under
//     r.mu, whatever the admission; it must not block and must not call
//     Read. An entry's Result.Value is the last zxid after it.
//   - Lookup returns LastZxid (an int64); any query is accepted.
//   - PrepareSnapshot freezes the tree (Tree.Freeze) under r.mu held for
//     writing: references to the node table's shards, copied on write
//     later. SaveSnapshot then streams the frozen tree while Update goes
//     on (Frozen.Save), so writes do not wait for a snapshot.
//   - RecoverFromSnapshot replaces the tree (Tree.Load) under r.mu held for
//     writing; errors wrap ErrCorrupt. The old contents are dropped before
//     the snapshot is read, so a member catching up never holds two trees.
//     Whatever the caller derived from applied entries is stale then:
//     onRecover runs after the load, under r.mu, with the new last zxid.
//   - Read runs fn with r.mu held for reading: local reads never go
//     through dragonboat and never see half an entry.
type Replica struct {
	ShardID   uint64
	ReplicaID uint64

	mu        sync.RWMutex
	tree      *Tree
	onApply   func(a *Applied)
	onRecover func(lastZxid int64)
}

// Applied is what one entry did, as onApply sees it. Results is nil unless
// the entry was Admitted; Txns and Results are not reused afterwards.
type Applied struct {
	Index     uint64
	Origin    Origin
	Admission Admission
	Txns      []Txn
	Results   []Result
}

// NewReplica returns a Replica holding NewTree(). onApply may be nil.
func NewReplica(shardID, replicaID uint64, onApply func(a *Applied)) *Replica {
	return &Replica{ShardID: shardID, ReplicaID: replicaID, tree: NewTree(), onApply: onApply}
}

// OnRecover sets the hook RecoverFromSnapshot runs after loading a
// snapshot (before the replica starts).
func (r *Replica) OnRecover(fn func(lastZxid int64)) { r.onRecover = fn }

// Configure runs fn on the tree with the write lock held: set the Tree
// options (EnforceQuota, SuperDigest, MaxNeverUsedIntervalMs) before the
// replica is started. They must be equal on every replica of the shard.
func (r *Replica) Configure(fn func(t *Tree)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(r.tree)
}

// Update implements sm.IConcurrentStateMachine.
func (r *Replica) Update(entries []sm.Entry) ([]sm.Entry, error) {
	for i := range entries {
		res, err := r.apply(&entries[i])
		if err != nil {
			return nil, err
		}
		entries[i].Result = res
	}
	return entries, nil
}

// apply applies one entry.
func (r *Replica) apply(e *sm.Entry) (sm.Result, error) {
	o, txns, err := DecodeEntry(e.Cmd)
	if err != nil {
		return sm.Result{}, fmt.Errorf("entry %d: %w", e.Index, err)
	}
	for i := range txns {
		if err := CheckTxn(&txns[i]); err != nil {
			return sm.Result{}, fmt.Errorf("entry %d: %w", e.Index, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	a := Applied{Index: e.Index, Origin: o, Admission: r.tree.Admit(o), Txns: txns}
	if a.Admission == Admitted {
		a.Results = make([]Result, len(txns))
		for i := range txns {
			a.Results[i] = r.tree.Apply(&txns[i])
		}
	}
	if r.onApply != nil {
		r.onApply(&a)
	}
	return sm.Result{Value: uint64(r.tree.LastZxid())}, nil
}

// Lookup implements sm.IConcurrentStateMachine: it returns the last
// applied zxid.
func (r *Replica) Lookup(any) (any, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.tree.LastZxid(), nil
}

// PrepareSnapshot implements sm.IConcurrentStateMachine.
func (r *Replica) PrepareSnapshot() (any, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tree.Freeze(), nil
}

// SaveSnapshot implements sm.IConcurrentStateMachine: it streams the tree
// frozen by PrepareSnapshot, concurrently with Update. Once done is closed
// (the replica is stopping) the next write returns sm.ErrSnapshotStopped,
// so a shutdown does not wait for a large snapshot.
func (r *Replica) SaveSnapshot(frozen any, w io.Writer, _ sm.ISnapshotFileCollection, done <-chan struct{}) error {
	f, ok := frozen.(*Frozen)
	if !ok {
		return fmt.Errorf("paddock/statemachine: SaveSnapshot given %T, want the *Frozen of PrepareSnapshot", frozen)
	}
	return f.Save(stopWriter{w, done})
}

// stopWriter fails its writes with sm.ErrSnapshotStopped once done is
// closed.
type stopWriter struct {
	w    io.Writer
	done <-chan struct{}
}

func (s stopWriter) Write(p []byte) (int, error) {
	select {
	case <-s.done:
		return 0, sm.ErrSnapshotStopped
	default:
		return s.w.Write(p)
	}
}

// RecoverFromSnapshot implements sm.IConcurrentStateMachine.
func (r *Replica) RecoverFromSnapshot(rd io.Reader, _ []sm.SnapshotFile, _ <-chan struct{}) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tree.drop()
	if err := r.tree.Load(rd); err != nil {
		return err
	}
	if r.onRecover != nil {
		r.onRecover(r.tree.LastZxid())
	}
	return nil
}

// Close implements sm.IConcurrentStateMachine. It changes nothing.
func (r *Replica) Close() error { return nil }

// Read runs fn on the tree with the read lock held. fn must not keep the
// tree, or slices it returned, past its return if it may race with Update:
// data and ACL slices are replaced, never modified, so holding them is
// safe, but the maps behind Tree are not.
func (r *Replica) Read(fn func(t *Tree)) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	fn(r.tree)
}

var _ sm.IConcurrentStateMachine = (*Replica)(nil)
