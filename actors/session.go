package actors

// The session actor: one per connection with a session. It owns the
// session's FIFO of requests (slots), dispatches each (start) to the
// reads, writes, watch, auth and sync code of reads.go, writes.go,
// sessionwatches.go and auth.go, and lets replies and events go in order
// (release.go).

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/paddockdb/paddock/statemachine"
	"github.com/paddockdb/paddock/wire"
)

var tracer = otel.Tracer("github.com/paddockdb/paddock/actors")

// Session-actor messages.
type (
	// request is one decoded client request, sent by the connection reader.
	request struct {
		xid       int32
		op        wire.OpCode
		body      wire.Record
		recv      time.Time
		size      int
		unknown   bool
		decodeErr bool
	}
	// requestBatch is several requests decoded from one read, in order.
	requestBatch struct{ reqs []request }
	connClosed   struct{}
	sessionGone  struct{}
	syncDone     struct {
		seq uint64
		ok  bool
	}
)

// slot is one request on its way to a response, in FIFO order.
type slot struct {
	req     *request
	started bool
	done    bool
	frame   []byte
	zxid    int64 // the zxid the response reflects
	waitReg uint64
	seq     uint64
	code    wire.Code
	write   bool
	close   bool
	span    trace.Span
	// propose is the write's child span, from the hand-over to the
	// proposer until the applied result is back (proposal, Raft commit
	// with fsync, apply); nil unless span records.
	propose trace.Span
}

// session is the actor of one client connection's session: it keeps the
// session's FIFO order, serves reads from the local replica with a direct
// call, sends writes to the proposer, and releases responses and watch
// events in zxid order (see design.md).
type session struct {
	s       *Server
	c       *conn
	id      int64
	watcher uint64
	ref     *watcherRef // in Server.watchers from Started on
	self    *actor.PID
	auth    []wire.ID
	saslSrv saslServer // the SASL exchange, from its first sasl request on (sasl.go)

	queue  []*slot
	next   int // first slot not started
	writes int // writes sent to the proposer, result not back
	syncs  int // syncs started, not done
	// gate parks reads behind this session's unapplied writes; parked
	// says a read was parked since the last write was sent, so the next
	// write must not share a Raft entry with the previous one (readgate.go).
	gate    *readGate
	parked  bool
	parkedN int // parked reads not yet served (at most maxParkedReads)
	// proposals are the writes started by the running pump, sent to the
	// proposer together when it ends.
	proposals []proposeWrite

	// Reply encoding without per-reply garbage: enc appends into frame
	// buffers taken from free (recycled once flush has copied them out),
	// out is flush's reused batch, scratch holds the read responses.
	enc     wire.Encoder
	free    [][]byte
	out     []byte
	scratch respScratch
	// wq holds the writes sent to the proposer, in order: results come
	// back in that order (one proposer, one Raft log, applied in order).
	wq       []*slot
	bySeq    map[uint64]*slot
	seq      uint64
	events   []watchEvent
	awaiting int64
	closing  bool
	stopped  bool // shutdown ran
	// evBound is a watermark value known to have all its events in this
	// actor: every path actor sends its events before it reports the
	// fan-out done, so once a self-message sent after reading watermark d
	// (eventsSettled) arrives, the events of zxids <= d are all queued
	// here, in (zxid, trigger) order whatever path actor sent them.
	evBound   int64
	settleReq int64
	// evBytes is the encoded size of events (eventFrameSize); slow says
	// the connection was closed for not taking its events (closeSlow).
	evBytes int64
	slow    bool
}

func newSession(s *Server, c *conn) *session {
	return &session{
		s: s, c: c, id: c.sessionID.Load(),
		watcher: s.nextID.Add(1),
		auth:    []wire.ID{{Scheme: "ip", ID: c.ip}},
		bySeq:   map[uint64]*slot{},
		gate:    &readGate{id: c.sessionID.Load()},
	}
}

