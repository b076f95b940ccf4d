package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Target is a named endpoint: one or more server addresses of one
// ZooKeeper-protocol service.
type Target struct {
	Name  string
	Addrs []string
}

// DefaultRatios are the read ratios of a sweep, as in the ZooKeeper
// paper's throughput-against-read-percentage figure.
var DefaultRatios = []float64{0, 0.5, 0.9, 0.99, 1}

// SweepConfig describes a sweep: Base (its Addrs ignored) run against
// every target at every read ratio.
type SweepConfig struct {
	Targets []Target
	Ratios  []float64 // fractions 0..1; nil means DefaultRatios
	Base    Config
	// Progress, if set, gets a one-line progress bar redrawn with \r.
	Progress io.Writer
}

// Sweep runs Base at every ratio against every target. The runs of
// different targets are interleaved point by point (ratio 0 on A, ratio 0
// on B, ratio 0.5 on A, …), so a drift of the machine during the sweep
// (other load, thermal limits) affects the targets alike. Workloads other
// than ratio have no read ratio: they run once per target. The results
// come in run order; on an error Sweep returns the results so far.
func Sweep(ctx context.Context, sc SweepConfig) ([]Result, error) {
	if len(sc.Targets) == 0 {
		return nil, errors.New("paddock/bench: sweep has no target")
	}
	ratios := sc.Ratios
	if ratios == nil {
		ratios = DefaultRatios
	}
	if sc.Base.Workload != "" && sc.Base.Workload != WorkloadRatio {
		ratios = []float64{0}
	}
	base := sc.Base
	base.Addrs = sc.Targets[0].Addrs
	base, err := base.withDefaults()
	if err != nil {
		return nil, err
	}
	total := len(ratios) * len(sc.Targets)
	runTime := base.Warmup + base.Duration
	p := newProgress(sc.Progress, total, runTime)
	defer p.stop()

	var out []Result
	for _, r := range ratios {
		for _, t := range sc.Targets {
			cfg := sc.Base
			cfg.Addrs, cfg.ReadRatio = t.Addrs, r
			p.begin(fmt.Sprintf("%s %s r=%s", t.Name, base.Workload, pct(r)))
			res, err := Run(ctx, cfg)
			p.end()
			if err != nil {
				return out, fmt.Errorf("paddock/bench: target %s at %s reads: %w", t.Name, pct(r), err)
			}
			res.Target = t.Name
			out = append(out, res)
		}
	}
	return out, nil
}

// pct formats a ratio as a percentage: 0.99 → "99%".
func pct(r float64) string { return fmt.Sprintf("%g%%", r*100) }

// progress draws "\r[=====     ] 3/10 zk ratio r=50%  12s left" on w.
type progress struct {
	w       io.Writer
	total   int
	runTime time.Duration

	mu      sync.Mutex
	done    int
	label   string
	started time.Time
	quit    chan struct{}
	wg      sync.WaitGroup
}

func newProgress(w io.Writer, total int, runTime time.Duration) *progress {
	p := &progress{w: w, total: total, runTime: runTime, quit: make(chan struct{})}
	if w == nil {
		return p
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tk := time.NewTicker(250 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-tk.C:
				p.draw()
			}
		}
	}()
	return p
}

func (p *progress) begin(label string) {
	p.mu.Lock()
	p.label, p.started = label, time.Now()
	p.mu.Unlock()
	p.draw()
}

func (p *progress) end() {
	p.mu.Lock()
	p.done++
	p.mu.Unlock()
}

func (p *progress) draw() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	frac := float64(p.done)
	in := time.Since(p.started)
	if p.runTime > 0 && p.done < p.total {
		frac += min(in.Seconds()/p.runTime.Seconds(), 1)
	}
	frac /= float64(p.total)
	const width = 30
	n := int(frac * width)
	left := time.Duration(float64(p.total) * float64(p.runTime) * (1 - frac)).Round(time.Second)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d %-28s %6s left ", strings.Repeat("=", n), strings.Repeat(" ", width-n),
		min(p.done+1, p.total), p.total, p.label, left)
}

func (p *progress) stop() {
	if p.w == nil {
		return
	}
	close(p.quit)
	p.wg.Wait()
	p.draw()
	fmt.Fprintln(p.w)
}
