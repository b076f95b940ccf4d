package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire"
)

// encodedCase is a valid encoding and a func giving a fresh record to
// decode it into.
type encodedCase struct {
	name  string
	b     []byte
	fresh func() wire.Record
	// optionalTail is how many trailing bytes may be cut with the
	// encoding still valid (the readOnly byte of the handshake).
	optionalTail int
}

// validEncodings gathers every record case, every opcode's sample bodies
// (with their headers) and every golden frame.
func validEncodings(t testing.TB) []encodedCase {
	var out []encodedCase
	for _, c := range recordCases() {
		ec := encodedCase{name: c.name, b: wire.Marshal(c.rec), fresh: c.fresh}
		switch r := c.rec.(type) {
		case *wire.ConnectRequest:
			if r.HasReadOnly {
				ec.optionalTail = 1
			}
		case *wire.ConnectResponse:
			if r.HasReadOnly {
				ec.optionalTail = 1
			}
		}
		out = append(out, ec)
	}
	for _, op := range clientOps() {
		req, resp := opSamples(op)
		if req == nil {
			continue
		}
		out = append(out,
			encodedCase{name: op.String() + "/request", b: wire.Marshal(req), fresh: func() wire.Record { return wire.RequestBody(op) }},
			encodedCase{name: op.String() + "/response", b: wire.Marshal(resp), fresh: func() wire.Record { return wire.ResponseBody(op) }},
		)
	}
	for name, frames := range loadGolden(t) {
		dec, err := decodeGolden(frames)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range dec {
			out = append(out, encodedCase{name: name + "/" + f.kind, b: f.raw[4:], fresh: func() wire.Record {
				return freshLike(f.records)
			}, optionalTail: connectTail(f.records)})
		}
	}
	return out
}

// seq decodes a sequence of records as one (header then body).
type seq []wire.Record

func (s seq) Encode(e *wire.Encoder) {
	for _, r := range s {
		r.Encode(e)
	}
}

func (s seq) Decode(d *wire.Decoder) {
	for _, r := range s {
		r.Decode(d)
	}
}

// freshLike returns empty records of the same shapes as rs.
func freshLike(rs []wire.Record) wire.Record {
	out := make(seq, len(rs))
	for i, r := range rs {
		switch r := r.(type) {
		case *wire.CreateRequest:
			out[i] = &wire.CreateRequest{HasTTL: r.HasTTL}
		case *wire.SetWatchesRequest:
			out[i] = &wire.SetWatchesRequest{V2: r.V2}
		case wire.Empty:
			out[i] = wire.Empty{}
		default:
			// A new zero value of the pointed-to type.
			out[i] = newOf(r)
		}
	}
	return out
}

func connectTail(rs []wire.Record) int {
	switch r := rs[0].(type) {
	case *wire.ConnectRequest:
		if r.HasReadOnly {
			return 1
		}
	case *wire.ConnectResponse:
		if r.HasReadOnly {
			return 1
		}
	}
	return 0
}

func TestTruncatedInputs(t *testing.T) {
	for _, c := range validEncodings(t) {
		if err := wire.Unmarshal(c.b, c.fresh()); err != nil {
			t.Errorf("%s: the full encoding fails: %v", c.name, err)
			continue
		}
		for n := 0; n < len(c.b); n++ {
			if len(c.b)-n <= c.optionalTail {
				continue
			}
			err := wire.Unmarshal(c.b[:n], c.fresh())
			if err == nil {
				t.Errorf("%s: prefix of %d/%d bytes decodes without error", c.name, n, len(c.b))
			} else if !errors.Is(err, wire.ErrShortRecord) {
				t.Errorf("%s: prefix of %d bytes: %v, want ErrShortRecord", c.name, n, err)
			}
		}
	}
}

