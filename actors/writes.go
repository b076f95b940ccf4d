package actors

// A session's writes: the request turned into a transaction (toTxn), its
// size bound before replication, and its result turned into the reply
// (finishWrite). The proposer (proposer.go) orders and replicates them.

import (
	"math"

	"github.com/paddockdb/paddock/actors/faults"
	"github.com/paddockdb/paddock/statemachine"
	"github.com/paddockdb/paddock/wire"
	"go.opentelemetry.io/otel/attribute"
)

// writeDone completes the write m answers.
func (ss *session) writeDone(m *writeResult) {
	i := 0
	for i < len(ss.wq) && ss.wq[i].req.xid != m.cxid {
		i++ // only if results ever came out of order
	}
	if i == len(ss.wq) {
		return
	}
	sl := ss.wq[i]
	copy(ss.wq[i:], ss.wq[i+1:])
	ss.wq[len(ss.wq)-1] = nil
	ss.wq = ss.wq[:len(ss.wq)-1]
	ss.writes--
	if sl.propose != nil {
		sl.propose.SetAttributes(attribute.Int64("zk.zxid", m.res.Zxid), attribute.Int("zk.err", int(m.res.Err)))
		sl.propose.End()
		sl.propose = nil
	}
	faults.Hit(faults.Reply) // a crash point (faults build tag only)
	ss.finishWrite(sl, m.res)
}

// toTxn turns a write request into its txn, refusing what ZooKeeper
// refuses before replication.
func (ss *session) toTxn(op wire.OpCode, body wire.Record) (statemachine.Txn, wire.Code) {
	switch b := body.(type) {
	case *wire.CreateRequest:
		if (op == wire.OpCreateTTL || b.Flags.TTL()) && !ss.s.cfg.ExtendedTypes {
			return statemachine.Txn{}, wire.ErrUnimplemented
		}
		if op == wire.OpCreateTTL && !b.Flags.TTL() || op != wire.OpCreateTTL && b.Flags.TTL() {
			return statemachine.Txn{}, wire.ErrBadArguments
		}
		// The mode travels as sent: createContainer makes a container
		// whatever the mode (a sequential one still adds the suffix), as
		// ZooKeeper's CreateContainerTxn does.
		return statemachine.Txn{Type: op, Path: b.Path, Data: b.Data, ACL: b.ACL, Mode: b.Flags, TTL: b.TTL}, wire.Ok
	case *wire.PathVersionRequest:
		return statemachine.Txn{Type: op, Path: b.Path, Version: b.Version}, wire.Ok
	case *wire.SetDataRequest:
		return statemachine.Txn{Type: op, Path: b.Path, Data: b.Data, Version: b.Version}, wire.Ok
	case *wire.SetACLRequest:
		return statemachine.Txn{Type: op, Path: b.Path, ACL: b.ACL, Version: b.Version}, wire.Ok
	case *wire.MultiRequest:
		t := statemachine.Txn{Type: wire.OpMulti, Ops: make([]statemachine.Txn, 0, len(b.Ops))}
		for _, o := range b.Ops {
			typ := o.Type
			switch typ {
			case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL:
				typ = multiCreateOp(typ, o.Body)
			case wire.OpDelete, wire.OpSetData, wire.OpCheck:
			default:
				// A read in a multi: ZooKeeper fails the whole request.
				return statemachine.Txn{}, wire.ErrMarshallingError
			}
			sub, code := ss.toTxn(typ, o.Body)
			if code != wire.Ok {
				return statemachine.Txn{}, code
			}
			t.Ops = append(t.Ops, sub)
		}
		return t, wire.Ok
	case wire.Empty:
		if op == wire.OpCloseSession {
			return statemachine.Txn{Type: wire.OpCloseSession}, wire.Ok
		}
	}
	return statemachine.Txn{}, wire.ErrBadArguments
}

// multiCreateOp is the op type ZooKeeper's MultiOperationRecord gives a
// create inside a multi: Op.create derives it from the mode alone (TTL
// modes createTTL, the container mode createContainer, else create), so
// create2 answers like create and createContainer with a persistent mode
// makes a persistent node.
func multiCreateOp(op wire.OpCode, body wire.Record) wire.OpCode {
	b, ok := body.(*wire.CreateRequest)
	if !ok {
		return op
	}
	switch {
	case b.Flags.TTL():
		return wire.OpCreateTTL
	case b.Flags == wire.ModeContainer:
		return wire.OpCreateContainer
	}
	return wire.OpCreate
}

func (ss *session) finishWrite(sl *slot, res statemachine.Result) {
	z := res.Zxid
	if z == 0 {
		z = ss.s.meta.watermark.Load()
	}
	op := sl.req.op
	if op == wire.OpMulti && res.Multi != nil {
		ss.reply(sl, z, wire.Ok, &wire.MultiResponse{Results: res.Multi})
		return
	}
	if res.Err != wire.Ok {
		ss.reply(sl, z, res.Err, nil)
		return
	}
	switch op {
	case wire.OpCreate:
		ss.reply(sl, z, wire.Ok, &wire.PathRequest{Path: res.Path})
	case wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL:
		ss.reply(sl, z, wire.Ok, &wire.Create2Response{Path: res.Path, Stat: res.Stat})
	case wire.OpSetData, wire.OpSetACL:
		ss.reply(sl, z, wire.Ok, &wire.StatResponse{Stat: res.Stat})
	case wire.OpMulti:
		ss.reply(sl, z, wire.Ok, &wire.MultiResponse{})
	case wire.OpCloseSession:
		ss.reply(sl, z, wire.Ok, nil)
		sl.close = true
	default:
		ss.reply(sl, z, wire.Ok, nil)
	}
}

// txnExtraSize is what a txn may exceed the max packet size by, as
// ZooKeeper reads a txn up to jute.maxbuffer + jute.maxbuffer.extrasize
// (default 1024), plus the session's auth ids (capped by maxAuthBytes),
// which Paddock's txns carry and ZooKeeper's do not.
const txnExtraSize = 1024 + maxAuthBytes + 16*maxAuthIDs

// txnBound is a cheap upper bound of t's encoded size (auth ids, ACLs and
// multi ops included): the proposer sizes batches with it, and only a txn
// whose bound is over the limit is encoded to be measured.
func txnBound(t *statemachine.Txn) int {
	n := 96 + len(t.Path) + len(t.Data) + len(t.Passwd)
	for _, a := range t.Auth {
		n += 16 + len(a.Scheme) + len(a.ID)
	}
	for _, a := range t.ACL {
		n += 24 + len(a.ID.Scheme) + len(a.ID.ID)
	}
	for i := range t.Ops {
		n += txnBound(&t.Ops[i])
	}
	return n
}

// txnTooLarge reports whether t's encoding exceeds the limit (and both).
func (s *Server) txnTooLarge(t *statemachine.Txn) (n, limit int, big bool) {
	limit = s.cfg.MaxPacket + txnExtraSize
	if n = txnBound(t); n <= limit {
		return n, limit, false
	}
	n = encodedSize(t)
	return n, limit, n > limit
}

// encodedSize is t's size in a Raft entry.
func encodedSize(t *statemachine.Txn) int {
	b, err := statemachine.EncodeBatch([]statemachine.Txn{*t})
	if err != nil {
		return math.MaxInt
	}
	return len(b)
}
