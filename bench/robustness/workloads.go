package robustness

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// The workloads beyond the register and the unique ids, each run by its
// own sessions (Workload.Setters … Readers) next to the others and
// checked by Run.Verify:
//
//   - set: a session reads Root/set and appends its own unique element
//     with setData at the version it read. At the end every acknowledged
//     element is there (lost: 0), none is there twice, no failed one is
//     there; unknown ones that are there count as recovered.
//   - counter: a multi of two creates under Root/cnt. At the end every
//     acknowledged multi has both children, a failed one neither, an
//     unknown one both or neither: never one.
//   - queue: producers create sequential items under Root/q, consumers
//     take the oldest with a multi of check(version), setData and
//     delete. No item is taken twice; every acknowledged item is still
//     there or was taken (by an acknowledged or unknown multi).
//   - watches: a session keeps a data watch on every register key (set
//     again with getData after each event) and makes plain reads of
//     them. Each event comes before the response to any read that
//     reflects its change; after an event the next read of the key is
//     newer than the one that set the watch; within a connection events
//     come in zxid order; at the end no change is left without its event.
//   - plain reads: sessions read the register keys with getData and no
//     sync; a session never reads an older version of a key than it read
//     before, also after moving to another member. The watchers' reads
//     are checked the same way.
//   - expiry: an observer session holds an exists watch on each doomed
//     session's ephemeral; each deletion must come no sooner than two
//     thirds of the session timeout after the cut (the client pings every
//     third) and no later than a session timeout and a tick after the cut
//     or after the last change of leader, whichever is later, plus
//     expiryAllowance.

// expiryAllowance is the harness's measurement error on an expiry: the
// close-session transaction's commit, its apply on the observer's member
// and the event's delivery. The leader-change times come from polling
// srvr every leaderPoll, which can only make the bound looser.
const (
	expiryAllowance = 500 * time.Millisecond
	leaderPoll      = 100 * time.Millisecond
	// liveAfter: an event for a change whose write began this long after
	// the watcher's connection was made is a live event, which must come
	// in zxid order; earlier ones may be setWatches' answer for changes
	// made while the session was away, which a server sends in the order
	// of the request's paths.
	liveAfter = time.Second
)

// SetOp is one append of the set workload.
type SetOp struct {
	Client  int
	Elem    string
	Expect  int32
	Outcome Outcome
	Err     string
	Call    time.Duration
	Return  time.Duration
}

// MultiOp is one multi of the counter workload: two creates, ID-a and
// ID-b.
type MultiOp struct {
	Client  int
	ID      string
	Outcome Outcome
	Err     string
	Call    time.Duration
	Return  time.Duration
}

// ProduceOp is one sequential create of a queue item holding ID.
type ProduceOp struct {
	Client  int
	ID      string
	Name    string // OK only
	Outcome Outcome
	Err     string
	Call    time.Duration
	Return  time.Duration
}

// ConsumeOp is one take of a queue item: the multi check + setData +
// delete of Name, which held ID.
type ConsumeOp struct {
	Client  int
	Name    string
	ID      string
	Outcome Outcome
	Err     string
	Call    time.Duration
	Return  time.Duration
}

// PlainRead is a getData without sync.
type PlainRead struct {
	Client  int
	Server  string
	Key     string
	Version int32
	Zxid    int64
	Call    time.Duration
	Return  time.Duration
}

func (p PlainRead) String() string {
	return fmt.Sprintf("[%9.3fs %9.3fs] c%d %s read %s -> v%d (mzxid 0x%x)", p.Call.Seconds(), p.Return.Seconds(), p.Client, p.Server, p.Key, p.Version, p.Zxid)
}

// WatchEvent is a data-changed event a watcher was told of.
type WatchEvent struct {
	Key   string
	At    time.Duration
	Epoch int   // the watcher's connection (its n-th session event), from 1
	Armed int32 // the version the watch was set at; -1: unknown
}

// watcher is one watching session's state; the event callback and the
// session's loop share it.
type watcher struct {
	client int
	mu     sync.Mutex
	epochs []time.Duration // when each connection was made
	events []WatchEvent
	arming map[string]int // key → index into events from which an event is this arming's
	armed  map[string]int32
	setAt  map[string]time.Duration // when the pending watch's getData returned
	// pending: a watch set at armed[key] that has not fired.
	pending map[string]bool
	last    map[string]int // key → index of its last event with a known Armed
	stray   []string
	early   []string // reads that reflected a change before its event
	missed  []string // reads after an event that were not newer
}

// more is what the workloads of this file keep.
type more struct {
	mu       sync.Mutex
	sets     []SetOp
	multis   []MultiOp
	produced []ProduceOp
	consumed []ConsumeOp
	reads    map[int][]PlainRead // by session, in order
	watchers map[int]*watcher    // by client

	observed     bool                     // the observer's watches are set
	gone         map[string]time.Duration // doomed client → deletion seen
	observerConn []time.Duration          // the observer's connections
	leaders      []leaderChange
}

