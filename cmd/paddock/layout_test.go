package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsFlowOneWay checks DESIGN's layout rule on every package's
// direct (non-test) imports: cmd → actors → statemachine → wire, wire on
// the standard library alone, nothing importing cmd. Each entry lists the
// non-standard import prefixes a package may use.
func TestImportsFlowOneWay(t *testing.T) {
	const mod = "github.com/paddockdb/paddock/"
	allowed := map[string][]string{
		"wire":         nil,
		"wire/zktest":  nil,
		"wire/client":  {mod + "wire"},
		"wire/conform": {mod + "wire"},
		// SASL GSSAPI stands on gokrb5's Kerberos crypto and KDC client;
		// wire/ stays stdlib only (wire/kerberos/doc.go).
		"wire/kerberos": {"github.com/jcmturner/gokrb5/v8", "github.com/jcmturner/gofork"},
		"statemachine":  {mod + "wire", "github.com/vmihailenco/msgpack/v5", "github.com/lni/dragonboat/v4/statemachine"},
		"actors": {mod + "wire", mod + "statemachine", mod + "actors/faults", mod + "actors/raftnet", mod + "actors/quorumauth", mod + "actors/walcheck", "github.com/lni/dragonboat/v4",
			"github.com/asynkron/protoactor-go", "go.opentelemetry.io/otel"},
		// The storage fault layer sits under Dragonboat's LogDB and
		// snapshots (its vfs.FS) and wraps the state machine.
		"actors/faults": {"github.com/lni/vfs", "github.com/lni/dragonboat/v4"},
		// The Raft transport speaks TCP under Dragonboat's generic layer
		// (actors/raftnet/doc.go).
		"actors/raftnet": {"github.com/lni/dragonboat/v4", mod + "actors/quorumauth"},
		// Quorum SASL runs its mechanisms on the SASL code under wire
		// (wire/sasl for DIGEST-MD5, wire/kerberos for GSSAPI;
		// actors/quorumauth/doc.go); it is used by the quorum port and
		// the member channel alike.
		"actors/quorumauth": {mod + "wire"},
		// The WAL scan reads pebble's format itself, before pebble opens
		// the files (actors/walcheck/walcheck.go).
		"actors/walcheck": nil,
		// Recipes stand on the Go client alone.
		"recipes": {mod + "wire"},
		// bench drives the raw protocol itself so the client is never the
		// bottleneck (bench/doc.go).
		"bench": {mod + "wire", "github.com/HdrHistogram/hdrhistogram-go"},
		// The fault harness drives real ensembles with a real client and
		// checks histories with porcupine (bench/robustness/doc.go).
		"bench/robustness": {mod + "wire", "github.com/go-zookeeper/zk", "github.com/anishathalye/porcupine"},
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Imports " "}}`, mod+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		rel := strings.TrimPrefix(pkg, mod)
		for _, imp := range strings.Fields(imports) {
			if strings.HasPrefix(imp, mod+"cmd/") && !strings.HasPrefix(rel, "cmd/") {
				t.Errorf("%s imports %s: nothing outside cmd may import cmd", rel, imp)
			}
		}
		rules, ok := allowed[rel]
		if !ok {
			continue
		}
		seen[rel] = true
		for _, imp := range strings.Fields(imports) {
			if !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
				continue // standard library
			}
			if !hasAnyPrefix(imp, rules) {
				t.Errorf("%s imports %s, outside its layer (allowed: %v)", rel, imp, rules)
			}
		}
	}
	for rel := range allowed {
		if !seen[rel] {
			t.Errorf("package %s not found by go list", rel)
		}
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if s == p || strings.HasPrefix(s, p+"/") {
			return true
		}
	}
	return false
}
