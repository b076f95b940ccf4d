package actors

import (
	"log/slog"
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/paddockdb/paddock/statemachine"
	"github.com/paddockdb/paddock/wire"
)

// Reads behind the session's own writes (DESIGN.md guarantee 2) without
// stalling the session's pipeline.
//
// A read must see every earlier write of its session and no later one.
// Holding the whole session until the earlier writes come back (what the
// pump used to do) also held every later write out of the proposer, so a
// mixed pipeline ran one Raft round trip per read-after-write. ZooKeeper's
// CommitProcessor instead keeps proposing and makes the commit of a later
// write wait for the reads ahead of it. Paddock does the same at entry
// granularity:
//
//   - The session keeps sending writes to the proposer. A read (exists,
//     getData, getChildren, getChildren2) that finds some of the session's
//     writes not yet applied is parked in the session's readGate with
//     after = the number of writes sent before it.
//   - The next write after a parked read carries barrier: the proposer
//     closes the current Raft entry first if it holds a write of that
//     session, so writes k and k+1 of a session separated by a read never
//     share an entry.
//   - onApply (dragonboat's apply goroutine, under the replica's write lock,
//     at the end of an entry) counts each session's applied writes and
//     serves the parked reads whose after equals the count: the tree then
//     holds writes 1..k of the session and not k+1 (a later entry). The
//     reply frame goes to the session actor as a readServed message; the
//     session still releases replies in request order behind the delivery
//     watermark, and registers the read's watch at the zxid it was served.
//
// Serving in onApply is a direct call on the goroutine that owns the tree at
// that moment, instead of an actor hop (DESIGN.md, performance design): it is
// bounded (a lookup and an encode per parked read) and never waits.
// The tree pointer is taken once from Replica.Configure; statemachine applies
// snapshots into the same Tree (Tree.Load replaces its contents in place), and
// onApply runs under the replica's write lock (Replica's contract), so reading
// it there races with nothing.
type readGate struct {
	id      int64      // session id
	pid     *actor.PID // the session actor
	mu      sync.Mutex
	writes  []int32 // cxids of the session's writes proposed and not yet applied, in order
	sent    uint64  // writes proposed
	applied uint64  // writes applied
	reads   []*parkedRead
	touched bool // apply goroutine only: applied changed in this entry
}

// parkedRead is a read waiting for its session's earlier writes. Everything
// in it is immutable once parked; sl is only an identity for the session
// actor and is never dereferenced off it.
type parkedRead struct {
	after uint64
	sl    *slot
	op    wire.OpCode
	req   *wire.PathWatchRequest
	auth  []wire.ID // the session's ids when the read was started; never modified in place
	xid   int32
	to    *actor.PID
}

// readServed is a parked read served by onApply.
type readServed struct {
	sl *slot
	readResult
	frame []byte
}

// proposed records a write the session is about to send to the proposer.
func (g *readGate) proposed(cxid int32) {
	g.mu.Lock()
	g.writes = append(g.writes, cxid)
	g.sent++
	g.mu.Unlock()
}

// park parks r behind the session's unapplied writes; it reports false when
// they are all applied (then the caller serves r at once: no later write of
// the session can be applied before the session sends it).
func (g *readGate) park(r *parkedRead) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.applied == g.sent {
		return false
	}
	r.after = g.sent
	g.reads = append(g.reads, r)
	return true
}

