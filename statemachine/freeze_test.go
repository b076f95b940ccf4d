package statemachine

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/paddockdb/paddock/wire"
)

// TestFrozenSaveWhileApplying: a Frozen saves the tree as it was at
// Freeze, byte for byte, while Apply goes on concurrently (the race
// detector watches the shared nodes), and the copies Apply makes change
// nothing it computes: results and the final tree equal those of a tree
// that was never frozen.
func TestFrozenSaveWhileApplying(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		log := randomLog(seed, 600)
		half := len(log) / 2
		a, b := NewTree(), NewTree()
		if seed%5 == 0 {
			a.gen = maxGen // the next Freeze wraps the generations
		}
		var ra, rb []Result
		for i := range log[:half] {
			ra = append(ra, a.Apply(&log[i]))
		}
		before := saved(t, a) // itself a Freeze and Save
		f := a.Freeze()
		var got bytes.Buffer
		var wg sync.WaitGroup
		wg.Add(1)
		var saveErr error
		go func() {
			defer wg.Done()
			saveErr = f.Save(&got)
		}()
		for i := half; i < len(log); i++ {
			ra = append(ra, a.Apply(&log[i]))
		}
		wg.Wait()
		if saveErr != nil {
			t.Fatal(saveErr)
		}
		if !bytes.Equal(got.Bytes(), before) {
			t.Fatalf("seed %d: the frozen tree saved other bytes than the tree at Freeze", seed)
		}
		for i := range log {
			rb = append(rb, b.Apply(&log[i]))
		}
		if fmt.Sprint(ra) != fmt.Sprint(rb) {
			t.Fatalf("seed %d: results differ from a tree never frozen", seed)
		}
		if !bytes.Equal(saved(t, a), saved(t, b)) {
			t.Fatalf("seed %d: final tree differs from a tree never frozen", seed)
		}
		checkACLTable(t, a)
		if a.saving.Load() {
			t.Fatalf("seed %d: still copying on write after Save", seed)
		}
	}
}

// TestModifyCopiesOnlyWhileSaving: a change during a snapshot copies the
// node once (the table then holds the copy); outside one, nodes change in
// place.
func TestModifyCopiesOnlyWhileSaving(t *testing.T) {
	tr := newTestTree(t)
	mustOK(t, tr, create("/n", "v", 0))
	orig := tr.nodes.get("/n")
	mustOK(t, tr, &Txn{Type: wire.OpSetData, SessionID: sess, Path: "/n", Data: []byte("w"), Version: -1})
	if tr.nodes.get("/n") != orig {
		t.Fatal("a change without a snapshot copied the node")
	}
	f := tr.Freeze()
	mustOK(t, tr, &Txn{Type: wire.OpSetData, SessionID: sess, Path: "/n", Data: []byte("x"), Version: -1})
	cp := tr.nodes.get("/n")
	if cp == orig || string(orig.getData()) != "w" || f.shards[shardOf("/n")]["/n"] != orig {
		t.Fatal("a change during a snapshot did not leave the frozen node alone")
	}
	mustOK(t, tr, &Txn{Type: wire.OpSetData, SessionID: sess, Path: "/n", Data: []byte("y"), Version: -1})
	if tr.nodes.get("/n") != cp {
		t.Fatal("a second change during the same snapshot copied again")
	}
	if err := f.Save(&bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	mustOK(t, tr, &Txn{Type: wire.OpSetData, SessionID: sess, Path: "/n", Data: []byte("z"), Version: -1})
	if tr.nodes.get("/n") != cp {
		t.Fatal("a change after the snapshot copied the node")
	}
}

// TestSaveOrderIsDepthFirst: Save writes nodes in the order of a
// depth-first walk with children sorted by name, whatever bytes the names
// hold around '/'.
func TestSaveOrderIsDepthFirst(t *testing.T) {
	tr := newTestTree(t)
	for _, p := range []string{"/a", "/a-b", "/a.c", "/a0", "/a/x", "/a/y", "/a/x/1", "/a/x/1-", "/b", "/b/!", "/b/~", "/b/\u00e9"} {
		mustOK(t, tr, create(p, "", 0))
	}
	var want []string
	var walk func(p string)
	walk = func(p string) {
		want = append(want, p)
		for _, c := range sortedKeys(tr.nodes.get(p).children) {
			walk(childPath(p, c))
		}
	}
	walk("/")
	var got []string
	for _, e := range tr.Freeze().ordered() {
		got = append(got, strings.ReplaceAll(e.key, "\x00", "/"))
	}
	if !slices.Equal(got, want) {
		t.Errorf("Save order\n got %q\nwant %q", got, want)
	}
}

// TestShardsSpreadSequentialNames: the benchmark's and a sequential
// node's names differ only in their last digits; they must still spread
// over the shards, or a snapshot would copy a few large shards.
func TestShardsSpreadSequentialNames(t *testing.T) {
	var count [nodeShards]int
	const n = 100000
	for i := 0; i < n; i++ {
		count[shardOf(fmt.Sprintf("/bench/k%08d", i))]++
	}
	for i, c := range count {
		if c < n/nodeShards/2 || c > n/nodeShards*2 {
			t.Fatalf("shard %d holds %d of %d sequential names (even: %d)", i, c, n, n/nodeShards)
		}
	}
}
