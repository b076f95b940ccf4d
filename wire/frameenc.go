package wire

import "encoding/binary"

// Reusing one Encoder for many frames: SetBuffer points it at the slice to
// append to (keeping that slice's storage), StartFrame and EndFrame put the
// 4-byte length in front of the records encoded between them. Record
// methods called on a long-lived *Encoder allocate nothing beyond the
// slice's growth, where AppendFrame needs a fresh Encoder per call.

// SetBuffer makes e append to b; Bytes then returns b with what was
// appended.
func (e *Encoder) SetBuffer(b []byte) { e.buf = b }

// StartFrame appends a length placeholder and returns its offset, for
// EndFrame.
func (e *Encoder) StartFrame() int {
	start := len(e.buf)
	e.buf = append(e.buf, 0, 0, 0, 0)
	return start
}

// EndFrame writes the length of the frame begun at start.
func (e *Encoder) EndFrame(start int) {
	binary.BigEndian.PutUint32(e.buf[start:], uint32(len(e.buf)-start-4))
}
