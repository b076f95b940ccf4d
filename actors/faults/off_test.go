//go:build !faults

package faults

import (
	"testing"

	"github.com/lni/dragonboat/v4/config"
)

// Without the faults build tag the environment changes nothing.
func TestOffIgnoresTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	writeControl(t, dir, "crash=apply-after\nenospc=all\n")
	t.Setenv(EnvVar, dir)
	var nhc config.NodeHostConfig
	if on, err := Setup(&nhc); on || err != nil || nhc.Expert.FS != nil || nhc.Expert.LogDBFactory != nil || Built {
		t.Fatalf("Setup without the tag: %v %v %+v (Built %v); want nothing", on, err, nhc.Expert, Built)
	}
	Hit(ApplyAfter) // armed in the file, but no layer: the test goes on
}
