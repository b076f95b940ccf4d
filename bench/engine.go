package bench

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/paddockdb/paddock/wire"
)

// The pipelined engine. Each session has exactly two goroutines:
//
//   - the writer encodes as many requests as the window allows into the
//     session's one reused encoder, stamps them all with one monotonic
//     send time (they leave in the same write syscall) and writes them;
//   - the reader reads as much as the socket holds in one syscall, takes
//     one monotonic receive time, and walks every complete reply in the
//     buffer: it checks the xid (ZooKeeper answers a session in order),
//     records receive-minus-send into the session's own HDR histogram,
//     and then publishes how many replies it has seen.
//
// Writer and reader share only atomics and a ring of send times indexed
// by xid. The writer sleeps on a channel only when the window is full,
// and the reader pokes it only when it asked to be woken, so there is no
// channel operation and no allocation per request. Histograms are merged
// when the run ends.
//
// Open loop (Config.Rate > 0): request k of a session is due at
// phase + k·interval on the run's clock (interval = sessions/Rate, and
// the phases of the sessions are spread over one interval, so together
// they send one request every 1/Rate). Each turn the writer sends every
// request due by now that the window has room for, in one write, or, if
// none is due, sleeps (time.Sleep) until the next one is. The window
// stays a hard cap: when it is full the writer sleeps on wake as in
// closed loop, and the requests falling due meanwhile are sent late, when
// room is made. The ring then holds each request's due time instead of
// its write time, so latency runs from when the request should have left:
// a server stall is charged to every request that should have been sent
// during it, not only to the few that were outstanding (no coordinated
// omission).

// opGen appends the next request of a workload to the session's encoder.
// Each session has its own generator, so generators need no locking.
type opGen interface {
	next(e *wire.Encoder, xid int32)
}

// clock gives monotonic nanoseconds since the run began.
type clock struct{ base time.Time }

func (c clock) now() int64 { return int64(time.Since(c.base)) }

type worker struct {
	s      *session
	gen    opGen
	window int64
	mask   int32
	sent   []int64 // send time by xid&mask (open loop: due time)

	// Open loop: the session's request k is due at phase + k·interval
	// (nanoseconds on the run's clock). interval 0 means closed loop.
	interval float64
	phase    int64

	sentPub atomic.Int64 // requests whose send time is stored
	recvd   atomic.Int64 // replies read
	waiting atomic.Bool  // the writer sleeps on wake
	done    atomic.Bool  // the writer has stopped
	wake    chan struct{}
	dead    chan struct{} // closed when the reader ends
	quota   int64         // requests to send; 0 means until stopped
	xid0    int32         // the session's last xid before the run

	hist   *hdrhistogram.Histogram
	ops    int64
	errs   int64
	codes  map[wire.Code]int64
	lastAt int64 // receive time of the last reply
}

func newWorker(s *session, gen opGen, window int, quota int64) *worker {
	ring := 1 << bits.Len(uint(window)) // > window, a power of two
	return &worker{
		s: s, gen: gen, window: int64(window), mask: int32(ring - 1),
		sent: make([]int64, ring), wake: make(chan struct{}, 1), dead: make(chan struct{}),
		quota: quota, hist: newHistogram(), codes: map[wire.Code]int64{}, xid0: s.xid,
	}
}

// pace makes the worker open loop: its request k is due at
// phase + k·interval nanoseconds on the run's clock.
func (w *worker) pace(interval float64, phase int64) { w.interval, w.phase = interval, phase }

// due returns the time request k of the session is due (open loop).
func (w *worker) due(k int64) int64 { return w.phase + int64(float64(k)*w.interval) }

// maxPaceSleep bounds one sleep of an open-loop writer waiting for its
// next due time, so that it notices the end of the run soon even at a
// low rate.
const maxPaceSleep = 20 * time.Millisecond

