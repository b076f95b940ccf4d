package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestFrameReader(t *testing.T) {
	var stream []byte
	var want [][]byte
	for i := 0; i < 200; i++ {
		body := bytes.Repeat([]byte{byte(i)}, (i*37)%9000) // some frames larger than the buffer
		want = append(want, body)
		stream = AppendFrame(stream, &rawRecord{body})
	}
	for name, r := range map[string]io.Reader{
		"whole":    bytes.NewReader(stream),
		"one-byte": iotest.OneByteReader(bytes.NewReader(stream)),
		"half":     iotest.HalfReader(bytes.NewReader(stream)),
		"data-err": iotest.DataErrReader(bytes.NewReader(stream)),
	} {
		f := NewFrameReader(r, 4096, 10000)
		if f.Ready() {
			t.Fatalf("%s: ready before reading", name)
		}
		for i, w := range want {
			got, err := f.Next()
			if err != nil {
				t.Fatalf("%s: frame %d: %v", name, i, err)
			}
			if !bytes.Equal(got, w) {
				t.Fatalf("%s: frame %d: %d bytes, want %d", name, i, len(got), len(w))
			}
		}
		if _, err := f.Next(); err != io.EOF {
			t.Fatalf("%s: at end: %v, want EOF", name, err)
		}
	}
}

func TestFrameReaderErrors(t *testing.T) {
	big := AppendFrame(nil, &rawRecord{make([]byte, 101)})
	if _, err := NewFrameReader(bytes.NewReader(big), 0, 100).Next(); !errors.Is(err, ErrPacketTooLarge) {
		t.Fatalf("oversize: %v", err)
	}
	neg := []byte{0xff, 0xff, 0xff, 0xfe}
	if _, err := NewFrameReader(bytes.NewReader(neg), 0, 100).Next(); !errors.Is(err, ErrPacketTooLarge) {
		t.Fatalf("negative: %v", err)
	}
	cut := AppendFrame(nil, &rawRecord{make([]byte, 50)})[:30]
	if _, err := NewFrameReader(bytes.NewReader(cut), 0, 100).Next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("cut body: %v", err)
	}
	if _, err := NewFrameReader(bytes.NewReader([]byte{0, 0}), 0, 100).Next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("cut length: %v", err)
	}
	two := AppendFrame(AppendFrame(nil, &rawRecord{[]byte("a")}), &rawRecord{[]byte("bc")})
	f := NewFrameReader(bytes.NewReader(two), 0, 100)
	if b, err := f.Next(); err != nil || string(b) != "a" || !f.Ready() {
		t.Fatalf("first of two: %q %v ready=%v", b, err, f.Ready())
	}
	if b, err := f.Next(); err != nil || string(b) != "bc" || f.Ready() {
		t.Fatalf("second of two: %q %v ready=%v", b, err, f.Ready())
	}
	f = NewFrameReader(bytes.NewReader([]byte("ruok")), 0, 100)
	if p, err := f.Peek(4); err != nil || string(p) != "ruok" {
		t.Fatalf("peek: %q %v", p, err)
	}
}

func TestDecoderReset(t *testing.T) {
	var d Decoder
	d.Reset([]byte{0, 0, 0, 7})
	if v := d.Int(); v != 7 || d.Err() != nil {
		t.Fatalf("%d %v", v, d.Err())
	}
	d.Int()
	if d.Err() == nil {
		t.Fatal("no error past the end")
	}
	d.Reset([]byte{0, 0, 0, 9})
	if v := d.Int(); v != 9 || d.Err() != nil {
		t.Fatalf("after reset: %d %v", v, d.Err())
	}
}

// rawRecord encodes its bytes as they are.
type rawRecord struct{ b []byte }

func (r *rawRecord) Encode(e *Encoder) { e.buf = append(e.buf, r.b...) }
func (r *rawRecord) Decode(d *Decoder) {}

func BenchmarkFrameReader(b *testing.B) {
	var stream []byte
	for i := 0; i < 64; i++ {
		stream = AppendFrame(stream, &RequestHeader{Xid: int32(i), Type: OpGetData}, &PathWatchRequest{Path: "/bench/k00000001"})
	}
	r := bytes.NewReader(stream)
	f := NewFrameReader(r, 64<<10, DefaultMaxPacket)
	b.ReportAllocs()
	b.SetBytes(int64(len(stream) / 64))
	for i := 0; i < b.N; i++ {
		if f.Buffered() == 0 {
			r.Reset(stream)
		}
		if _, err := f.Next(); err != nil {
			b.Fatal(err)
		}
	}
}
