package actors

import (
	"math"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/paddockdb/paddock/statemachine"
	"github.com/paddockdb/paddock/wire"
)

// Watch kinds a registration holds, as a bit set.
const (
	kData       uint8 = 1 << iota // one-shot data/exist watch (getData, exists)
	kChild                        // one-shot child watch (getChildren)
	kPersistent                   // addWatch PERSISTENT
	kRecursive                    // addWatch PERSISTENT_RECURSIVE
	// ZooKeeper 3.8 keeps a persistent or recursive watch in both its
	// data and its child watch tables, and removeWatches DATA or CHILDREN
	// takes it out of one: these bits record a half already removed, for
	// checkWatches and removeWatches (firing is unchanged).
	kNoDataHalf
	kNoChildHalf
)

// Router and path-actor messages.
type (
	// appliedTriggers carries an entry's results; links, when tracing,
	// holds per result the span of the write that made it (or nil), for
	// the watch.event spans of the events it fires (tracing.go).
	appliedTriggers struct {
		results []statemachine.Result
		links   []*trace.SpanContext
	}
	watchItem struct {
		path string
		kind uint8
	}
	// watchRegister registers watches read at zxid z. The router answers
	// with *watchRegistered after it has sent any event the registration
	// missed (trigger zxid > z already fanned out).
	watchRegister struct {
		watcher uint64
		from    *actor.PID
		z       int64
		items   []watchItem
		seq     uint64
	}
	watchRegistered struct{ seq uint64 }
	// recursiveDropped tells the router a path actor removed a recursive
	// watch (removeWatches).
	recursiveDropped struct {
		path    string
		watcher uint64
	}
	// watchRemove is removeWatches (check false) or checkWatches (check true).
	watchRemove struct {
		watcher uint64
		from    *actor.PID
		path    string
		typ     wire.WatcherType
		check   bool
		seq     uint64
	}
	watchOpDone struct {
		seq  uint64
		code wire.Code
	}
	watcherGone    struct{ watcher uint64 }
	awaitWatermark struct {
		z    int64
		from *actor.PID
	}
	watermarkAdvanced struct{}
	// eventsSettled is a session actor's message to itself: the events of
	// zxids <= z bound for it are all in its mailbox ahead of this one.
	eventsSettled struct{ z int64 }
	// watchEvent is one notification bound for a session actor.
	watchEvent struct {
		zxid int64
		ord  int32 // the trigger's index in its transaction's Triggers
		typ  wire.EventType
		path string
		link *trace.SpanContext // the traced write that fired it, or nil
	}

	trig struct {
		zxid          int64
		ord           int32
		typ           wire.EventType
		path          string
		recursiveOnly bool
		link          *trace.SpanContext
	}
	pathTriggers struct {
		batch uint64
		items []trig
	}
	pathRegister struct {
		watcher uint64
		kind    uint8
	}
	pathWatcherGone struct{ watcher uint64 }
	// routerCount asks the router how many (watcher, path) entries it
	// keeps (tests, diagnostics); the reply channel must have room.
	routerCount struct{ reply chan int }
	// watchConsumed tells the router a path actor dropped the
	// registrations of watchers, having received received registrations.
	watchConsumed struct {
		path     string
		pid      *actor.PID
		received uint64
		watchers []uint64
	}
	pathIdle struct {
		path     string
		received uint64
		pid      *actor.PID
	}
	fanoutDone struct{ batch uint64 }
)

// windowSize bounds the router's recent-trigger window.
const windowSize = 1 << 16

type pathEntry struct {
	pid  *actor.PID
	sent uint64 // registrations sent to the actor
}

type pendingBatch struct {
	batch     uint64
	zxid      int64
	remaining int
}

type waiter struct {
	z    int64
	from *actor.PID
}

// router owns the per-path watch actors of the meta shard, routes apply
// triggers to them in apply order, keeps the recent-trigger window that
// makes registration atomic with the read, and advances the delivery
// watermark once every path actor has fanned out a batch.
type router struct {
	s         *Server
	paths     map[string]*pathEntry
	recursive map[string]map[uint64]struct{} // paths with recursive watches
	// byWatcher: the paths a watcher has registrations on, each with the
	// path actor's registration count when the last one was sent (see
	// watchConsumed).
	byWatcher map[uint64]map[string]uint64

	nextBatch uint64
	inflight  []pendingBatch
	waiters   []waiter

	win *window // recent triggers (window.go)
}

