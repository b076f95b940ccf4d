package statemachine

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"testing"

	"github.com/paddockdb/paddock/wire"
)

// Memory and restart benchmarks for a million znodes (bench/README.md,
// "Memory and restart"). Run one iteration each:
//
//	go test ./statemachine -run '^$' -bench 'Memory|Snapshot' -benchtime 1x
//
// BenchmarkMemory* report the live heap the tree holds after runtime.GC,
// per znode (heap-B/znode), for 1M znodes with 100-byte values, built by
// Apply from create transactions whose path and data are separate
// allocations, as DecodeBatch delivers them.

const memNodes = 1_000_000

// flatPath is /bench/kNNNNNNNN: a million children of one node.
func flatPath(i int) string { return "/bench/k" + pad(i, 8) }

// nestedPath is /bench/dDDD/kNNNNNN: 1000 directories of 1000 znodes.
func nestedPath(i int) string { return "/bench/d" + pad(i/1000, 3) + "/k" + pad(i, 6) }

func pad(i, width int) string {
	s := strconv.Itoa(i)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

// buildMillion creates /bench (and the directories of the nested layout)
// and memNodes znodes with 100-byte values.
func buildMillion(tb testing.TB, nested bool) *Tree {
	tr := NewTree()
	create := func(p string) {
		data := make([]byte, benchValSize)
		if r := tr.Apply(&Txn{Type: wire.OpCreate, SessionID: 0, Path: p, Data: data, ACL: decodedWorldACL, Time: 1_700_000_000_000}); r.Err != wire.Ok {
			tb.Fatalf("create %s: %v", p, r.Err)
		}
	}
	create("/bench")
	for i := 0; i < memNodes; i++ {
		if nested {
			if i%1000 == 0 {
				create("/bench/d" + pad(i/1000, 3))
			}
			create(nestedPath(i))
		} else {
			create(flatPath(i))
		}
	}
	return tr
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func benchMemory(b *testing.B, nested bool) {
	for b.Loop() {
		before := liveHeap()
		tr := buildMillion(b, nested)
		after := liveHeap()
		b.ReportMetric(float64(after-before)/float64(tr.NodeCount()-1), "heap-B/znode")
		b.ReportMetric(float64(after-before)/(1<<20), "heap-MiB")
		runtime.KeepAlive(tr)
	}
}

func BenchmarkMemory1MFlat(b *testing.B)   { benchMemory(b, false) }
func BenchmarkMemory1MNested(b *testing.B) { benchMemory(b, true) }

// BenchmarkSnapshotSave1M times Save of a 1M-znode tree (flat layout) to a
// writer that discards; BenchmarkSnapshotLoad1M times Load from memory and
// reports the heap the loaded tree holds.
func BenchmarkSnapshotSave1M(b *testing.B) {
	tr := buildMillion(b, false)
	var w countWriter
	for b.Loop() {
		w = 0
		if err := tr.Save(&w); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(w)/(1<<20), "snapshot-MiB")
}

// countWriter discards what it is given and counts it.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

func BenchmarkSnapshotLoad1M(b *testing.B) {
	for _, nested := range []bool{false, true} {
		b.Run(fmt.Sprintf("nested=%v", nested), func(b *testing.B) {
			var buf bytes.Buffer
			if err := buildMillion(b, nested).Save(&buf); err != nil {
				b.Fatal(err)
			}
			snap := buf.Bytes()
			for b.Loop() {
				b.StopTimer()
				before := liveHeap()
				b.StartTimer()
				tr := NewTree()
				if err := tr.Load(bytes.NewReader(snap)); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				after := liveHeap()
				b.ReportMetric(float64(after-before)/float64(tr.NodeCount()-1), "heap-B/znode")
				runtime.KeepAlive(tr)
				b.StartTimer()
			}
		})
	}
}