// write runs the writer until stop is set or the quota is sent.
func (w *worker) write(clk clock, stop *atomic.Bool) error {
	var sent int64
	xid := w.xid0
	defer func() {
		w.done.Store(true)
		// Unblock a reader that already has every reply; otherwise give
		// the outstanding replies a bounded time to arrive.
		if w.recvd.Load() == sent {
			_ = w.s.conn.SetReadDeadline(time.Unix(1, 0))
		} else {
			_ = w.s.conn.SetReadDeadline(time.Now().Add(ioTimeout))
		}
	}()
	for !stop.Load() && (w.quota == 0 || sent < w.quota) {
		avail := w.window - (sent - w.recvd.Load())
		if avail <= 0 {
			w.waiting.Store(true)
			if w.window-(sent-w.recvd.Load()) <= 0 {
				select {
				case <-w.wake:
				case <-w.dead:
					w.waiting.Store(false)
					return nil
				}
			}
			w.waiting.Store(false)
			continue
		}
		if w.quota > 0 {
			avail = min(avail, w.quota-sent)
		}
		if w.interval > 0 {
			now := clk.now()
			if next := w.due(sent); next > now {
				time.Sleep(min(time.Duration(next-now), maxPaceSleep))
				continue
			}
			// Every request due by now (at least the next one, whatever
			// the rounding) that the window has room for.
			due := int64(float64(now-w.phase)/w.interval) + 1 - sent
			avail = min(avail, max(due, 1))
		}
		e := w.s.enc
		e.Reset()
		first := xid + 1
		for range avail {
			xid++
			w.gen.next(e, xid)
		}
		if w.interval > 0 {
			k := sent
			for x := first; x != xid+1; x++ {
				w.sent[x&w.mask] = w.due(k)
				k++
			}
		} else {
			t := clk.now()
			for x := first; x != xid+1; x++ {
				w.sent[x&w.mask] = t
			}
		}
		sent += avail
		w.sentPub.Store(sent) // publishes the send times to the reader
		if _, err := w.s.conn.Write(e.Bytes()); err != nil {
			return fmt.Errorf("paddock/bench: write: %w", err)
		}
	}
	return nil
}

// read runs the reader until the writer has stopped and every reply is
// in. Replies received inside [from, to) are counted and recorded.
func (w *worker) read(clk clock, from, to int64) error {
	defer close(w.dead)
	rd := w.s.rd
	var got, published int64
	want := w.xid0 + 1
	for {
		if w.done.Load() && got == w.sentPub.Load() {
			return nil
		}
		if err := rd.fill(); err != nil {
			if w.done.Load() && got == w.sentPub.Load() {
				return nil
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return fmt.Errorf("paddock/bench: %d requests unanswered %v after the run: %w",
					w.sentPub.Load()-got, ioTimeout, err)
			}
			return fmt.Errorf("paddock/bench: read: %w", err)
		}
		now := clk.now()
		n := got
		for {
			fr, ok, err := rd.buffered()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			xid, code, _, err := replyHeader(fr)
			if err != nil {
				return err
			}
			if xid == wire.XidNotification || xid == wire.XidPing {
				continue
			}
			if xid != want {
				return fmt.Errorf("%w: reply xid %d, want %d", errProtocol, xid, want)
			}
			if got >= published {
				published = w.sentPub.Load() // orders the send-time reads below
				if got >= published {
					return fmt.Errorf("%w: reply xid %d before its request was sent", errProtocol, xid)
				}
			}
			t0 := w.sent[xid&w.mask]
			want++
			got++
			if now >= from && now < to {
				record(w.hist, now-t0)
				w.ops++
				w.lastAt = now
				if code != wire.Ok {
					w.errs++
					w.codes[code]++
				}
			}
		}
		if got != n {
			w.recvd.Store(got)
			if w.waiting.Load() {
				select {
				case w.wake <- struct{}{}:
				default:
				}
			}
		}
	}
}

// Run runs one workload against one target and returns its figures. It
// sets up the znodes the workload needs (idempotently), runs Warmup then
// Duration, and closes every session it opened. A protocol error (a reply
// out of order, an oversized frame, a lost connection) fails the run;
// ZooKeeper error codes are counted in Result.Errors.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Result{}, err
	}
	res := Result{
		Addrs: cfg.Addrs, Workload: cfg.Workload, ReadRatio: cfg.ReadRatio,
		Sessions: cfg.Sessions, InFlight: cfg.InFlight, ValueSize: cfg.ValueSize, Keys: cfg.Keys,
		Rate: cfg.Rate,
	}
	if cfg.Workload != WorkloadRatio {
		res.ReadRatio = 0
	}
	switch cfg.Workload {
	case WorkloadWatchFanout:
		return runWatchFanout(ctx, cfg, res)
	case WorkloadConnectStorm:
		return runConnectStorm(ctx, cfg, res)
	}
	return runPipelined(ctx, cfg, res)
}

