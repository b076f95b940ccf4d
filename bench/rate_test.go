package bench

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Open loop (Config.Rate) against the fake server. The fake answers at
// once, so a closed loop would do orders of magnitude more than the
// offered rate: these tests fail if pacing is ignored. None asserts that
// anything is fast; the bounds that matter hold however slow the machine.

// TestRateAgainstFakeServer: 2000 ops/s over 8 sessions for 300 ms (after
// 50 ms of warmup) answers about 600 requests in the window. The generator
// never sends a request before it is due, so at most
// 2000 × 350 ms + 8 can have been sent at all; the lower bound allows a
// noisy machine to fall 40% behind.
func TestRateAgainstFakeServer(t *testing.T) {
	f := startFake(t)
	const rate = 2000.0
	cfg := Config{Addrs: []string{f.addr()}, Sessions: 8, InFlight: 64, Keys: 5, ReadRatio: 0.5,
		Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond, Rate: rate}
	res := runFor(t, cfg)
	checkSane(t, res)
	want := rate * res.Elapsed.Seconds()
	if lo, hi := 0.6*want, 1.4*want; float64(res.Ops) < lo || float64(res.Ops) > hi {
		t.Errorf("ops = %d in %v at %v ops/s, want %.0f ± 40%%", res.Ops, res.Elapsed, rate, want)
	}
	if res.Rate != rate {
		t.Errorf("Result.Rate = %v, want %v", res.Rate, rate)
	}
	t.Logf("%d ops, %.0f ops/s, p50 %v p99 %v max %v", res.Ops, res.Throughput, res.Latency.P50, res.Latency.P99, res.Latency.Max)
}

// TestRateMaxOps: with MaxOps the requests go out on the schedule and the
// run ends when the last is answered, which cannot be before the last is
// due: with 4 sessions at 2000 ops/s (one request every 0.5 ms over all of
// them), request 199 is due at 99.5 ms.
func TestRateMaxOps(t *testing.T) {
	f := startFake(t)
	res := runFor(t, Config{Addrs: []string{f.addr()}, Sessions: 4, InFlight: 16, Keys: 5, ReadRatio: 1,
		MaxOps: 200, Rate: 2000})
	checkSane(t, res)
	if res.Ops != 200 {
		t.Errorf("ops = %d, want exactly MaxOps = 200", res.Ops)
	}
	if res.Elapsed < 99500*time.Microsecond {
		t.Errorf("elapsed %v: the last request was sent before it was due (99.5ms)", res.Elapsed)
	}
	// MaxOps below Sessions: the sessions that send share the whole rate.
	res = runFor(t, Config{Addrs: []string{f.addr()}, Sessions: 8, InFlight: 4, Keys: 5, ReadRatio: 1,
		MaxOps: 3, Rate: 100})
	checkSane(t, res)
	if res.Ops != 3 || res.Elapsed < 20*time.Millisecond {
		t.Errorf("ops = %d, elapsed %v; want 3 ops, the last due at 20ms", res.Ops, res.Elapsed)
	}
}

// TestRateLatencyFromIntendedTime: latency is measured from when a request
// was due, not from when it was written. One session, one request in
// flight, 1000 ops/s; the server pauses 100 ms on the first request. The
// requests due during the pause cannot be written until its reply is in
// (the window is full), so their replies come at 100 ms or later: request
// k (due at k ms) has a latency of at least 100−k ms, and requests 0..50
// are all at 50 ms or more. Measured from the write, only request 0 would
// be.
func TestRateLatencyFromIntendedTime(t *testing.T) {
	const stall = 100 * time.Millisecond
	f := startFake(t, func(f *fakeServer) { f.stall = stall })
	res := runFor(t, Config{Addrs: []string{f.addr()}, Sessions: 1, InFlight: 1, Keys: 5, ReadRatio: 1,
		MaxOps: 150, Rate: 1000})
	checkSane(t, res)
	if res.Ops != 150 {
		t.Errorf("ops = %d, want 150", res.Ops)
	}
	if res.Latency.Max < stall {
		t.Errorf("max latency %v, want at least the %v stall", res.Latency.Max, stall)
	}
	if n := countAtLeast(res.Histogram, int64(45*time.Millisecond)); n < 51 {
		t.Errorf("%d latencies of 45ms or more, want at least 51 (every request due in the first half of the stall)", n)
	}
}

