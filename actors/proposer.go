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
		// barrier: a read of the session waits between its previous
		// write and this one, so the two must not share a Raft entry
		// (readgate.go).
		barrier bool
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
	// proposeWrites is the writes a session started together, in order.
	proposeWrites struct{ ws []proposeWrite }
	writeResult   struct {
		cxid int32
		res  statemachine.Result
	}
	// writeResults is the results of a session's consecutive writes in one
	// entry, in order: one message instead of one per write.
	writeResults struct{ rs []writeResult }
	writeFailed  struct {
		cxid int32
		why  string
	}
)

type pendingKey struct {
	session int64
	cxid    int32
}

type openBatch struct {
	txns  []statemachine.Txn
	keys  []pendingKey
	bytes int
}

type pendingWrite struct {
	from   *actor.PID
	reply  chan statemachine.Result
	expiry *liveness
}

// Group commit bounds: a Raft entry holds at most this many txns or about
// this many encoded bytes (txnBound: auth ids, ACLs and multi ops counted).
const (
	maxBatchTxns   = 512
	maxBatchBytes  = 8 << 20
	proposeTimeout = 30 * time.Second
)

// proposer batches the txns that arrive together into one Raft entry
// (group commit) and keeps many entries in flight. It stamps the wall
// clock into every txn when it proposes the entry. Completion is matched in
// onApply by (session id, cxid); a proposal that dragonboat drops, times
// out or rejects fails its pending writes.
//
// Txns that arrive together fill a row of open batches, proposed in order
// as consecutive entries by flush. A session's write goes into the batch
// of its previous write, or the next one when it carries barrier (a read
// of the session waits between the two and is served at the entry
// boundary, readgate.go). Unacknowledged writes of different sessions
// have no order between them, so a mixed pipeline of many sessions still
// shares entries: entries per flush ~ read-separated segments per session,
// not segments summed over sessions. Server-made txns go to the last
// batch.
type proposer struct {
	s        *Server
	open     []openBatch   // proposed in order by flush; storage reused
	nopen    int           // open[:nopen] are in use
	where    map[int64]int // session id -> index of the open batch holding its latest write
	flushing bool
	pending  map[pendingKey]pendingWrite
	dups     map[pendingKey][]pendingWrite // later writes with a key already pending (rare)
	internal int32                         // cxids of server-made txns count down from -1000
	session  *client.Session
}

func newProposer(s *Server) *proposer {
	return &proposer{s: s, pending: map[pendingKey]pendingWrite{}, dups: map[pendingKey][]pendingWrite{}, where: map[int64]int{}, internal: -1000}
}

func (p *proposer) receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *proposeWrite:
		p.write(ctx, m)
	case *proposeWrites:
		for i := range m.ws {
			p.write(ctx, &m.ws[i])
		}
	case *proposeInternal:
		p.internalTxn(ctx, m)
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
			for {
				if _, ok := p.pending[k]; !ok {
					break
				}
				p.fail(ctx, k, "server closing")
			}
		}
	}
}

// internalTxn adds a server-made txn to the last open batch.
func (p *proposer) internalTxn(ctx actor.Context, m *proposeInternal) {
	txn := m.txn
	// Server-made cxids count down from -1000, skipping any key
	// pending for the session (a client may use any xid).
	for {
		p.internal--
		if p.internal > -1000 { // wrapped
			p.internal = -1000
		}
		if _, used := p.pending[pendingKey{txn.SessionID, p.internal}]; !used {
			break
		}
	}
	txn.Cxid = p.internal
	p.add(ctx, max(p.nopen-1, 0), txn, pendingWrite{reply: m.reply, expiry: m.expiry}, txnBound(&txn))
}

func (p *proposer) write(ctx actor.Context, m *proposeWrite) {
	i, ok := p.where[m.txn.SessionID]
	if ok && m.barrier {
		i++ // a later entry: the session's parked read is served between the two
	}
	if _, dup := p.pending[pendingKey{m.txn.SessionID, m.txn.Cxid}]; dup && i < p.nopen-1 {
		// Its key is pending already (a server-made txn of the session
		// with the same cxid, or a reused xid): results are matched by
		// key in apply order, so this write must go in an entry after
		// that one, which is at most the last open batch.
		i = p.nopen - 1
	}
	p.where[m.txn.SessionID] = i
	p.add(ctx, i, m.txn, pendingWrite{from: m.from}, txnBound(&m.txn))
}