func (ss *session) receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		ss.self = ctx.Self()
		ss.ref = &watcherRef{pid: ss.self, session: ss.id}
		ss.s.watchers.Store(ss.watcher, ss.ref)
		ss.gate.pid = ss.self
		ss.s.meta.gates.Store(ss.id, ss.gate)
	case *request:
		if ss.closing {
			ss.c.answered(1, int64(m.size))
			return
		}
		ss.queue = append(ss.queue, &slot{req: m, span: ss.startSpan(m)})
		ss.pump(ctx)
	case *requestBatch:
		slots := make([]slot, len(m.reqs)) // one allocation for the batch
		for i := range m.reqs {
			if ss.closing {
				ss.c.answered(1, int64(m.reqs[i].size))
				continue
			}
			sl := &slots[i]
			sl.req = &m.reqs[i]
			sl.span = ss.startSpan(sl.req)
			ss.queue = append(ss.queue, sl)
		}
		ss.pump(ctx)
	case *writeResult:
		ss.writeDone(m)
		ss.pump(ctx)
	case *writeResults:
		for i := range m.rs {
			ss.writeDone(&m.rs[i])
		}
		ss.pump(ctx)
	case *readServed:
		// A parked read, served by onApply right after the entry holding
		// this session's earlier writes (readgate.go).
		if !m.sl.started || m.sl.done {
			return
		}
		ss.parkedN--
		ss.hold(len(m.frame))
		m.sl.frame, m.sl.zxid, m.sl.code, m.sl.done = m.frame, m.z, m.code, true
		if req := m.sl.req.body.(*wire.PathWatchRequest); req.Watch && m.kind != 0 {
			ss.register(ctx, m.sl, m.z, []watchItem{{req.Path, m.kind}})
		}
		ss.flush(ctx)
	case *writeFailed:
		ss.s.log.Warn("write not replicated, closing connection", "session", sid(ss.id), "why", m.why)
		ss.c.close("write failed: " + m.why)
	case *watchEvent:
		if ss.slow {
			return
		}
		ss.addEvent(*m)
		ss.flush(ctx)
		if p := ss.pinned(); p > ss.c.maxPinned {
			ss.closeSlow(p)
		}
	case *watchRegistered:
		if sl, ok := ss.bySeq[m.seq]; ok {
			delete(ss.bySeq, m.seq)
			sl.waitReg = 0
		}
		ss.flush(ctx)
	case *watchOpDone:
		if sl, ok := ss.bySeq[m.seq]; ok {
			delete(ss.bySeq, m.seq)
			ss.reply(sl, ss.s.meta.watermark.Load(), m.code, wire.Empty{})
		}
		ss.flush(ctx)
	case *syncDone:
		if sl, ok := ss.bySeq[m.seq]; ok {
			delete(ss.bySeq, m.seq)
			ss.syncs--
			if !m.ok {
				ss.s.logRequest(slog.LevelWarn, "sync failed, closing connection", ss.id, sl.span)
				ss.c.close("sync failed")
				return
			}
			ss.reply(sl, ss.s.lastZxid(), wire.Ok, &wire.PathRequest{Path: sl.req.body.(*wire.PathRequest).Path})
		}
		ss.pump(ctx)
	case *watermarkAdvanced:
		ss.awaiting = 0
		ss.flush(ctx)
	case *eventsSettled:
		if m.z > ss.evBound {
			ss.evBound = m.z
		}
		ss.flush(ctx)
	case *sessionGone:
		// Already closing: either the connection closes after its flush
		// already, or this session's own closeSession is in flight and its
		// reply (which must reach the client) closes the connection.
		if ss.closing {
			return
		}
		ss.closing = true
		ss.c.closeAfterFlush()
	case *connClosed:
		ss.shutdown(ctx)
	case *outputDrained:
		ss.pump(ctx)
	case *actor.Stopped:
		ss.forgetWatcher()
	}
}

// shutdown forgets the session actor everywhere and stops it: the
// connection is closed.
func (ss *session) shutdown(ctx actor.Context) {
	if ss.stopped {
		return
	}
	ss.stopped = true
	ss.s.root.Send(ss.s.meta.router, &watcherGone{watcher: ss.watcher})
	ss.forgetWatcher()
	ss.s.meta.gates.CompareAndDelete(ss.id, ss.gate)
	var n, size int64
	for _, sl := range ss.queue {
		if sl.propose != nil {
			sl.propose.End()
		}
		sl.span.End()
		n++
		size += int64(sl.req.size)
	}
	ss.c.answered(n, size)
	ss.c.held.Store(0)
	ss.queue = nil
	ss.s.sessionConns.CompareAndDelete(ss.id, ss.c)
	ctx.Stop(ctx.Self())
}

