package bench

import (
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Workload names.
const (
	WorkloadRatio        = "ratio"
	WorkloadCreateDelete = "create-delete"
	WorkloadEphemeralSeq = "ephemeral-seq"
	WorkloadWatchFanout  = "watch-fanout"
	WorkloadChildren     = "children"
	WorkloadConnectStorm = "connect-storm"
	WorkloadMulti        = "multi"
)

// Workloads lists every workload Run knows, in the order the help text
// gives them.
var Workloads = []string{
	WorkloadRatio, WorkloadCreateDelete, WorkloadEphemeralSeq, WorkloadWatchFanout,
	WorkloadChildren, WorkloadConnectStorm, WorkloadMulti,
}

// Config describes one run against one target.
type Config struct {
	// Addrs are the host:port client addresses of the target's servers;
	// sessions are spread over them round robin.
	Addrs []string
	// Sessions is the number of sessions (TCP connections). For
	// watch-fanout it is the number of watchers; for connect-storm the
	// number of goroutines opening sessions concurrently.
	Sessions int
	// InFlight is the pipelining window: requests outstanding per session.
	// In open loop (Rate > 0) it is a hard cap: requests that fall due
	// while a session has InFlight outstanding wait in the generator.
	InFlight int
	// Duration is the measured time; Warmup runs before it, unmeasured.
	Duration, Warmup time.Duration
	// Keys is the number of znodes the ratio and multi workloads spread
	// over, the children count of the children workload, and the name
	// ring of create-delete.
	Keys int
	// ValueSize is the size in bytes of the data written.
	ValueSize int
	// ReadRatio is the fraction of getData among getData and setData in
	// the ratio workload, from 0 to 1.
	ReadRatio float64
	// Workload is one of Workloads; empty means ratio.
	Workload string
	// MultiOps is the number of setData ops in one multi (default 5).
	MultiOps int
	// Root is the znode under which everything is created (default /bench).
	Root string
	// MaxOps, when positive, ends the run after that many requests instead
	// of after Duration, with no warmup (pipelined workloads only). The Go
	// benchmarks use it. With Rate, the MaxOps requests are sent on the
	// schedule and the run ends when the last reply is in, about
	// MaxOps/Rate seconds after the start.
	MaxOps int64
	// Rate, when positive, makes the run open loop (pipelined workloads
	// only): the sessions together offer Rate requests per second, each
	// session Rate/sessions on a fixed schedule whatever the replies do,
	// and latency is measured from each request's intended send time, so
	// a server that falls behind is charged for the queueing it causes
	// (no coordinated omission). InFlight still caps the requests
	// outstanding per session. 0 means closed loop: every session keeps
	// InFlight requests outstanding.
	Rate float64
}

// Defaults for Config fields left zero.
const (
	DefaultSessions  = 8
	DefaultInFlight  = 64
	DefaultDuration  = 10 * time.Second
	DefaultWarmup    = 2 * time.Second
	DefaultKeys      = 1000
	DefaultValueSize = 100
	DefaultMultiOps  = 5
	DefaultRoot      = "/bench"
)

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if len(c.Addrs) == 0 {
		return c, errors.New("paddock/bench: no address to connect to")
	}
	for _, a := range c.Addrs {
		if err := checkAddr(a); err != nil {
			return c, err
		}
	}
	if c.Workload == "" {
		c.Workload = WorkloadRatio
	}
	if !slices.Contains(Workloads, c.Workload) {
		return c, fmt.Errorf("paddock/bench: unknown workload %q (want one of %s)", c.Workload, strings.Join(Workloads, ", "))
	}
	if c.Sessions == 0 {
		c.Sessions = DefaultSessions
	}
	if c.InFlight == 0 {
		c.InFlight = DefaultInFlight
	}
	if c.Duration == 0 && c.MaxOps == 0 {
		c.Duration = DefaultDuration
	}
	if c.Keys == 0 {
		c.Keys = DefaultKeys
	}
	if c.MultiOps == 0 {
		c.MultiOps = DefaultMultiOps
	}
	if c.Root == "" {
		c.Root = DefaultRoot
	}
	switch {
	case c.Sessions < 1 || c.Sessions > 100000:
		return c, fmt.Errorf("paddock/bench: sessions %d out of range 1..100000", c.Sessions)
	case c.InFlight < 1 || c.InFlight > 1<<16:
		return c, fmt.Errorf("paddock/bench: in-flight %d out of range 1..65536", c.InFlight)
	case c.Duration < 0 || c.Warmup < 0:
		return c, errors.New("paddock/bench: duration and warmup must not be negative")
	case c.Keys < 1:
		return c, fmt.Errorf("paddock/bench: keys %d must be at least 1", c.Keys)
	case c.ValueSize < 0 || c.ValueSize > 1<<19:
		return c, fmt.Errorf("paddock/bench: value size %d out of range 0..524288", c.ValueSize)
	case c.ReadRatio < 0 || c.ReadRatio > 1:
		return c, fmt.Errorf("paddock/bench: read ratio %v out of range 0..1", c.ReadRatio)
	case c.MultiOps < 1 || c.MultiOps > 1000:
		return c, fmt.Errorf("paddock/bench: multi ops %d out of range 1..1000", c.MultiOps)
	case !strings.HasPrefix(c.Root, "/") || len(c.Root) < 2 || strings.HasSuffix(c.Root, "/"):
		return c, fmt.Errorf("paddock/bench: root %q must be an absolute znode path other than /", c.Root)
	case !(c.Rate >= 0) || math.IsInf(c.Rate, 0): // !(>=) catches NaN
		return c, fmt.Errorf("paddock/bench: rate %v must be a finite number of requests per second, 0 or more (0: closed loop)", c.Rate)
	case c.Rate > 0 && (c.Workload == WorkloadWatchFanout || c.Workload == WorkloadConnectStorm):
		return c, fmt.Errorf("paddock/bench: a rate applies to the pipelined workloads only, not %s", c.Workload)
	}
	return c, nil
}

