package statemachine

import (
	"bufio"
	"fmt"
	"io"

	"github.com/paddockdb/paddock/wire"
	"github.com/vmihailenco/msgpack/v5"
)

// SnapshotFormatVersion is the version of the snapshot stream Save writes.
//
// ON-DISK FORMAT: changing how Save encodes anything changes what existing
// snapshots hold. Bump this constant and keep Load able to read every
// older version.
//
// Version 2 keeps a node's null data (msgpack nil) apart from empty data;
// version 1 saved both as empty and still loads, as empty.
const SnapshotFormatVersion = 2

// snapshotMagic opens every snapshot stream.
const snapshotMagic = "paddock/statemachine snapshot"

// Save streams the tree as msgpack: magic, format version, lastZxid, node
// count, every node in depth-first order with children sorted (so a parent
// precedes its children and equal trees give equal bytes), session count,
// sessions sorted by id. It holds no copy of the tree in memory.
func (t *Tree) Save(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := msgpack.NewEncoder(bw)
	enc.UseCompactInts(true)
	e := &errEnc{enc: enc}
	e.str(snapshotMagic)
	e.int(SnapshotFormatVersion)
	e.int(t.lastZxid)
	e.int(int64(len(t.nodes)))
	var walk func(string, *znode)
	walk = func(p string, n *znode) {
		e.str(p)
		e.data(n.data)
		e.arrayLen(len(n.acl))
		for _, a := range n.acl {
			e.int(int64(a.Perms))
			e.str(a.ID.Scheme)
			e.str(a.ID.ID)
		}
		e.int(n.czxid)
		e.int(n.mzxid)
		e.int(n.pzxid)
		e.int(n.ctime)
		e.int(n.mtime)
		e.int(int64(n.version))
		e.int(int64(n.cversion))
		e.int(int64(n.aversion))
		e.int(n.owner)
		for _, c := range sortedKeys(n.children) {
			cp := childPath(p, c)
			walk(cp, t.nodes[cp])
		}
	}
	walk("/", t.nodes["/"])
	sessions := t.Sessions()
	e.int(int64(len(sessions)))
	for _, s := range sessions {
		e.int(s.ID)
		e.int(int64(s.Timeout))
		e.bytes(s.Passwd)
	}
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}

type errEnc struct {
	enc *msgpack.Encoder
	err error
}

func (e *errEnc) str(s string) {
	if e.err == nil {
		e.err = e.enc.EncodeString(s)
	}
}
func (e *errEnc) int(v int64) {
	if e.err == nil {
		e.err = e.enc.EncodeInt(v)
	}
}
func (e *errEnc) bytes(b []byte) {
	if b == nil {
		b = []byte{} // nil and empty save alike
	}
	if e.err == nil {
		e.err = e.enc.EncodeBytes(b)
	}
}

// data saves a node's data: nil (ZooKeeper's null) as msgpack nil.
func (e *errEnc) data(b []byte) {
	if e.err != nil {
		return
	}
	if b == nil {
		e.err = e.enc.EncodeNil()
		return
	}
	e.err = e.enc.EncodeBytes(b)
}
func (e *errEnc) arrayLen(n int) {
	if e.err == nil {
		e.err = e.enc.EncodeArrayLen(n)
	}
}

type errDec struct {
	dec *msgpack.Decoder
	err error
}

func (d *errDec) str() string {
	if d.err != nil {
		return ""
	}
	s, err := d.dec.DecodeString()
	d.err = err
	return s
}
func (d *errDec) int() int64 {
	if d.err != nil {
		return 0
	}
	v, err := d.dec.DecodeInt64()
	d.err = err
	return v
}
func (d *errDec) int32() int32 {
	v := d.int()
	if d.err == nil && int64(int32(v)) != v {
		d.err = fmt.Errorf("%w: int32 out of range", ErrCorrupt)
	}
	return int32(v)
}
func (d *errDec) bytes() []byte {
	if d.err != nil {
		return nil
	}
	b, err := d.dec.DecodeBytes()
	d.err = err
	return b
}
func (d *errDec) arrayLen() int {
	if d.err != nil {
		return 0
	}
	n, err := d.dec.DecodeArrayLen()
	d.err = err
	return n
}

