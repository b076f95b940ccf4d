package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/paddockdb/paddock/wire"
)

// Znodes used, all under Config.Root (default /bench):
//
//	<root>/k00000000 …        the keys of ratio and multi
//	<root>/cd/<tag>-s<i>-<j>  create-delete names (a ring of Keys per session)
//	<root>/eseq/<tag>-s<i>-   ephemeral sequential creates
//	<root>/children/c00000000 … the children of the children workload
//	<root>/watch              the node watch-fanout watches and sets
//
// <tag> is the generator's process id, so two generators running at once
// do not trip over each other's names.

func keyPath(root string, i int) string { return fmt.Sprintf("%s/k%08d", root, i) }

func value(size int) []byte {
	v := make([]byte, size)
	for i := range v {
		v[i] = 'a' + byte(i%26)
	}
	return v
}

// setup creates what the workload needs through one control session and
// returns the generator factory for session i.
func setup(cfg Config) (func(i int) opGen, error) {
	s, err := dialSession(cfg.Addrs[0], 64<<10)
	if err != nil {
		return nil, err
	}
	defer s.close()
	val := value(cfg.ValueSize)
	keys := func(prefix string) []string {
		out := make([]string, cfg.Keys)
		for i := range out {
			out[i] = fmt.Sprintf("%s/%s%08d", cfg.Root, prefix, i)
		}
		return out
	}
	seed := func(i int) *rand.Rand { return rand.New(rand.NewPCG(uint64(i)+1, 0x9e3779b97f4a7c15)) }

	switch cfg.Workload {
	case WorkloadRatio, WorkloadMulti:
		if err := s.ensurePath(cfg.Root); err != nil {
			return nil, err
		}
		ks := keys("k")
		if err := s.ensureAll(ks, val); err != nil {
			return nil, err
		}
		if cfg.Workload == WorkloadMulti {
			return func(i int) opGen { return newMultiGen(seed(i), ks, val, cfg.MultiOps) }, nil
		}
		return func(i int) opGen { return newRatioGen(seed(i), ks, val, cfg.ReadRatio) }, nil

	case WorkloadCreateDelete:
		dir := cfg.Root + "/cd"
		if err := s.ensurePath(dir); err != nil {
			return nil, err
		}
		return func(i int) opGen {
			names := make([]string, min(cfg.Keys, 4096))
			for j := range names {
				names[j] = fmt.Sprintf("%s/%s-s%d-%d", dir, runTag, i, j)
			}
			return &createDeleteGen{names: names, create: wire.CreateRequest{Data: val, ACL: wire.WorldACL}}
		}, nil

	case WorkloadEphemeralSeq:
		dir := cfg.Root + "/eseq"
		if err := s.ensurePath(dir); err != nil {
			return nil, err
		}
		return func(i int) opGen {
			return &createGen{req: wire.CreateRequest{
				Path: fmt.Sprintf("%s/%s-s%d-", dir, runTag, i), Data: val,
				ACL: wire.WorldACL, Flags: wire.ModeEphemeralSequential,
			}}
		}, nil

	case WorkloadChildren:
		dir := cfg.Root + "/children"
		if err := s.ensurePath(dir); err != nil {
			return nil, err
		}
		if err := s.ensureAll(keys("children/c"), nil); err != nil {
			return nil, err
		}
		return func(int) opGen { return &readGen{op: wire.OpGetChildren, req: wire.PathWatchRequest{Path: dir}} }, nil
	}
	return nil, fmt.Errorf("paddock/bench: workload %q is not pipelined", cfg.Workload)
}

// ratioGen mixes getData and setData on random keys.
type ratioGen struct {
	rng   *rand.Rand
	keys  []string
	ratio float64
	get   wire.PathWatchRequest
	set   wire.SetDataRequest
}

func newRatioGen(rng *rand.Rand, keys []string, val []byte, ratio float64) *ratioGen {
	return &ratioGen{rng: rng, keys: keys, ratio: ratio, set: wire.SetDataRequest{Data: val, Version: -1}}
}

func (g *ratioGen) next(e *wire.Encoder, xid int32) {
	k := g.keys[g.rng.IntN(len(g.keys))]
	if g.rng.Float64() < g.ratio {
		g.get.Path = k
		appendRequest(e, xid, wire.OpGetData, &g.get)
		return
	}
	g.set.Path = k
	appendRequest(e, xid, wire.OpSetData, &g.set)
}