type leaderChange struct {
	At      time.Duration
	Leaders string // ids claiming to lead, e.g. "2" or "1,3"
}

const (
	setPath = Root + "/set"
	cntPath = Root + "/cnt"
	qPath   = Root + "/q"
)

func (m *more) add(f func()) {
	m.mu.Lock()
	f()
	m.mu.Unlock()
}

func (r *Run) morePace(ctx context.Context) *pacer {
	rate := r.W.MoreRate
	if rate <= 0 {
		rate = r.W.Rate
	}
	return &pacer{ctx: ctx, Ticker: time.NewTicker(time.Duration(float64(time.Second) / rate))}
}

// pacer paces a workload loop: Next waits for the next tick and reports
// false once ctx is done.
type pacer struct {
	ctx context.Context
	*time.Ticker
}

func (p *pacer) Next() bool {
	select {
	case <-p.ctx.Done():
		return false
	case <-p.C:
		return true
	}
}

// startMore creates the znodes and sessions of this file's workloads and
// starts them; their sessions join r.Live.
func (r *Run) startMore(ctx, lctx context.Context) error {
	w := r.W
	m := &more{reads: map[int][]PlainRead{}, gone: map[string]time.Duration{}, watchers: map[int]*watcher{}}
	r.more = m
	setup, err := Dial(ctx, r.addrs(), 1, "setup-more", w.SessionTimeout)
	if err != nil {
		return err
	}
	for _, p := range []string{setPath, cntPath, qPath} {
		if err := createRetry(ctx, setup.Conn, p, nil, 0); err != nil {
			setup.Close()
			return err
		}
	}
	setup.Close()
	n := len(r.E.Members)
	start := func(name string, loop func(ctx context.Context, i int, c *Client), hook func(i int, c *Client)) error {
		i := len(r.Live)
		c, err := Dial(ctx, r.addrs(), 1+i%n, name, w.SessionTimeout)
		if err != nil {
			return err
		}
		if err := createRetry(ctx, c.Conn, Root+"/eph/"+name, nil, zk.FlagEphemeral); err != nil {
			c.Close()
			return err
		}
		r.Live = append(r.Live, c)
		if hook != nil {
			hook(i, c)
		}
		if loop != nil {
			r.wg.Add(1)
			go func() { defer r.wg.Done(); loop(lctx, i, c) }()
		}
		return nil
	}
	for _, k := range []struct {
		n    int
		name string
		loop func(ctx context.Context, i int, c *Client)
		hook func(i int, c *Client)
	}{
		{w.Setters, "set", r.setLoop, nil},
		{w.Counters, "cnt", r.counterLoop, nil},
		{w.Producers, "prod", r.produceLoop, nil},
		{w.Consumers, "cons", r.consumeLoop, nil},
		{w.Watchers, "watch", r.watchLoop, r.watchHook},
		{w.Readers, "read", r.readLoop, nil},
	} {
		for j := range k.n {
			if err := start(fmt.Sprintf("%s%d", k.name, j), k.loop, k.hook); err != nil {
				return err
			}
		}
	}
	if len(r.Doomed) > 0 {
		if err := start("observer", nil, r.observe); err != nil {
			return err
		}
		r.wg.Add(1)
		go func() { defer r.wg.Done(); r.watchLeaders(lctx) }()
	}
	return nil
}

func (r *Run) setLoop(ctx context.Context, i int, c *Client) {
	pace := r.morePace(ctx)
	defer pace.Stop()
	for n := 1; pace.Next(); n++ {
		data, st, err := c.Conn.Get(setPath)
		if err != nil {
			continue
		}
		op := SetOp{Client: i, Elem: fmt.Sprintf("s%d-%d", i, n), Expect: st.Version, Call: r.Hist.Now()}
		_, err = c.Conn.Set(setPath, append(data, op.Elem+","...), st.Version)
		op.Return, op.Outcome = r.Hist.Now(), OutcomeOf(err)
		if err != nil {
			op.Err = err.Error()
		}
		r.more.add(func() { r.more.sets = append(r.more.sets, op) })
	}
}

// multiOutcome classifies a multi's answer: a Go error as OutcomeOf does,
// an error in any of its results as Fail.
func multiOutcome(res []zk.MultiResponse, err error) (Outcome, string) {
	if err != nil {
		return OutcomeOf(err), err.Error()
	}
	for _, r := range res {
		if r.Error != nil {
			return Fail, r.Error.Error()
		}
	}
	return OK, ""
}

