package statemachine

import (
	"github.com/paddockdb/paddock/wire"
)

// Txn is one ZooKeeper transaction, stamped before replication by the
// proposer. ON-DISK FORMAT: Raft entries carry Txns as codec.go encodes
// them (BatchFormatVersion); adding, removing or reordering a field
// changes that format. Apply reads nothing but the Txn and the tree: every clock
// reading and every id the transaction needs travels inside it.
type Txn struct {
	// Type is one of OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL,
	// OpDelete, OpSetData, OpSetACL, OpCheck (only inside OpMulti), OpMulti,
	// OpCreateSession, OpCloseSession, OpDeleteContainer.
	Type      wire.OpCode
	SessionID int64
	Cxid      int32
	// Time is the proposer's wall clock, ms since the epoch: ctime and
	// mtime, TTL and container decisions.
	Time int64
	// MinZxid is the session's lastZxidSeen: the assigned zxid exceeds it.
	MinZxid int64
	// Auth is the session's authenticated ids at proposal time.
	Auth []wire.ID
	Path string
	// Data keeps nil (ZooKeeper's null) apart from empty.
	Data    []byte
	ACL     []wire.ACL
	Mode    wire.CreateMode
	TTL     int64
	Version int32
	// Ops are the sub-transactions of an OpMulti, applied all-or-nothing.
	Ops []Txn
	// Timeout is an OpCreateSession's negotiated timeout in ms.
	Timeout int32
	// Passwd is an OpCreateSession's password.
	Passwd []byte

	// Origin is the member whose proposer made the entry that carries the
	// transaction (its Origin.Member), set by DecodeEntry and not encoded
	// per transaction: the entry header holds it. 0 for entries without
	// an origin. A write of a session owned by another member fails with
	// SessionMoved; createSession and reattach make the origin the owner.
	Origin uint64
}

// Trigger is a watch trigger produced by Apply; the actors fan it out.
type Trigger struct {
	Path string
	Type wire.EventType
}

// Result is the outcome of one Apply.
type Result struct {
	Zxid int64
	// Err is Ok or the ZooKeeper error code of the transaction.
	Err wire.Code
	// Path is the created path of a create (with its sequence suffix).
	Path string
	// Stat is the node's Stat after create2/createContainer/createTTL,
	// setData and setACL.
	Stat wire.Stat
	// Multi holds an OpMulti's per-op results as ZooKeeper returns them.
	Multi []wire.MultiResult
	// Triggers are the watch triggers, in the order ZooKeeper fires them.
	Triggers []Trigger
}

// SessionInfo is one row of the sessions table.
type SessionInfo struct {
	ID      int64
	Timeout int32
	Passwd  []byte
	// Owner is the member the session's client is connected to (0: any,
	// for sessions made before owners were recorded).
	Owner uint64
}
