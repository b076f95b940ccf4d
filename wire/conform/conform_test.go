package conform

import (
	"context"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/zktest"
)

var rewrite = flag.Bool("rewrite", false, "record testdata/*.golden from a real ZooKeeper")

func startZooKeeper(t *testing.T, cfg []string) string {
	return zktest.Start(t, zktest.WithConfig(cfg...)).Addr
}

// TestScripts runs every script against a real Apache ZooKeeper and
// compares with the golden transcripts; -rewrite records them.
func TestScripts(t *testing.T) {
	if *rewrite {
		rewriteDir = "testdata"
	}
	CheckAll(t, startZooKeeper)
}

// TestAdhoc runs the script in $CONFORM_SCRIPT against ZooKeeper and logs
// the transcript: a tool for writing scripts.
func TestAdhoc(t *testing.T) {
	p := os.Getenv("CONFORM_SCRIPT")
	if p == "" {
		t.Skip("set CONFORM_SCRIPT to a script file")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := Script{Name: "adhoc", Text: string(b)}
	zk := zktest.Start(t, zktest.WithConfig(s.Config()...))
	out, err := Run(context.Background(), zk.Addr, strings.NewReader(s.Text))
	t.Logf("transcript:\n%s", out)
	if os.Getenv("CONFORM_LOG") != "" {
		t.Logf("log:\n%s", zk.LogTail())
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestEveryOpcodeScripted fails if a client opcode is not used by any
// script (the opcodes a client cannot usefully send are listed).
func TestEveryOpcodeScripted(t *testing.T) {
	used := map[wire.OpCode]bool{}
	for _, s := range Scripts() {
		for _, l := range strings.Split(s.Text, "\n") {
			for _, tok := range strings.Fields(l) {
				if op, ok := verbs[strings.ToLower(tok)]; ok {
					used[op] = true
				}
			}
		}
	}
	skip := map[wire.OpCode]string{
		wire.OpNotification:    "server to client only (sent raw in badinput)",
		wire.OpError:           "multi result type only",
		wire.OpCreateSession:   "the handshake; sent raw in badinput",
		wire.OpSASL:            "needs a SASL-configured server and random nonces: actors/sasl_test.go runs it against ZooKeeper",
		wire.OpDeleteContainer: "server-internal (the container reaper)",
	}
	for _, op := range wire.OpCodes() {
		if _, ok := skip[op]; !ok && !used[op] {
			t.Errorf("opcode %v is not used by any script", op)
		}
	}
}