func newRouter(s *Server) *router {
	return &router{
		s:         s,
		paths:     map[string]*pathEntry{},
		recursive: map[string]map[uint64]struct{}{},
		byWatcher: map[uint64]map[string]uint64{},
		win:       newWindow(windowSize),
	}
}

func (r *router) receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *appliedTriggers:
		r.applied(ctx, m)
	case *fanoutDone:
		for i := range r.inflight {
			if r.inflight[i].batch == m.batch {
				r.inflight[i].remaining--
				break
			}
		}
		r.advance(ctx)
	case *watchRegister:
		r.register(ctx, m)
	case *watchRemove:
		e, ok := r.paths[m.path]
		if !ok {
			ctx.Send(m.from, &watchOpDone{seq: m.seq, code: wire.ErrNoWatcher})
			return
		}
		ctx.Send(e.pid, m)
	case *recursiveDropped:
		r.dropRecursive(m.path, m.watcher)
	case *watcherGone:
		for p := range r.byWatcher[m.watcher] {
			r.dropRecursive(p, m.watcher)
			if e, ok := r.paths[p]; ok {
				ctx.Send(e.pid, &pathWatcherGone{watcher: m.watcher})
			}
		}
		delete(r.byWatcher, m.watcher)
	case *routerCount:
		n := 0
		for _, set := range r.byWatcher {
			n += len(set)
		}
		m.reply <- n
	case *watchConsumed:
		// A path actor dropped these watchers' registrations (fired
		// one-shot watches, removeWatches): forget the path for them, so
		// a long-lived session's one-shot watches on many paths cost
		// nothing once fired. Only if the actor had received the
		// watcher's latest registration (a newer one may be on its way),
		// and only for the current actor of the path (or none).
		e, ok := r.paths[m.path]
		if ok && !e.pid.Equal(m.pid) {
			return
		}
		for _, w := range m.watchers {
			set := r.byWatcher[w]
			if n, has := set[m.path]; has && (!ok || n <= m.received) {
				delete(set, m.path)
				if len(set) == 0 {
					delete(r.byWatcher, w)
				}
			}
		}
	case *pathIdle:
		if e, ok := r.paths[m.path]; ok && e.sent == m.received && e.pid.Equal(m.pid) {
			delete(r.paths, m.path)
			// Poison is a user message: triggers already queued to the
			// actor are still processed (and acknowledged) first.
			ctx.Poison(e.pid)
		}
	case *awaitWatermark:
		if r.s.meta.watermark.Load() >= m.z {
			ctx.Send(m.from, &watermarkAdvanced{})
			return
		}
		r.waiters = append(r.waiters, waiter{m.z, m.from})
	}
}

func (r *router) dropRecursive(path string, w uint64) {
	if set, ok := r.recursive[path]; ok {
		delete(set, w)
		if len(set) == 0 {
			delete(r.recursive, path)
		}
	}
}

func (r *router) applied(ctx actor.Context, m *appliedTriggers) {
	r.nextBatch++
	b := pendingBatch{batch: r.nextBatch}
	var sends map[*pathEntry][]trig
	for ri, res := range m.results {
		if res.Zxid > b.zxid {
			b.zxid = res.Zxid
		}
		var link *trace.SpanContext
		if m.links != nil {
			link = m.links[ri]
		}
		for i, t := range res.Triggers {
			ord := int32(i)
			r.win.add(winEntry{path: t.Path, zxid: res.Zxid, ord: ord, typ: t.Type})
			if e, ok := r.paths[t.Path]; ok {
				if sends == nil {
					sends = map[*pathEntry][]trig{}
				}
				sends[e] = append(sends[e], trig{zxid: res.Zxid, ord: ord, typ: t.Type, path: t.Path, link: link})
			}
			if t.Type == wire.EventNodeChildrenChanged || len(r.recursive) == 0 {
				continue
			}
			for a := parent(t.Path); a != ""; a = parent(a) {
				if _, ok := r.recursive[a]; !ok {
					continue
				}
				if e, ok := r.paths[a]; ok {
					if sends == nil {
						sends = map[*pathEntry][]trig{}
					}
					sends[e] = append(sends[e], trig{zxid: res.Zxid, ord: ord, typ: t.Type, path: t.Path, recursiveOnly: true, link: link})
				}
			}
		}
	}
	for e, items := range sends {
		ctx.Send(e.pid, &pathTriggers{batch: b.batch, items: items})
	}
	b.remaining = len(sends)
	r.inflight = append(r.inflight, b)
	r.advance(ctx)
}

