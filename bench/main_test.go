package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMainBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no -target"},
		{[]string{"-target", "zk=localhost"}, "bad address"},
		{[]string{"-target", "zk=localhost:99999"}, "port must be"},
		{[]string{"-target", "zk=:2181"}, "no host"},
		{[]string{"-target", "=127.0.0.1:2181"}, "empty name"},
		{[]string{"-target", "a=127.0.0.1:2181", "-target", "a=127.0.0.1:2182"}, "given twice"},
		{[]string{"-target", "a=127.0.0.1:2181", "-workload", "nope"}, "unknown workload"},
		{[]string{"-target", "a=127.0.0.1:2181", "-ratios", "0,150"}, "bad read ratio"},
		{[]string{"-target", "a=127.0.0.1:2181", "-ratios", "x"}, "bad read ratio"},
		{[]string{"-target", "a=127.0.0.1:2181", "-sessions", "0"}, "at least 1"},
		{[]string{"-target", "a=127.0.0.1:2181", "-duration", "0s"}, "-duration must be positive"},
		{[]string{"-target", "a=127.0.0.1:2181", "-inflight", "100000"}, "in-flight"},
		{[]string{"-target", "a=127.0.0.1:2181", "-root", "bench"}, "root"},
		{[]string{"-target", "a=127.0.0.1:2181", "extra"}, "unexpected argument"},
		{[]string{"-nosuchflag"}, "not defined"},
	} {
		var out, errb bytes.Buffer
		if code := Main(tc.args, &out, &errb); code != 2 {
			t.Errorf("Main(%q) = %d, want 2; stderr:\n%s", tc.args, code, errb.String())
		}
		if !strings.Contains(errb.String(), tc.want) {
			t.Errorf("Main(%q) stderr lacks %q:\n%s", tc.args, tc.want, errb.String())
		}
	}
}

func TestMainUnreachableTarget(t *testing.T) {
	// A port nothing listens on: the run fails with status 1 and says why.
	f := startFake(t)
	addr := f.addr()
	f.close()
	var out, errb bytes.Buffer
	code := Main([]string{"-target", "gone=" + addr, "-duration", "100ms", "-warmup", "0s"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "dial") {
		t.Errorf("Main = %d, stderr:\n%s", code, errb.String())
	}
}

// TestMainSweep runs a tiny two-target sweep against the fake server and
// checks every report lands in -out.
func TestMainSweep(t *testing.T) {
	a, b := startFake(t), startFake(t)
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := Main([]string{
		"-target", "a=" + a.addr(), "-target", "b=" + b.addr(), "-ratios", "0,100",
		"-duration", "100ms", "-warmup", "20ms", "-sessions", "2", "-inflight", "4", "-keys", "3",
		"-out", dir,
	}, &out, &errb)
	if code != 0 {
		t.Fatalf("Main = %d; stderr:\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "\r[") {
		t.Errorf("no progress bar on stderr: %q", errb.String())
	}
	raw, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res []Result
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	// Interleaved point by point: a@0, b@0, a@1, b@1.
	var order []string
	for _, r := range res {
		order = append(order, r.Target+"@"+pct(r.ReadRatio))
	}
	if got := strings.Join(order, " "); got != "a@0% b@0% a@100% b@100%" {
		t.Errorf("run order %q", got)
	}
	for _, f := range []string{"results.csv", "chart.svg", "chart.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}
