package actors

import (
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/paddockdb/paddock/statemachine"
	"github.com/paddockdb/paddock/wire"
)

// shard is the state of one Raft group on this member: its replica and
// what Paddock derives from it, its actors (proposer, watch router), its
// watermark and its leader. Every field says who writes it. A Server has
// one today, the meta shard (/, /zookeeper and the sessions table); the
// session tracker, the member channel and the client connections belong to
// the Server, not to a shard.
type shard struct {
	id      uint64
	replica *statemachine.Replica
	// gates maps a session id to its session actor's readGate: the
	// session actor stores and deletes its own, onApply reads them.
	gates sync.Map // int64 -> *readGate
	// apply is owned by dragonboat's apply goroutine of this shard.
	apply applyState
	// snapReq signals snapshotLoop (countApplied sends, never blocking).
	snapReq chan struct{}

	// The shard's actors: the proposer of this member's entries and the
	// watch router of its paths.
	proposer, router *actor.PID
	// watermark is the shard's delivery watermark: every watch event with
	// zxid <= watermark has been put into its session actor's mailbox.
	// Written by the router only.
	watermark atomic.Int64
	// lead is the shard's leader as Raft reports it (ensemble.go):
	// written by LeaderUpdated, read by anyone.
	lead leadership
	// recovered counts the snapshots the replica loaded (onRecover).
	recovered atomic.Int64
}

// applyState is what onApply keeps between entries. Only dragonboat's
// apply goroutine of the shard touches it, inside Update, under the
// replica's write lock: it needs no lock of its own.
type applyState struct {
	// tree is the replica's tree (Replica.Configure hands it out once;
	// snapshots load into the same Tree), read by releaseReads.
	tree *statemachine.Tree
	// scratch, enc and resp are releaseReads' reused buffers.
	scratch []*readGate
	enc     wire.Encoder
	resp    respScratch
	// sinceSnap counts the transactions applied since the last snapshot
	// request (snapshot.go).
	sinceSnap int
}