// advance moves the watermark over every fully fanned-out batch, in order,
// and wakes the session actors waiting for it.
func (r *router) advance(ctx actor.Context) {
	moved := false
	for len(r.inflight) > 0 && r.inflight[0].remaining <= 0 {
		if z := r.inflight[0].zxid; z > r.s.meta.watermark.Load() {
			r.s.meta.watermark.Store(z)
			moved = true
		}
		r.inflight = r.inflight[1:]
	}
	if !moved || len(r.waiters) == 0 {
		return
	}
	d := r.s.meta.watermark.Load()
	kept := r.waiters[:0]
	for _, w := range r.waiters {
		if w.z <= d {
			ctx.Send(w.from, &watermarkAdvanced{})
		} else {
			kept = append(kept, w)
		}
	}
	r.waiters = kept
}

// register applies a batch of registrations read at zxid m.z. A trigger
// with zxid > z that the router already fanned out fires now from the
// window (guarantee 5: no change slips between the read and the watch).
func (r *router) register(ctx actor.Context, m *watchRegister) {
	for _, it := range m.items {
		kind := it.kind
		fired := false
		if floor := r.win.floor; m.z < floor {
			r.s.log.Warn("watch registration older than the trigger window; firing conservatively", "path", it.path, "zxid", zx(m.z), "floor", zx(floor))
			if kind&(kData|kChild) != 0 {
				ctx.Send(m.from, &watchEvent{zxid: floor, typ: conservativeEvent(kind), path: it.path})
				fired = true
			}
		}
		if !fired {
			for _, w := range r.win.pathSince(it.path, m.z) {
				if fires(kind, trig{zxid: w.zxid, typ: w.typ, path: w.path}) {
					ctx.Send(m.from, &watchEvent{zxid: w.zxid, ord: w.ord, typ: w.typ, path: w.path})
					if kind&(kPersistent|kRecursive) == 0 {
						fired = true // one-shot: fired, not registered
						break
					}
				}
			}
		}
		if kind&kRecursive != 0 {
			prefix := strings.TrimSuffix(it.path, "/") + "/"
			r.win.since(m.z, func(w *winEntry) {
				if strings.HasPrefix(w.path, prefix) && w.typ != wire.EventNodeChildrenChanged {
					ctx.Send(m.from, &watchEvent{zxid: w.zxid, ord: w.ord, typ: w.typ, path: w.path})
				}
			})
		}
		if fired {
			continue
		}
		e, ok := r.paths[it.path]
		if !ok {
			path := it.path
			e = &pathEntry{pid: ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return newPathActor(r.s, path) }))}
			r.paths[it.path] = e
		}
		e.sent++
		ctx.Send(e.pid, &pathRegister{watcher: m.watcher, kind: kind})
		set := r.byWatcher[m.watcher]
		if set == nil {
			set = map[string]uint64{}
			r.byWatcher[m.watcher] = set
		}
		set[it.path] = e.sent
		if kind&kRecursive != 0 {
			rs := r.recursive[it.path]
			if rs == nil {
				rs = map[uint64]struct{}{}
				r.recursive[it.path] = rs
			}
			rs[m.watcher] = struct{}{}
		}
	}
	ctx.Send(m.from, &watchRegistered{seq: m.seq})
}

func conservativeEvent(kind uint8) wire.EventType {
	if kind&kChild != 0 {
		return wire.EventNodeChildrenChanged
	}
	return wire.EventNodeDataChanged
}

