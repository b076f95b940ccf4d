package statemachine

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/paddockdb/paddock/wire"
)

// SnapshotFormatVersion is the version of the snapshot stream Save writes.
//
// ON-DISK FORMAT: changing how Save encodes anything changes what existing
// snapshots hold. Bump this constant and keep Load able to read every
// older version.
//
// Version 3 adds each session's owner (after its password) and, after the
// sessions, the origins table (origin.go): its count, then member, epoch
// and seq of each, sorted by member.
// Version 2 keeps a node's null data (msgpack nil) apart from empty data;
// it still loads, with no owners and no origins. Version 1 saved null and
// empty data alike and still loads, as empty.
const SnapshotFormatVersion = 3

// snapshotMagic opens every snapshot stream.
const snapshotMagic = "paddock/statemachine snapshot"

// Save streams the tree as msgpack: magic, format version, lastZxid, node
// count, every node in depth-first order with children sorted (so a parent
// precedes its children and equal trees give equal bytes), session count,
// sessions sorted by id, the origins table. A node is its path, data (nil for ZooKeeper's
// null), ACL as an array of perms, scheme, id, then czxid, mzxid, pzxid,
// ctime, mtime, version, cversion (stored: child creates), aversion and
// ephemeralOwner. The encoding goes through a 64 KiB buffer, written by the
// append helpers of codec.go (the bytes msgpack/v5's Encoder writes,
// without its per-call cost). Save is Freeze followed by Frozen.Save.
func (t *Tree) Save(w io.Writer) error { return t.Freeze().Save(w) }

// Frozen is the tree as it was when Freeze returned, for Save to stream
// while Apply goes on: it holds the node table's shards, the sessions and
// lastZxid. Shards and nodes are shared with the tree until Apply changes
// them: the tree then copies a shard before it inserts, replaces or
// deletes in it (Tree.shard) and a node before it changes its fields
// (Tree.modify), and leaves the frozen ones alone. Children sets are not
// frozen, so Frozen.Save orders nodes by path, not through them.
type Frozen struct {
	shards   [nodeShards]map[string]*znode
	count    int
	sessions []SessionInfo
	origins  []Origin
	lastZxid int64
	saving   *atomic.Bool
}

// Freeze starts a snapshot: it costs a copy of the node table's 256 shard
// references and the sessions, and until the Frozen's Save ends, Apply
// copies each shard and each node it changes, once. It must not be called while another
// Frozen's Save runs (dragonboat takes one snapshot at a time; Tree.Save
// freezes too), or the earlier view would lose its copy-on-write.
func (t *Tree) Freeze() *Frozen {
	if t.gen == maxGen {
		// Wrapped: no frozen view is live, so every node may take
		// generation 0 again.
		t.nodes.each(func(_ string, n *znode) { n.setGen(0) })
		t.nodes.gens = [nodeShards]uint32{}
		t.gen = 0
	}
	t.gen++
	t.saving.Store(true)
	return &Frozen{shards: t.nodes.shards, count: t.nodes.n, sessions: t.Sessions(), origins: t.originList(),
		lastZxid: t.lastZxid, saving: &t.saving}
}

// Save streams the frozen tree in Tree.Save's format. It may run
// concurrently with Apply on the tree; it ends the copy-on-write.
func (f *Frozen) Save(w io.Writer) error {
	defer f.saving.Store(false)
	nodes := f.ordered()
	s := &snapWriter{w: w, b: make([]byte, 0, 80<<10)}
	s.b = appendStr(s.b, snapshotMagic)
	s.b = appendInt(s.b, SnapshotFormatVersion)
	s.b = appendInt(s.b, f.lastZxid)
	s.b = appendInt(s.b, int64(len(nodes)))
	for _, e := range nodes {
		n := e.n
		b := appendStr(s.b, e.key)
		for i := len(b) - len(e.key); i < len(b); i++ { // the key's NULs were '/'
			if b[i] == 0 {
				b[i] = '/'
			}
		}
		b = appendBin(b, n.getData())
		acl := n.getACL()
		b = appendArrayLen(b, len(acl))
		for _, a := range acl {
			b = appendInt(b, int64(a.Perms))
			b = appendStr(b, a.ID.Scheme)
			b = appendStr(b, a.ID.ID)
		}
		b = appendInt(b, n.czxid)
		b = appendInt(b, n.mzxid)
		b = appendInt(b, n.pzxid)
		b = appendInt(b, n.ctime)
		b = appendInt(b, n.mtime)
		b = appendInt(b, int64(n.version))
		b = appendInt(b, int64(n.cversion))
		b = appendInt(b, int64(n.aversion))
		b = appendInt(b, n.owner)
		s.b = b
		if s.flush(false) != nil {
			return s.err
		}
	}
	s.b = appendInt(s.b, int64(len(f.sessions)))
	for _, ss := range f.sessions {
		s.b = appendInt(s.b, ss.ID)
		s.b = appendInt(s.b, int64(ss.Timeout))
		pw := ss.Passwd
		if pw == nil {
			pw = []byte{} // nil and empty save alike
		}
		s.b = appendBin(s.b, pw)
		s.b = appendUint(s.b, ss.Owner)
		s.flush(false)
	}
	s.b = appendInt(s.b, int64(len(f.origins)))
	for _, o := range f.origins {
		s.b = appendUint(s.b, o.Member)
		s.b = appendUint(s.b, o.Epoch)
		s.b = appendUint(s.b, o.Seq)
	}
	return s.flush(true)
}