// releaseReads runs at the end of onApply: it counts the applied writes of
// each session and serves the reads that were waiting for exactly them.
// mine says the entry was proposed by this member: a session's gate counts
// only the writes its own actor sent, and another member's entry may carry
// writes of the same session (sent before it moved here; they fail with
// SessionMoved) with any cxids. Only the apply goroutine calls it.
func (s *Server) releaseReads(txns []statemachine.Txn, results []statemachine.Result, mine bool) {
	touched := s.meta.apply.scratch[:0]
	for i := range txns {
		t := &txns[i]
		v, ok := s.meta.gates.Load(t.SessionID)
		if !ok {
			continue
		}
		g := v.(*readGate)
		if t.Type == wire.OpCloseSession && results[i].Err == wire.Ok {
			// The session is gone (expiry, or its own close): tell its
			// actor straight away, as ZooKeeper closes the connection
			// when it applies the close, before the watch events it
			// fired can reach anyone (the tracker's notice comes later
			// and is then ignored).
			s.root.Send(g.pid, &sessionGone{})
		}
		if !mine {
			continue
		}
		g.mu.Lock()
		if len(g.writes) > 0 && g.writes[0] == t.Cxid {
			g.writes = g.writes[1:]
			if len(g.writes) == 0 {
				g.writes = g.writes[:0:0] // let the backing array go instead of creeping forward
			}
			g.applied++
			if !g.touched {
				g.touched = true
				touched = append(touched, g)
			}
		}
		g.mu.Unlock()
	}
	var ready []*parkedRead
	for _, g := range touched {
		g.mu.Lock()
		g.touched = false
		n := 0
		for n < len(g.reads) && g.reads[n].after <= g.applied {
			if g.reads[n].after < g.applied {
				// A later write of the session shared the entry: the
				// proposer's barrier failed. Serving now would show the
				// read a future write of its own session.
				s.logRequest(slog.LevelError, "read-after-write window missed; serving late", g.id, g.reads[n].sl.span, "after", g.reads[n].after, "applied", g.applied)
			}
			ready = append(ready, g.reads[n])
			n++
		}
		if n > 0 {
			g.reads = append(g.reads[:0:0], g.reads[n:]...)
		}
		g.mu.Unlock()
	}
	clear(touched)
	s.meta.apply.scratch = touched[:0]
	if len(ready) == 0 {
		return
	}
	t := s.meta.apply.tree
	for _, r := range ready {
		res := readPath(t, r.op, r.req, r.auth, s.cfg.SuperDigest, &s.meta.apply.resp)
		h := wire.ReplyHeader{Xid: r.xid, Zxid: res.z, Err: res.code}
		if res.code != wire.Ok {
			res.body = nil
		}
		frame := appendReply(&s.meta.apply.enc, make([]byte, 0, 128), &h, res.body)
		res.body = nil
		s.root.Send(r.to, &readServed{sl: r.sl, readResult: res, frame: frame})
	}
}

// respScratch holds the responses readPath fills in, so a read allocates
// none; its owner encodes the response before the next readPath call.
type respScratch struct {
	stat  wire.StatResponse
	data  wire.GetDataResponse
	kids  wire.ChildrenResponse
	kids2 wire.Children2Response
}

// readResult is the outcome of a path read; body points into the caller's
// respScratch.
type readResult struct {
	z    int64
	code wire.Code
	body wire.Record
	kind uint8 // the watch kind to register if the request asked for one; 0 for none
}

// readPath serves exists, getData, getChildren and getChildren2 from t. It
// is called with the replica's lock held (read lock from the session actor,
// write lock from onApply). Reads do not validate the path
// (FinalRequestProcessor): an invalid one is simply not found.
func readPath(t *statemachine.Tree, op wire.OpCode, req *wire.PathWatchRequest, auth []wire.ID, super string, sc *respScratch) readResult {
	r := readResult{z: t.LastZxid()}
	switch op {
	case wire.OpExists:
		st, ok := t.Exists(req.Path)
		r.kind = kData // an exist watch is a data watch on the server
		if !ok {
			r.code = wire.ErrNoNode
			return r
		}
		sc.stat = wire.StatResponse{Stat: st}
		r.body = &sc.stat
	case wire.OpGetData:
		data, st, acl, c := t.Get(req.Path)
		if r.code = c; c != wire.Ok {
			return r
		}
		if !statemachine.CheckACL(acl, wire.PermRead, auth, super) {
			r.code = wire.ErrNoAuth
			return r
		}
		r.kind = kData
		sc.data = wire.GetDataResponse{Data: data, Stat: st}
		r.body = &sc.data
	default:
		kids, st, acl, c := t.Children(req.Path)
		if r.code = c; c != wire.Ok {
			return r
		}
		if !statemachine.CheckACL(acl, wire.PermRead, auth, super) {
			r.code = wire.ErrNoAuth
			return r
		}
		r.kind = kChild
		if kids == nil {
			kids = []string{}
		}
		if op == wire.OpGetChildren {
			sc.kids = wire.ChildrenResponse{Children: kids}
			r.body = &sc.kids
		} else {
			sc.kids2 = wire.Children2Response{Children: kids, Stat: st}
			r.body = &sc.kids2
		}
	}
	return r
}