// checkAddr checks that a is host:port with a numeric port.
func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("paddock/bench: bad address %q: %w", a, err)
	}
	if host == "" {
		return fmt.Errorf("paddock/bench: bad address %q: no host", a)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("paddock/bench: bad address %q: port must be 1..65535", a)
	}
	return nil
}

// Latency holds quantiles of the per-request latency, send to reply (in
// open loop, intended send time to reply).
type Latency struct {
	P50  time.Duration `json:"p50_ns"`
	P90  time.Duration `json:"p90_ns"`
	P99  time.Duration `json:"p99_ns"`
	P999 time.Duration `json:"p999_ns"`
	Max  time.Duration `json:"max_ns"`
	Mean time.Duration `json:"mean_ns"`
}

// Result is the outcome of one run.
type Result struct {
	Target    string   `json:"target"`
	Addrs     []string `json:"addrs"`
	Workload  string   `json:"workload"`
	ReadRatio float64  `json:"read_ratio"`
	Sessions  int      `json:"sessions"`
	InFlight  int      `json:"in_flight"`
	ValueSize int      `json:"value_size"`
	Keys      int      `json:"keys"`
	// Rate is the offered load of an open-loop run (Config.Rate) in
	// requests per second; 0 (absent from the JSON) for a closed-loop run.
	Rate float64 `json:"offered_ops_per_sec,omitempty"`

	// Elapsed is the measured window (warmup excluded).
	Elapsed time.Duration `json:"elapsed_ns"`
	// Ops counts requests answered inside the window (for watch-fanout,
	// rounds; for connect-storm, sessions opened and closed), Errors those
	// of them answered with a ZooKeeper error code, by code in ErrorCodes.
	Ops        int64            `json:"ops"`
	Errors     int64            `json:"errors"`
	ErrorCodes map[string]int64 `json:"error_codes,omitempty"`
	// Throughput is Ops per second of Elapsed.
	Throughput float64 `json:"ops_per_sec"`
	Latency    Latency `json:"latency"`

	// ClientCPU is the generator process's own CPU time (user+sys, from
	// getrusage RUSAGE_SELF) over the window; CPUPerMillionOps scales it
	// to CPU-seconds per million ops, and ClientCores to cores busy.
	ClientCPU        time.Duration `json:"client_cpu_ns"`
	CPUPerMillionOps float64       `json:"client_cpu_sec_per_1m_ops"`
	ClientCores      float64       `json:"client_cores"`

	// Histogram holds every latency recorded (nanoseconds); its total
	// count equals Ops.
	Histogram *hdrhistogram.Histogram `json:"-"`
}

// behindShare is the fraction of the offered rate below which a point is
// reported as behind.
const behindShare = 0.95

// Behind reports whether an open-loop run answered clearly fewer requests
// per second than it offered (under 95%): the server or the generator
// could not keep up, so requests waited in the generator or were never
// sent.
func (r Result) Behind() bool { return r.Rate > 0 && r.Throughput < behindShare*r.Rate }

// newHistogram makes a latency histogram in nanoseconds, from 1µs to one
// minute with three significant digits.
func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1000, int64(time.Minute), 3)
}

// record adds a latency, clamped into the histogram's range.
func record(h *hdrhistogram.Histogram, ns int64) {
	ns = max(ns, 1000)
	ns = min(ns, int64(time.Minute))
	_ = h.RecordValue(ns)
}

// finish fills the derived fields of r from its histogram and counters.
func (r *Result) finish(cpu time.Duration) {
	h := r.Histogram
	r.Latency = Latency{
		P50:  time.Duration(h.ValueAtQuantile(50)),
		P90:  time.Duration(h.ValueAtQuantile(90)),
		P99:  time.Duration(h.ValueAtQuantile(99)),
		P999: time.Duration(h.ValueAtQuantile(99.9)),
		Max:  time.Duration(h.Max()),
		Mean: time.Duration(h.Mean()),
	}
	if r.Elapsed > 0 {
		r.Throughput = float64(r.Ops) / r.Elapsed.Seconds()
		r.ClientCores = cpu.Seconds() / r.Elapsed.Seconds()
	}
	r.ClientCPU = cpu
	if r.Ops > 0 {
		r.CPUPerMillionOps = cpu.Seconds() / float64(r.Ops) * 1e6
	}
}
