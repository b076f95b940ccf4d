package statemachine

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"testing"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/snapshot-v3.bin from randomLog(7, 400)")

// TestSnapshotGolden pins the snapshot format (SnapshotFormatVersion 3):
// a snapshot written by an earlier build loads, and saving the loaded tree
// gives the same bytes, as does replaying the log that made it.
func TestSnapshotGolden(t *testing.T) {
	const file = "testdata/snapshot-v3.bin"
	tr := NewTree()
	log := randomLog(7, 400)
	for i := range log {
		tr.Apply(&log[i])
	}
	if *updateGolden {
		if err := os.WriteFile(file, saved(t, tr), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(saved(t, tr), golden) {
		t.Fatal("Save of the replayed log differs from the golden snapshot")
	}
	c := NewTree()
	if err := c.Load(bytes.NewReader(golden)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(saved(t, c), golden) {
		t.Fatal("Load then Save of the golden snapshot differs")
	}
}

// TestSnapshotV2Loads: a snapshot of format 2 (before owners and origins)
// of the same log loads into the tree the replay gives.
func TestSnapshotV2Loads(t *testing.T) {
	v2, err := os.ReadFile("testdata/snapshot-v2.bin")
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTree()
	log := randomLog(7, 400)
	for i := range log {
		tr.Apply(&log[i])
	}
	c := NewTree()
	if err := c.Load(bytes.NewReader(v2)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(saved(t, c), saved(t, tr)) {
		t.Fatal("the v2 snapshot loads into another tree than the replay gives")
	}
}

// Every truncation of a snapshot, and every single-byte change of its
// header and first nodes, fails cleanly (ErrCorrupt) or loads: never a
// panic, and a failed Load leaves the tree as it was.
func TestLoadTruncatedAndFlipped(t *testing.T) {
	for _, f := range []string{"testdata/snapshot-v2.bin", "testdata/snapshot-v3.bin"} {
		t.Run(f, func(t *testing.T) { loadTruncatedAndFlipped(t, f) })
	}
}

func loadTruncatedAndFlipped(t *testing.T, file string) {
	golden, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTree()
	before := saved(t, tr)
	for i := 0; i < len(golden); i++ {
		if err := tr.Load(bytes.NewReader(golden[:i])); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("prefix %d: %v", i, err)
		}
	}
	if !bytes.Equal(saved(t, tr), before) {
		t.Fatal("failed Load changed the tree")
	}
	for i := 0; i < min(len(golden), 300); i++ {
		b := bytes.Clone(golden)
		b[i] ^= 0x5a
		c := NewTree()
		if err := c.Load(bytes.NewReader(b)); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flip %d: %v", i, err)
		}
	}
}
