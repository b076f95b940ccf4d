package actors

import (
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/lni/dragonboat/v4"
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
		index     uint64
		origin    statemachine.Origin
		admission statemachine.Admission
		txns      []statemachine.Txn
		results   []statemachine.Result
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
	maxBatchTxns  = 512
	maxBatchBytes = 8 << 20
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

	// The entries of this member in flight, in proposal order, and their
	// origin: epoch, last sequence number used, last one admitted.
	inflight             []*entry
	epoch, seq, admitted uint64
	leader               uint64 // the shard's leader as last reported; 0: none
	retrying             bool   // a retryEntries is on its way
	gapAt                uint64 // the first entry in flight when a gap last made them go again
	// submit proposes an encoded entry (dragonboat's Propose); arm
	// sends the proposer a retryEntries after the retry interval. Tests
	// replace both.
	submit func(data []byte) (*dragonboat.RequestState, error)
	arm    func(ctx actor.Context, all bool)
}

func newProposer(s *Server) *proposer {
	p := &proposer{s: s, pending: map[pendingKey]pendingWrite{}, dups: map[pendingKey][]pendingWrite{}, where: map[int64]int{}, internal: -1000}
	p.submit = func(data []byte) (*dragonboat.RequestState, error) {
		if p.session == nil {
			p.session = s.nh.GetNoOPSession(MetaShard)
		}
		return s.nh.Propose(p.session, data, s.proposeTimeout())
	}
	p.arm = func(ctx actor.Context, all bool) {
		self, root := ctx.Self(), s.root
		time.AfterFunc(s.retryInterval(), func() { root.Send(self, &retryEntries{all: all}) })
	}
	return p
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
	case *entryOutcome:
		p.outcome(ctx, m)
	case *retryEntries:
		p.retrying = false
		p.resend(ctx, "retry", m.all)
	case *leaderChanged:
		p.leaderIs(ctx, m.leader)
	case *actor.Stopping:
		p.failAll(ctx, "server closing")
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
	if p.epoch == 0 {
		p.startEpoch()
	}
	// Stamped here, not on arrival: the open batches are filled out of
	// arrival order, and the wall clock must not go back along the log
	// (Apply also raises a time below the last one: members' clocks differ).
	now := time.Now().UnixMilli()
	for i := range b.txns {
		b.txns[i].Time = now
	}
	txns, keys := b.txns, b.keys
	if p.s.cfg.ensemble() && p.leader != p.s.cfg.ServerID {
		// Expiries decided while this member led, not proposed before it
		// stopped (dropExpiries).
		if txns, keys = p.withoutExpiries(ctx, txns, keys); len(txns) == 0 {
			return
		}
	}
	p.seq++
	e := &entry{
		origin: statemachine.Origin{Member: p.s.cfg.ServerID, Epoch: p.epoch, Seq: p.seq},
		txns:   append([]statemachine.Txn(nil), txns...),
		// keys go with the entry; b's slices are reused.
		keys: append(make([]pendingKey, 0, len(keys)), keys...),
	}
	e.data = statemachine.EncodeEntry(e.origin, e.txns)
	p.inflight = append(p.inflight, e)
	if !p.retrying {
		// With a retry pending an earlier entry was not taken: this one
		// would only be refused behind the gap, so it waits for the retry,
		// which sends everything in flight in order.
		p.send(ctx, e)
	}
}

// entry is a proposed Raft entry of this member, kept until it is applied:
// a proposal forwarded to the leader can be lost (a leader change, a
// dropped message), and then it is proposed again with the same origin,
// which apply skips as a Duplicate if the first copy was committed after
// all (statemachine.Origin).
type entry struct {
	origin statemachine.Origin
	txns   []statemachine.Txn // kept to renumber the entry in a new epoch
	keys   []pendingKey
	data   []byte
	// sent counts the proposals of this entry; a failure report of an
	// earlier one is stale. taken says the last one was taken by
	// dragonboat (not refused at once).
	sent  int
	taken bool
	// failed: dragonboat reported the latest proposal not applied.
	failed bool
}

// entryOutcome is dragonboat's report on one proposal of an entry.
type entryOutcome struct {
	origin statemachine.Origin
	sent   int
	why    string
	closed bool // the shard is closed: nothing will be applied any more
}

// leaderChanged reports the meta shard's leader (0: none known), from the
// Raft event listener.
type leaderChanged struct{ leader uint64 }

// startEpoch starts a new proposer epoch above every epoch of this member
// the replica has admitted, and numbers the entries in flight anew in it.
// The wall clock in milliseconds is the usual epoch: above those of
// earlier runs of the process, whatever the replica has applied so far.
func (p *proposer) startEpoch() {
	last := p.s.lastOrigin()
	p.epoch = max(uint64(time.Now().UnixMilli()), last.Epoch+1, p.epoch+1)
	p.seq, p.admitted = 0, 0
	for _, e := range p.inflight {
		p.seq++
		e.origin = statemachine.Origin{Member: p.s.cfg.ServerID, Epoch: p.epoch, Seq: p.seq}
		e.data = statemachine.EncodeEntry(e.origin, e.txns)
	}
}