// defaultTracerProvider is the global provider before anyone installs one:
// while it is still the global one, tracing is off and a request costs one
// atomic load instead of a span (DESIGN.md: "with sampling off the cost is
// a few atomic ops").
var (
	defaultTracerProvider            = otel.GetTracerProvider()
	noSpan                trace.Span = noop.Span{}
)

// startSpan opens the request's server span; attributes are only built
// for a span that records.
func (ss *session) startSpan(m *request) trace.Span {
	if otel.GetTracerProvider() == defaultTracerProvider {
		return noSpan
	}
	_, span := tracer.Start(context.Background(), m.op.String(), trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(m.recv))
	if span.IsRecording() {
		span.SetAttributes(attribute.String("zk.op", m.op.String()), attribute.Int64("zk.session_id", ss.id), attribute.Int("zk.xid", int(m.xid)))
	}
	return span
}

// pump starts queued requests in order as far as FIFO allows. Writes keep
// flowing past a read that waits for earlier writes: the read is parked
// and served right after them (readgate.go); replies still leave in
// request order (flush).
func (ss *session) pump(ctx actor.Context) {
	for ss.next < len(ss.queue) && !ss.closing {
		sl := ss.queue[ss.next]
		if needsApplied(sl.req.op) && (ss.syncs > 0 || ss.writes > 0 && (!parkable(sl.req) || ss.parkedN >= maxParkedReads)) {
			break
		}
		if ss.outputFull() {
			break
		}
		ss.next++
		sl.started = true
		ss.start(ctx, sl)
	}
	// The writes started here go to the proposer in one message.
	switch len(ss.proposals) {
	case 0:
	case 1:
		ctx.Send(ss.s.meta.proposer, &ss.proposals[0])
	default:
		ctx.Send(ss.s.meta.proposer, &proposeWrites{ws: ss.proposals})
	}
	ss.proposals = nil
	ss.flush(ctx)
}

