package statemachine

import (
	"fmt"
	"testing"

	"github.com/paddockdb/paddock/wire"
)

// benchBatch is a group-commit batch as the proposer builds one under
// load: 64 transactions, half setData and half create with world:anyone,
// 100-byte values, stamped session, cxid, time and lastZxidSeen.
func benchBatch() []Txn {
	val := make([]byte, benchValSize)
	txns := make([]Txn, 64)
	for i := range txns {
		txns[i] = Txn{Type: wire.OpSetData, SessionID: 0x1234_5678_9abc, Cxid: int32(1000 + i),
			Time: 1_700_000_000_000 + int64(i), MinZxid: 1_700_000_000_000 << 20,
			Path: fmt.Sprintf("/bench/k%08d", i*7919), Data: val, Version: -1}
		if i%2 == 1 {
			txns[i].Type, txns[i].ACL, txns[i].Version = wire.OpCreate, wire.WorldACL, 0
		}
	}
	return txns
}

func BenchmarkEncodeBatch64(b *testing.B) {
	txns := benchBatch()
	b.ReportAllocs()
	var n int
	for b.Loop() {
		out, err := EncodeBatch(txns)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.ReportMetric(float64(n), "bytes/batch")
}

func BenchmarkDecodeBatch64(b *testing.B) {
	enc, err := EncodeBatch(benchBatch())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		txns, err := DecodeBatch(enc)
		if err != nil || len(txns) != 64 {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendBatch64 encodes into a reused buffer, as a proposer that
// keeps its buffer between flushes would.
func BenchmarkAppendBatch64(b *testing.B) {
	txns := benchBatch()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = AppendBatch(buf[:0], txns)
		if err != nil {
			b.Fatal(err)
		}
	}
}
