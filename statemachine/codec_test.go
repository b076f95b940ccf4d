package statemachine

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/paddockdb/paddock/wire"
	"github.com/vmihailenco/msgpack/v5"
)

// codecTxns covers every field, nil against empty slices, large values
// (every length and int width) and a multi.
func codecTxns() []Txn {
	big := bytes.Repeat([]byte("v"), 70000)
	return []Txn{
		{},
		{Type: wire.OpCreate, SessionID: -1, Cxid: -1 << 31, Time: 1<<62 + 5, MinZxid: -1 << 63, Path: "/a", Data: nil, ACL: wire.WorldACL, Mode: wire.ModeEphemeralSequential, TTL: 1 << 40, Version: -1},
		{Type: wire.OpSetData, Path: string(big[:300]), Data: []byte{}, Auth: []wire.ID{}, ACL: []wire.ACL{}, Ops: []Txn{}, Passwd: []byte{}},
		{Type: wire.OpSetData, Path: "/b", Data: big, Auth: []wire.ID{{Scheme: "digest", ID: "alice:xyz"}, {Scheme: "ip", ID: "127.0.0.1"}}},
		{Type: wire.OpCreate2, Path: "/c", Data: big[:40000], ACL: []wire.ACL{{Perms: 1, ID: wire.ID{Scheme: "digest", ID: "u:p"}}, {Perms: 31, ID: wire.ID{Scheme: "world", ID: "anyone"}}}},
		{Type: wire.OpCreateSession, SessionID: 0x7fff_0000_0000_0001, Timeout: 30000, Passwd: []byte("0123456789abcdef")},
		{Type: wire.OpMulti, SessionID: 3, Ops: []Txn{
			{Type: wire.OpCheck, Path: "/a", Version: 200},
			{Type: wire.OpCreate, Path: "/m", Data: []byte("x"), ACL: []wire.ACL{{Perms: wire.PermRead, ID: wire.ID{Scheme: "world", ID: "anyone"}}}},
			{Type: wire.OpDelete, Path: "/m", Version: 70000},
		}},
	}
}

func TestBatchRoundTrip(t *testing.T) {
	txns := codecTxns()
	many := make([]Txn, 70000) // array32 header
	many[69999] = Txn{Type: wire.OpDelete, Path: "/z"}
	for _, in := range [][]Txn{nil, {}, txns, many} {
		enc, err := EncodeBatch(in)
		if err != nil {
			t.Fatal(err)
		}
		if enc[0] != BatchFormatVersion {
			t.Fatalf("entry starts with %#x", enc[0])
		}
		if len(enc) != entrySize(Origin{}, in) || cap(enc) != len(enc) {
			t.Fatalf("size %d, entrySize %d, cap %d", len(enc), entrySize(Origin{}, in), cap(enc))
		}
		app, _ := AppendBatch([]byte("prefix"), in)
		if !bytes.Equal(app[6:], enc) {
			t.Fatal("AppendBatch and EncodeBatch differ")
		}
		out, err := DecodeBatch(enc)
		if err != nil {
			t.Fatal(err)
		}
		if len(in) == 0 && len(out) == 0 {
			continue
		}
		if !reflect.DeepEqual(in, out) {
			t.Fatalf("round trip:\n%+v\n%+v", in[:min(len(in), 8)], out[:min(len(out), 8)])
		}
		// The decoded txns share no memory with the entry.
		for i := range enc {
			enc[i] = 0xff
		}
		if !reflect.DeepEqual(in, out) {
			t.Fatal("decoded txns share memory with the entry")
		}
	}
}

// The entry is msgpack: a generic msgpack decoder reads it.
func TestBatchIsMsgpack(t *testing.T) {
	enc, _ := EncodeBatch(codecTxns())
	dec := msgpack.NewDecoder(bytes.NewReader(enc))
	v, err := dec.DecodeInt()
	if err != nil || v != BatchFormatVersion {
		t.Fatalf("version %v %v", v, err)
	}
	var origin []uint64
	if err := dec.Decode(&origin); err != nil || len(origin) != 3 {
		t.Fatalf("origin %v %v", origin, err)
	}
	var generic []any
	if err := dec.Decode(&generic); err != nil || len(generic) != len(codecTxns()) {
		t.Fatalf("generic decode: %v (%d)", err, len(generic))
	}
	if f, ok := generic[1].([]any); !ok || len(f) != txnFields {
		t.Fatalf("txn is %T %v", generic[1], generic[1])
	}
}