// Load replaces the tree's state with a snapshot written by Save. On error
// the tree is left unchanged and the error wraps ErrCorrupt. The options
// (EnforceQuota, SuperDigest, MaxNeverUsedIntervalMs) are kept.
func (t *Tree) Load(r io.Reader) error {
	d := &errDec{dec: msgpack.NewDecoder(bufio.NewReaderSize(r, 64<<10))}
	if m := d.str(); d.err == nil && m != snapshotMagic {
		return fmt.Errorf("%w: not a snapshot", ErrCorrupt)
	}
	version := d.int()
	if d.err == nil && version != SnapshotFormatVersion && version != 1 {
		return fmt.Errorf("%w: snapshot format %d, want %d", ErrCorrupt, version, SnapshotFormatVersion)
	}
	nt := &Tree{}
	nt.nodes = map[string]*znode{}
	nt.sessions = map[int64]*session{}
	nt.ephemerals = map[int64]map[string]struct{}{}
	nt.containers = map[string]struct{}{}
	nt.ttls = map[string]struct{}{}
	nt.quotas = map[string]struct{}{}
	nt.lastZxid = d.int()
	count := d.int()
	for i := int64(0); i < count && d.err == nil; i++ {
		p := d.str()
		n := &znode{data: d.bytes()}
		if n.data == nil && version == 1 {
			n.data = []byte{}
		}
		na := d.arrayLen()
		if na >= 0 && d.err == nil {
			n.acl = make([]wire.ACL, 0, min(na, 64))
			for j := 0; j < na && d.err == nil; j++ {
				n.acl = append(n.acl, wire.ACL{Perms: d.int32(), ID: wire.ID{Scheme: d.str(), ID: d.str()}})
			}
			if len(n.acl) == 1 && n.acl[0] == worldACL[0] {
				n.acl = worldACL
			}
		}
		n.czxid, n.mzxid, n.pzxid = d.int(), d.int(), d.int()
		n.ctime, n.mtime = d.int(), d.int()
		n.version, n.cversion, n.aversion = d.int32(), d.int32(), d.int32()
		n.owner = d.int()
		if d.err != nil {
			break
		}
		if i == 0 {
			if p != "/" {
				return fmt.Errorf("%w: snapshot does not start at the root", ErrCorrupt)
			}
			nt.nodes["/"] = n
			nt.dataSize = 1 + int64(len(n.data))
			continue
		}
		parentPath, name, ok := splitPath(p)
		if !ok || name == "" || nt.nodes[parentPath] == nil || nt.nodes[p] != nil {
			return fmt.Errorf("%w: snapshot node %q out of order", ErrCorrupt, p)
		}
		nt.insert(p, n)
		if subj, ok := quotaSubject(parentPath, name); ok && name == limitNode {
			nt.quotas[subj] = struct{}{}
		}
	}
	ns := d.int()
	for i := int64(0); i < ns && d.err == nil; i++ {
		id, timeout, pw := d.int(), d.int32(), d.bytes()
		if d.err == nil {
			nt.sessions[id] = &session{timeout: timeout, passwd: pw}
		}
	}
	if d.err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, d.err)
	}
	if len(nt.nodes) == 0 {
		return fmt.Errorf("%w: snapshot without a root", ErrCorrupt)
	}
	t.nodes, t.sessions, t.ephemerals = nt.nodes, nt.sessions, nt.ephemerals
	t.containers, t.ttls, t.quotas = nt.containers, nt.ttls, nt.quotas
	t.dataSize, t.lastZxid = nt.dataSize, nt.lastZxid
	t.journal, t.inMulti = nil, false
	return nil
}