func (r *Run) counterLoop(ctx context.Context, i int, c *Client) {
	pace := r.morePace(ctx)
	defer pace.Stop()
	acl := zk.WorldACL(zk.PermAll)
	for n := 1; pace.Next(); n++ {
		op := MultiOp{Client: i, ID: fmt.Sprintf("m%d-%d", i, n), Call: r.Hist.Now()}
		res, err := c.Conn.Multi(
			&zk.CreateRequest{Path: cntPath + "/" + op.ID + "-a", Acl: acl},
			&zk.CreateRequest{Path: cntPath + "/" + op.ID + "-b", Acl: acl})
		op.Return = r.Hist.Now()
		op.Outcome, op.Err = multiOutcome(res, err)
		r.more.add(func() { r.more.multis = append(r.more.multis, op) })
	}
}

func (r *Run) produceLoop(ctx context.Context, i int, c *Client) {
	pace := r.morePace(ctx)
	defer pace.Stop()
	for n := 1; pace.Next(); n++ {
		op := ProduceOp{Client: i, ID: fmt.Sprintf("p%d-%d", i, n), Call: r.Hist.Now()}
		name, err := c.Conn.Create(qPath+"/item-", []byte(op.ID), zk.FlagSequence, zk.WorldACL(zk.PermAll))
		op.Return, op.Outcome = r.Hist.Now(), OutcomeOf(err)
		if err != nil {
			op.Err = err.Error()
		} else {
			op.Name = path.Base(name)
		}
		r.more.add(func() { r.more.produced = append(r.more.produced, op) })
	}
}

func (r *Run) consumeLoop(ctx context.Context, i int, c *Client) {
	pace := r.morePace(ctx)
	defer pace.Stop()
	rng := rand.New(rand.NewPCG(uint64(i), 11))
	for pace.Next() {
		kids, _, err := c.Conn.Children(qPath)
		if err != nil || len(kids) == 0 {
			continue
		}
		sort.Strings(kids)
		// One of the two oldest: the consumers contend for them.
		item := kids[rng.IntN(min(2, len(kids)))]
		p := qPath + "/" + item
		data, st, err := c.Conn.Get(p)
		if err != nil {
			continue
		}
		op := ConsumeOp{Client: i, Name: item, ID: string(data), Call: r.Hist.Now()}
		res, err := c.Conn.Multi(
			&zk.CheckVersionRequest{Path: p, Version: st.Version},
			&zk.SetDataRequest{Path: p, Data: []byte("taken by " + c.Name), Version: st.Version},
			&zk.DeleteRequest{Path: p, Version: st.Version + 1})
		op.Return = r.Hist.Now()
		op.Outcome, op.Err = multiOutcome(res, err)
		r.more.add(func() { r.more.consumed = append(r.more.consumed, op) })
	}
}

func (r *Run) readLoop(ctx context.Context, i int, c *Client) {
	pace := r.morePace(ctx)
	defer pace.Stop()
	rng := rand.New(rand.NewPCG(uint64(i), 13))
	for pace.Next() {
		r.plainRead(i, c, r.keys[rng.IntN(len(r.keys))], false)
	}
}

// plainRead reads key without sync (with a watch when watch) and records
// it; ok false when it failed.
func (r *Run) plainRead(i int, c *Client, key string, watch bool) (PlainRead, bool) {
	p := PlainRead{Client: i, Server: c.Conn.Server(), Key: key, Call: r.Hist.Now()}
	var st *zk.Stat
	var err error
	if watch {
		_, st, _, err = c.Conn.GetW(key)
	} else {
		_, st, err = c.Conn.Get(key)
	}
	p.Return = r.Hist.Now()
	if err != nil {
		return p, false
	}
	p.Version, p.Zxid = st.Version, st.Mzxid
	r.more.add(func() { r.more.reads[i] = append(r.more.reads[i], p) })
	return p, true
}

// watchHook installs the watcher's event callback before its loop sets
// any watch.
func (r *Run) watchHook(i int, c *Client) {
	w := &watcher{client: i, arming: map[string]int{}, armed: map[string]int32{}, setAt: map[string]time.Duration{},
		pending: map[string]bool{}, last: map[string]int{}}
	r.more.add(func() { r.more.watchers[i] = w })
	f := func(ev zk.Event) {
		now := r.Hist.Now()
		w.mu.Lock()
		defer w.mu.Unlock()
		switch {
		case ev.Type == zk.EventSession && ev.State == zk.StateHasSession:
			w.epochs = append(w.epochs, now)
		case ev.Type == zk.EventNodeDataChanged:
			e := WatchEvent{Key: ev.Path, At: now, Epoch: len(w.epochs), Armed: -1}
			_, arming := w.arming[ev.Path]
			switch {
			case w.pending[ev.Path]:
				e.Armed = w.armed[ev.Path]
				w.pending[ev.Path] = false
				w.last[ev.Path] = len(w.events)
			case arming:
				// The watch fired before its getData returned: the loop
				// fills in Armed.
			default:
				w.stray = append(w.stray, fmt.Sprintf("%.3fs: %s on %s, with no watch set", now.Seconds(), ev.Type, ev.Path))
			}
			w.events = append(w.events, e)
		}
	}
	c.onEvent.Store(&f)
	// The session was made before the hook: its first connection.
	w.mu.Lock()
	w.epochs = append(w.epochs, r.Hist.Now())
	w.mu.Unlock()
}

