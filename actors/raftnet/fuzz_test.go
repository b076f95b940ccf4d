package raftnet

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/paddockdb/paddock/actors/quorumauth"
)

// connectionError reports whether err is one a connection may end with
// on bad or ended input.
func connectionError(err error) bool {
	for _, e := range []error{io.EOF, errHello, errFrameSize, errChecksum, errTruncated, errDecode, quorumauth.ErrFrame, quorumauth.ErrFailed, quorumauth.ErrUnsupported} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// FuzzDecoder feeds bytes to what serves an accepted connection: the
// hello, the quorum SASL exchange its version 2 asks for (nothing
// authenticates: the nonce is random), the frames and their payloads'
// decoding; and the same bytes to
// the payload decoders directly, as if past the checksum. Nothing may
// panic, and every error is one that closes the connection.
func FuzzDecoder(f *testing.F) {
	b := testBatch("peer1:2888", 7, 40)
	bf, err := appendBatchFrame(nil, &b)
	if err != nil {
		f.Fatal(err)
	}
	c := testChunk(0, 1, []byte("snapshot data"))
	cf, err := appendChunkFrame(nil, &c)
	if err != nil {
		f.Fatal(err)
	}
	hm, hc := appendHello(nil, kindMessages, quorumauth.MechNone), appendHello(nil, kindChunks, quorumauth.MechNone)
	f.Add(cat(hm, bf, bf))
	f.Add(cat(hc, cf))
	f.Add(cat(hm, bf[:len(bf)-1]))
	f.Add(bf[frameHeaderLen:])
	f.Add(cf[frameHeaderLen:])
	f.Add([]byte{0x0a, 0x00, 0x0a, 0xff}) // Dragonboat's decoder indexes out of range on it
	f.Add(cat(hm, frame([]byte{0x0a, 0x00, 0x0a, 0xff})))
	f.Add([]byte("PDKR\x01"))
	f.Add(cat(appendHello(nil, kindMessages, quorumauth.MechDigest), []byte{0, 0, 0, 1, 0}, bf))
	f.Add([]byte("PDKR\x02\x01\x01\xff\xff\xff\xff"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &frameReader{br: bufio.NewReader(bytes.NewReader(data)), timeout: time.Second}
		kind, mech, err := r.hello()
		if err == nil && mech != quorumauth.MechNone {
			qa := &quorumauth.Config{ServerRequire: true, Mechanism: &quorumauth.Digest{Users: map[string]string{"learner": "pw"}}}
			_, err = quorumauth.Accept(qa, r.br, io.Discard, mech)
			if err == nil {
				t.Fatal("authenticated by fuzz input")
			}
		}
		for err == nil {
			var p []byte
			if p, err = r.next(maxPayload(kind)); err != nil {
				break
			}
			if kind == kindMessages {
				_, err = decodeBatch(p)
			} else {
				_, err = decodeChunk(p)
			}
		}
		if !connectionError(err) {
			t.Fatalf("stream: unexpected error %v", err)
		}
		if _, err := decodeBatch(data); err != nil && !errors.Is(err, errDecode) {
			t.Fatalf("batch payload: unexpected error %v", err)
		}
		if _, err := decodeChunk(data); err != nil && !errors.Is(err, errDecode) {
			t.Fatalf("chunk payload: unexpected error %v", err)
		}
	})
}
