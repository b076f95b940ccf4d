package bench

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestMemoryMain runs `paddock bench memory` on a small nested tree against
// a real ZooKeeper and checks the report. With PADDOCK_BENCH_MEMORY set it
// runs with those flags instead, which is how the figures in README.md
// ("Memory and restart") were taken:
//
//	PADDOCK_BENCH_MEMORY="-nodes 1000000 -layout flat" go test ./bench -run '^TestMemoryMain$' -v -timeout 30m
func TestMemoryMain(t *testing.T) {
	args := []string{"-nodes", "3000", "-layout", "nested", "-zk-heap", "256m", "-histo"}
	if env := os.Getenv("PADDOCK_BENCH_MEMORY"); env != "" {
		args = append(strings.Fields(env), "-histo")
	}
	var out, errb bytes.Buffer
	if code := MemoryMain(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	t.Logf("%s\n%s", errb.String(), out.String())
	if !strings.Contains(out.String(), "bytes/znode") || !strings.Contains(out.String(), "java.lang.String") {
		t.Fatalf("report:\n%s", out.String())
	}
}

func TestMemoryMainBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-nodes", "0"}, {"-layout", "tree"}, {"extra"}, {"-nope"}} {
		var out, errb bytes.Buffer
		if code := MemoryMain(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestLoadPaths(t *testing.T) {
	flat := LoadConfig{Nodes: 10}
	nested := LoadConfig{Nodes: 10, Nested: true, Root: "/r"}
	if flat.Path(7) != "/bench/k00000007" || nested.Path(1234) != "/r/d001/k001234" {
		t.Fatal(flat.Path(7), nested.Path(1234))
	}
	if _, err := LoadZnodes(context.Background(), "127.0.0.1:1", flat); err == nil {
		t.Fatal("load against nothing succeeded")
	}
}