func (r *Run) watchLoop(ctx context.Context, i int, c *Client) {
	var w *watcher
	r.more.add(func() { w = r.more.watchers[i] })
	pace := r.morePace(ctx)
	defer pace.Stop()
	rng := rand.New(rand.NewPCG(uint64(i), 17))
	for pace.Next() {
		// Set the watches that are not set (first, or fired).
		for _, key := range r.keys {
			w.mu.Lock()
			if w.pending[key] {
				w.mu.Unlock()
				continue
			}
			w.arming[key] = len(w.events)
			prev, hasPrev := w.last[key]
			w.mu.Unlock()
			p, ok := r.plainRead(i, c, key, true)
			w.mu.Lock()
			from := w.arming[key]
			delete(w.arming, key)
			fired := -1
			for j := from; j < len(w.events); j++ {
				if w.events[j].Key == key && w.events[j].Armed < 0 {
					fired = j
					break
				}
			}
			if ok {
				if hasPrev {
					if a := w.events[prev].Armed; a >= 0 && p.Version <= a {
						w.missed = append(w.missed, fmt.Sprintf("after the event at %.3fs for %s (watch set at v%d) the next read returned v%d: %v",
							w.events[prev].At.Seconds(), key, a, p.Version, p))
					}
				}
				if fired >= 0 {
					w.events[fired].Armed = p.Version
					w.last[key] = fired
				} else {
					w.armed[key], w.pending[key], w.setAt[key] = p.Version, true, p.Return
				}
			}
			w.mu.Unlock()
		}
		// A plain read: it must not show a change whose event has not come.
		key := r.keys[rng.IntN(len(r.keys))]
		w.mu.Lock()
		wasPending, armed := w.pending[key], w.armed[key]
		w.mu.Unlock()
		p, ok := r.plainRead(i, c, key, false)
		if !ok || !wasPending {
			continue
		}
		w.mu.Lock()
		if w.pending[key] && w.armed[key] == armed && p.Version > armed && !w.racesSetWatches(w.setAt[key], p) {
			w.early = append(w.early, fmt.Sprintf("read of %s returned v%d while the watch set at v%d had not fired: %v", key, p.Version, armed, p))
		}
		w.mu.Unlock()
	}
}

// racesSetWatches reports whether read p may have been answered before
// the setWatches that carried a watch set at armedAt to a new connection:
// go-zookeeper sends the requests queued while it was disconnected before
// its setWatches (the Java client sends SetWatches first), so a read made
// within liveAfter of a reconnection may see a change whose event comes
// just after it. w.mu is held.
func (w *watcher) racesSetWatches(armedAt time.Duration, p PlainRead) bool {
	for _, e := range w.epochs {
		if e > armedAt && e <= p.Return && p.Call < e+liveAfter {
			return true
		}
	}
	return false
}

// observe sets the observer's exists watches on the doomed sessions'
// ephemerals.
func (r *Run) observe(_ int, c *Client) {
	m := r.more
	f := func(ev zk.Event) {
		now := r.Hist.Now()
		m.mu.Lock()
		defer m.mu.Unlock()
		switch {
		case ev.Type == zk.EventSession && ev.State == zk.StateHasSession:
			m.observerConn = append(m.observerConn, now)
		case ev.Type == zk.EventNodeDeleted:
			name := path.Base(ev.Path)
			if _, ok := m.gone[name]; !ok {
				m.gone[name] = now
			}
		}
	}
	c.onEvent.Store(&f)
	for _, d := range r.Doomed {
		if ok, _, _, err := c.Conn.ExistsW(Root + "/eph/" + d.Name); err != nil || !ok {
			return // no measurement
		}
	}
	m.add(func() { m.observed = true })
}