// originList returns the origins table sorted by member.
func (t *Tree) originList() []Origin {
	out := make([]Origin, 0, len(t.origins))
	for m, o := range t.origins {
		out = append(out, Origin{Member: m, Epoch: o.epoch, Seq: o.seq})
	}
	slices.SortFunc(out, func(a, b Origin) int {
		switch {
		case a.Member < b.Member:
			return -1
		case a.Member > b.Member:
			return 1
		}
		return 0
	})
	return out
}

// frozenNode is a node of a Frozen with its sort key: its path with '/'
// made NUL (24 bytes, so the sort moves little).
type frozenNode struct {
	key string
	n   *znode
}

// ordered returns the frozen nodes in the order Save writes them, a
// depth-first walk with children sorted by name ("/a", "/a/x", "/a-b").
// That is byte order once '/' sorts below every other byte: paths hold no
// NUL (ValidatePath), so each node's sort key is its path with '/' made
// NUL, and plain string comparison (memcmp) orders the keys. The keys
// share one arena.
func (f *Frozen) ordered() []frozenNode {
	size := 0
	for _, m := range f.shards {
		for p := range m {
			size += len(p)
		}
	}
	arena := make([]byte, 0, size)
	nodes := make([]frozenNode, 0, f.count)
	for _, m := range f.shards {
		for p, n := range m {
			start := len(arena)
			arena = append(arena, p...)
			k := arena[start:]
			for i, c := range k {
				if c == '/' {
					k[i] = 0
				}
			}
			nodes = append(nodes, frozenNode{unsafe.String(unsafe.SliceData(k), len(k)), n})
		}
	}
	slices.SortFunc(nodes, func(a, b frozenNode) int { return strings.Compare(a.key, b.key) })
	return nodes
}

// snapWriter batches Save's output into large writes.
type snapWriter struct {
	w   io.Writer
	b   []byte
	err error
}

func (s *snapWriter) flush(force bool) error {
	if s.err == nil && (force || len(s.b) >= 64<<10) {
		_, s.err = s.w.Write(s.b)
		s.b = s.b[:0]
	}
	return s.err
}

// loadWindow is the read buffer of Load.
const loadWindow = 1 << 20

// maxPrealloc bounds the node-table capacity Load reserves from the count
// in the header, so a corrupt count cannot reserve unbounded memory.
const maxPrealloc = 1 << 22

