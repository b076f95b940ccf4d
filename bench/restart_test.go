package bench

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestRestartMain runs `paddock bench restart` on a small tree against a
// Paddock it builds and checks the report. With PADDOCK_BENCH_RESTART set it
// runs with those flags instead, which is how the figures in README.md
// ("Memory and restart") were taken:
//
//	PADDOCK_BENCH_RESTART="-nodes 1000000 -restarts 3" go test ./bench -run '^TestRestartMain$' -v -timeout 30m
func TestRestartMain(t *testing.T) {
	args := []string{"-nodes", "2000", "-restarts", "1", "-layout", "nested"}
	if env := os.Getenv("PADDOCK_BENCH_RESTART"); env != "" {
		args = strings.Fields(env)
	}
	var out, errb bytes.Buffer
	if code := RestartMain(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	t.Logf("%s\n%s", errb.String(), out.String())
	if !strings.Contains(out.String(), "restart 1: stop") || !strings.Contains(out.String(), "ready (getData of the last znode) after") {
		t.Fatalf("report:\n%s", out.String())
	}
}

func TestRestartMainBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-nodes", "0"}, {"-restarts", "0"}, {"-layout", "x"}, {"extra"}} {
		var out, errb bytes.Buffer
		if code := RestartMain(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
