package conform

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

//go:embed testdata
var testdata embed.FS

// Script is one conformance script and the transcript Apache ZooKeeper
// produced for it.
type Script struct {
	Name   string // file name without .txt, e.g. "crud"
	Text   string // the script
	Golden string // the expected transcript (testdata/<name>.golden)
}

// Config returns the server configuration the script needs, as zoo.cfg
// lines, from its "# config: key=value" header lines; for example
// container_ttl needs extendedTypesEnabled=true.
func (s Script) Config() []string {
	var out []string
	for _, l := range strings.Split(s.Text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "# config:"); ok {
			out = append(out, strings.Fields(v)...)
		}
	}
	return out
}

// Scripts returns every embedded script, in name order.
func Scripts() []Script {
	names, err := fs.Glob(testdata, "testdata/*.txt")
	if err != nil {
		panic(err)
	}
	var out []Script
	for _, n := range names {
		text, err := testdata.ReadFile(n)
		if err != nil {
			panic(err)
		}
		golden, _ := testdata.ReadFile(strings.TrimSuffix(n, ".txt") + ".golden")
		out = append(out, Script{Name: strings.TrimSuffix(path.Base(n), ".txt"), Text: string(text), Golden: string(golden)})
	}
	return out
}

// ScriptTimeout bounds one script's run.
const ScriptTimeout = 2 * time.Minute

// StartFunc starts a fresh server for one script, configured with the
// script's Config lines (zoo.cfg syntax; translate what applies), and
// returns its client address. It should stop the server in t.Cleanup.
type StartFunc func(t *testing.T, config []string) (addr string)

// rewriteDir, when set (by this package's -rewrite test flag), makes
// CheckAll write the transcripts as the new golden files instead of
// comparing.
var rewriteDir string

// CheckAll runs every embedded script in a parallel subtest against a
// server from start and fails each subtest whose transcript differs from
// the golden one recorded against Apache ZooKeeper, showing the diff.
//
// From another package:
//
//	conform.CheckAll(t, func(t *testing.T, cfg []string) string { return startPaddock(t, cfg).Addr })
func CheckAll(t *testing.T, start StartFunc) {
	t.Helper()
	for _, s := range Scripts() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			Check(t, s, start(t, s.Config()))
		})
	}
}

// Check runs one script against addr and compares its transcript with the
// golden one.
func Check(t *testing.T, s Script, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ScriptTimeout)
	defer cancel()
	got, err := Run(ctx, addr, strings.NewReader(s.Text))
	if err != nil {
		t.Fatalf("script %s: %v\ntranscript so far:\n%s", s.Name, err, got)
	}
	if rewriteDir != "" {
		if err := os.WriteFile(filepath.Join(rewriteDir, s.Name+".golden"), []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != s.Golden {
		t.Errorf("script %s: transcript differs from testdata/%s.golden (- want, + got):\n%s", s.Name, s.Name, Diff(s.Golden, got))
	}
}

// Diff returns a line diff of want and got: unchanged lines start with two
// spaces, removed ones with "- " and added ones with "+ ".
func Diff(want, got string) string {
	a := strings.Split(strings.TrimSuffix(want, "\n"), "\n")
	b := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	// Longest common subsequence, fine for transcripts of a few hundred lines.
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			fmt.Fprintf(&out, "  %s\n", a[i])
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&out, "+ %s\n", b[j])
			j++
		default:
			fmt.Fprintf(&out, "- %s\n", a[i])
			i++
		}
	}
	return out.String()
}