// createDeleteGen alternates create and delete of the same name, walking
// a ring of names: a session's requests complete in order, so each delete
// finds its create done, and each create finds its name free again.
type createDeleteGen struct {
	names  []string
	n      int
	create wire.CreateRequest
	del    wire.PathVersionRequest
}

func (g *createDeleteGen) next(e *wire.Encoder, xid int32) {
	name := g.names[(g.n/2)%len(g.names)]
	if g.n%2 == 0 {
		g.create.Path = name
		appendRequest(e, xid, wire.OpCreate, &g.create)
	} else {
		g.del.Path, g.del.Version = name, -1
		appendRequest(e, xid, wire.OpDelete, &g.del)
	}
	g.n++
}

// createGen sends the same create again and again (sequential modes).
type createGen struct{ req wire.CreateRequest }

func (g *createGen) next(e *wire.Encoder, xid int32) { appendRequest(e, xid, wire.OpCreate, &g.req) }

// readGen sends the same read again and again.
type readGen struct {
	op  wire.OpCode
	req wire.PathWatchRequest
}

func (g *readGen) next(e *wire.Encoder, xid int32) { appendRequest(e, xid, g.op, &g.req) }

// multiGen sends a multi of k setData ops on random keys.
type multiGen struct {
	rng  *rand.Rand
	keys []string
	sets []wire.SetDataRequest
	req  wire.MultiRequest
}

func newMultiGen(rng *rand.Rand, keys []string, val []byte, k int) *multiGen {
	g := &multiGen{rng: rng, keys: keys, sets: make([]wire.SetDataRequest, k)}
	g.req.Ops = make([]wire.MultiOp, k)
	for i := range g.sets {
		g.sets[i] = wire.SetDataRequest{Data: val, Version: -1}
		g.req.Ops[i] = wire.MultiOp{Type: wire.OpSetData, Body: &g.sets[i]}
	}
	return g
}

func (g *multiGen) next(e *wire.Encoder, xid int32) {
	for i := range g.sets {
		g.sets[i].Path = g.keys[g.rng.IntN(len(g.keys))]
	}
	appendRequest(e, xid, wire.OpMulti, &g.req)
}