// send proposes e to the local replica, which forwards it to the leader,
// and reports whether it was taken. Without a known leader it waits:
// leaderChanged sends every entry in flight again.
func (p *proposer) send(ctx actor.Context, e *entry) bool {
	if p.leader == 0 {
		return false
	}
	e.sent++
	e.failed = false
	rs, err := p.submit(e.data)
	e.taken = err == nil
	if permanent(err) {
		// The shard is gone or will never take this entry: its writes
		// and the later ones (refused behind it) fail.
		p.s.log.Warn("raft proposal refused for good; failing the writes in flight", "err", err, "entries", len(p.inflight))
		p.failAll(ctx, "propose: "+err.Error())
		return false
	}
	if err != nil {
		// Not taken (no leader known yet, a full queue: dragonboat's
		// "system is too busy"): the next leader report or the retry
		// sends it and the later ones again.
		p.s.log.Debug("propose", "err", err, "seq", e.origin.Seq)
		p.retryLater(ctx, false)
		return false
	}
	if rs == nil {
		return true // a test's submit
	}
	// One goroutine per proposal in flight (not per txn): successes are
	// matched in onApply by origin, so it only reports failures.
	root, self, o, n := p.s.root, ctx.Self(), e.origin, e.sent
	go func() {
		r := <-rs.AppliedC()
		rs.Release()
		out := &entryOutcome{origin: o, sent: n}
		switch {
		case r.Completed():
			return
		case r.Timeout():
			out.why = "timeout"
		case r.Dropped():
			out.why = "dropped"
		case r.Terminated():
			out.why, out.closed = "shard closed", true
		case r.Rejected():
			out.why = "rejected"
		default:
			out.why = "not applied"
		}
		root.Send(self, out)
	}()
	return true
}

// leaderIs records the shard's new leader and sends the entries in flight
// again (to it, through the local replica).
func (p *proposer) leaderIs(ctx actor.Context, leader uint64) {
	p.leader = leader
	if leader != p.s.cfg.ServerID {
		p.dropExpiries(ctx)
	}
	p.resend(ctx, "leader changed", true)
}

// dropExpiries takes the session expiries out of the entries in flight
// when this member is no longer the leader: they were decided from its
// view of the sessions' liveness, which the new leader's may contradict
// (the followers touch the new leader now). Sent again, they would be
// committed through the new leader. The new leader decides; each entry
// keeps its origin, so a copy of the old content already committed makes
// the new one a Duplicate.
func (p *proposer) dropExpiries(ctx actor.Context) {
	for _, e := range p.inflight {
		if txns, keys := p.withoutExpiries(ctx, e.txns, e.keys); len(txns) < len(e.txns) {
			p.s.log.Info("leadership moved: the new leader decides the expiries this member proposed", "expiries", len(e.txns)-len(txns), "seq", e.origin.Seq)
			e.txns, e.keys = txns, keys
			e.data = statemachine.EncodeEntry(e.origin, e.txns)
		}
	}
}

// withoutExpiries returns txns and their keys without the session
// expiries, which it fails (their sessions' records may expire again);
// it returns the slices themselves when there are none.
func (p *proposer) withoutExpiries(ctx actor.Context, txns []statemachine.Txn, keys []pendingKey) ([]statemachine.Txn, []pendingKey) {
	isExpiry := func(i int) bool {
		w, ok := p.pending[keys[i]]
		return ok && w.expiry != nil && txns[i].Type == wire.OpCloseSession
	}
	first := 0
	for first < len(txns) && !isExpiry(first) {
		first++
	}
	if first == len(txns) {
		return txns, keys
	}
	keepT := append([]statemachine.Txn(nil), txns[:first]...)
	keepK := append([]pendingKey(nil), keys[:first]...)
	for i := first; i < len(txns); i++ {
		if isExpiry(i) {
			p.fail(ctx, keys[i], "no longer the leader")
			continue
		}
		keepT, keepK = append(keepT, txns[i]), append(keepK, keys[i])
	}
	return keepT, keepK
}

// retryLater arms one retry of the entries in flight (see retryEntries).
func (p *proposer) retryLater(ctx actor.Context, all bool) {
	if p.retrying {
		return
	}
	p.retrying = true
	p.arm(ctx, all)
}

