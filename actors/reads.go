package actors

// A session's reads: from the local replica under its read lock, parked
// behind the session's own unapplied writes when they must see them
// (readgate.go), multiRead, and sync (a catch-up with the leader,
// ensemble.go).

import (
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/paddockdb/paddock/statemachine"
	"github.com/paddockdb/paddock/wire"
)

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

func (ss *session) canRead(acl []wire.ACL, perm int32) bool {
	return statemachine.CheckACL(acl, perm, ss.auth, ss.s.cfg.SuperDigest)
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
	ss.s.meta.replica.Read(func(t *statemachine.Tree) {
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
		ss.s.meta.replica.Read(func(t *statemachine.Tree) {
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
		ss.s.meta.replica.Read(func(t *statemachine.Tree) {
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
	ss.s.meta.replica.Read(func(t *statemachine.Tree) {
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