// An entry carries its Origin, every txn decodes with the origin's member,
// and every width of the origin's numbers round-trips.
func TestEntryOrigin(t *testing.T) {
	txns := codecTxns()
	for _, o := range []Origin{{}, {Member: 1, Epoch: 1, Seq: 1}, {Member: 255, Epoch: 1 << 40, Seq: 1<<63 + 7}, {Member: 1<<64 - 1, Epoch: 1<<64 - 1, Seq: 1<<64 - 1}} {
		enc := EncodeEntry(o, txns)
		if len(enc) != entrySize(o, txns) || cap(enc) != len(enc) {
			t.Fatalf("%+v: size %d, entrySize %d", o, len(enc), entrySize(o, txns))
		}
		got, out, err := DecodeEntry(enc)
		if err != nil || got != o {
			t.Fatalf("origin %+v, got %+v %v", o, got, err)
		}
		for i := range out {
			if out[i].Origin != o.Member {
				t.Fatalf("txn %d origin %d, want %d", i, out[i].Origin, o.Member)
			}
			out[i].Origin = 0
		}
		if !reflect.DeepEqual(out, txns) {
			t.Fatal("txns differ")
		}
	}
}

// Entries of format 2 (no origin) still decode, with the zero Origin.
func TestEntryFormat2Decodes(t *testing.T) {
	txns := codecTxns()
	v3 := EncodeEntry(Origin{}, txns)
	v2 := append([]byte{2}, v3[5:]...) // drop version 3 and [0, 0, 0]
	o, out, err := DecodeEntry(v2)
	if err != nil || o != (Origin{}) || !reflect.DeepEqual(out, txns) {
		t.Fatalf("format 2: %+v %v", o, err)
	}
	if _, _, err := DecodeEntry(append([]byte{3, 0x92, 1, 1}, v3[5:]...)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("origin of 2 numbers: %v", err)
	}
	if _, _, err := DecodeEntry(append([]byte{4}, v3[1:]...)); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "format 4") {
		t.Fatalf("format 4: %v", err)
	}
}

// Txn is a msgpack.CustomEncoder/CustomDecoder: it can sit inside any
// msgpack value and reads back equal.
func TestTxnCustomMsgpack(t *testing.T) {
	in := struct {
		A []Txn
		B Txn
	}{A: codecTxns(), B: codecTxns()[6]}
	b, err := msgpack.Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		A []Txn
		B Txn
	}
	if err := msgpack.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("custom msgpack round trip:\n%+v\n%+v", in, out)
	}
}

// Entries of format version 1 (reflection, maps keyed by struct tags) are
// refused as corrupt, with a message that names the format.
func TestDecodeBatchV1Refused(t *testing.T) {
	type txnV1 struct {
		Type wire.OpCode `msgpack:"t,omitempty"`
		Path string      `msgpack:"p,omitempty"`
		Data []byte      `msgpack:"d"`
	}
	b, err := msgpack.Marshal([]txnV1{{Type: wire.OpCreate, Path: "/x", Data: []byte("d")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeBatch(b); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "format 1") {
		t.Fatalf("v1 entry: %v", err)
	}
}

func TestDecodeBatchCorrupt(t *testing.T) {
	good, _ := EncodeBatch(codecTxns())
	bad := [][]byte{nil, {0x01, 0x90}, {0x03, 0x90}, {0x02}, {0x02, 0x91, 0xc0}, {0x02, 0x90, 0x00}, {0xc1}}
	for i := 1; i < len(good); i += 97 {
		bad = append(bad, good[:i])
	}
	// A multi nested too deep.
	deep := Txn{Type: wire.OpMulti, Ops: []Txn{{Type: wire.OpMulti, Ops: []Txn{{Type: wire.OpMulti, Ops: []Txn{{}}}}}}}
	b, _ := EncodeBatch([]Txn{deep})
	bad = append(bad, b)
	for _, b := range bad {
		if _, err := DecodeBatch(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("DecodeBatch(%x) = %v, want ErrCorrupt", b[:min(len(b), 16)], err)
		}
	}
}

// FuzzDecodeBatch fuzzes the Raft entry decoder (every replica runs it on
// every entry): any input decodes or fails with ErrCorrupt, and what
// decodes re-encodes, with its origin, to an entry that decodes equal.
func FuzzDecodeBatch(f *testing.F) {
	good, _ := EncodeBatch(codecTxns())
	f.Add(good)
	f.Add(EncodeEntry(Origin{Member: 3, Epoch: 1 << 41, Seq: 7}, codecTxns()))
	f.Add(append([]byte{2}, good[5:]...)) // format 2
	f.Add([]byte{0x02, 0x90})
	f.Add([]byte{0x03, 0x93, 0, 0, 0, 0x90})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, txns, err := DecodeEntry(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		enc := EncodeEntry(o, txns)
		o2, again, err := DecodeEntry(enc)
		if err != nil || o2 != o || !reflect.DeepEqual(normal(txns), normal(again)) {
			t.Fatalf("re-decode: %v (%+v, %+v)", err, o, o2)
		}
	})
}

// normal maps empty top-level batches to nil for comparison.
func normal(t []Txn) []Txn {
	if len(t) == 0 {
		return nil
	}
	return t
}
