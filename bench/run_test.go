package bench

import (
	"context"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire/zktest"
)

// testTimeout bounds any one run in the tests; a run that takes longer
// has hung, and the test says so.
const testTimeout = 60 * time.Second

func runFor(t *testing.T, cfg Config) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	res, err := Run(ctx, cfg)
	if ctx.Err() != nil {
		t.Fatalf("Run(%s) did not finish within %v", cfg.Workload, testTimeout)
	}
	if err != nil {
		t.Fatalf("Run(%s): %v", cfg.Workload, err)
	}
	return res
}

func checkSane(t *testing.T, res Result) {
	t.Helper()
	if res.Ops <= 0 {
		t.Fatalf("%s: ops = %d, want > 0", res.Workload, res.Ops)
	}
	if res.Errors != 0 {
		t.Errorf("%s: %d errors: %v", res.Workload, res.Errors, res.ErrorCodes)
	}
	if got := res.Histogram.TotalCount(); got != res.Ops {
		t.Errorf("%s: histogram holds %d latencies, ops = %d", res.Workload, got, res.Ops)
	}
	l := res.Latency
	if !(l.P50 > 0 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
		t.Errorf("%s: latency quantiles not ordered: %+v", res.Workload, l)
	}
	if res.Throughput <= 0 || res.Elapsed <= 0 {
		t.Errorf("%s: throughput %v over %v", res.Workload, res.Throughput, res.Elapsed)
	}
}

// TestWorkloadsAgainstZooKeeper runs every workload briefly against a real
// Apache ZooKeeper and checks the figures are sane. Speed is not asserted.
func TestWorkloadsAgainstZooKeeper(t *testing.T) {
	zk := zktest.Start(t)
	for _, wl := range Workloads {
		t.Run(wl, func(t *testing.T) {
			cfg := Config{
				Addrs: []string{zk.Addr}, Workload: wl, Sessions: 2, InFlight: 8,
				Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond,
				Keys: 20, ValueSize: 16, ReadRatio: 0.5, MultiOps: 3,
			}
			res := runFor(t, cfg)
			checkSane(t, res)
			if wl != WorkloadConnectStorm && wl != WorkloadWatchFanout && res.ClientCPU <= 0 {
				t.Errorf("%s: client CPU not measured", wl)
			}
			t.Logf("%s: %d ops, %.0f ops/s, p50 %v p99 %v, cpu %.2f s/1M ops",
				wl, res.Ops, res.Throughput, res.Latency.P50, res.Latency.P99, res.CPUPerMillionOps)
		})
	}
	// Ratios 0 and 1 run without errors, and MaxOps stops after exactly
	// that many requests.
	for _, ratio := range []float64{0, 1} {
		res := runFor(t, Config{
			Addrs: []string{zk.Addr}, Sessions: 3, InFlight: 16, Keys: 10,
			ValueSize: 10, ReadRatio: ratio, MaxOps: 1000,
		})
		checkSane(t, res)
		if res.Ops != 1000 {
			t.Errorf("ratio %v: ops = %d, want exactly MaxOps = 1000", ratio, res.Ops)
		}
	}
}
