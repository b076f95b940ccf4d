package raftnet

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	pb "github.com/lni/dragonboat/v4/raftpb"

	"github.com/paddockdb/paddock/actors/quorumauth"
)

// The hello: magic, version, kind, and in version 2 the quorum SASL
// mechanism (doc.go).
const (
	helloLen = 6
	// versionPlain: no authentication phase follows the hello.
	versionPlain = 1
	// versionAuth: the hello has one more byte, the mechanism of the
	// authentication phase that follows (package quorumauth).
	versionAuth    = 2
	kindMessages   = 1
	kindChunks     = 2
	frameHeaderLen = 8 // length, CRC-32C
	frameReadStep  = 1 << 20
	keptBufferCap  = 1 << 20 // a connection keeps a payload buffer up to this size between frames
)

var magic = [4]byte{'P', 'D', 'K', 'R'}

// Bounds on a frame's payload, from Dragonboat's own limits (its
// internal/settings, which a module outside Dragonboat cannot import):
//
//   - a message batch: Dragonboat's generic layer stops adding messages
//     to a batch once they reach MaxMessageBatchSize (64 MiB, its
//     LargeEntitySize); a batch of one message goes past that only by the
//     message's first entry, and Paddock's entries are a few MiB at most
//     (the proposer's group commit). 1 MiB on top is room for the batch's
//     and its messages' own fields.
//   - a snapshot chunk: SnapshotChunkSize (2 MiB) of data (a streamed first
//     chunk adds the 1 KiB snapshot header, every streamed chunk its block
//     checksum), and the chunk's own fields: file path, membership, file
//     information. 1 MiB on top, as for batches (Dragonboat's receiver
//     allows 128 KiB).
const (
	maxBatchPayload = 64<<20 + 1<<20
	maxChunkPayload = 2<<20 + 1<<20
)

// maxPayload is the bound on a frame's payload on a connection of kind.
func maxPayload(kind byte) int {
	if kind == kindChunks {
		return maxChunkPayload
	}
	return maxBatchPayload
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors that close a connection (a peer's bad input); each wraps one of
// these so that a test can tell them apart.
var (
	errHello     = errors.New("paddock/raftnet: bad hello")
	errFrameSize = errors.New("paddock/raftnet: frame length out of bounds")
	errChecksum  = errors.New("paddock/raftnet: frame checksum mismatch")
	errTruncated = errors.New("paddock/raftnet: truncated frame")
	errDecode    = errors.New("paddock/raftnet: undecodable payload")
	errPeerWrote = errors.New("paddock/raftnet: peer wrote on a one-way connection")
)

// appendHello appends the hello of a connection of kind; mech is the
// quorum SASL mechanism of the authentication phase that follows, or
// quorumauth.MechNone for none.
func appendHello(b []byte, kind, mech byte) []byte {
	b = append(b, magic[:]...)
	if mech == quorumauth.MechNone {
		return append(b, versionPlain, kind)
	}
	return append(b, versionAuth, kind, mech)
}

// parseHello checks the first helloLen bytes of a hello and returns its
// kind and whether a mechanism byte follows.
func parseHello(b []byte) (kind byte, auth bool, err error) {
	if len(b) != helloLen || [4]byte(b[:4]) != magic {
		return 0, false, fmt.Errorf("%w: not a Paddock Raft connection", errHello)
	}
	if b[4] != versionPlain && b[4] != versionAuth {
		return 0, false, fmt.Errorf("%w: version %d, want %d or %d", errHello, b[4], versionPlain, versionAuth)
	}
	if b[5] != kindMessages && b[5] != kindChunks {
		return 0, false, fmt.Errorf("%w: unknown kind %d", errHello, b[5])
	}
	return b[5], b[4] == versionAuth, nil
}

// frameReader reads the hello and then frames off an accepted connection.
type frameReader struct {
	br *bufio.Reader
	// deadline sets the connection's read deadline (the zero time: none);
	// nil when the bytes come from memory.
	deadline func(time.Time) error
	timeout  time.Duration // for the hello, and for each step of a frame once it has begun
	buf      []byte
}

func (r *frameReader) setDeadline(idle bool) error {
	if r.deadline == nil {
		return nil
	}
	if idle {
		return r.deadline(time.Time{})
	}
	return r.deadline(time.Now().Add(r.timeout))
}

// hello reads the connection's hello and returns its kind and the
// mechanism of the authentication phase that follows
// (quorumauth.MechNone: none).
func (r *frameReader) hello() (kind, mech byte, err error) {
	if err := r.setDeadline(false); err != nil {
		return 0, 0, err
	}
	var b [helloLen + 1]byte
	if _, err := io.ReadFull(r.br, b[:helloLen]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, 0, fmt.Errorf("%w: the peer closed inside it", errHello)
		}
		return 0, 0, err
	}
	kind, auth, err := parseHello(b[:helloLen])
	if err != nil || !auth {
		return kind, quorumauth.MechNone, err
	}
	if b[helloLen], err = r.br.ReadByte(); err != nil {
		return 0, 0, fmt.Errorf("%w: the peer closed inside it", errHello)
	}
	if b[helloLen] == quorumauth.MechNone {
		return 0, 0, fmt.Errorf("%w: version %d without a mechanism", errHello, versionAuth)
	}
	return kind, b[helloLen], nil
}

// next reads one frame of at most max payload bytes and returns its
// payload, valid until the next call. Between frames it waits without a
// deadline (TCP keepalive watches an idle peer); once a frame has begun,
// every step of it must arrive within the timeout. It returns io.EOF when
// the peer closed at a frame boundary.
func (r *frameReader) next(max int) ([]byte, error) {
	if err := r.setDeadline(true); err != nil {
		return nil, err
	}
	if _, err := r.br.Peek(1); err != nil {
		return nil, err
	}
	if err := r.setDeadline(false); err != nil {
		return nil, err
	}
	var h [frameHeaderLen]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return nil, truncated(err, "header")
	}
	n := binary.BigEndian.Uint32(h[:4])
	if n == 0 || uint64(n) > uint64(max) {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", errFrameSize, n, max)
	}
	if cap(r.buf) > keptBufferCap {
		r.buf = nil
	}
	// The payload buffer grows with what arrives, not with what the
	// header claims.
	p := r.buf[:0]
	for len(p) < int(n) {
		step := min(int(n)-len(p), frameReadStep)
		if cap(p)-len(p) < step {
			p = append(p, make([]byte, step)...)[:len(p)]
		}
		if err := r.setDeadline(false); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(r.br, p[len(p):len(p)+step]); err != nil {
			return nil, truncated(err, "payload")
		}
		p = p[:len(p)+step]
	}
	r.buf = p
	if sum := crc32.Checksum(p, castagnoli); sum != binary.BigEndian.Uint32(h[4:]) {
		return nil, fmt.Errorf("%w: %08x, header says %08x", errChecksum, sum, binary.BigEndian.Uint32(h[4:]))
	}
	return p, nil
}

