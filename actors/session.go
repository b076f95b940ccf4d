package actors

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
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
		ss.s.gates.Store(ss.id, ss.gate)
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
			ss.reply(sl, ss.s.watermark.Load(), m.code, wire.Empty{})
		}
		ss.flush(ctx)
	case *syncDone:
		if sl, ok := ss.bySeq[m.seq]; ok {
			delete(ss.bySeq, m.seq)
			ss.syncs--
			if !m.ok {
				ss.s.log.Warn("sync failed, closing connection", "session", sid(ss.id))
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

// forgetWatcher takes the session actor out of Server.watchers and out of
// the watch counters (its registrations go with watcherGone).
func (ss *session) forgetWatcher() {
	if ss.ref == nil {
		return
	}
	ss.s.watchers.Delete(ss.watcher)
	ss.ref.forget(&ss.s.watchStats)
}

// shutdown forgets the session actor everywhere and stops it: the
// connection is closed.
func (ss *session) shutdown(ctx actor.Context) {
	if ss.stopped {
		return
	}
	ss.stopped = true
	ss.s.root.Send(ss.s.router, &watcherGone{watcher: ss.watcher})
	ss.forgetWatcher()
	ss.s.gates.CompareAndDelete(ss.id, ss.gate)
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

// pinned is the bytes of replies and events waiting for the connection:
// queued for the writer, replies held until their turn, events not yet
// released.
func (ss *session) pinned() int64 { return ss.c.buffered() + ss.evBytes }

// closeSlow closes the connection of a client that does not take its
// watch events (conn.go, flow control): the session stays, so its client
// can resume it and catch up with setWatches2.
func (ss *session) closeSlow(pinned int64) {
	ss.slow, ss.closing = true, true
	ss.events, ss.evBytes = nil, 0
	ss.s.stats.slowClosed.Add(1)
	ss.s.log.Warn("client does not take its watch events, closing connection",
		"session", sid(ss.id), "remote", ss.c.nc.RemoteAddr().String(), "pendingBytes", pinned, "max", ss.c.maxPinned)
	ss.c.close("slow consumer of watch events")
}

// hold counts n reply bytes kept until their turn (conn flow control).
func (ss *session) hold(n int) { ss.c.held.Add(int64(n)) }

// outputFull reports whether the connection's reply bytes reached its cap;
// then the session starts nothing until the writer drains (outputDrained).
func (ss *session) outputFull() bool {
	c := ss.c
	if c.buffered() < c.maxOut {
		return false
	}
	c.sessionPaused.Store(true)
	if c.buffered() < c.maxOut { // drained meanwhile: no wake-up is lost
		c.sessionPaused.Store(false)
		return false
	}
	return true
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

// needsApplied reports whether op reads local state, so it must wait for
// the session's earlier writes to be applied (guarantee 2).
func needsApplied(op wire.OpCode) bool {
	switch op {
	case wire.OpExists, wire.OpGetData, wire.OpGetChildren, wire.OpGetChildren2, wire.OpGetACL,
		wire.OpGetAllChildrenNumber, wire.OpGetEphemerals, wire.OpMultiRead, wire.OpCheck,
		wire.OpAddWatch, wire.OpSetWatches, wire.OpSetWatches2:
		return true
	}
	return false
}

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
	ss.finishWrite(sl, m.res)
}

// parkable reports whether r is a read that can wait in the session's
// readGate for its earlier writes while later requests start
// (readgate.go); the other reads that need them hold the pump.
func parkable(r *request) bool {
	switch r.op {
	case wire.OpExists, wire.OpGetData, wire.OpGetChildren, wire.OpGetChildren2:
		return !r.unknown && !r.decodeErr
	}
	return false
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
		ctx.Send(ss.s.proposer, &ss.proposals[0])
	default:
		ctx.Send(ss.s.proposer, &proposeWrites{ws: ss.proposals})
	}
	ss.proposals = nil
	ss.flush(ctx)
}

func (ss *session) reply(sl *slot, zxid int64, code wire.Code, body wire.Record) {
	h := wire.ReplyHeader{Xid: sl.req.xid, Zxid: zxid, Err: code}
	if code != wire.Ok {
		body = nil
	}
	sl.frame = appendReply(&ss.enc, ss.takeBuf(), &h, body)
	ss.hold(len(sl.frame))
	sl.zxid, sl.code, sl.done = zxid, code, true
}

// appendReply appends the frame of h and body (nil for none) to dst with e.
func appendReply(e *wire.Encoder, dst []byte, h *wire.ReplyHeader, body wire.Record) []byte {
	e.SetBuffer(dst)
	start := e.StartFrame()
	h.Encode(e)
	if body != nil {
		body.Encode(e)
	}
	e.EndFrame(start)
	out := e.Bytes()
	e.SetBuffer(nil)
	return out
}

// takeBuf returns an empty frame buffer, recycled if one is free.
func (ss *session) takeBuf() []byte {
	if n := len(ss.free); n > 0 {
		b := ss.free[n-1]
		ss.free = ss.free[:n-1]
		return b
	}
	return make([]byte, 0, 128)
}

// recycle gives back a frame buffer whose bytes have been copied out.
func (ss *session) recycle(b []byte) {
	if cap(b) <= 4<<10 && len(ss.free) < 256 {
		ss.free = append(ss.free, b[:0])
	}
}

func (ss *session) fail(sl *slot, code wire.Code) { ss.reply(sl, ss.s.watermark.Load(), code, nil) }

func (ss *session) canRead(acl []wire.ACL, perm int32) bool {
	return statemachine.CheckACL(acl, perm, ss.auth, ss.s.cfg.SuperDigest)
}

// register asks the router to register watches read at zxid z; the
// response waits for the router's acknowledgement (design.md).
func (ss *session) register(ctx actor.Context, sl *slot, z int64, items []watchItem) {
	if len(items) == 0 {
		return
	}
	ss.seq++
	sl.waitReg = ss.seq
	ss.bySeq[ss.seq] = sl
	ctx.Send(ss.s.router, &watchRegister{watcher: ss.watcher, from: ss.self, z: z, items: items, seq: ss.seq})
}

func (ss *session) start(ctx actor.Context, sl *slot) {
	r := sl.req
	if r.unknown {
		// ZooKeeper answers an unknown opcode (notification included)
		// Unimplemented and then closes the connection.
		ss.s.log.Info("unknown opcode, closing connection", "session", sid(ss.id), "op", int32(r.op))
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
			ss.reply(sl, ss.s.watermark.Load(), wire.Ok, nil)
			sl.close = true
			ss.closing = true
			return
		}
	}
	switch r.op {
	case wire.OpPing:
		ss.reply(sl, ss.s.watermark.Load(), wire.Ok, nil)
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
		ctx.Send(ss.s.router, &watchRemove{watcher: ss.watcher, from: ss.self, path: req.Path, typ: req.Type, check: r.op == wire.OpCheckWatches, seq: ss.seq})
	case wire.OpWhoAmI:
		info := make([]wire.ClientInfo, 0, len(ss.auth))
		for _, id := range ss.auth {
			user := id.ID
			if id.Scheme == "digest" {
				user, _, _ = strings.Cut(user, ":")
			}
			info = append(info, wire.ClientInfo{AuthScheme: id.Scheme, User: user})
		}
		ss.reply(sl, ss.s.watermark.Load(), wire.Ok, &wire.WhoAmIResponse{ClientInfo: info})
	case wire.OpAuth:
		ss.addAuth(sl)
	case wire.OpSASL:
		ss.fail(sl, wire.ErrUnimplemented)
	case wire.OpReconfig:
		ss.fail(sl, wire.ErrReconfigDisabled)
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL,
		wire.OpDelete, wire.OpSetData, wire.OpSetACL, wire.OpMulti, wire.OpCloseSession:
		txn, code := ss.toTxn(r.op, r.body)
		if code != wire.Ok {
			ss.fail(sl, code)
			return
		}
		txn.SessionID, txn.Cxid, txn.MinZxid = ss.id, r.xid, ss.c.lastZxid.Load()
		// No copy: ss.auth only ever grows by append (appendID), so the
		// elements this slice covers never change.
		txn.Auth = ss.auth
		if n, limit, big := ss.s.txnTooLarge(&txn); big {
			// Refused before replication (ZooKeeper reads a txn up to
			// jute.maxbuffer plus jute.maxbuffer.extrasize).
			ss.s.log.Warn("transaction larger than the max packet size, refused", "session", sid(ss.id), "op", r.op.String(), "bytes", n, "max", limit)
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
		z = ss.s.watermark.Load()
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

func (ss *session) readPathWatch(ctx actor.Context, sl *slot) {
	req := sl.req.body.(*wire.PathWatchRequest)
	if ss.writes > 0 {
		pr := &parkedRead{sl: sl, op: sl.req.op, req: req, auth: ss.auth, xid: sl.req.xid, to: ss.self}
		if ss.gate.park(pr) {
			ss.parked = true
			ss.parkedN++
			return // readServed completes it
		}
	}
	var res readResult
	ss.s.replica.Read(func(t *statemachine.Tree) {
		res = readPath(t, sl.req.op, req, ss.auth, ss.s.cfg.SuperDigest, &ss.scratch)
	})
	ss.reply(sl, res.z, res.code, res.body)
	if req.Watch && res.kind != 0 {
		ss.register(ctx, sl, res.z, []watchItem{{req.Path, res.kind}})
	}
}

func (ss *session) readOther(sl *slot) {
	var z int64
	var code wire.Code
	var body wire.Record
	switch req := sl.req.body.(type) {
	case *wire.PathRequest:
		ss.s.replica.Read(func(t *statemachine.Tree) {
			z = t.LastZxid()
			if sl.req.op == wire.OpGetEphemerals {
				eph := t.Ephemerals(ss.id, req.Path)
				if eph == nil {
					eph = []string{}
				}
				body = &wire.ChildrenResponse{Children: eph}
				return
			}
			acl, st, c := t.GetACL(req.Path)
			if code = c; c != wire.Ok {
				return
			}
			if sl.req.op == wire.OpGetACL {
				if !ss.canRead(acl, wire.PermRead|wire.PermAdmin) {
					code = wire.ErrNoAuth
					return
				}
				if !ss.canRead(acl, wire.PermAdmin) {
					acl = redactDigests(acl)
				}
				body = &wire.GetACLResponse{ACL: acl, Stat: st}
				return
			}
			if !ss.canRead(acl, wire.PermRead) {
				code = wire.ErrNoAuth
				return
			}
			n, c := t.CountDescendants(req.Path)
			code = c
			body = &wire.CountResponse{Count: n}
		})
	case *wire.PathVersionRequest: // check
		if statemachine.ValidatePath(req.Path) != nil {
			ss.fail(sl, wire.ErrBadArguments)
			return
		}
		ss.s.replica.Read(func(t *statemachine.Tree) {
			z = t.LastZxid()
			acl, st, c := t.GetACL(req.Path)
			if code = c; c != wire.Ok {
				return
			}
			if !ss.canRead(acl, wire.PermRead) {
				code = wire.ErrNoAuth
				return
			}
			if req.Version != -1 && st.Version != req.Version {
				code = wire.ErrBadVersion
			}
		})
	}
	ss.reply(sl, z, code, body)
}

// redactDigests is what ZooKeeper 3.8's FinalRequestProcessor answers a
// getACL caller without ADMIN: a copy whose digest ids read "user:x"
// (id.replaceAll(":.*", ":x")), so password hashes are not given away.
func redactDigests(acl []wire.ACL) []wire.ACL {
	out := make([]wire.ACL, len(acl))
	for i, a := range acl {
		if a.ID.Scheme == "digest" {
			if user, _, ok := strings.Cut(a.ID.ID, ":"); ok {
				a.ID.ID = user + ":x"
			}
		}
		out[i] = a
	}
	return out
}

func (ss *session) multiRead(ctx actor.Context, sl *slot) {
	req := sl.req.body.(*wire.MultiRequest)
	out := &wire.MultiResponse{Results: make([]wire.MultiResult, 0, len(req.Ops))}
	for _, op := range req.Ops {
		if _, ok := op.Body.(*wire.PathWatchRequest); !ok || (op.Type != wire.OpGetData && op.Type != wire.OpGetChildren) {
			// A write in a multiRead: ZooKeeper fails the whole request.
			ss.fail(sl, wire.ErrMarshallingError)
			return
		}
	}
	var z int64
	var items []watchItem
	ss.s.replica.Read(func(t *statemachine.Tree) {
		z = t.LastZxid()
		for _, op := range req.Ops {
			pw := op.Body.(*wire.PathWatchRequest)
			if op.Type == wire.OpGetData {
				data, st, acl, c := t.Get(pw.Path)
				if c == wire.Ok && !ss.canRead(acl, wire.PermRead) {
					c = wire.ErrNoAuth
				}
				if c != wire.Ok {
					out.Results = append(out.Results, wire.MultiResult{Type: wire.OpError, Err: c})
					continue
				}
				out.Results = append(out.Results, wire.MultiResult{Type: wire.OpGetData, Data: data, Stat: st})
				if pw.Watch {
					items = append(items, watchItem{pw.Path, kData})
				}
				continue
			}
			kids, _, acl, c := t.Children(pw.Path)
			if c == wire.Ok && !ss.canRead(acl, wire.PermRead) {
				c = wire.ErrNoAuth
			}
			if c != wire.Ok {
				out.Results = append(out.Results, wire.MultiResult{Type: wire.OpError, Err: c})
				continue
			}
			if kids == nil {
				kids = []string{}
			}
			out.Results = append(out.Results, wire.MultiResult{Type: wire.OpGetChildren, Children: kids})
			if pw.Watch {
				items = append(items, watchItem{pw.Path, kChild})
			}
		}
	})
	ss.reply(sl, z, wire.Ok, out)
	ss.register(ctx, sl, z, items)
}

// setWatches re-registers a reconnecting client's watches and fires the
// events it missed, comparing each node's zxids with relativeZxid as
// ZooKeeper's DataTree.setWatches does.
func (ss *session) setWatches(ctx actor.Context, sl *slot) {
	req := sl.req.body.(*wire.SetWatchesRequest)
	var z int64
	var items []watchItem
	ss.s.replica.Read(func(t *statemachine.Tree) {
		z = t.LastZxid()
		fire := func(typ wire.EventType, path string) {
			ss.addEvent(watchEvent{zxid: z, typ: typ, path: path})
		}
		for _, p := range req.DataWatches {
			st, ok := t.Exists(p)
			switch {
			case !ok:
				fire(wire.EventNodeDeleted, p)
			case st.Mzxid > req.RelativeZxid:
				fire(wire.EventNodeDataChanged, p)
			default:
				items = append(items, watchItem{p, kData})
			}
		}
		for _, p := range req.ExistWatches {
			if _, ok := t.Exists(p); ok {
				fire(wire.EventNodeCreated, p)
			} else {
				items = append(items, watchItem{p, kData})
			}
		}
		for _, p := range req.ChildWatches {
			st, ok := t.Exists(p)
			switch {
			case !ok:
				fire(wire.EventNodeDeleted, p)
			case st.Pzxid > req.RelativeZxid:
				fire(wire.EventNodeChildrenChanged, p)
			default:
				items = append(items, watchItem{p, kChild})
			}
		}
		for _, p := range req.PersistentWatches {
			items = append(items, watchItem{p, kPersistent})
		}
		for _, p := range req.PersistentRecursive {
			items = append(items, watchItem{p, kRecursive})
		}
	})
	ss.reply(sl, z, wire.Ok, nil)
	// Registered at z, not relativeZxid: changes up to z were compared above.
	ss.register(ctx, sl, z, items)
}

func (ss *session) startSync(sl *slot) {
	req := sl.req.body.(*wire.PathRequest)
	ss.seq++
	seq := ss.seq
	ss.bySeq[seq] = sl
	ss.syncs++
	root, self, s, done := ss.s.root, ss.self, ss.s, ss.c.done
	_ = req
	s.pendingSyncs.Add(1)
	go func() { // ends when the member caught up or gave up (bounded by syncLimit ticks)
		ok := s.catchUp(s.syncBound(), done)
		s.pendingSyncs.Add(-1)
		root.Send(self, &syncDone{seq: seq, ok: ok})
	}()
}

func (ss *session) addAuth(sl *slot) {
	req := sl.req.body.(*wire.AuthPacket)
	h := wire.ReplyHeader{Xid: sl.req.xid}
	switch req.Scheme {
	case "digest":
		// DigestAuthenticationProvider accepts any credential: the id is
		// the part before the first colon (all of it without one) and the
		// SHA1 of the whole credential.
		id := digestOf(string(req.Auth))
		if !ss.authRoom(id) {
			// Every write carries the session's ids (statemachine checks
			// ACLs at apply), so they are capped; ZooKeeper keeps a set
			// (a duplicate is ignored, as here) with no cap.
			ss.s.log.Warn("too many auth ids on one session", "session", sid(ss.id), "ids", len(ss.auth), "max", maxAuthIDs)
			h.Err = wire.ErrAuthFailed
			break
		}
		ss.auth = appendID(ss.auth, wire.ID{Scheme: "digest", ID: id})
		if ss.s.cfg.SuperDigest != "" && id == ss.s.cfg.SuperDigest {
			ss.auth = appendID(ss.auth, wire.ID{Scheme: "super", ID: ""})
		}
	case "ip":
		ss.auth = appendID(ss.auth, wire.ID{Scheme: "ip", ID: ss.c.ip})
	default:
		h.Err = wire.ErrAuthFailed
	}
	sl.frame = wire.AppendFrame(nil, &h)
	ss.hold(len(sl.frame))
	sl.code, sl.done, sl.zxid = h.Err, true, 0
	if h.Err != wire.Ok {
		// ZooKeeper answers AuthFailed and closes the connection.
		ss.s.log.Info("auth failed, closing connection", "session", sid(ss.id), "scheme", req.Scheme)
		sl.close = true
		ss.closing = true
	}
}

// Auth ids a session may hold (and their bytes): beyond, addAuth answers
// AuthFailed and closes the connection.
const (
	maxAuthIDs   = 64
	maxAuthBytes = 64 << 10
)

// authRoom reports whether digest id may join the session's ids.
func (ss *session) authRoom(id string) bool {
	n := len(id)
	for _, x := range ss.auth {
		if x.Scheme == "digest" && x.ID == id {
			return true // a duplicate is ignored
		}
		n += len(x.Scheme) + len(x.ID)
	}
	return len(ss.auth)+2 <= maxAuthIDs && n <= maxAuthBytes // +2: digest and maybe super
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

// digestOf is DigestAuthenticationProvider.generateDigest.
func digestOf(cred string) string {
	user, pass, ok := strings.Cut(cred, ":")
	if ok {
		return statemachine.DigestID(user, pass)
	}
	sum := sha1.Sum([]byte(cred))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

func appendID(ids []wire.ID, id wire.ID) []wire.ID {
	for _, x := range ids {
		if x == id {
			return ids
		}
	}
	return append(ids, id)
}

// addEvent queues a watch event in (zxid, trigger index) order, the order
// ZooKeeper fires them in whichever path actors they came from, dropping
// an exact duplicate (one session, several matching watches, one event).
func (ss *session) addEvent(e watchEvent) {
	i := len(ss.events)
	for i > 0 && (ss.events[i-1].zxid > e.zxid || ss.events[i-1].zxid == e.zxid && ss.events[i-1].ord > e.ord) {
		i--
	}
	for j := i - 1; j >= 0 && ss.events[j].zxid == e.zxid; j-- {
		if o := ss.events[j]; o.ord == e.ord && o.typ == e.typ && o.path == e.path { // the link may differ
			return
		}
	}
	ss.events = append(ss.events, watchEvent{})
	copy(ss.events[i+1:], ss.events[i:])
	ss.events[i] = e
	ss.evBytes += eventFrameSize(&e)
}

// eventFrameSize is the size of e's notification frame: length, reply
// header (16), type and state (8), path.
func eventFrameSize(e *watchEvent) int64 { return 4 + 16 + 8 + 4 + int64(len(e.path)) }

// flush releases, in zxid order, the events and responses the delivery
// watermark allows (design.md, "Watch ordering").
func (ss *session) flush(ctx actor.Context) {
	if ss.slow {
		return // the connection is closed
	}
	d := ss.s.watermark.Load()
	out := ss.out[:0]
	var n int64
	closeAfter := false
	var need int64
	var answered, answeredBytes, released int64
	rs := replyStats{at: time.Now()}
	settle := false
	for {
		var head *slot
		bound := int64(1<<63 - 1)
		if len(ss.queue) > 0 && ss.queue[0].started {
			head = ss.queue[0]
			if head.done {
				bound = head.zxid
			}
		}
		if len(ss.events) > 0 && ss.events[0].zxid <= bound {
			e := ss.events[0]
			if e.zxid > d {
				need = e.zxid
				break
			}
			if e.zxid > ss.evBound {
				settle = true
				break
			}
			ss.events = ss.events[1:]
			ss.evBytes -= eventFrameSize(&e)
			h := wire.ReplyHeader{Xid: wire.XidNotification, Zxid: -1}
			ev := wire.WatcherEvent{Type: e.typ, State: wire.StateSyncConnected, Path: e.path}
			if e.link != nil {
				ss.eventSpan(&e)
			}
			before := len(out)
			out = appendReply(&ss.enc, out, &h, &ev)
			rs.frame(len(out)-before, 0, true)
			n++
			continue
		}
		if head == nil || !head.done || head.waitReg != 0 {
			break
		}
		if head.zxid > d {
			need = head.zxid
			break
		}
		if head.zxid > ss.evBound {
			// Events of zxids <= head.zxid may still sit in the mailbox.
			settle = true
			break
		}
		ss.queue = ss.queue[1:]
		ss.next--
		z := ss.replyZxid(head)
		out = append(out, head.frame...)
		released += int64(len(head.frame))
		rs.frame(len(head.frame), head.req.op, false)
		ss.recycle(head.frame)
		head.frame = nil
		n++
		answered++
		answeredBytes += int64(head.req.size)
		rs.add(head.req.op, head.req.xid, z, head.req.recv)
		if head.span.IsRecording() {
			head.span.SetAttributes(attribute.Int64("zk.zxid", z), attribute.Int("zk.err", int(head.code)))
			head.span.End()
		}
		if head.close {
			closeAfter = true
			break
		}
	}
	if released > 0 {
		ss.c.held.Add(-released) // now queued by enqueue
	}
	ss.c.record(&rs)
	if len(out) > 0 {
		ss.c.enqueue(out, n) // copies
	}
	ss.c.answered(answered, answeredBytes)
	if cap(out) <= 1<<20 {
		ss.out = out[:0]
	} else {
		ss.out = nil
	}
	if closeAfter {
		ss.c.closeAfterFlush()
		return
	}
	if settle && d > ss.settleReq {
		ss.settleReq = d
		ctx.Send(ss.self, &eventsSettled{z: d})
	}
	if need > 0 && (ss.awaiting == 0 || need < ss.awaiting) {
		ss.awaiting = need
		ctx.Send(ss.s.router, &awaitWatermark{z: need, from: ss.self})
	}
}

// replyZxid makes the reply in sl, about to leave, carry a zxid no lower
// than any earlier reply of the session (c.lastZxid, which starts at the
// client's lastZxidSeen): reads answer with the tree's zxid, while ping,
// whoAmI, failures and watch operations answer with the delivery
// watermark taken when they started, which can be lower (guarantee 4: a
// client keeps every positive reply zxid as its lastZxidSeen). A zero
// zxid (auth, as ZooKeeper answers it) is left alone: clients ignore it.
// It returns the zxid sent.
func (ss *session) replyZxid(sl *slot) int64 {
	z := sl.zxid
	if z <= 0 {
		return z
	}
	switch last := ss.c.lastZxid.Load(); {
	case z < last:
		// The frame is length (4), xid (4), zxid (8), err, body.
		binary.BigEndian.PutUint64(sl.frame[8:16], uint64(last))
		return last
	case z > last:
		ss.c.lastZxid.Store(z)
	}
	return z
}

func sid(id int64) string { return fmt.Sprintf("0x%x", uint64(id)) }
func zx(z int64) string   { return fmt.Sprintf("0x%x", uint64(z)) }
