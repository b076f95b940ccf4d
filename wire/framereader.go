package wire

import (
	"encoding/binary"
	"fmt"
	"io"
)

// FrameReader reads length-prefixed frames from a stream through one
// buffer: a single Read fetches as many frames as the peer has sent, and
// Next hands them out one by one without copying. A frame longer than max
// fails with ErrPacketTooLarge before anything is allocated for it; the
// buffer grows to hold at most one frame of max bytes.
type FrameReader struct {
	r          io.Reader
	buf        []byte
	start, end int // unread bytes are buf[start:end]
	size, max  int
}

// NewFrameReader returns a FrameReader reading r through a buffer of size
// bytes (at least 4 KiB), refusing frames longer than max.
func NewFrameReader(r io.Reader, size, max int) *FrameReader {
	if size < 4<<10 {
		size = 4 << 10
	}
	return &FrameReader{r: r, buf: make([]byte, size), size: size, max: max}
}

// Buffered reports how many bytes are read and not yet handed out: when it
// is 0, the next call to Next or Peek reads from the stream.
func (f *FrameReader) Buffered() int { return f.end - f.start }

// Ready reports whether Next would return without reading the stream: a
// whole frame, or a length Next refuses, is buffered.
func (f *FrameReader) Ready() bool {
	if f.end-f.start < 4 {
		return false
	}
	n := int32(binary.BigEndian.Uint32(f.buf[f.start:]))
	return n < 0 || int(n) > f.max || f.end-f.start >= 4+int(n)
}

// Peek returns the next n bytes without consuming them (n <= 4 KiB). They
// are valid until the next call.
func (f *FrameReader) Peek(n int) ([]byte, error) {
	if err := f.fill(n); err != nil {
		return nil, err
	}
	return f.buf[f.start : f.start+n], nil
}

// Next returns the body of the next frame. It is valid until the next call
// to Next or Peek: decode it (Decoder copies what it keeps) before reading
// on. At a clean end of stream it returns io.EOF; a frame cut short gives
// io.ErrUnexpectedEOF.
func (f *FrameReader) Next() ([]byte, error) {
	if err := f.fill(4); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(f.buf[f.start:]))
	if n < 0 || int(n) > f.max {
		return nil, fmt.Errorf("%w: %d bytes (max %d)", ErrPacketTooLarge, n, f.max)
	}
	if err := f.fill(4 + int(n)); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	body := f.buf[f.start+4 : f.start+4+int(n) : f.start+4+int(n)]
	f.start += 4 + int(n)
	return body, nil
}

// fill makes at least need bytes available at buf[start:].
func (f *FrameReader) fill(need int) error {
	if f.end-f.start >= need {
		return nil
	}
	if f.start == f.end {
		f.start, f.end = 0, 0
		if len(f.buf) > f.size && need <= f.size {
			f.buf = make([]byte, f.size) // drop the room a large frame needed
		}
	}
	if len(f.buf)-f.start < need {
		if need > len(f.buf) {
			nb := make([]byte, need)
			copy(nb, f.buf[f.start:f.end])
			f.buf = nb
		} else {
			copy(f.buf, f.buf[f.start:f.end])
		}
		f.end -= f.start
		f.start = 0
	}
	for f.end-f.start < need {
		n, err := f.r.Read(f.buf[f.end:])
		f.end += n
		if err != nil {
			if f.end-f.start >= need {
				return nil
			}
			if err == io.EOF && f.end > f.start {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// Reset makes the Decoder read b from its start, clearing any error, so one
// Decoder can serve many frames without an allocation each.
func (d *Decoder) Reset(b []byte) {
	d.buf, d.off, d.err = b, 0, nil
}