func truncated(err error, part string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: the peer closed inside the %s", errTruncated, part)
	}
	return err
}

// appendFrame appends a frame of size payload bytes that marshal writes
// into the slice it is given (exactly size bytes long).
func appendFrame(b []byte, size, max int, marshal func([]byte) (int, error)) ([]byte, error) {
	if size <= 0 || size > max {
		return b, fmt.Errorf("%w: %d bytes to send, at most %d", errFrameSize, size, max)
	}
	start := len(b)
	b = append(b, make([]byte, frameHeaderLen+size)...)
	p := b[start+frameHeaderLen:]
	n, err := marshal(p)
	if err != nil {
		return b[:start], fmt.Errorf("paddock/raftnet: marshal: %w", err)
	}
	if n != size {
		return b[:start], fmt.Errorf("paddock/raftnet: marshal wrote %d bytes of %d", n, size)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(size))
	binary.BigEndian.PutUint32(b[start+4:], crc32.Checksum(p, castagnoli))
	return b, nil
}

func appendBatchFrame(b []byte, batch *pb.MessageBatch) ([]byte, error) {
	return appendFrame(b, batch.Size(), maxBatchPayload, batch.MarshalTo)
}

func appendChunkFrame(b []byte, c *pb.Chunk) ([]byte, error) {
	return appendFrame(b, c.Size(), maxChunkPayload, c.MarshalTo)
}

// decodeBatch decodes a message frame's payload. Dragonboat's decoder
// sizes its slices by scanning ahead without bounds checks, so the
// payload's protobuf structure is checked first, down to each message.
func decodeBatch(p []byte) (pb.MessageBatch, error) {
	var b pb.MessageBatch
	err := walkFields(p, func(field int32, wireType byte, value []byte) error {
		if field != 1 { // MessageBatch.Requests
			return nil
		}
		if wireType != wireBytes {
			return fmt.Errorf("requests field of wire type %d", wireType)
		}
		return walkFields(value, func(field int32, wireType byte, _ []byte) error {
			if field == 11 && wireType != wireBytes { // Message.Entries
				return fmt.Errorf("entries field of wire type %d", wireType)
			}
			return nil
		})
	})
	if err != nil {
		return b, fmt.Errorf("%w: message batch: %v", errDecode, err)
	}
	if err := b.Unmarshal(p); err != nil {
		return pb.MessageBatch{}, fmt.Errorf("%w: message batch: %v", errDecode, err)
	}
	return b, nil
}

// decodeChunk decodes a chunk frame's payload.
func decodeChunk(p []byte) (pb.Chunk, error) {
	var c pb.Chunk
	if err := c.Unmarshal(p); err != nil {
		return pb.Chunk{}, fmt.Errorf("%w: snapshot chunk: %v", errDecode, err)
	}
	return c, nil
}

// Protobuf wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// walkFields checks that b is a well-formed sequence of protobuf fields
// (every tag, varint, fixed value and length-delimited value inside b;
// no groups, which Dragonboat's messages do not use) and calls fn with
// each field's number, wire type and, for a length-delimited field, its
// bytes. The field number is the tag's, cut to 32 bits as Dragonboat's
// decoder cuts it.
func walkFields(b []byte, fn func(field int32, wireType byte, value []byte) error) error {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("bad tag")
		}
		b = b[n:]
		field, wireType := int32(tag>>3), byte(tag&7)
		if field <= 0 {
			return fmt.Errorf("field number %d", field)
		}
		var value []byte
		switch wireType {
		case wireVarint:
			_, n := binary.Uvarint(b)
			if n <= 0 {
				return fmt.Errorf("field %d: bad varint", field)
			}
			b = b[n:]
		case wireFixed64, wireFixed32:
			size := 8
			if wireType == wireFixed32 {
				size = 4
			}
			if len(b) < size {
				return fmt.Errorf("field %d: truncated", field)
			}
			b = b[size:]
		case wireBytes:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return fmt.Errorf("field %d: bad length", field)
			}
			value, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return fmt.Errorf("field %d: wire type %d", field, wireType)
		}
		if err := fn(field, wireType, value); err != nil {
			return err
		}
	}
	return nil
}