// countAtLeast counts the values recorded in h that are at least v (to
// the histogram's precision).
func countAtLeast(h *hdrhistogram.Histogram, v int64) int64 {
	var n int64
	for _, b := range h.Distribution() {
		if b.From >= v {
			n += b.Count
		}
	}
	return n
}

func TestRateConfig(t *testing.T) {
	base := Config{Addrs: []string{"127.0.0.1:1"}}
	for _, tc := range []struct {
		rate     float64
		workload string
		want     string
	}{
		{-1, "", "rate -1 must be"},
		{math.NaN(), "", "rate NaN must be"},
		{math.Inf(1), "", "rate +Inf must be"},
		{10, WorkloadWatchFanout, "pipelined workloads only"},
		{10, WorkloadConnectStorm, "pipelined workloads only"},
	} {
		c := base
		c.Rate, c.Workload = tc.rate, tc.workload
		if _, err := c.withDefaults(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("rate %v, workload %q: error %v, want %q", tc.rate, tc.workload, err, tc.want)
		}
	}
	for _, wl := range []string{WorkloadRatio, WorkloadCreateDelete, WorkloadEphemeralSeq, WorkloadChildren, WorkloadMulti} {
		c := base
		c.Rate, c.Workload = 0.5, wl
		if _, err := c.withDefaults(); err != nil {
			t.Errorf("rate 0.5, workload %s: %v", wl, err)
		}
	}
}

// rateResults are open-loop results: the first keeps up, the second does
// not.
func rateResults() []Result {
	rs := sampleResults()[:2]
	rs[0].Rate, rs[0].Throughput = 10000, 9800
	rs[1].Rate, rs[1].Throughput = 10000, 8000
	return rs
}

func TestRateReports(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, rateResults()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if !strings.Contains(lines[0], "offered ops/s") || !strings.Contains(lines[0], "note") {
		t.Errorf("header lacks the offered rate and note:\n%s", b.String())
	}
	if strings.Contains(lines[1], "BEHIND") || !strings.Contains(lines[1], "10000") {
		t.Errorf("row at 98%% of offered: %q", lines[1])
	}
	if !strings.Contains(lines[2], "BEHIND: 80% of offered") {
		t.Errorf("row at 80%% of offered: %q", lines[2])
	}
	if !strings.Contains(b.String(), "could not") || !strings.Contains(b.String(), "intended send time") {
		t.Errorf("no explanation under the table:\n%s", b.String())
	}
	// A closed-loop table has neither.
	b.Reset()
	if err := WriteTable(&b, sampleResults()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "offered") || strings.Contains(b.String(), "BEHIND") {
		t.Errorf("closed-loop table mentions open loop:\n%s", b.String())
	}

	b.Reset()
	if err := WriteCSV(&b, rateResults()); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := len(csvHeader) - 1
	if rows[0][col] != "offered_ops_per_sec" || rows[1][col] != "10000" {
		t.Errorf("CSV offered column: %q / %q", rows[0][col], rows[1][col])
	}

	b.Reset()
	if err := WriteJSON(&b, rateResults()); err != nil {
		t.Fatal(err)
	}
	var back []Result
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back) != 2 || back[1].Rate != 10000 {
		t.Errorf("JSON round trip: %v, %+v", err, back)
	}
	if !strings.Contains(b.String(), `"offered_ops_per_sec": 10000`) {
		t.Errorf("JSON lacks offered_ops_per_sec:\n%s", b.String())
	}

	b.Reset()
	rs := rateResults()
	rs[0].Target, rs[1].Target = CompareZooKeeper, ComparePaddock
	if err := WriteCompareSummary(&b, rs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "10000 ops/s offered") || !strings.Contains(b.String(), "8000 (behind: 80% of offered)") {
		t.Errorf("summary:\n%s", b.String())
	}
}

func TestMainRateFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-rate", "-5"}, "-rate -5: want a finite number"},
		{[]string{"-rate", "x"}, `invalid value "x" for flag -rate`},
		{[]string{"-rate", ""}, `invalid value "" for flag -rate`},
		{[]string{"-rate", "NaN"}, "-rate NaN"},
		{[]string{"-rate", "Inf"}, "-rate +Inf"},
		{[]string{"-rate", "100", "-workload", WorkloadConnectStorm}, "pipelined workloads only"},
	} {
		args := append([]string{"-target", "a=127.0.0.1:2181"}, tc.args...)
		var out, errb bytes.Buffer
		if code := Main(args, &out, &errb); code != 2 {
			t.Errorf("Main(%q) = %d, want 2; stderr:\n%s", args, code, errb.String())
		}
		if !strings.Contains(errb.String(), tc.want) {
			t.Errorf("Main(%q) stderr lacks %q:\n%s", args, tc.want, errb.String())
		}
	}

	// A valid rate reaches the run and the reports.
	f := startFake(t)
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := Main([]string{"-target", "a=" + f.addr(), "-ratios", "50", "-rate", "1500.5",
		"-duration", "100ms", "-warmup", "20ms", "-sessions", "2", "-inflight", "4", "-keys", "3", "-out", dir}, &out, &errb)
	if code != 0 {
		t.Fatalf("Main = %d; stderr:\n%s", code, errb.String())
	}
	if !strings.Contains(out.String(), "offered ops/s") {
		t.Errorf("table lacks the offered rate:\n%s", out.String())
	}
	rs := readResults(t, dir)
	if len(rs) != 1 || rs[0].Rate != 1500.5 || rs[0].Ops == 0 {
		t.Errorf("results: %+v", rs)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][len(csvHeader)-1] != strconv.FormatFloat(1500.5, 'f', -1, 64) {
		t.Errorf("results.csv: %v\n%s", err, raw)
	}
}

func TestCompareMainRateFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-rate", "-1"}, "-rate -1: want a finite number"},
		{[]string{"-rate", "abc"}, `invalid value "abc" for flag -rate`},
		{[]string{"-rate", "NaN"}, "-rate NaN"},
	} {
		var out, errb bytes.Buffer
		if code := CompareMain(tc.args, &out, &errb); code != 2 {
			t.Errorf("CompareMain(%q) = %d, want 2; stderr:\n%s", tc.args, code, errb.String())
		}
		if !strings.Contains(errb.String(), tc.want) {
			t.Errorf("CompareMain(%q) stderr lacks %q:\n%s", tc.args, tc.want, errb.String())
		}
	}

	// The same rate applies to both targets (two fakes stand in for them).
	zk, pd := startFake(t), startFake(t)
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := CompareMain([]string{"-zk-addrs", zk.addr(), "-paddock-addrs", pd.addr(), "-ratios", "50",
		"-rate", "1000", "-duration", "100ms", "-warmup", "50ms", "-point-warmup", "20ms",
		"-sessions", "2", "-inflight", "8", "-keys", "10", "-out", dir}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d; stderr %s", code, errb.String())
	}
	rs := readResults(t, dir)
	if len(rs) != 2 {
		t.Fatalf("%d results, want 2", len(rs))
	}
	for _, r := range rs {
		if r.Rate != 1000 || r.Ops == 0 {
			t.Errorf("%s: rate %v, %d ops", r.Target, r.Rate, r.Ops)
		}
	}
	sum, err := os.ReadFile(filepath.Join(dir, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sum), "1000 ops/s offered to each target") {
		t.Errorf("summary:\n%s", sum)
	}
}
