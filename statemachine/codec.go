package statemachine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/paddockdb/paddock/wire"
	"github.com/vmihailenco/msgpack/v5"
)

// BatchFormatVersion is the version of the Raft entry format that
// AppendEntry and EncodeEntry write.
//
// ON-DISK FORMAT: Raft log entries (and so every replica's log on disk)
// carry this encoding. Changing what appendTxn writes, or the order or
// number of Txn fields, changes what existing logs hold: bump this constant
// and keep DecodeEntry able to read every older version that may still be
// in a log.
//
// Version 3 (this one): the positive fixint 3, the entry's Origin as an
// array [member, epoch, seq], then the array of transactions of version 2.
//
// Version 2 is msgpack written by hand, without reflection: the positive
// fixint 2, then an array of transactions, each a fixed array of
// txnFields fields in the order of appendTxn (see there). A nil slice is
// msgpack nil, an empty one an empty array or bin, so Data keeps
// ZooKeeper's null apart from empty and every field round-trips exactly.
// It still decodes, with the zero Origin (logs written before origins).
//
// Version 1 (no version marker: a msgpack array of maps keyed by struct
// tags, written by reflection) is refused with ErrCorrupt and a message
// that says so: no log holds such entries.
const BatchFormatVersion = 3

// minTxnBytes is the smallest encoded txn (array header and 15 one-byte
// fields): array lengths are checked against it before allocating.
const minTxnBytes = 1 + txnFields

// txnFields is the length of a Txn's msgpack array in format version 2.
const txnFields = 15

// AppendEntry appends the entry encoding of o and txns (format
// BatchFormatVersion) to dst and returns the extended buffer. It does not
// allocate beyond growing dst, so a caller that reuses dst[:0] encodes
// without garbage. But dragonboat's Propose keeps the slice it is given
// (in its in-memory log, until the entry is applied and compacted): a
// buffer handed to Propose must not be reused before then, so a proposer
// that reuses buffers needs to recycle them only after apply. The txns'
// Origin fields are not written: the entry's o is.
func AppendEntry(dst []byte, o Origin, txns []Txn) []byte {
	dst = append(dst, BatchFormatVersion, 0x93)
	dst = appendUint(dst, o.Member)
	dst = appendUint(dst, o.Epoch)
	dst = appendUint(dst, o.Seq)
	dst = appendArrayLen(dst, len(txns))
	for i := range txns {
		dst = appendTxn(dst, &txns[i])
	}
	return dst
}

// EncodeEntry encodes the transactions of one Raft entry (group commit)
// with their origin into a new buffer of exactly the right size (one
// allocation); see AppendEntry.
func EncodeEntry(o Origin, txns []Txn) []byte {
	return AppendEntry(make([]byte, 0, entrySize(o, txns)), o, txns)
}

// EncodeBatch is EncodeEntry with the zero Origin.
func EncodeBatch(txns []Txn) ([]byte, error) { return EncodeEntry(Origin{}, txns), nil }

// AppendBatch is AppendEntry with the zero Origin.
func AppendBatch(dst []byte, txns []Txn) ([]byte, error) {
	return AppendEntry(dst, Origin{}, txns), nil
}

// entrySize is the exact size AppendEntry writes.
func entrySize(o Origin, txns []Txn) int {
	return 1 + 1 + uintSize(o.Member) + uintSize(o.Epoch) + uintSize(o.Seq) + batchSize(txns) - 1
}

func uintSize(v uint64) int { return len(appendUint(make([]byte, 0, 9), v)) }

