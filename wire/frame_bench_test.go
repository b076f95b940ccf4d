package wire

import (
	"bytes"
	"testing"
)

// Micro-benchmarks of the per-request encoding work on the hot path: a
// getData request and its response, each way, and ReadFrame. They report
// allocations: the server's read path should allocate nothing here.

var benchStat = Stat{Czxid: 1 << 40, Mzxid: 1<<40 + 7, Ctime: 1700000000000, Mtime: 1700000000001,
	Version: 3, Pzxid: 1 << 40, DataLength: 100}

func benchGetDataRequestFrame() []byte {
	return AppendFrame(nil, &RequestHeader{Xid: 42, Type: OpGetData}, &PathWatchRequest{Path: "/bench/k00000042"})
}

func benchGetDataResponseFrame() []byte {
	return AppendFrame(nil, &ReplyHeader{Xid: 42, Zxid: 1<<40 + 9}, &GetDataResponse{Data: make([]byte, 100), Stat: benchStat})
}

func BenchmarkEncodeGetDataRequest(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 128)
	h := RequestHeader{Type: OpGetData}
	req := PathWatchRequest{Path: "/bench/k00000042"}
	for i := 0; i < b.N; i++ {
		h.Xid = int32(i)
		buf = AppendFrame(buf[:0], &h, &req)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeGetDataRequest(b *testing.B) {
	b.ReportAllocs()
	body := benchGetDataRequestFrame()[4:]
	b.SetBytes(int64(len(body)))
	var h RequestHeader
	var req PathWatchRequest
	for i := 0; i < b.N; i++ {
		d := NewDecoder(body)
		h.Decode(d)
		req.Decode(d)
		if d.Err() != nil || h.Type != OpGetData {
			b.Fatal(d.Err())
		}
	}
}

func BenchmarkEncodeGetDataResponse(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	h := ReplyHeader{Zxid: 1<<40 + 9}
	resp := GetDataResponse{Data: make([]byte, 100), Stat: benchStat}
	for i := 0; i < b.N; i++ {
		h.Xid = int32(i)
		buf = AppendFrame(buf[:0], &h, &resp)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkEncodeGetDataResponseEncoder is the same reply written through
// one reused Encoder, the way a connection batches many replies into one
// write.
func BenchmarkEncodeGetDataResponseEncoder(b *testing.B) {
	b.ReportAllocs()
	e := NewEncoder(make([]byte, 0, 256))
	h := ReplyHeader{Zxid: 1<<40 + 9}
	resp := GetDataResponse{Data: make([]byte, 100), Stat: benchStat}
	for i := 0; i < b.N; i++ {
		e.Reset()
		e.Int(0) // length, patched by the caller in real use
		h.Xid = int32(i)
		h.Encode(e)
		resp.Encode(e)
	}
	b.SetBytes(int64(e.Len()))
}

func BenchmarkDecodeGetDataResponse(b *testing.B) {
	b.ReportAllocs()
	body := benchGetDataResponseFrame()[4:]
	b.SetBytes(int64(len(body)))
	var h ReplyHeader
	var resp GetDataResponse
	for i := 0; i < b.N; i++ {
		d := NewDecoder(body)
		h.Decode(d)
		resp.Decode(d)
		if d.Err() != nil || len(resp.Data) != 100 {
			b.Fatal(d.Err())
		}
	}
}

// BenchmarkReadFrame reads getData request frames from an in-memory
// stream with a reused buffer, as a connection's reader does.
func BenchmarkReadFrame(b *testing.B) {
	b.ReportAllocs()
	one := benchGetDataRequestFrame()
	const n = 1024
	stream := bytes.Repeat(one, n)
	r := bytes.NewReader(stream)
	buf := make([]byte, 0, 64)
	b.SetBytes(int64(len(one)))
	for i := 0; i < b.N; i++ {
		if i%n == 0 {
			r.Reset(stream)
		}
		body, err := ReadFrame(r, buf, DefaultMaxPacket)
		if err != nil {
			b.Fatal(err)
		}
		buf = body
	}
}