// permanent reports whether a Propose error will not go away by trying
// again.
func permanent(err error) bool {
	for _, e := range []error{dragonboat.ErrShardNotFound, dragonboat.ErrClosed, dragonboat.ErrShardClosed,
		dragonboat.ErrPayloadTooBig, dragonboat.ErrInvalidOperation} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// retryEntries sends the entries in flight again: all of them (a proposal
// failed after it was taken), or from the first one not taken.
type retryEntries struct{ all bool }

// resend proposes the entries in flight again, in order: all of them, or
// from the first one dragonboat did not take. Apply skips the copies of
// those that were committed.
func (p *proposer) resend(ctx actor.Context, why string, all bool) {
	from := 0
	for !all && from < len(p.inflight) && p.inflight[from].taken {
		from++
	}
	if from == len(p.inflight) {
		return
	}
	p.s.log.Debug("proposing entries again", "why", why, "entries", len(p.inflight)-from, "from", p.inflight[from].origin.Seq)
	for _, e := range p.inflight[from:] {
		if !p.send(ctx, e) {
			return // the rest would be refused behind it; the retry resumes here
		}
	}
}

// outcome handles a proposal that dragonboat reports as not applied.
func (p *proposer) outcome(ctx actor.Context, m *entryOutcome) {
	if len(p.inflight) == 0 || m.origin.Epoch != p.epoch || m.origin.Seq < p.inflight[0].origin.Seq {
		return // applied since, or of an older epoch
	}
	if m.closed {
		p.failAll(ctx, m.why)
		return
	}
	// A failure of an entry's latest proposal marks it; the entries are
	// proposed again once the failed one is the oldest in flight: before
	// that its turn has not come (a slow queue, not a loss, if the older
	// ones are still on their way), and resending everything for it would
	// multiply the load exactly when the log is overloaded. A single
	// server's own proposals are never lost on the way, so there a
	// timeout is only slowness.
	if m.why == "timeout" && !p.s.cfg.ensemble() {
		return
	}
	for _, e := range p.inflight {
		if e.origin.Seq == m.origin.Seq && e.sent == m.sent {
			e.failed = true
		}
	}
	p.retryFailedFirst(ctx)
}

// retryFailedFirst proposes the entries in flight again when the oldest
// one's latest proposal failed (see outcome); applied calls it too, when
// an entry becomes the oldest.
func (p *proposer) retryFailedFirst(ctx actor.Context) {
	if len(p.inflight) > 0 && p.inflight[0].failed {
		p.retryLater(ctx, true)
	}
}

// failAll fails every pending write: the shard is gone, or will not take
// an entry. The next entry starts a new epoch, so that it is not refused
// behind the failed ones.
func (p *proposer) failAll(ctx actor.Context, why string) {
	p.inflight = nil
	p.epoch = 0
	for k := range p.pending {
		for {
			if _, ok := p.pending[k]; !ok {
				break
			}
			p.fail(ctx, k, why)
		}
	}
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
	mine := m.origin.Member == p.s.cfg.ServerID && m.origin.Epoch == p.epoch && p.epoch != 0
	if mine {
		switch m.admission {
		case statemachine.Duplicate:
			return // a copy proposed again; the first one was handled
		case statemachine.Refused:
			p.refused(ctx, m.origin)
			return
		}
		// Admitted: it is the first entry in flight (Admit keeps the
		// member's order).
		p.admitted = m.origin.Seq
		for len(p.inflight) > 0 && p.inflight[0].origin.Seq <= m.origin.Seq {
			p.inflight[0] = nil
			p.inflight = p.inflight[1:]
		}
		if len(p.inflight) == 0 {
			p.inflight = nil // let the backing array go
		}
		p.retryFailedFirst(ctx)
	}
	if m.admission != statemachine.Admitted {
		return
	}
	p.trackSessions(ctx, m)
	if !mine {
		return // replayed at start-up, or proposed by another member
	}
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
		w, ok := p.pop(pendingKey{txn.SessionID, txn.Cxid})
		if !ok {
			continue
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

// trackSessions tells the session tracker about the sessions an applied
// entry opened and closed, whichever member proposed it.
func (p *proposer) trackSessions(ctx actor.Context, m *appliedBatch) {
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
	}
}

// refused handles an entry of this member's epoch that apply refused: an
// earlier one was lost (a gap), or the epoch is not above one the replica
// admitted already (the clock went back across a restart).
func (p *proposer) refused(ctx actor.Context, o statemachine.Origin) {
	if p.admitted == 0 && p.s.lastOrigin().Epoch >= p.epoch {
		p.s.log.Warn("proposer epoch not above an earlier one; starting a new one", "epoch", p.epoch)
		p.startEpoch()
		p.resend(ctx, "new epoch", true)
		return
	}
	if len(p.inflight) > 0 && p.gapAt != p.inflight[0].origin.Seq {
		// The first refusal after this gap: propose the lost entry and
		// those after it again. Later refusals of the same gap are the
		// entries whose copies are already on their way; if a copy is
		// lost too, its proposal times out and is retried.
		p.gapAt = p.inflight[0].origin.Seq
		p.resend(ctx, "gap", true)
	}
}