// appendUint writes v as msgpack/v5's EncodeUint does (smallest form).
func appendUint(b []byte, v uint64) []byte {
	if v <= math.MaxInt64 {
		return appendInt(b, int64(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
}

// batchSize is the size of a version marker and the txns array.
func batchSize(txns []Txn) int {
	n := 1 + arrayLenSize(len(txns))
	for i := range txns {
		n += txnSize(&txns[i])
	}
	return n
}

func txnSize(t *Txn) int {
	n := 1 + intSize(int64(t.Type)) + intSize(t.SessionID) + intSize(int64(t.Cxid)) + intSize(t.Time) +
		intSize(t.MinZxid) + strSize(t.Path) + binSize(t.Data) + intSize(int64(t.Mode)) + intSize(t.TTL) +
		intSize(int64(t.Version)) + intSize(int64(t.Timeout)) + binSize(t.Passwd)
	n += arrayLenSize(len(t.Auth))
	for _, a := range t.Auth {
		n += 1 + strSize(a.Scheme) + strSize(a.ID)
	}
	n += arrayLenSize(len(t.ACL))
	for _, a := range t.ACL {
		n += 1 + intSize(int64(a.Perms)) + strSize(a.ID.Scheme) + strSize(a.ID.ID)
	}
	n += arrayLenSize(len(t.Ops))
	for i := range t.Ops {
		n += txnSize(&t.Ops[i])
	}
	return n
}

func intSize(v int64) int { return len(appendInt(make([]byte, 0, 9), v)) }

func strSize(s string) int {
	switch n := len(s); {
	case n < 32:
		return 1 + n
	case n <= math.MaxUint8:
		return 2 + n
	case n <= math.MaxUint16:
		return 3 + n
	default:
		return 5 + n
	}
}

func binSize(b []byte) int {
	switch n := len(b); {
	case b == nil:
		return 1
	case n <= math.MaxUint8:
		return 2 + n
	case n <= math.MaxUint16:
		return 3 + n
	default:
		return 5 + n
	}
}

// arrayLenSize is the size of an array header (nil is one byte too).
func arrayLenSize(n int) int {
	switch {
	case n < 16:
		return 1
	case n <= math.MaxUint16:
		return 3
	}
	return 5
}

// appendTxn writes t as a msgpack array of txnFields elements:
// Type, SessionID, Cxid, Time, MinZxid, Auth ([[scheme, id]...]), Path,
// Data, ACL ([[perms, scheme, id]...]), Mode, TTL, Version, Ops (array of
// txns), Timeout, Passwd.
func appendTxn(b []byte, t *Txn) []byte {
	b = append(b, 0x90|txnFields)
	b = appendInt(b, int64(t.Type))
	b = appendInt(b, t.SessionID)
	b = appendInt(b, int64(t.Cxid))
	b = appendInt(b, t.Time)
	b = appendInt(b, t.MinZxid)
	if t.Auth == nil {
		b = append(b, 0xc0)
	} else {
		b = appendArrayLen(b, len(t.Auth))
		for _, id := range t.Auth {
			b = append(b, 0x92)
			b = appendStr(b, id.Scheme)
			b = appendStr(b, id.ID)
		}
	}
	b = appendStr(b, t.Path)
	b = appendBin(b, t.Data)
	if t.ACL == nil {
		b = append(b, 0xc0)
	} else {
		b = appendArrayLen(b, len(t.ACL))
		for _, a := range t.ACL {
			b = append(b, 0x93)
			b = appendInt(b, int64(a.Perms))
			b = appendStr(b, a.ID.Scheme)
			b = appendStr(b, a.ID.ID)
		}
	}
	b = appendInt(b, int64(t.Mode))
	b = appendInt(b, t.TTL)
	b = appendInt(b, int64(t.Version))
	if t.Ops == nil {
		b = append(b, 0xc0)
	} else {
		b = appendArrayLen(b, len(t.Ops))
		for i := range t.Ops {
			b = appendTxn(b, &t.Ops[i])
		}
	}
	b = appendInt(b, int64(t.Timeout))
	b = appendBin(b, t.Passwd)
	return b
}

// The append helpers write exactly what msgpack/v5's Encoder writes for
// EncodeInt, EncodeString, EncodeBytes and EncodeArrayLen (the smallest
// form), so Save's bytes did not change when it moved to them.

func appendInt(b []byte, v int64) []byte {
	if v >= 0 {
		switch {
		case v <= math.MaxInt8:
			return append(b, byte(v))
		case v <= math.MaxUint8:
			return append(b, 0xcc, byte(v))
		case v <= math.MaxUint16:
			return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
		case v <= math.MaxUint32:
			return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
		}
		return binary.BigEndian.AppendUint64(append(b, 0xcf), uint64(v))
	}
	switch {
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}

func appendStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

// appendBin writes nil as msgpack nil and any other slice as bin.
func appendBin(b, v []byte) []byte {
	if v == nil {
		return append(b, 0xc0)
	}
	n := len(v)
	switch {
	case n <= math.MaxUint8:
		b = append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
	return append(b, v...)
}

func appendArrayLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}

// DecodeBatch decodes an entry and returns its transactions; see
// DecodeEntry.
func DecodeBatch(b []byte) ([]Txn, error) {
	_, txns, err := DecodeEntry(b)
	return txns, err
}

// DecodeEntry decodes an entry written by AppendEntry (or of format 2,
// with the zero Origin). Each txn's Origin is set to the entry's member.
// The result shares no memory with b. A decode failure wraps ErrCorrupt.
func DecodeEntry(b []byte) (Origin, []Txn, error) {
	if len(b) > 0 && (b[0]&0xf0 == 0x90 || b[0] == 0xdc || b[0] == 0xdd) {
		return Origin{}, nil, fmt.Errorf("%w: decode batch: entry of format 1 (before BatchFormatVersion 2), no longer read", ErrCorrupt)
	}
	d := bdec{b: b}
	var o Origin
	switch v := d.int(); {
	case d.err != nil:
	case v == BatchFormatVersion:
		if d.arrayLen() != 3 && d.err == nil {
			d.err = errors.New("origin is not an array of 3")
		}
		o.Member, o.Epoch, o.Seq = d.uint(), d.uint(), d.uint()
	case v != 2:
		return Origin{}, nil, fmt.Errorf("%w: decode batch: entry format %d, want %d", ErrCorrupt, v, BatchFormatVersion)
	}
	n := d.arrayLen()
	if d.err == nil && (n < 0 || n > (len(b)-d.i)/minTxnBytes) {
		d.fail()
	}
	var txns []Txn
	if d.err == nil {
		txns = make([]Txn, n)
		for i := range txns {
			d.txn(&txns[i], 0)
			txns[i].Origin = o.Member
		}
	}
	if d.err == nil && d.i != len(b) {
		d.err = errors.New("trailing bytes")
	}
	if d.err != nil {
		return Origin{}, nil, fmt.Errorf("%w: decode batch: %w", ErrCorrupt, d.err)
	}
	return o, txns, nil
}

// EncodeMsgpack implements msgpack.CustomEncoder: a Txn inside any msgpack
// value is written as appendTxn writes it (a fixed array, no reflection).
func (t *Txn) EncodeMsgpack(enc *msgpack.Encoder) error {
	_, err := enc.Writer().Write(appendTxn(make([]byte, 0, txnSize(t)), t))
	return err
}

// DecodeMsgpack implements msgpack.CustomDecoder for what EncodeMsgpack
// writes.
func (t *Txn) DecodeMsgpack(dec *msgpack.Decoder) error {
	raw, err := dec.DecodeRaw()
	if err != nil {
		return err
	}
	d := bdec{b: raw}
	*t = Txn{}
	d.txn(t, 0)
	if d.err == nil && d.i != len(raw) {
		d.err = errors.New("trailing bytes")
	}
	return d.err
}

var errShort = errors.New("msgpack: truncated or malformed")

// bdec reads msgpack from a byte slice, or from a stream (r) through a
// window b that it refills. After the first error every read returns a
// zero value and err stays set.
type bdec struct {
	b   []byte
	i   int
	r   io.Reader // nil: b is all there is
	err error
}

func (d *bdec) fail() {
	if d.err == nil {
		d.err = errShort
	}
}

func (d *bdec) need(n int) bool {
	if d.err != nil {
		return false
	}
	if n >= 0 && len(d.b)-d.i >= n {
		return true
	}
	if n < 0 || d.r == nil {
		d.fail()
		return false
	}
	return d.refill(n)
}

// refill moves the unread bytes to the front of the window (growing it
// for a large value) and reads until n bytes are there. The window grows
// by doubling as bytes arrive, not to n at once: a corrupt length in a
// stream costs at most twice the bytes the stream really holds.
func (d *bdec) refill(n int) bool {
	rest := len(d.b) - d.i
	buf := d.b[:cap(d.b)]
	copy(buf, d.b[d.i:])
	have := rest
	for have < n {
		if have == len(buf) {
			grown := make([]byte, min(n, max(2*len(buf), 4096)))
			copy(grown, buf[:have])
			buf = grown
		}
		got, err := io.ReadAtLeast(d.r, buf[have:], min(n, len(buf))-have)
		have += got
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			d.b, d.i, d.err = buf[:have], 0, err
			return false
		}
	}
	d.b, d.i = buf[:have], 0
	return true
}

func (d *bdec) int() int64 {
	if !d.need(1) {
		return 0
	}
	c := d.b[d.i]
	d.i++
	switch {
	case c <= 0x7f:
		return int64(c)
	case c >= 0xe0:
		return int64(int8(c))
	}
	var size int
	switch c {
	case 0xcc, 0xd0:
		size = 1
	case 0xcd, 0xd1:
		size = 2
	case 0xce, 0xd2:
		size = 4
	case 0xcf, 0xd3:
		size = 8
	default:
		d.err = fmt.Errorf("msgpack: code %#x is not an int", c)
		return 0
	}
	if !d.need(size) {
		return 0
	}
	p := d.b[d.i : d.i+size]
	d.i += size
	switch c {
	case 0xcc:
		return int64(p[0])
	case 0xd0:
		return int64(int8(p[0]))
	case 0xcd:
		return int64(binary.BigEndian.Uint16(p))
	case 0xd1:
		return int64(int16(binary.BigEndian.Uint16(p)))
	case 0xce:
		return int64(binary.BigEndian.Uint32(p))
	case 0xd2:
		return int64(int32(binary.BigEndian.Uint32(p)))
	case 0xcf:
		v := binary.BigEndian.Uint64(p)
		if v > math.MaxInt64 {
			d.err = errors.New("msgpack: uint64 out of int64 range")
		}
		return int64(v)
	}
	return int64(binary.BigEndian.Uint64(p))
}

// uint reads an unsigned int written by appendUint.
func (d *bdec) uint() uint64 {
	if d.need(1) && d.b[d.i] == 0xcf {
		if !d.need(9) {
			return 0
		}
		v := binary.BigEndian.Uint64(d.b[d.i+1:])
		d.i += 9
		return v
	}
	v := d.int()
	if d.err == nil && v < 0 {
		d.err = errors.New("msgpack: negative unsigned int")
	}
	return uint64(v)
}

func (d *bdec) int32() int32 {
	v := d.int()
	if d.err == nil && int64(int32(v)) != v {
		d.err = errors.New("msgpack: int32 out of range")
	}
	return int32(v)
}

// length reads a str, bin, array or nil header and returns its length
// (-1 for nil); kind says which headers are allowed.
func (d *bdec) length(kind byte) int {
	if !d.need(1) {
		return 0
	}
	c := d.b[d.i]
	d.i++
	size, n := 0, -2
	switch {
	case c == 0xc0:
		return -1
	case kind == 's' && c&0xe0 == 0xa0:
		return int(c & 0x1f)
	case kind == 'a' && c&0xf0 == 0x90:
		return int(c & 0x0f)
	case kind != 'a' && (c == 0xd9 || c == 0xc4):
		size = 1
	case kind != 'a' && (c == 0xda || c == 0xc5):
		size = 2
	case kind != 'a' && (c == 0xdb || c == 0xc6):
		size = 4
	case kind == 'a' && c == 0xdc:
		size = 2
	case kind == 'a' && c == 0xdd:
		size = 4
	case kind == 'b' && c&0xe0 == 0xa0: // str where bytes are expected, as msgpack/v5 allows
		return int(c & 0x1f)
	}
	if size == 0 {
		d.err = fmt.Errorf("msgpack: unexpected code %#x", c)
		return 0
	}
	if !d.need(size) {
		return 0
	}
	switch size {
	case 1:
		n = int(d.b[d.i])
	case 2:
		n = int(binary.BigEndian.Uint16(d.b[d.i:]))
	case 4:
		n = int(binary.BigEndian.Uint32(d.b[d.i:]))
	}
	d.i += size
	return n
}

func (d *bdec) arrayLen() int { return d.length('a') }

// raw returns the next n bytes, in place.
func (d *bdec) raw(n int) []byte {
	if n <= 0 || !d.need(n) {
		return nil
	}
	p := d.b[d.i : d.i+n : d.i+n]
	d.i += n
	return p
}

// str reads a string (nil reads as ""). Well-known short strings are not
// allocated.
func (d *bdec) str() string {
	n := d.length('s')
	if n <= 0 {
		return ""
	}
	return internStr(d.raw(n))
}

// internStr returns the scheme names and ids the tree meets on every node
// without allocating; anything else is copied.
func internStr(p []byte) string {
	switch string(p) {
	case SchemeWorld:
		return SchemeWorld
	case "anyone":
		return "anyone"
	case SchemeDigest:
		return SchemeDigest
	case SchemeAuth:
		return SchemeAuth
	case SchemeIP:
		return SchemeIP
	case SchemeSASL:
		return SchemeSASL
	case SchemeX509:
		return SchemeX509
	case SchemeSuper:
		return SchemeSuper
	}
	return string(p)
}

// bytes reads bin (or str) into a new slice; nil stays nil, empty is empty.
func (d *bdec) bytes() []byte {
	n := d.length('b')
	if n < 0 || d.err != nil {
		return nil
	}
	out := make([]byte, n)
	copy(out, d.raw(n))
	return out
}

// decodedWorldACL is shared by every decoded world:anyone ALL list. Nothing
// mutates ACL slices (Apply's fixupACL copies or returns its own shared
// worldACL).
var decodedWorldACL = []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: SchemeWorld, ID: "anyone"}}}

