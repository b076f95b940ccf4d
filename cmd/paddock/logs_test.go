package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"
)

// TestServeLogFormatJSON runs the binary with --log-format json at debug
// level, opens and closes a session and stops it: every line it writes to
// standard error is one JSON object, Dragonboat's (lib=dragonboat, with
// its package) and Paddock's alike, and the lines about the session carry
// its id.
func TestServeLogFormatJSON(t *testing.T) {
	bin := buildPaddock(t)
	p := startProcess(t, bin, "serve", "--data-dir", t.TempDir(), "--client-addr", "127.0.0.1:0",
		"--log-level", "debug", "--log-format", "json")
	c := crashDial(t, p.addr)
	if _, err := c.Create("/logged", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	session := fmt.Sprintf("0x%x", uint64(c.SessionID()))
	c.Close()
	if code := p.stop(t); code != 0 {
		t.Fatalf("stop exited %d:\n%s", code, p.stderr())
	}
	var dragonboat, established, stopped bool
	for l := range strings.Lines(p.stderr()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON object (%v): %q", err, l)
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line without %q: %q", k, l)
			}
		}
		if m["lib"] == "dragonboat" && m["pkg"] != nil && m["pkg"] != "" {
			dragonboat = true
		}
		if m["msg"] == "session established" && m["session"] == session {
			established = true
		}
		stopped = stopped || m["msg"] == "stopped"
	}
	if !dragonboat || !established || !stopped {
		t.Errorf("dragonboat line %v, session %s established %v, stopped %v:\n%s", dragonboat, session, established, stopped, p.stderr())
	}
}
