package clients

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunJudgesReports checks how a driver's run is judged, with stand-in
// drivers written in sh.
func TestRunJudgesReports(t *testing.T) {
	cases := []struct {
		name, script, wantErr string
	}{
		{"all passed", `echo "PASS a"; echo "1 passed, 0 failed"`, ""},
		{"stderr after summary", `echo "PASS a"; echo "3 passed, 0 failed"; echo noise >&2`, ""},
		{"failures but exit 0", `echo "FAIL a: x"; echo "1 passed, 1 failed"`, "1 passed, 1 failed, yet exit 0"},
		{"nothing ran", `echo "0 passed, 0 failed"`, "0 passed, 0 failed, yet exit 0"},
		{"exit 1", `echo "2 passed, 0 failed"; exit 1`, "2 passed, 0 failed (exit status 1"},
		{"no summary", `echo "PASS a"`, `no final "N passed, M failed" line`},
		{"later summary wins", `echo "1 passed, 0 failed"; echo "1 passed, 1 failed"`, "1 passed, 1 failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := run(context.Background(), "fake", nil, "/bin/sh", "-c", c.script)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("err = %v, want nil; output:\n%s", err, out)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("err = %v, want one containing %q; output:\n%s", err, c.wantErr, out)
			}
		})
	}
}

// TestRunKillsProcessGroupOnTimeout checks that a hung driver, and the
// processes it started, are killed when the context ends.
func TestRunKillsProcessGroupOnTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	// The grandchild sleep holds stdout open: only a group kill ends it.
	out, err := run(ctx, "hung", nil, "/bin/sh", "-c", `echo started; (sleep 60; echo late) & wait`)
	if err == nil || !strings.Contains(err.Error(), "killed after") {
		t.Fatalf("err = %v, want a kill; output:\n%s", err, out)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("run took %v after a 300ms timeout", took)
	}
	if !strings.Contains(out, "started") || strings.Contains(out, "late") {
		t.Fatalf("output %q", out)
	}
}
