package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/paddockdb/paddock/wire"
)

// Fuzz targets for the decoder, seeded with the golden frames captured from
// ZooKeeper and the round-trip encodings. Crashers found by fuzzing are
// kept in testdata/fuzz/<target>/ and run as regression seeds by every
// `go test`.

const fuzzMax = 256 // small max packet for FuzzReadFrame

// goldenSeeds returns the golden frames decoded, in a stable order.
func goldenSeeds(f *testing.F) []decodedFrame {
	var out []decodedFrame
	all := loadGolden(f)
	for _, name := range requiredGolden {
		dec, err := decodeGolden(all[name])
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, dec...)
	}
	return out
}

func FuzzReadFrame(f *testing.F) {
	for _, g := range goldenSeeds(f) {
		f.Add(g.raw)
	}
	f.Add([]byte{0, 0, 1, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Add([]byte{0, 0, 0, 2, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, buf := range [][]byte{nil, make([]byte, 0, 16)} {
			body, err := wire.ReadFrame(bytes.NewReader(data), buf, fuzzMax)
			if len(data) < 4 {
				if err == nil {
					t.Fatal("no error without a full length")
				}
				continue
			}
			n := int32(binary.BigEndian.Uint32(data))
			switch {
			case n < 0 || n > fuzzMax:
				if !errors.Is(err, wire.ErrPacketTooLarge) {
					t.Fatalf("length %d: %v, want ErrPacketTooLarge", n, err)
				}
			case int(n) > len(data)-4:
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("length %d with %d bytes: %v", n, len(data)-4, err)
				}
			default:
				if err != nil || !bytes.Equal(body, data[4:4+n]) {
					t.Fatalf("length %d: %x, %v", n, body, err)
				}
			}
		}
	})
}

// checkStable requires that a record decoded from fuzz input re-encodes to
// bytes that decode, with fresh(), to an equal record, and that those
// bytes are a fixed point of encoding.
func checkStable(t *testing.T, what string, r wire.Record, fresh func() wire.Record) {
	t.Helper()
	b := wire.Marshal(r)
	r2 := fresh()
	d := wire.NewDecoder(b)
	r2.Decode(d)
	if d.Err() != nil {
		t.Fatalf("%s: re-encoding %x does not decode: %v", what, b, d.Err())
	}
	if d.Remaining() != 0 {
		t.Fatalf("%s: %d bytes left decoding the re-encoding", what, d.Remaining())
	}
	if !reflect.DeepEqual(r, r2) {
		t.Fatalf("%s: round trip differs:\n%#v\n%#v", what, r, r2)
	}
	if b2 := wire.Marshal(r2); !bytes.Equal(b, b2) {
		t.Fatalf("%s: encoding is not stable: %x then %x", what, b, b2)
	}
}

func FuzzRequest(f *testing.F) {
	for _, g := range goldenSeeds(f) {
		if g.client {
			f.Add(g.raw[4:])
		}
	}
	for _, op := range clientOps() {
		req, _ := opSamples(op)
		f.Add(wire.AppendFrame(nil, &wire.RequestHeader{Xid: 3, Type: op}, req)[4:])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The whole input as a handshake.
		var c wire.ConnectRequest
		if wire.Unmarshal(data, &c) == nil {
			checkStable(t, "ConnectRequest", &c, func() wire.Record { return &wire.ConnectRequest{} })
		}
		if len(data) < 8 {
			return
		}
		var h wire.RequestHeader
		if err := wire.Unmarshal(data[:8], &h); err != nil {
			t.Fatal(err)
		}
		body := wire.RequestBody(h.Type)
		if body == nil {
			return
		}
		if wire.Unmarshal(data[8:], body) != nil {
			return
		}
		checkStable(t, h.Type.String(), body, func() wire.Record { return wire.RequestBody(h.Type) })
	})
}

// FuzzResponse reads a 4-byte opcode (of the request being answered), then
// a reply: ReplyHeader and the body ResponseBody gives, or a WatcherEvent
// for a notification.
func FuzzResponse(f *testing.F) {
	for _, g := range goldenSeeds(f) {
		if !g.client && g.kind == "reply" {
			f.Add(cat(be32(int32(g.op)), g.raw[4:]))
		}
	}
	for _, op := range clientOps() {
		_, resp := opSamples(op)
		f.Add(cat(be32(int32(op)), wire.AppendFrame(nil, &wire.ReplyHeader{Xid: 3, Zxid: 9}, resp)[4:]))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c wire.ConnectResponse
		if wire.Unmarshal(data, &c) == nil {
			checkStable(t, "ConnectResponse", &c, func() wire.Record { return &wire.ConnectResponse{} })
		}
		if len(data) < 4+16 {
			return
		}
		op := wire.OpCode(binary.BigEndian.Uint32(data))
		var h wire.ReplyHeader
		if err := wire.Unmarshal(data[4:20], &h); err != nil {
			t.Fatal(err)
		}
		checkStable(t, "ReplyHeader", &h, func() wire.Record { return &wire.ReplyHeader{} })
		fresh := func() wire.Record { return wire.ResponseBody(op) }
		if h.Xid == wire.XidNotification {
			fresh = func() wire.Record { return &wire.WatcherEvent{} }
		}
		body := fresh()
		if body == nil || wire.Unmarshal(data[20:], body) != nil {
			return
		}
		checkStable(t, op.String(), body, fresh)
	})
}

func FuzzMulti(f *testing.F) {
	for _, g := range goldenSeeds(f) {
		if g.op == wire.OpMulti {
			f.Add(g.raw[4+8:])  // a request
			f.Add(g.raw[4+16:]) // or a reply: only one of the two decodes
		}
	}
	f.Add(wire.Marshal(allMultiOps()))
	f.Add(wire.Marshal(allMultiResults()))
	_, read := opSamples(wire.OpMultiRead)
	f.Add(wire.Marshal(read))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req wire.MultiRequest
		if wire.Unmarshal(data, &req) == nil {
			checkStable(t, "MultiRequest", &req, func() wire.Record { return &wire.MultiRequest{} })
		}
		var resp wire.MultiResponse
		if wire.Unmarshal(data, &resp) == nil {
			checkStable(t, "MultiResponse", &resp, func() wire.Record { return &wire.MultiResponse{} })
		}
	})
}