func (d *bdec) acl() []wire.ACL {
	n := d.arrayLen()
	if n < 0 || d.err != nil {
		return nil
	}
	if n > len(d.b)-d.i {
		d.fail()
		return nil
	}
	if n == 1 {
		a := d.aclEntry()
		if a == decodedWorldACL[0] {
			return decodedWorldACL
		}
		return []wire.ACL{a}
	}
	out := make([]wire.ACL, n)
	for j := range out {
		out[j] = d.aclEntry()
	}
	return out
}

func (d *bdec) aclEntry() wire.ACL {
	if d.arrayLen() != 3 {
		d.fail()
		return wire.ACL{}
	}
	return d.aclFields()
}

// aclFields reads perms, scheme and id (an ACL entry without its array
// header, as snapshots write it).
func (d *bdec) aclFields() wire.ACL {
	return wire.ACL{Perms: d.int32(), ID: wire.ID{Scheme: d.str(), ID: d.str()}}
}

func (d *bdec) ids() []wire.ID {
	n := d.arrayLen()
	if n < 0 || d.err != nil {
		return nil
	}
	if n > len(d.b)-d.i {
		d.fail()
		return nil
	}
	out := make([]wire.ID, n)
	for j := range out {
		if d.arrayLen() != 2 {
			d.fail()
			return nil
		}
		out[j] = wire.ID{Scheme: d.str(), ID: d.str()}
	}
	return out
}

// maxOpsDepth bounds the nesting of Ops while decoding (a multi holds plain
// ops; Apply refuses deeper ones), so a hostile entry cannot recurse deep.
const maxOpsDepth = 2

func (d *bdec) txn(t *Txn, depth int) {
	if d.arrayLen() != txnFields {
		if d.err == nil {
			d.err = fmt.Errorf("msgpack: txn is not an array of %d fields", txnFields)
		}
		return
	}
	t.Type = wire.OpCode(d.int32())
	t.SessionID = d.int()
	t.Cxid = d.int32()
	t.Time = d.int()
	t.MinZxid = d.int()
	t.Auth = d.ids()
	t.Path = d.str()
	t.Data = d.bytes()
	t.ACL = d.acl()
	t.Mode = wire.CreateMode(d.int32())
	t.TTL = d.int()
	t.Version = d.int32()
	if n := d.arrayLen(); n >= 0 && d.err == nil {
		if depth >= maxOpsDepth || n > (len(d.b)-d.i)/minTxnBytes {
			d.fail()
			return
		}
		t.Ops = make([]Txn, n)
		for j := range t.Ops {
			d.txn(&t.Ops[j], depth+1)
		}
	}
	t.Timeout = d.int32()
	t.Passwd = d.bytes()
}