// add puts txn into open batch i.
func (p *proposer) add(ctx actor.Context, i int, txn statemachine.Txn, w pendingWrite, size int) {
	k := pendingKey{txn.SessionID, txn.Cxid}
	if _, dup := p.pending[k]; dup {
		p.dups[k] = append(p.dups[k], w)
	} else {
		p.pending[k] = w
	}
	for p.nopen <= i {
		if p.nopen == len(p.open) {
			p.open = append(p.open, openBatch{})
		}
		p.nopen++
	}
	b := &p.open[i]
	b.txns = append(b.txns, txn)
	b.keys = append(b.keys, k)
	b.bytes += size
	if len(b.txns) >= maxBatchTxns || b.bytes >= maxBatchBytes {
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

// flush proposes the open batches, in order, one entry each.
func (p *proposer) flush(ctx actor.Context) {
	n := p.nopen
	p.nopen = 0
	clear(p.where)
	for i := 0; i < n; i++ {
		b := &p.open[i]
		if len(b.txns) > 0 {
			p.propose(ctx, b)
		}
		clear(b.txns) // drop the references to paths and data
		b.txns, b.keys, b.bytes = b.txns[:0], b.keys[:0], 0
	}
}

func (p *proposer) propose(ctx actor.Context, b *openBatch) {
	// keys go with the entry (its failure report); the txn slice is
	// reused, since EncodeBatch copies what it needs.
	keys := append(make([]pendingKey, 0, len(b.keys)), b.keys...)
	// Stamped here, not on arrival: the open batches are filled out of
	// arrival order, and the wall clock must not go back along the log.
	now := time.Now().UnixMilli()
	for i := range b.txns {
		b.txns[i].Time = now
	}
	data, err := statemachine.EncodeBatch(b.txns)
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
	w, ok := p.pending[k]
	if !ok {
		return pendingWrite{}, false
	}
	if q := p.dups[k]; len(q) > 0 {
		p.pending[k] = q[0]
		if len(q) == 1 {
			delete(p.dups, k)
		} else {
			p.dups[k] = q[1:]
		}
	} else {
		delete(p.pending, k)
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
		// A traced write's span context waits for onApply, which will
		// never see this one (tracing.go); forgotten before the session
		// hears of the failure. The session ends the write's spans.
		p.s.writeSpans.Delete(writeKey{k.session, k.cxid})
		ctx.Send(w.from, &writeFailed{cxid: k.cxid, why: why})
	case w.reply != nil:
		close(w.reply)
	}
	if w.expiry != nil {
		w.expiry.expiring.Store(false)
	}
}

func (p *proposer) applied(ctx actor.Context, m *appliedBatch) {
	var to *actor.PID
	var rs []writeResult
	send := func() {
		switch len(rs) {
		case 0:
		case 1:
			ctx.Send(to, &rs[0])
		default:
			ctx.Send(to, &writeResults{rs: rs})
		}
		to, rs = nil, nil
	}
	for i := range m.txns {
		txn := &m.txns[i]
		res := m.results[i]
		switch txn.Type {
		case wire.OpCreateSession:
			if res.Err == wire.Ok {
				ctx.Send(p.s.tracker, &sessionOpened{id: txn.SessionID, timeout: txn.Timeout})
			}
		case wire.OpCloseSession:
			// SessionExpired: already closed (an expiry racing a
			// client's close or a resume); the tracker's record goes too.
			if res.Err == wire.Ok || res.Err == wire.ErrSessionExpired {
				ctx.Send(p.s.tracker, &sessionClosed{id: txn.SessionID})
			}
		}
		w, ok := p.pop(pendingKey{txn.SessionID, txn.Cxid})
		if !ok {
			continue // replayed at start-up, or proposed by another replica
		}
		switch {
		case w.from != nil:
			if w.from != to {
				send()
				to = w.from
			}
			rs = append(rs, writeResult{cxid: txn.Cxid, res: res})
		case w.reply != nil:
			w.reply <- res
		}
	}
	send()
}