// watchLeaders records every change of the set of members that say they
// lead, polling srvr every leaderPoll.
func (r *Run) watchLeaders(ctx context.Context) {
	tick := time.NewTicker(leaderPoll)
	defer tick.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var ids []string
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, mb := range r.E.Members {
			if !mb.Running() || mb.Stopped() {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if mode, err := mb.Mode(); err == nil && (mode == "leader" || mode == "standalone") {
					mu.Lock()
					ids = append(ids, fmt.Sprint(mb.ID))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		sort.Strings(ids)
		if s := strings.Join(ids, ","); s != last && s != "" {
			last = s
			now := r.Hist.Now()
			r.more.add(func() { r.more.leaders = append(r.more.leaders, leaderChange{At: now, Leaders: s}) })
		}
	}
}

// SetCount is the set workload's tally.
type SetCount struct{ Acked, Lost, Recovered, Unknown, Failed int }

// CheckSet checks the set workload against the znode's final data
// (elements each followed by a comma).
func CheckSet(ops []SetOp, final string) (SetCount, []string) {
	var n SetCount
	var bad []string
	present := map[string]int{}
	for _, e := range strings.Split(strings.TrimSuffix(final, ","), ",") {
		if e != "" {
			present[e]++
		}
	}
	byElem := map[string]SetOp{}
	for _, o := range ops {
		byElem[o.Elem] = o
		switch o.Outcome {
		case OK:
			n.Acked++
			if present[o.Elem] == 0 {
				n.Lost++
				bad = append(bad, fmt.Sprintf("lost: acknowledged append %s (client %d, at v%d, %.3fs–%.3fs) is not there at the end", o.Elem, o.Client, o.Expect, o.Call.Seconds(), o.Return.Seconds()))
			}
		case Unknown:
			n.Unknown++
			if present[o.Elem] > 0 {
				n.Recovered++
			}
		case Fail:
			n.Failed++
			if present[o.Elem] > 0 {
				bad = append(bad, fmt.Sprintf("failed append %s (%s) is there at the end", o.Elem, o.Err))
			}
		}
	}
	for e, k := range present {
		if k > 1 {
			bad = append(bad, fmt.Sprintf("%s is there %d times", e, k))
		}
		if _, ok := byElem[e]; !ok {
			bad = append(bad, fmt.Sprintf("%s is there, and no append of the history made it", e))
		}
	}
	sort.Strings(bad)
	return n, bad
}

// CheckCounter checks the counter workload against the parent's children
// at the end and returns how many multis are there (complete pairs).
func CheckCounter(ops []MultiOp, children map[string]string) (int, []string) {
	var bad []string
	parts := map[string]int{}
	for name := range children {
		id, ok := strings.CutSuffix(name, "-a")
		if !ok {
			id, ok = strings.CutSuffix(name, "-b")
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("child %s is no part of a multi", name))
			continue
		}
		parts[id]++
	}
	known := map[string]bool{}
	for _, o := range ops {
		known[o.ID] = true
		switch k := parts[o.ID]; {
		case k == 1:
			bad = append(bad, fmt.Sprintf("partial multi: %s (%s) has one of its two creates at the end", o.ID, o.Outcome))
		case o.Outcome == OK && k != 2:
			bad = append(bad, fmt.Sprintf("lost: acknowledged multi %s (client %d, %.3fs–%.3fs) is not there at the end", o.ID, o.Client, o.Call.Seconds(), o.Return.Seconds()))
		case o.Outcome == Fail && k != 0:
			bad = append(bad, fmt.Sprintf("failed multi %s (%s) is there at the end", o.ID, o.Err))
		}
	}
	count := 0
	for id, k := range parts {
		if k == 2 {
			count++
		}
		if !known[id] {
			bad = append(bad, fmt.Sprintf("children of %s are there, and no multi of the history made them", id))
		}
	}
	sort.Strings(bad)
	return count, bad
}

// QueueCount is the queue workload's tally.
type QueueCount struct{ Produced, Taken, Left int }

// CheckQueue checks the queue workload against the queue's items at the
// end (name → data).
func CheckQueue(produced []ProduceOp, consumed []ConsumeOp, items map[string]string) (QueueCount, []string) {
	var n QueueCount
	var bad []string
	ids := map[string]ProduceOp{}
	for _, p := range produced {
		ids[p.ID] = p
		if p.Outcome == OK {
			n.Produced++
		}
	}
	takes := map[string][]ConsumeOp{} // by item name: OK and unknown takes
	for _, c := range consumed {
		if p, ok := ids[c.ID]; !ok {
			bad = append(bad, fmt.Sprintf("%s held %q, which no producer wrote", c.Name, c.ID))
		} else if p.Outcome == OK && p.Name != c.Name {
			bad = append(bad, fmt.Sprintf("%s held %q, which its producer created as %s", c.Name, c.ID, p.Name))
		}
		if c.Outcome == OK {
			n.Taken++
			for _, prev := range takes[c.Name] {
				if prev.Outcome == OK {
					bad = append(bad, fmt.Sprintf("taken twice: %s by client %d (%.3fs) and by client %d (%.3fs)", c.Name, prev.Client, prev.Return.Seconds(), c.Client, c.Return.Seconds()))
				}
			}
			if _, left := items[c.Name]; left {
				bad = append(bad, fmt.Sprintf("%s was taken by client %d (%.3fs) and is still there at the end", c.Name, c.Client, c.Return.Seconds()))
			}
		}
		if c.Outcome != Fail {
			takes[c.Name] = append(takes[c.Name], c)
		}
	}
	for _, p := range produced {
		if p.Outcome != OK {
			continue
		}
		if _, left := items[p.Name]; !left && len(takes[p.Name]) == 0 {
			bad = append(bad, fmt.Sprintf("lost: acknowledged item %s (%s, client %d, %.3fs) is gone and no take of it was acknowledged or unknown", p.Name, p.ID, p.Client, p.Return.Seconds()))
		}
	}
	for name, data := range items {
		n.Left++
		if _, ok := ids[data]; !ok {
			bad = append(bad, fmt.Sprintf("item %s holds %q, which no producer wrote", name, data))
		}
	}
	sort.Strings(bad)
	return n, bad
}

// CheckPlainReads checks that no session read an older version of a key
// than it had read before (reads by session, in the session's order).
func CheckPlainReads(reads map[int][]PlainRead) []string {
	var bad []string
	for _, rs := range reads {
		newest := map[string]PlainRead{}
		for _, p := range rs {
			if prev, ok := newest[p.Key]; ok && p.Version < prev.Version {
				bad = append(bad, fmt.Sprintf("went back in time: %v after %v", p, prev))
				continue
			}
			newest[p.Key] = p
		}
	}
	sort.Strings(bad)
	return bad
}

type keyVersion struct {
	key     string
	version int32
}

// CheckWatchOrder checks that, within one connection, a watcher's events
// for live changes come in zxid order: zxid and written give each change
// (key, version) its zxid and the call time of the write that made it.
func CheckWatchOrder(events []WatchEvent, epochs []time.Duration, zxid map[keyVersion]int64, written map[keyVersion]time.Duration) []string {
	var bad []string
	for j, e := range events {
		if e.Armed < 0 || e.Epoch < 1 || e.Epoch > len(epochs) {
			continue
		}
		kv := keyVersion{e.Key, e.Armed + 1}
		zj, ok := zxid[kv]
		at, okw := written[kv]
		if !ok || !okw || at < epochs[e.Epoch-1]+liveAfter {
			continue
		}
		for i := range j {
			p := events[i]
			if p.Epoch != e.Epoch || p.Armed < 0 {
				continue
			}
			if zi, ok := zxid[keyVersion{p.Key, p.Armed + 1}]; ok && zi > zj {
				bad = append(bad, fmt.Sprintf("event for %s v%d (zxid 0x%x) at %.3fs came after the event for %s v%d (zxid 0x%x) at %.3fs",
					e.Key, e.Armed+1, zj, e.At.Seconds(), p.Key, p.Armed+1, zi, p.At.Seconds()))
			}
		}
	}
	return bad
}

// verifyMore checks the workloads of this file after the load stopped and
// the final reads are in the history; Verify calls it.
func (r *Run) verifyMore(ctx context.Context) (findings []Finding) {
	m := r.more
	if m == nil {
		return nil
	}
	add := func(check string, lines []string) {
		const most = 20
		if len(lines) > most {
			lines = append(lines[:most:most], fmt.Sprintf("… and %d more", len(lines)-most))
		}
		if len(lines) > 0 {
			findings = append(findings, Finding{Check: check, Evidence: strings.Join(lines, "\n  ")})
		}
	}
	checker, err := Dial(ctx, r.addrs(), 1, "check-more", r.W.SessionTimeout)
	if err != nil {
		return []Finding{{Check: "members serve", Evidence: err.Error()}}
	}
	defer checker.Close()
	if _, err := checker.Conn.Sync(Root); err != nil {
		return []Finding{{Check: "members serve", Evidence: "sync: " + err.Error()}}
	}
	children := func(p string) (map[string]string, error) {
		kids, _, err := checker.Conn.Children(p)
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, k := range kids {
			data, _, err := checker.Conn.Get(p + "/" + k)
			if err != nil {
				return nil, err
			}
			out[k] = string(data)
		}
		return out, nil
	}

	m.mu.Lock()
	sets, multis := append([]SetOp(nil), m.sets...), append([]MultiOp(nil), m.multis...)
	produced, consumed := append([]ProduceOp(nil), m.produced...), append([]ConsumeOp(nil), m.consumed...)
	m.mu.Unlock()
	if r.W.Setters > 0 {
		data, _, err := checker.Conn.Get(setPath)
		if err != nil {
			add("set", []string{"read " + setPath + ": " + err.Error()})
		} else {
			_, bad := CheckSet(sets, string(data))
			add("set: no acknowledged append lost", bad)
		}
	}
	if r.W.Counters > 0 {
		if kids, err := children(cntPath); err != nil {
			add("counter", []string{err.Error()})
		} else {
			_, bad := CheckCounter(multis, kids)
			add("counter: multis whole or absent", bad)
		}
	}
	if r.W.Producers > 0 {
		if items, err := children(qPath); err != nil {
			add("queue", []string{err.Error()})
		} else {
			_, bad := CheckQueue(produced, consumed, items)
			add("queue: no item lost or taken twice", bad)
		}
	}

	// Watches. Final versions from the final reads; zxids and write times
	// from everything read and written.
	final := map[string]int32{}
	zxid := map[keyVersion]int64{}
	written := map[keyVersion]time.Duration{}
	for _, op := range r.Hist.Ops() {
		if op.Outcome != OK || op.Missing {
			continue
		}
		kv := keyVersion{op.Key, op.Version}
		if op.Zxid != 0 {
			zxid[kv] = op.Zxid
		}
		if op.Kind == CAS {
			written[kv] = op.Call
		}
		if op.Client >= 1000 && op.Kind == Read {
			final[op.Key] = max(final[op.Key], op.Version)
		}
	}
	m.mu.Lock()
	reads := map[int][]PlainRead{}
	for c, rs := range m.reads {
		reads[c] = append([]PlainRead(nil), rs...)
		for _, p := range rs {
			zxid[keyVersion{p.Key, p.Version}] = p.Zxid
		}
	}
	var watchers []*watcher
	for _, w := range m.watchers {
		watchers = append(watchers, w)
	}
	sort.Slice(watchers, func(i, j int) bool { return watchers[i].client < watchers[j].client })
	m.mu.Unlock()
	add("plain reads never go back in time", CheckPlainReads(reads))

	// No missed change: every watch still set must have been set at the
	// key's final version, or fire soon.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var missed []string
		for _, w := range watchers {
			w.mu.Lock()
			for _, key := range r.keys {
				if v, ok := final[key]; ok && w.pending[key] && w.armed[key] < v {
					missed = append(missed, fmt.Sprintf("client %d: %s changed to v%d after its watch was set at v%d, and no event came", w.client, key, v, w.armed[key]))
				}
			}
			w.mu.Unlock()
		}
		if len(missed) == 0 || time.Now().After(deadline) {
			sort.Strings(missed)
			add("watches: no missed change", missed)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, w := range watchers {
		w.mu.Lock()
		add(fmt.Sprintf("watches: client %d's events before the reads that reflect them", w.client), w.early)
		add(fmt.Sprintf("watches: client %d's next read after an event is newer", w.client), w.missed)
		add(fmt.Sprintf("watches: client %d's events each for a watch", w.client), w.stray)
		add(fmt.Sprintf("watches: client %d's events in zxid order", w.client), CheckWatchOrder(w.events, w.epochs, zxid, written))
		w.mu.Unlock()
	}

	// Expiry times.
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.observed || r.cutAt == 0 {
		return findings
	}
	var bad []string
	resets := r.clockResets()
	for _, d := range r.Doomed {
		g, ok := m.gone[d.Name]
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: the observer was not told its ephemeral was deleted", d.Name))
			continue
		}
		if reconnected(m.observerConn, r.cutAt, g) {
			continue // the event may have waited for the observer's reconnection
		}
		from := r.cutAt
		for _, l := range m.leaders {
			if l.At <= g {
				from = max(from, l.At)
			}
		}
		for _, at := range resets {
			if at <= g {
				from = max(from, at)
			}
		}
		tick := r.E.Opts.TickTime
		// The client pings after a third of the timeout idle, by its own
		// ticker: on a loaded machine its last ping before the cut may be
		// late by as much as the measurement allowance.
		if early := r.cutAt + r.W.SessionTimeout*2/3 - expiryAllowance; g < early {
			bad = append(bad, fmt.Sprintf("%s: expired %.3fs after the cut, before two thirds of its %v timeout less %v", d.Name, (g-r.cutAt).Seconds(), r.W.SessionTimeout, expiryAllowance))
		}
		if late := from + r.W.SessionTimeout + tick + expiryAllowance; g > late {
			bad = append(bad, fmt.Sprintf("%s: expired %.3fs after the cut and %.3fs after the last leader change (%s), past its timeout %v + tick %v + %v",
				d.Name, (g-r.cutAt).Seconds(), (g-from).Seconds(), describeLeaders(m.leaders), r.W.SessionTimeout, tick, expiryAllowance))
		}
	}
	add("doomed sessions expire within their timeout plus a tick", bad)
	return findings
}

// clockResets returns when a Paddock member's tracker gave every session
// a fresh timeout (it became the leader, or heard from a quorum again),
// from the members' logs: srvr polled every 100 ms misses a leadership
// that comes and goes between two polls, and each such reset legitimately
// moves every expiry later. ZooKeeper's logs are not read (nil).
func (r *Run) clockResets() []time.Duration {
	if r.E.Opts.Kind != Paddock {
		return nil
	}
	var out []time.Duration
	for _, mb := range r.E.Members {
		b, err := os.ReadFile(mb.logPath())
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.Contains(line, "every session gets a fresh timeout") || !strings.HasPrefix(line, "time=") {
				continue
			}
			stamp, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
			if at, err := time.Parse(time.RFC3339Nano, stamp); err == nil {
				out = append(out, at.Sub(r.Hist.start))
			}
		}
	}
	return out
}

