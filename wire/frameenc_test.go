package wire

import (
	"bytes"
	"testing"
)

func TestEncoderFrames(t *testing.T) {
	h := ReplyHeader{Xid: 7, Zxid: 9}
	body := &GetDataResponse{Data: []byte("v"), Stat: Stat{Version: 3}}
	want := AppendFrame(AppendFrame([]byte("x"), &h, body), &h)
	var e Encoder
	e.SetBuffer(append(make([]byte, 0, 4), 'x'))
	s := e.StartFrame()
	h.Encode(&e)
	body.Encode(&e)
	e.EndFrame(s)
	s = e.StartFrame()
	h.Encode(&e)
	e.EndFrame(s)
	if !bytes.Equal(e.Bytes(), want) {
		t.Fatalf("got %x, want %x", e.Bytes(), want)
	}
}

func BenchmarkEncoderFrameReused(b *testing.B) {
	var e Encoder
	buf := make([]byte, 0, 256)
	h := ReplyHeader{Xid: 7, Zxid: 9}
	body := &GetDataResponse{Data: make([]byte, 100)}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		e.SetBuffer(buf[:0])
		s := e.StartFrame()
		h.Encode(&e)
		body.Encode(&e)
		e.EndFrame(s)
		buf = e.Bytes()
	}
}
