package actors

// A session's side of watches: registering what its reads asked for with
// the router (watch.go), setWatches on reconnect, and the events the path
// actors send it, kept in zxid order until release.go lets them go.

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/paddockdb/paddock/statemachine"
	"github.com/paddockdb/paddock/wire"
)

// forgetWatcher takes the session actor out of Server.watchers and out of
// the watch counters (its registrations go with watcherGone).
func (ss *session) forgetWatcher() {
	if ss.ref == nil {
		return
	}
	ss.s.watchers.Delete(ss.watcher)
	ss.ref.forget(&ss.s.watchStats)
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
	ctx.Send(ss.s.meta.router, &watchRegister{watcher: ss.watcher, from: ss.self, z: z, items: items, seq: ss.seq})
}

// setWatches re-registers a reconnecting client's watches and fires the
// events it missed, comparing each node's zxids with relativeZxid as
// ZooKeeper's DataTree.setWatches does.
func (ss *session) setWatches(ctx actor.Context, sl *slot) {
	req := sl.req.body.(*wire.SetWatchesRequest)
	var z int64
	var items []watchItem
	ss.s.meta.replica.Read(func(t *statemachine.Tree) {
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