func reconnected(conns []time.Duration, from, to time.Duration) bool {
	for _, c := range conns {
		if c > from && c <= to {
			return true
		}
	}
	return false
}

func describeLeaders(ls []leaderChange) string {
	var s []string
	for _, l := range ls {
		s = append(s, fmt.Sprintf("%.3fs: %s", l.At.Seconds(), l.Leaders))
	}
	return "leaders " + strings.Join(s, "; ")
}

// MoreSummary tallies the workloads of this file, for the test log.
func (r *Run) MoreSummary() string {
	m := r.more
	if m == nil {
		return ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	count := func(n int, out func(i int) Outcome) string {
		c := map[Outcome]int{}
		for i := range n {
			c[out(i)]++
		}
		return fmt.Sprintf("%d ok/%d unknown/%d failed", c[OK], c[Unknown], c[Fail])
	}
	nreads, nevents := 0, 0
	for _, rs := range m.reads {
		nreads += len(rs)
	}
	for _, w := range m.watchers {
		w.mu.Lock()
		nevents += len(w.events)
		w.mu.Unlock()
	}
	var exp []string
	for _, d := range r.Doomed {
		if g, ok := m.gone[d.Name]; ok && r.cutAt > 0 {
			exp = append(exp, fmt.Sprintf("%.2fs", (g-r.cutAt).Seconds()))
		}
	}
	return fmt.Sprintf("set %s; counter %s; queue produce %s, take %s; %d plain reads, %d watch events; doomed gone after %s; %s",
		count(len(m.sets), func(i int) Outcome { return m.sets[i].Outcome }),
		count(len(m.multis), func(i int) Outcome { return m.multis[i].Outcome }),
		count(len(m.produced), func(i int) Outcome { return m.produced[i].Outcome }),
		count(len(m.consumed), func(i int) Outcome { return m.consumed[i].Outcome }),
		nreads, nevents, strings.Join(exp, ", "), describeLeaders(m.leaders))
}

// WriteMore writes what the workloads of this file recorded, for a
// failing run's evidence.
func (r *Run) WriteMore(w io.Writer) error {
	m := r.more
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	for _, o := range m.sets {
		fmt.Fprintf(&b, "[%9.3fs %9.3fs] c%d set-append %s at v%d %s %s\n", o.Call.Seconds(), o.Return.Seconds(), o.Client, o.Elem, o.Expect, o.Outcome, o.Err)
	}
	for _, o := range m.multis {
		fmt.Fprintf(&b, "[%9.3fs %9.3fs] c%d multi-create %s %s %s\n", o.Call.Seconds(), o.Return.Seconds(), o.Client, o.ID, o.Outcome, o.Err)
	}
	for _, o := range m.produced {
		fmt.Fprintf(&b, "[%9.3fs %9.3fs] c%d produce %s -> %s %s %s\n", o.Call.Seconds(), o.Return.Seconds(), o.Client, o.ID, o.Name, o.Outcome, o.Err)
	}
	for _, o := range m.consumed {
		fmt.Fprintf(&b, "[%9.3fs %9.3fs] c%d take %s (%s) %s %s\n", o.Call.Seconds(), o.Return.Seconds(), o.Client, o.Name, o.ID, o.Outcome, o.Err)
	}
	clients := make([]int, 0, len(m.reads))
	for c := range m.reads {
		clients = append(clients, c)
	}
	sort.Ints(clients)
	for _, c := range clients {
		for _, p := range m.reads[c] {
			b.WriteString(p.String() + "\n")
		}
	}
	for _, c := range slices.Sorted(maps.Keys(m.watchers)) {
		w := m.watchers[c]
		w.mu.Lock()
		for _, e := range w.events {
			fmt.Fprintf(&b, "c%d event %s at %.3fs, connection %d, watch set at v%d\n", c, e.Key, e.At.Seconds(), e.Epoch, e.Armed)
		}
		w.mu.Unlock()
	}
	for name, g := range m.gone {
		fmt.Fprintf(&b, "observer: %s's ephemeral deleted at %.3fs (cut at %.3fs)\n", name, g.Seconds(), r.cutAt.Seconds())
	}
	fmt.Fprintf(&b, "%s\n", describeLeaders(m.leaders))
	_, err := io.WriteString(w, b.String())
	return err
}