func be32(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// hugeLengthInputs declare a length far beyond the bytes that follow.
func hugeLengthInputs() []struct {
	name  string
	b     []byte
	fresh func() wire.Record
} {
	const huge = 0x7fffffff
	path := cat(be32(2), []byte("/x"))
	return []struct {
		name  string
		b     []byte
		fresh func() wire.Record
	}{
		{"string", cat(be32(huge), []byte("abc")), func() wire.Record { return &wire.PathRequest{} }},
		{"buffer", cat(path, be32(huge), []byte("abc")), func() wire.Record { return &wire.SetDataRequest{} }},
		{"passwd", cat(be32(0), make([]byte, 8), be32(0), make([]byte, 8), be32(huge)), func() wire.Record { return &wire.ConnectRequest{} }},
		{"strings", cat(be32(huge), be32(1), []byte("a")), func() wire.Record { return &wire.ChildrenResponse{} }},
		{"acl vector", cat(path, be32(-1), be32(huge), make([]byte, 24)), func() wire.Record { return &wire.CreateRequest{} }},
		{"whoami vector", cat(be32(huge), make([]byte, 16)), func() wire.Record { return &wire.WhoAmIResponse{} }},
		{"setWatches vector", cat(make([]byte, 8), be32(huge), make([]byte, 16)), func() wire.Record { return &wire.SetWatchesRequest{V2: true} }},
		{"getData in multi response", cat(be32(int32(wire.OpGetData)), []byte{0}, be32(0), be32(huge)), func() wire.Record { return &wire.MultiResponse{} }},
		{"children in multi response", cat(be32(int32(wire.OpGetChildren)), []byte{0}, be32(0), be32(huge-1)), func() wire.Record { return &wire.MultiResponse{} }},
	}
}

func TestHugeLengthsDoNotAllocate(t *testing.T) {
	for _, c := range hugeLengthInputs() {
		if err := wire.Unmarshal(c.b, c.fresh()); !errors.Is(err, wire.ErrShortRecord) {
			t.Errorf("%s: err %v, want ErrShortRecord", c.name, err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		const runs = 100
		for range runs {
			_ = wire.Unmarshal(c.b, c.fresh())
		}
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		// A few small records per run; never anything near the length.
		if got := after.TotalAlloc - before.TotalAlloc; got > runs*1024 {
			t.Errorf("%s: decoding allocated %d bytes over %d runs", c.name, got, runs)
		}
		if elapsed > 5*time.Second {
			t.Errorf("%s: %d decodes took %v", c.name, runs, elapsed)
		}
	}
}

func TestNegativeLengths(t *testing.T) {
	for _, n := range []int32{-2, -3, -1000, -0x80000000} {
		cases := []struct {
			name  string
			b     []byte
			fresh wire.Record
		}{
			{"string", cat(be32(n), []byte("abcd")), &wire.PathRequest{}},
			{"buffer", cat(be32(0), be32(n), be32(0)), &wire.SetDataRequest{}},
			{"strings", be32(n), &wire.ChildrenResponse{}},
			{"string in vector", cat(be32(1), be32(n)), &wire.ChildrenResponse{}},
			{"acl vector", cat(be32(0), be32(-1), be32(n), be32(0)), &wire.CreateRequest{}},
			{"whoami vector", be32(n), &wire.WhoAmIResponse{}},
		}
		for _, c := range cases {
			if err := wire.Unmarshal(c.b, c.fresh); !errors.Is(err, wire.ErrBadLength) {
				t.Errorf("%s with length %d: err %v, want ErrBadLength", c.name, n, err)
			}
		}
	}
	// -1 is null, not an error.
	var r wire.SetDataRequest
	if err := wire.Unmarshal(cat(be32(-1), be32(-1), be32(3)), &r); err != nil || r.Data != nil || r.Path != "" || r.Version != 3 {
		t.Errorf("null string and buffer: %+v, %v", r, err)
	}
	var c wire.ChildrenResponse
	if err := wire.Unmarshal(be32(-1), &c); err != nil || c.Children != nil {
		t.Errorf("null vector: %+v, %v", c, err)
	}
}

func TestDecoderErrorIsSticky(t *testing.T) {
	d := wire.NewDecoder([]byte{0, 0, 0, 1, 0xff})
	if d.Int() != 1 || d.Long() != 0 || d.Err() == nil {
		t.Fatal("short long did not fail")
	}
	if d.Bool() || d.Int() != 0 || d.String() != "" || d.Buffer() != nil || d.Strings() != nil {
		t.Error("reads after an error return non-zero values")
	}
	if d.Offset() != 4 || d.Remaining() != 1 {
		t.Errorf("offset %d remaining %d after failure", d.Offset(), d.Remaining())
	}
	d.Fail(io.EOF)
	if !errors.Is(d.Err(), wire.ErrShortRecord) {
		t.Errorf("Fail replaced the first error: %v", d.Err())
	}
}

func TestMultiRejectsBadOps(t *testing.T) {
	for _, op := range []wire.OpCode{wire.OpPing, wire.OpMulti, wire.OpSync, wire.OpExists, wire.OpDeleteContainer, 9999, wire.OpError} {
		b := cat(be32(int32(op)), []byte{0}, be32(-1), be32(1), []byte("/"))
		var r wire.MultiRequest
		if err := wire.Unmarshal(b, &r); !errors.Is(err, wire.ErrBadMultiOp) {
			t.Errorf("multi request with %s: %v, want ErrBadMultiOp", op, err)
		}
	}
	for _, op := range []wire.OpCode{wire.OpPing, wire.OpCreateTTL, wire.OpCreateContainer, wire.OpExists, 9999} {
		b := cat(be32(int32(op)), []byte{0}, be32(0))
		var r wire.MultiResponse
		if err := wire.Unmarshal(b, &r); !errors.Is(err, wire.ErrBadMultiOp) {
			t.Errorf("multi response with %s: %v, want ErrBadMultiOp", op, err)
		}
	}
	// The end marker is the done flag, whatever its type (as in Java).
	var r wire.MultiRequest
	if err := wire.Unmarshal(cat(be32(123), []byte{1}, be32(0)), &r); err != nil || len(r.Ops) != 0 {
		t.Errorf("done header: %+v %v", r, err)
	}
	// A list with no end marker is truncated.
	if err := wire.Unmarshal(cat(be32(int32(wire.OpCheck)), []byte{0}, be32(-1), be32(1), []byte("/"), be32(0)), &r); !errors.Is(err, wire.ErrShortRecord) {
		t.Errorf("multi without end: %v", err)
	}
}

func frameBytes(n int32, body []byte) []byte { return cat(be32(n), body) }

func TestReadFrame(t *testing.T) {
	const max = 100
	body := bytes.Repeat([]byte{7}, max)

	got, err := wire.ReadFrame(bytes.NewReader(frameBytes(max, body)), nil, max)
	if err != nil || !bytes.Equal(got, body) {
		t.Errorf("frame of exactly max: %d bytes, %v", len(got), err)
	}
	got, err = wire.ReadFrame(bytes.NewReader(frameBytes(0, nil)), nil, max)
	if err != nil || len(got) != 0 {
		t.Errorf("empty frame: %v %v", got, err)
	}
	for _, n := range []int32{max + 1, 0x7fffffff, -1, -0x80000000} {
		_, err := wire.ReadFrame(bytes.NewReader(frameBytes(n, body)), nil, max)
		if !errors.Is(err, wire.ErrPacketTooLarge) {
			t.Errorf("length %d: %v, want ErrPacketTooLarge", n, err)
		}
	}
	if _, err := wire.ReadFrame(bytes.NewReader(frameBytes(10, body[:9])), nil, max); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short body: %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := wire.ReadFrame(bytes.NewReader(frameBytes(10, nil)), nil, max); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("missing body: %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := wire.ReadFrame(bytes.NewReader(nil), nil, max); err != io.EOF {
		t.Errorf("no input: %v, want io.EOF", err)
	}
	if _, err := wire.ReadFrame(bytes.NewReader([]byte{0, 0}), nil, max); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("half a length: %v, want io.ErrUnexpectedEOF", err)
	}

	// The buffer is reused when it is large enough.
	buf := make([]byte, 0, 64)
	got, err = wire.ReadFrame(bytes.NewReader(frameBytes(5, []byte("hello"))), buf, max)
	if err != nil || string(got) != "hello" || &got[0] != &buf[:1][0] {
		t.Errorf("reuse: %q %v (reused %v)", got, err, err == nil && &got[0] == &buf[:1][0])
	}

	// Two frames back to back, as written by AppendFrame.
	stream := wire.AppendFrame(nil, &wire.RequestHeader{Xid: 1, Type: wire.OpPing})
	stream = wire.AppendFrame(stream, &wire.RequestHeader{Xid: 2, Type: wire.OpGetData}, &wire.GetDataRequest{Path: "/a"})
	r := bytes.NewReader(stream)
	for i, want := range []int{8, 8 + 4 + 2 + 1} {
		b, err := wire.ReadFrame(r, nil, max)
		if err != nil || len(b) != want {
			t.Errorf("frame %d: %d bytes, %v", i, len(b), err)
		}
	}
	if _, err := wire.ReadFrame(r, nil, max); err != io.EOF {
		t.Errorf("after the last frame: %v", err)
	}
}

// newOf returns a new zero record of r's pointed-to type.
func newOf(r wire.Record) wire.Record {
	return reflect.New(reflect.TypeOf(r).Elem()).Interface().(wire.Record)
}
