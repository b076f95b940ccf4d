package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/lni/dragonboat/v4/client"

	"github.com/paddockdb/paddock/statemachine"
	"github.com/paddockdb/paddock/wire"
)

// Proposer messages.
type (
	// proposeWrite is a session's write; the result goes back to from as
	// a *writeResult.
	proposeWrite struct {
		txn  statemachine.Txn
		from *actor.PID
	}
	// proposeInternal is a server-made txn (create/close session, expiry,
	// container reaping); the result, if wanted, goes to reply.
	proposeInternal struct {
		txn    statemachine.Txn
		reply  chan statemachine.Result
		expiry *liveness
	}
	proposeFlush struct{}
	appliedBatch struct {
		index   uint64
		txns    []statemachine.Txn
		results []statemachine.Result
	}
	proposalFailed struct {
		keys []pendingKey
		why  string
	}
	writeResult struct {
		cxid int32
		res  statemachine.Result
	}
	writeFailed struct {
		cxid int32
		why  string
	}
)

type pendingKey struct {
	session int64
	cxid    int32
}

type pendingWrite struct {
	from   *actor.PID
	reply  chan statemachine.Result
	expiry *liveness
}

// Group commit bounds: a Raft entry holds at most this many txns or bytes
// of request payload.
const (
	maxBatchTxns   = 512
	maxBatchBytes  = 8 << 20
	proposeTimeout = 30 * time.Second
)

// proposer batches the txns that arrive together into one Raft entry
// (group commit) and keeps many entries in flight. It stamps the wall
// clock into every txn before replication. Completion is matched in
// onApply by (session id, cxid); a proposal that dragonboat drops, times
// out or rejects fails its pending writes.
type proposer struct {
	s        *Server
	batch    []statemachine.Txn
	keys     []pendingKey
	bytes    int
	flushing bool
	pending  map[pendingKey][]pendingWrite
	internal int32 // cxids of server-made txns count down from -1000
	session  *client.Session
}

func newProposer(s *Server) *proposer {
	return &proposer{s: s, pending: map[pendingKey][]pendingWrite{}, internal: -1000}
}

func (p *proposer) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *proposeWrite:
		p.add(ctx, m.txn, pendingWrite{from: m.from}, 64+len(m.txn.Path)+len(m.txn.Data))
	case *proposeInternal:
		txn := m.txn
		p.internal--
		if p.internal > -1000 { // wrapped
			p.internal = -1000
		}
		txn.Cxid = p.internal
		p.add(ctx, txn, pendingWrite{reply: m.reply, expiry: m.expiry}, 64+len(txn.Path))
	case *proposeFlush:
		p.flushing = false
		p.flush(ctx)
	case *appliedBatch:
		p.applied(ctx, m)
	case *proposalFailed:
		p.s.log.Warn("raft proposal failed", "why", m.why, "txns", len(m.keys))
		for _, k := range m.keys {
			p.fail(ctx, k, m.why)
		}
	case *actor.Stopping:
		for k := range p.pending {
			for len(p.pending[k]) > 0 {
				p.fail(ctx, k, "server closing")
			}
		}
	}
}

func (p *proposer) add(ctx actor.Context, txn statemachine.Txn, w pendingWrite, size int) {
	txn.Time = time.Now().UnixMilli()
	k := pendingKey{txn.SessionID, txn.Cxid}
	p.pending[k] = append(p.pending[k], w)
	p.batch = append(p.batch, txn)
	p.keys = append(p.keys, k)
	p.bytes += size
	if len(p.batch) >= maxBatchTxns || p.bytes >= maxBatchBytes {
		p.flush(ctx)
		return
	}
	// Everything already in the mailbox is received before this message:
	// that is the group of txns that "arrived together".
	if !p.flushing {
		p.flushing = true
		ctx.Send(ctx.Self(), &proposeFlush{})
	}
}

func (p *proposer) flush(ctx actor.Context) {
	if len(p.batch) == 0 {
		return
	}
	batch, keys := p.batch, p.keys
	p.batch, p.keys, p.bytes = nil, nil, 0
	data, err := statemachine.EncodeBatch(batch)
	if err != nil {
		p.s.log.Error("encode txn batch", "err", err)
		for _, k := range keys {
			p.fail(ctx, k, "encode: "+err.Error())
		}
		return
	}
	if p.session == nil {
		p.session = p.s.nh.GetNoOPSession(MetaShard)
	}
	rs, err := p.s.nh.Propose(p.session, data, proposeTimeout)
	if err != nil {
		for _, k := range keys {
			p.fail(ctx, k, "propose: "+err.Error())
		}
		return
	}
	// One goroutine per Raft entry in flight (not per txn): it only
	// reports failures, successes are matched in onApply.
	root, self := p.s.root, ctx.Self()
	go func() {
		r := <-rs.AppliedC()
		rs.Release()
		if !r.Completed() {
			why := "not applied"
			switch {
			case r.Timeout():
				why = "timeout"
			case r.Dropped():
				why = "dropped"
			case r.Terminated():
				why = "shard closed"
			case r.Rejected():
				why = "rejected"
			}
			root.Send(self, &proposalFailed{keys: keys, why: why})
		}
	}()
}

func (p *proposer) pop(k pendingKey) (pendingWrite, bool) {
	q := p.pending[k]
	if len(q) == 0 {
		return pendingWrite{}, false
	}
	w := q[0]
	if len(q) == 1 {
		delete(p.pending, k)
	} else {
		p.pending[k] = q[1:]
	}
	return w, true
}

func (p *proposer) fail(ctx actor.Context, k pendingKey, why string) {
	w, ok := p.pop(k)
	if !ok {
		return
	}
	switch {
	case w.from != nil:
		ctx.Send(w.from, &writeFailed{cxid: k.cxid, why: why})
	case w.reply != nil:
		close(w.reply)
	}
	if w.expiry != nil {
		w.expiry.expiring.Store(false)
	}
}

func (p *proposer) applied(ctx actor.Context, m *appliedBatch) {
	for i := range m.txns {
		txn := &m.txns[i]
		res := m.results[i]
		switch txn.Type {
		case wire.OpCreateSession:
			if res.Err == wire.Ok {
				ctx.Send(p.s.tracker, &sessionOpened{id: txn.SessionID, timeout: txn.Timeout})
			}
		case wire.OpCloseSession:
			if res.Err == wire.Ok {
				ctx.Send(p.s.tracker, &sessionClosed{id: txn.SessionID})
			}
		}
		w, ok := p.pop(pendingKey{txn.SessionID, txn.Cxid})
		if !ok {
			continue // replayed at start-up, or proposed by another replica
		}
		switch {
		case w.from != nil:
			ctx.Send(w.from, &writeResult{cxid: txn.Cxid, res: res})
		case w.reply != nil:
			w.reply <- res
		}
	}
}