// fires reports whether a registration of the given kinds fires on t.
func fires(kind uint8, t trig) bool {
	if t.recursiveOnly {
		return kind&kRecursive != 0
	}
	switch t.typ {
	case wire.EventNodeCreated, wire.EventNodeDataChanged:
		return kind&(kData|kPersistent|kRecursive) != 0
	case wire.EventNodeDeleted:
		return kind != 0
	case wire.EventNodeChildrenChanged:
		return kind&(kChild|kPersistent) != 0
	}
	return false
}

// consume returns the kinds left after t fired: one-shot kinds that fired
// are gone.
func consume(kind uint8, t trig) uint8 {
	if t.recursiveOnly {
		return kind
	}
	switch t.typ {
	case wire.EventNodeCreated, wire.EventNodeDataChanged:
		return kind &^ kData
	case wire.EventNodeDeleted:
		return kind &^ (kData | kChild)
	case wire.EventNodeChildrenChanged:
		return kind &^ kChild
	}
	return kind
}

func parent(p string) string {
	if p == "/" || p == "" {
		return ""
	}
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// pathActor owns the registrations of one path: watcher ids and their
// kinds, nothing else. It lives while the path has registrations.
type pathActor struct {
	s        *Server
	path     string
	regs     map[uint64]uint8
	received uint64
	dataN    int // registrations in ZooKeeper's data table (inDataTable)
}

func newPathActor(s *Server, path string) *pathActor {
	return &pathActor{s: s, path: path, regs: map[uint64]uint8{}}
}

func (p *pathActor) receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *pathRegister:
		p.received++
		old := p.regs[m.watcher]
		k := old
		if m.kind&(kPersistent|kRecursive) != 0 {
			k &^= kNoDataHalf | kNoChildHalf
		}
		p.set(m.watcher, old, k|m.kind)
	case *pathTriggers:
		var consumed []uint64
		for _, t := range m.items {
			for w, kind := range p.regs {
				if !fires(kind, t) {
					continue
				}
				if ref, ok := p.s.watchers.Load(w); ok {
					ctx.Send(ref.(*watcherRef).pid, &watchEvent{zxid: t.zxid, ord: t.ord, typ: t.typ, path: t.path, link: t.link})
				}
				k := consume(kind, t)
				p.set(w, kind, k)
				if k == 0 {
					consumed = append(consumed, w)
				}
			}
		}
		if len(consumed) > 0 {
			ctx.Send(ctx.Parent(), &watchConsumed{path: p.path, pid: ctx.Self(), received: p.received, watchers: consumed})
		}
		// Events are in the sessions' mailboxes before the router hears
		// this, so the watermark it then publishes is safe.
		ctx.Send(ctx.Parent(), &fanoutDone{batch: m.batch})
		p.idle(ctx)
	case *watchRemove:
		kind := p.regs[m.watcher]
		// checkWatches/removeWatches as ZooKeeper 3.8's DataTree does over
		// its two tables (inDataTable, inChildTable).
		var has bool
		switch m.typ {
		case wire.WatcherChildren:
			has = inChildTable(kind)
		case wire.WatcherData:
			has = inDataTable(kind)
		case wire.WatcherAny:
			has = inDataTable(kind) || inChildTable(kind)
		}
		code := wire.ErrNoWatcher
		if has {
			code = wire.Ok
			if !m.check {
				k := kind
				switch m.typ {
				case wire.WatcherData:
					k = removeHalf(k&^kData, kNoDataHalf, kNoChildHalf)
				case wire.WatcherChildren:
					k = removeHalf(k&^kChild, kNoChildHalf, kNoDataHalf)
				default:
					k = 0
				}
				p.set(m.watcher, kind, k)
				if k == 0 {
					ctx.Send(ctx.Parent(), &watchConsumed{path: p.path, pid: ctx.Self(), received: p.received, watchers: []uint64{m.watcher}})
				}
				if kind&kRecursive != 0 && k&kRecursive == 0 {
					ctx.Send(ctx.Parent(), &recursiveDropped{path: p.path, watcher: m.watcher})
				}
			}
		}
		ctx.Send(m.from, &watchOpDone{seq: m.seq, code: code})
		p.idle(ctx)
	case *pathWatcherGone:
		p.set(m.watcher, p.regs[m.watcher], 0)
		p.idle(ctx)
	}
}