// Load replaces the tree's state with a snapshot written by Save. On error
// the tree is left unchanged and the error wraps ErrCorrupt. The options
// (EnforceQuota, SuperDigest, MaxNeverUsedIntervalMs) are kept.
//
// It decodes the stream by hand (no reflection, one allocation each for
// a node, its path and its data), reserves the node table from the count
// in the header, and links each node under the parent it met last when the
// parent is the same (Save writes siblings together).
func (t *Tree) Load(r io.Reader) error {
	d := &bdec{r: r, b: make([]byte, 0, loadWindow)}
	if m := d.str(); d.err == nil && m != snapshotMagic {
		return fmt.Errorf("%w: not a snapshot", ErrCorrupt)
	}
	version := d.int()
	if d.err == nil && (version < 1 || version > SnapshotFormatVersion) {
		return fmt.Errorf("%w: snapshot format %d, want %d", ErrCorrupt, version, SnapshotFormatVersion)
	}
	nt := &Tree{}
	nt.lastZxid = d.int()
	count := d.int()
	if d.err == nil && count < 1 {
		return fmt.Errorf("%w: snapshot without a root", ErrCorrupt)
	}
	nt.nodes = newNodeTable(int(min(count, maxPrealloc)))
	nt.sessions = map[int64]*session{}
	nt.ephemerals = map[int64]map[string]struct{}{}
	nt.containers = map[string]struct{}{}
	nt.ttls = map[string]struct{}{}
	nt.quotas = map[string]struct{}{}
	nt.origins = map[uint64]originState{}
	nt.acls = newACLTable()
	var lastParentPath string
	var lastParent *znode
	for i := int64(0); i < count && d.err == nil; i++ {
		p := d.str()
		data := d.bytes()
		if data == nil && version == 1 {
			data = []byte{}
		}
		na := d.arrayLen()
		var one [1]wire.ACL
		var acl []wire.ACL
		switch {
		case d.err != nil:
		case na == 1:
			one[0] = d.aclFields()
			acl = one[:]
		case na > 1:
			if na > 1<<16 {
				return fmt.Errorf("%w: snapshot node %q with %d ACL entries", ErrCorrupt, p, na)
			}
			acl = make([]wire.ACL, na)
			for j := range acl {
				acl[j] = d.aclFields()
			}
		}
		n := &znode{}
		n.czxid, n.mzxid, n.pzxid = d.int(), d.int(), d.int()
		n.ctime, n.mtime = d.int(), d.int()
		n.version, n.cversion, n.aversion = d.int32(), d.int32(), d.int32()
		n.owner = d.int()
		if d.err != nil {
			break
		}
		n.setData(data)
		n.acl = nt.acls.acquire(acl)
		if i == 0 {
			if p != "/" {
				return fmt.Errorf("%w: snapshot does not start at the root", ErrCorrupt)
			}
			nt.setNode("/", n)
			nt.dataSize = 1 + int64(len(data))
			continue
		}
		parentPath, name, ok := splitPath(p)
		if !ok || name == "" {
			return fmt.Errorf("%w: snapshot node %q out of order", ErrCorrupt, p)
		}
		parent := lastParent
		if parentPath != lastParentPath || parent == nil {
			parent = nt.nodes.get(parentPath)
			lastParentPath, lastParent = parentPath, parent
		}
		if parent == nil || nt.nodes.get(p) != nil {
			return fmt.Errorf("%w: snapshot node %q out of order", ErrCorrupt, p)
		}
		if parent.children == nil {
			parent.children = map[string]struct{}{}
		}
		parent.children[name] = struct{}{}
		nt.setNode(p, n)
		nt.dataSize += int64(len(p) + len(data))
		if n.owner != 0 {
			nt.index(p, n.owner, true)
		}
		if subj, ok := quotaSubject(parentPath, name); ok && name == limitNode {
			nt.quotas[subj] = struct{}{}
		}
	}
	ns := d.int()
	for i := int64(0); i < ns && d.err == nil; i++ {
		id, timeout, pw := d.int(), d.int32(), d.bytes()
		var owner uint64
		if version >= 3 {
			owner = d.uint()
		}
		if d.err == nil {
			nt.sessions[id] = &session{timeout: timeout, passwd: pw, owner: owner}
		}
	}
	if version >= 3 {
		no := d.int()
		for i := int64(0); i < no && d.err == nil; i++ {
			m, e, q := d.uint(), d.uint(), d.uint()
			if d.err == nil {
				nt.origins[m] = originState{epoch: e, seq: q}
			}
		}
	}
	if d.err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, d.err)
	}
	if nt.nodes.n == 0 {
		return fmt.Errorf("%w: snapshot without a root", ErrCorrupt)
	}
	t.nodes, t.sessions, t.ephemerals = nt.nodes, nt.sessions, nt.ephemerals
	t.containers, t.ttls, t.quotas = nt.containers, nt.ttls, nt.quotas
	t.acls, t.origins = nt.acls, nt.origins
	t.dataSize, t.lastZxid = nt.dataSize, nt.lastZxid
	t.journal, t.inMulti = nil, false
	return nil
}
