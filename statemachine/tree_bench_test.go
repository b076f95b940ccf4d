package statemachine

import (
	"fmt"
	"testing"

	"github.com/paddockdb/paddock/wire"
)

// Micro-benchmarks of the tree on the hot paths: Get on a 100k-node tree
// (the read path), Apply of setData and create (the write path), and the
// watch triggers Apply generates. Transactions use the system session (0),
// so no session has to be opened.

const (
	benchDirs    = 100
	benchPerDir  = 1000 // benchDirs*benchPerDir = 100k znodes
	benchValSize = 100
)

func benchPath(i int) string {
	return fmt.Sprintf("/bench/d%03d/k%06d", i/benchPerDir%benchDirs, i%(benchDirs*benchPerDir))
}

// benchTree returns a tree holding /bench/dDDD/kNNNNNN: 100k znodes with
// 100-byte values.
func benchTree(b *testing.B) (*Tree, []string) {
	b.Helper()
	tr := NewTree()
	val := make([]byte, benchValSize)
	apply := func(p string) {
		if r := tr.Apply(&Txn{Type: wire.OpCreate, Path: p, Data: val, ACL: wire.WorldACL, Time: 1}); r.Err != wire.Ok {
			b.Fatalf("create %s: %v", p, r.Err)
		}
	}
	apply("/bench")
	for d := 0; d < benchDirs; d++ {
		apply(fmt.Sprintf("/bench/d%03d", d))
	}
	paths := make([]string, benchDirs*benchPerDir)
	for i := range paths {
		paths[i] = benchPath(i)
		apply(paths[i])
	}
	return tr, paths
}

func BenchmarkTreeGet100k(b *testing.B) {
	tr, paths := benchTree(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A stride that is coprime with the key count walks the keys in
		// an order the caches do not predict.
		data, _, _, err := tr.Get(paths[(i*7919)%len(paths)])
		if err != wire.Ok || len(data) != benchValSize {
			b.Fatalf("Get: %v", err)
		}
	}
}

func BenchmarkTreeExists100k(b *testing.B) {
	tr, paths := benchTree(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := tr.Exists(paths[(i*7919)%len(paths)]); !ok {
			b.Fatal("missing")
		}
	}
}

func BenchmarkApplySetData(b *testing.B) {
	tr, paths := benchTree(b)
	val := make([]byte, benchValSize)
	txn := Txn{Type: wire.OpSetData, Data: val, Version: -1, Time: 2}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		txn.Path = paths[(i*7919)%len(paths)]
		if r := tr.Apply(&txn); r.Err != wire.Ok {
			b.Fatalf("setData: %v", r.Err)
		}
	}
}

func BenchmarkApplyCreate(b *testing.B) {
	tr, _ := benchTree(b)
	val := make([]byte, benchValSize)
	names := make([]string, b.N)
	for i := range names {
		names[i] = fmt.Sprintf("/bench/d%03d/c%09d", i%benchDirs, i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := tr.Apply(&Txn{Type: wire.OpCreate, Path: names[i], Data: val, ACL: wire.WorldACL, Time: 2}); r.Err != wire.Ok {
			b.Fatalf("create: %v", r.Err)
		}
	}
}

// BenchmarkApplyTriggers applies create and delete of the same node in
// turn: each create yields NodeCreated + NodeChildrenChanged (parent),
// each delete NodeDeleted + NodeChildrenChanged. It reports the triggers
// generated per op.
func BenchmarkApplyTriggers(b *testing.B) {
	tr, _ := benchTree(b)
	val := make([]byte, benchValSize)
	const p = "/bench/d000/watched"
	create := Txn{Type: wire.OpCreate, Path: p, Data: val, ACL: wire.WorldACL, Time: 2}
	del := Txn{Type: wire.OpDelete, Path: p, Version: -1, Time: 2}
	var triggers int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		txn := &create
		if i%2 == 1 {
			txn = &del
		}
		r := tr.Apply(txn)
		if r.Err != wire.Ok {
			b.Fatalf("%v: %v", txn.Type, r.Err)
		}
		triggers += len(r.Triggers)
	}
	b.ReportMetric(float64(triggers)/float64(b.N), "triggers/op")
}