// runWatchFanout measures how long one setData takes to reach every
// watcher. Each round, every watcher session sets a data watch with
// getData; once all have answered, a separate writer session sets the
// node, and the round's latency runs from that setData's write to the
// moment the last watcher has its NodeDataChanged event. One op is one
// round. It is one goroutine: a round is a barrier anyway.
func runWatchFanout(ctx context.Context, cfg Config, res Result) (Result, error) {
	ctl, err := dialSession(cfg.Addrs[0], 64<<10)
	if err != nil {
		return res, err
	}
	path := cfg.Root + "/watch"
	err = ctl.ensurePath(path)
	if err != nil {
		ctl.close()
		return res, err
	}
	watchers := make([]*session, 0, cfg.Sessions)
	defer func() {
		ctl.close()
		for _, s := range watchers {
			s.close()
		}
	}()
	for i := range cfg.Sessions {
		s, err := dialSession(cfg.Addrs[i%len(cfg.Addrs)], 16<<10)
		if err != nil {
			return res, err
		}
		watchers = append(watchers, s)
	}
	get := wire.PathWatchRequest{Path: path, Watch: true}
	set := wire.SetDataRequest{Path: path, Data: value(cfg.ValueSize), Version: -1}
	hist := newHistogram()
	codes := map[wire.Code]int64{}
	clk := clock{base: time.Now()}
	from, to := int64(cfg.Warmup), int64(cfg.Warmup+cfg.Duration)
	var cpu0, cpu time.Duration
	measuring := false
	for ctx.Err() == nil {
		if now := clk.now(); now >= to {
			break
		} else if !measuring && now >= from {
			measuring, cpu0 = true, cpuTime()
		}
		deadline := time.Now().Add(ioTimeout)
		// Set every watch, then collect every answer.
		for _, s := range watchers {
			_ = s.conn.SetDeadline(deadline)
			s.enc.Reset()
			s.xid++
			appendRequest(s.enc, s.xid, wire.OpGetData, &get)
			if _, err := s.conn.Write(s.enc.Bytes()); err != nil {
				return res, fmt.Errorf("paddock/bench: write: %w", err)
			}
		}
		for _, s := range watchers {
			if err := awaitReply(s, s.xid, func(wire.Code) {}); err != nil {
				return res, err
			}
		}
		// Fire, and wait for every watcher to hear of it.
		_ = ctl.conn.SetDeadline(deadline)
		ctl.enc.Reset()
		ctl.xid++
		appendRequest(ctl.enc, ctl.xid, wire.OpSetData, &set)
		t0 := clk.now()
		if _, err := ctl.conn.Write(ctl.enc.Bytes()); err != nil {
			return res, fmt.Errorf("paddock/bench: write: %w", err)
		}
		var last int64
		for _, s := range watchers {
			if err := awaitEvent(s, path); err != nil {
				return res, err
			}
			last = clk.now()
		}
		var code wire.Code
		if err := awaitReply(ctl, ctl.xid, func(c wire.Code) { code = c }); err != nil {
			return res, err
		}
		if measuring && last < to {
			record(hist, last-t0)
			res.Ops++
			if code != wire.Ok {
				res.Errors++
				codes[code]++
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if measuring {
		cpu = cpuTime() - cpu0
	}
	res.Histogram, res.Elapsed, res.ErrorCodes = hist, cfg.Duration, codeNames(codes)
	res.finish(cpu)
	return res, nil
}

// awaitReply reads s until the reply to xid, skipping notifications.
func awaitReply(s *session, xid int32, onCode func(wire.Code)) error {
	for {
		fr, err := s.rd.next()
		if err != nil {
			return fmt.Errorf("paddock/bench: read: %w", err)
		}
		x, code, _, err := replyHeader(fr)
		if err != nil {
			return err
		}
		if x == xid {
			onCode(code)
			return nil
		}
		if x != wire.XidNotification && x != wire.XidPing {
			return fmt.Errorf("%w: reply xid %d, want %d", errProtocol, x, xid)
		}
	}
}

// awaitEvent reads s until a NodeDataChanged event for path.
func awaitEvent(s *session, path string) error {
	for {
		fr, err := s.rd.next()
		if err != nil {
			return fmt.Errorf("paddock/bench: waiting for a watch event: %w", err)
		}
		x, _, body, err := replyHeader(fr)
		if err != nil {
			return err
		}
		if x != wire.XidNotification {
			return fmt.Errorf("%w: reply xid %d while waiting for an event", errProtocol, x)
		}
		var ev wire.WatcherEvent
		if err := wire.Unmarshal(body, &ev); err != nil {
			return fmt.Errorf("%w: %w", errProtocol, err)
		}
		if ev.Type == wire.EventNodeDataChanged && ev.Path == path {
			return nil
		}
	}
}

// runConnectStorm opens, handshakes and closes sessions as fast as
// Sessions goroutines can. One op is one session's whole life: dial,
// ConnectRequest, closeSession and its reply. A failed attempt counts as
// an error and records no latency.
func runConnectStorm(ctx context.Context, cfg Config, res Result) (Result, error) {
	clk := clock{base: time.Now()}
	from, to := int64(cfg.Warmup), int64(cfg.Warmup+cfg.Duration)
	type stormer struct {
		ops, errs int64
		hist      *hdrhistogram.Histogram
		firstErr  error
	}
	ws := make([]*stormer, cfg.Sessions)
	var wg sync.WaitGroup
	for i := range ws {
		w := &stormer{hist: newHistogram()}
		ws[i] = w
		addr := cfg.Addrs[i%len(cfg.Addrs)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := clk.now()
				if t0 >= to {
					return
				}
				s, err := dialSession(addr, 4<<10)
				if err == nil {
					s.close()
				}
				t1 := clk.now()
				if t1 < from || t1 >= to {
					continue
				}
				if err != nil {
					w.errs++
					if w.firstErr == nil {
						w.firstErr = err
					}
					time.Sleep(time.Millisecond) // do not spin on a refusing server
					continue
				}
				record(w.hist, t1-t0)
				w.ops++
			}
		}()
	}
	var cpu time.Duration
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	if waitUntil(ctx, clk, from, finished) {
		cpu0 := cpuTime()
		if waitUntil(ctx, clk, to, finished) {
			cpu = cpuTime() - cpu0
		}
	}
	<-finished
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.Histogram = newHistogram()
	var firstErr error
	for _, w := range ws {
		res.Histogram.Merge(w.hist)
		res.Ops += w.ops
		res.Errors += w.errs
		if firstErr == nil {
			firstErr = w.firstErr
		}
	}
	if res.Ops == 0 && firstErr != nil {
		return res, fmt.Errorf("%w: %w", errNoSuccess, firstErr)
	}
	if res.Errors > 0 {
		res.ErrorCodes = map[string]int64{"connect failed": res.Errors}
	}
	res.Elapsed = cfg.Duration
	res.finish(cpu)
	return res, nil
}