func runPipelined(ctx context.Context, cfg Config, res Result) (Result, error) {
	gens, err := setup(cfg)
	if err != nil {
		return res, err
	}
	workers := make([]*worker, cfg.Sessions)
	defer func() {
		for _, w := range workers {
			if w != nil {
				w.s.close()
			}
		}
	}()
	// Open loop: the sessions that send (with MaxOps below Sessions, only
	// the first MaxOps) share the rate, their phases spread over one
	// interval so that together they send one request every 1/Rate.
	active := int64(cfg.Sessions)
	if cfg.MaxOps > 0 {
		active = min(active, cfg.MaxOps)
	}
	var interval float64 // nanoseconds between a session's requests
	if cfg.Rate > 0 {
		interval = float64(active) * float64(time.Second) / cfg.Rate
	}
	var quota int64
	for i := range workers {
		s, err := dialSession(cfg.Addrs[i%len(cfg.Addrs)], 256<<10)
		if err != nil {
			return res, err
		}
		if cfg.MaxOps > 0 {
			quota = cfg.MaxOps / int64(cfg.Sessions)
			if int64(i) < cfg.MaxOps%int64(cfg.Sessions) {
				quota++
			}
			if quota == 0 {
				s.close()
				continue
			}
		}
		workers[i] = newWorker(s, gens(i), cfg.InFlight, quota)
		if interval > 0 {
			workers[i].pace(interval, int64(float64(i)*interval/float64(active)))
		}
	}

	clk := clock{base: time.Now()}
	from, to := int64(cfg.Warmup), int64(cfg.Warmup+cfg.Duration)
	if cfg.MaxOps > 0 {
		from, to = 0, int64(1<<62)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(workers))
	cpu0 := cpuTime()
	for _, w := range workers {
		if w == nil {
			continue
		}
		wg.Add(2)
		go func() { defer wg.Done(); errs <- w.write(clk, &stop) }()
		go func() { defer wg.Done(); errs <- w.read(clk, from, to) }()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	defer func() { // the session's next xid follows the run's last
		for _, w := range workers {
			if w != nil {
				w.s.xid = w.xid0 + int32(w.sentPub.Load())
			}
		}
	}()

	var cpu time.Duration
	if cfg.MaxOps == 0 {
		if waitUntil(ctx, clk, from, finished) {
			cpu0 = cpuTime()
			if waitUntil(ctx, clk, to, finished) {
				cpu = cpuTime() - cpu0
			}
		}
		stop.Store(true)
		if ctx.Err() != nil {
			for _, w := range workers {
				if w != nil {
					w.s.conn.Close()
				}
			}
		}
		<-finished
	} else {
		select {
		case <-finished:
		case <-ctx.Done():
			stop.Store(true)
			for _, w := range workers {
				if w != nil {
					w.s.conn.Close()
				}
			}
			<-finished
		}
		cpu = cpuTime() - cpu0
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	close(errs)
	for err := range errs {
		if err != nil {
			return res, err
		}
	}

	res.Histogram = newHistogram()
	var last int64
	codes := map[wire.Code]int64{}
	for _, w := range workers {
		if w == nil {
			continue
		}
		res.Histogram.Merge(w.hist)
		res.Ops += w.ops
		res.Errors += w.errs
		last = max(last, w.lastAt)
		for c, n := range w.codes {
			codes[c] += n
		}
	}
	res.ErrorCodes = codeNames(codes)
	res.Elapsed = cfg.Duration
	if cfg.MaxOps > 0 {
		res.Elapsed = time.Duration(last)
	}
	res.finish(cpu)
	return res, nil
}

// waitUntil waits until the clock reaches t. It returns false early if
// ctx ends or finished is closed.
func waitUntil(ctx context.Context, clk clock, t int64, finished <-chan struct{}) bool {
	d := time.Duration(t - clk.now())
	if d <= 0 {
		return true
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	case <-finished:
		return false
	}
}

func codeNames(codes map[wire.Code]int64) map[string]int64 {
	if len(codes) == 0 {
		return nil
	}
	out := make(map[string]int64, len(codes))
	for c, n := range codes {
		out[c.String()] += n
	}
	return out
}

var errNoSuccess = errors.New("paddock/bench: no operation succeeded")

// Hostname-free identity for node names: sessions of different generator
// processes must not collide on the names they create.
var runTag = fmt.Sprintf("p%d", os.Getpid())
