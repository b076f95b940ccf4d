package main

import (
	"os"
	"strings"
	"testing"

	"github.com/paddockdb/paddock/cmd/paddock/zoocfg"
)

// TestReadmeSystemProperties keeps the README's table of system
// properties true to zoocfg: every property has its row, word for word,
// and every zoo.cfg key accepted without effect is listed.
func TestReadmeSystemProperties(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, sp := range zoocfg.SystemProperties() {
		if row := zoocfg.ReadmeRow(sp); !strings.Contains(readme, "\n"+row+"\n") {
			t.Errorf("README.md lacks the row\n%s", row)
		}
	}
	flat := strings.Join(strings.Fields(readme), " ")
	for _, k := range zoocfg.QuorumPeerKeysIgnored() {
		if !strings.Contains(flat, "`"+k+"`") {
			t.Errorf("README.md does not list the ignored zoo.cfg key %s", k)
		}
	}
}