// set changes watcher w's kinds on this path from old to k (0: gone) and
// keeps the server's watch counters (watchStats) up to date with the
// change, so that mntr and wchs read counters instead of asking every
// path actor.
func (p *pathActor) set(w uint64, old, k uint8) {
	if k == 0 {
		delete(p.regs, w)
	} else {
		p.regs[w] = k
	}
	dd := btoi(inDataTable(k)) - btoi(inDataTable(old))
	dc := btoi(inChildTable(k)) - btoi(inChildTable(old))
	if dd == 0 && dc == 0 {
		return
	}
	st := &p.s.watchStats
	st.count.Add(int64(dd + dc))
	if dd == 0 {
		return
	}
	st.dataRegs.Add(int64(dd))
	before := p.dataN
	p.dataN += dd
	switch {
	case before == 0 && p.dataN > 0:
		st.dataPaths.Add(1)
	case before > 0 && p.dataN == 0:
		st.dataPaths.Add(-1)
	}
	if ref, ok := p.s.watchers.Load(w); ok { // else its session is gone and was uncounted
		ref.(*watcherRef).addData(st, int64(dd))
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ZooKeeper 3.8's DataTree keeps two watch tables: dataWatches (getData,
// exists, persistent and persistent-recursive watches) and childWatches
// (getChildren, persistent and persistent-recursive watches).
// removeWatches DATA or CHILDREN takes a persistent or recursive watch out
// of one of them (kNoDataHalf, kNoChildHalf). zk_watch_count is the sum of
// both sizes; wchs, wchc and wchp describe dataWatches.
func inDataTable(k uint8) bool {
	return k&kData != 0 || k&(kPersistent|kRecursive) != 0 && k&kNoDataHalf == 0
}

func inChildTable(k uint8) bool {
	return k&kChild != 0 || k&(kPersistent|kRecursive) != 0 && k&kNoChildHalf == 0
}

// watcherRef is what Server.watchers holds for a session actor: its PID
// for the path actors' events, its session id for wchc and wchp, and how
// many of its registrations are in the data table (wchs counts the
// sessions with at least one).
type watcherRef struct {
	pid     *actor.PID
	session int64
	data    atomic.Int64 // goneData once the session actor has gone (forget)
}

// goneData marks a forgotten watcherRef: far enough below zero that the
// path actors' later changes never bring it back to zero or above.
const goneData = math.MinInt64 / 2

// addData counts d more data-table registrations for the watcher, and the
// watcher as watching when it goes from none to some (or back).
func (r *watcherRef) addData(st *watchStats, d int64) {
	after := r.data.Add(d)
	switch before := after - d; {
	case before == 0 && after > 0:
		st.sessions.Add(1)
	case before > 0 && after == 0:
		st.sessions.Add(-1)
	}
}

// forget uncounts a watcher whose session actor stopped; the path actors
// drop its registrations later (pathWatcherGone), without it.
func (r *watcherRef) forget(st *watchStats) {
	if n := r.data.Swap(goneData); n > 0 {
		st.sessions.Add(-1)
	}
}

// watchStats are the watch counters the path actors keep (pathActor.set):
// entries in ZooKeeper's two tables together (zk_watch_count), in the data
// table, paths with data-table entries, and sessions with some (wchs).
type watchStats struct {
	count, dataRegs, dataPaths, sessions atomic.Int64
}

// removeHalf takes a persistent or recursive watch out of one table
// (this half); with the other half already gone, the watch goes.
func removeHalf(kind, this, other uint8) uint8 {
	if kind&(kPersistent|kRecursive) == 0 {
		return kind
	}
	if kind&other != 0 {
		return kind &^ (kPersistent | kRecursive | kNoDataHalf | kNoChildHalf)
	}
	return kind | this
}

func (p *pathActor) idle(ctx actor.Context) {
	if len(p.regs) == 0 {
		ctx.Send(ctx.Parent(), &pathIdle{path: p.path, received: p.received, pid: ctx.Self()})
	}
}