func (ss *session) start(ctx actor.Context, sl *slot) {
	r := sl.req
	if len(ss.s.cfg.EnforceAuth) > 0 && r.op != wire.OpAuth && r.op != wire.OpSASL && !ss.enforced() {
		// Before anything else, as ZooKeeper's processPacket checks it
		// with only the request header read.
		ss.refuseUnauthenticated(sl)
		return
	}
	if r.unknown {
		// ZooKeeper answers an unknown opcode (notification included)
		// Unimplemented and then closes the connection.
		ss.s.logRequest(slog.LevelInfo, "unknown opcode, closing connection", ss.id, sl.span, "op", int32(r.op))
		ss.fail(sl, wire.ErrUnimplemented)
		sl.close = true
		ss.closing = true
		return
	}
	if r.decodeErr {
		ss.fail(sl, wire.ErrMarshallingError)
		return
	}
	if sl.span.IsRecording() {
		if p := wire.RequestPath(r.body); p != "" {
			sl.span.SetAttributes(attribute.String("zk.path", p))
		}
	}
	if ss.c.readOnly.Load() {
		switch {
		case refusedReadOnly(r.op):
			ss.fail(sl, wire.ErrNotReadOnly)
			return
		case r.op == wire.OpCloseSession:
			// A read-only session is the member's own: nothing to
			// replicate, the connection just ends.
			ss.reply(sl, ss.s.meta.watermark.Load(), wire.Ok, nil)
			sl.close = true
			ss.closing = true
			return
		}
	}
	switch r.op {
	case wire.OpPing:
		ss.reply(sl, ss.s.meta.watermark.Load(), wire.Ok, nil)
	case wire.OpExists, wire.OpGetData, wire.OpGetChildren, wire.OpGetChildren2:
		ss.readPathWatch(ctx, sl)
	case wire.OpGetACL, wire.OpGetAllChildrenNumber, wire.OpGetEphemerals, wire.OpCheck:
		ss.readOther(sl)
	case wire.OpMultiRead:
		ss.multiRead(ctx, sl)
	case wire.OpSync:
		ss.startSync(sl)
	case wire.OpAddWatch:
		req := r.body.(*wire.AddWatchRequest)
		if statemachine.ValidatePath(req.Path) != nil {
			ss.fail(sl, wire.ErrBadArguments)
			return
		}
		kind := kPersistent
		if req.Mode == wire.WatchPersistentRecursive {
			kind = kRecursive
		} else if req.Mode != wire.WatchPersistent {
			ss.fail(sl, wire.ErrBadArguments)
			return
		}
		z := ss.s.lastZxid()
		// ZooKeeper answers addWatch with an ErrorResponse(0) body.
		ss.reply(sl, z, wire.Ok, &wire.ErrorResponse{Err: wire.Ok})
		ss.register(ctx, sl, z, []watchItem{{req.Path, kind}})
	case wire.OpSetWatches, wire.OpSetWatches2:
		ss.setWatches(ctx, sl)
	case wire.OpCheckWatches, wire.OpRemoveWatches:
		req := r.body.(*wire.WatchesRequest)
		if req.Type != wire.WatcherChildren && req.Type != wire.WatcherData && req.Type != wire.WatcherAny {
			// ZooKeeper 3.8's WatcherType has no persistent or recursive
			// value: MarshallingError (persistent watches go with "any").
			ss.fail(sl, wire.ErrMarshallingError)
			return
		}
		ss.seq++
		ss.bySeq[ss.seq] = sl
		ctx.Send(ss.s.meta.router, &watchRemove{watcher: ss.watcher, from: ss.self, path: req.Path, typ: req.Type, check: r.op == wire.OpCheckWatches, seq: ss.seq})
	case wire.OpWhoAmI:
		info := make([]wire.ClientInfo, 0, len(ss.auth))
		for _, id := range ss.auth {
			user := id.ID
			switch {
			case id.Scheme == "digest":
				user, _, _ = strings.Cut(user, ":")
			case id.Scheme == statemachine.SchemeSASL && !ss.s.cfg.SASLScheme:
				user = "" // AuthUtil.getUser: no provider, no user name
			}
			info = append(info, wire.ClientInfo{AuthScheme: id.Scheme, User: user})
		}
		ss.reply(sl, ss.s.meta.watermark.Load(), wire.Ok, &wire.WhoAmIResponse{ClientInfo: info})
	case wire.OpAuth:
		ss.addAuth(sl)
	case wire.OpSASL:
		ss.saslStep(sl)
	case wire.OpReconfig:
		ss.fail(sl, wire.ErrReconfigDisabled)
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL,
		wire.OpDelete, wire.OpSetData, wire.OpSetACL, wire.OpMulti, wire.OpCloseSession:
		if ss.aclSchemeRefused(topACL(r.body)) {
			ss.fail(sl, wire.ErrInvalidACL)
			return
		}
		txn, code := ss.toTxn(r.op, r.body)
		if code != wire.Ok {
			ss.fail(sl, code)
			return
		}
		txn.SessionID, txn.Cxid, txn.MinZxid = ss.id, r.xid, ss.c.lastZxid.Load()
		// No copy: ss.auth only ever grows by append (appendID), so the
		// elements this slice covers never change.
		txn.Auth = ss.auth
		if ss.saslSrv != nil && !ss.s.cfg.SASLScheme {
			txn.Auth = withoutSASL(ss.auth)
		}
		if n, limit, big := ss.s.txnTooLarge(&txn); big {
			// Refused before replication (ZooKeeper reads a txn up to
			// jute.maxbuffer plus jute.maxbuffer.extrasize).
			ss.s.logRequest(slog.LevelWarn, "transaction larger than the max packet size, refused", ss.id, sl.span, "op", r.op.String(), "bytes", n, "max", limit)
			ss.fail(sl, wire.ErrMarshallingError)
			return
		}
		sl.write = true
		if sl.span.IsRecording() {
			_, sl.propose = tracer.Start(trace.ContextWithSpan(context.Background(), sl.span), "raft.propose",
				trace.WithAttributes(attribute.Int64("zk.session_id", ss.id), attribute.Int("zk.xid", int(r.xid))))
			ss.s.rememberWrite(ss.id, r.xid, sl.span.SpanContext())
		}
		ss.writes++
		ss.wq = append(ss.wq, sl)
		if r.op == wire.OpCloseSession {
			ss.closing = true
		}
		ss.gate.proposed(r.xid) // before the send: onApply must know it
		barrier := ss.parked
		ss.parked = false
		ss.proposals = append(ss.proposals, proposeWrite{txn: txn, from: ss.self, barrier: barrier}) // sent by pump
	default:
		// deleteContainer is internal to the server; notification,
		// createSession and error are not requests.
		ss.fail(sl, wire.ErrUnimplemented)
	}
}

func sid(id int64) string { return fmt.Sprintf("0x%x", uint64(id)) }
func zx(z int64) string   { return fmt.Sprintf("0x%x", uint64(z)) }
