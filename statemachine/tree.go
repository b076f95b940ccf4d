package statemachine

import (
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/paddockdb/paddock/wire"
)

// Owner values of ZooKeeper's EphemeralType: a container's ephemeralOwner
// is Long.MIN_VALUE; a TTL node's is 0xFF00000000000000 | ttl.
const (
	ContainerOwner int64 = math.MinInt64
	ttlMask        int64 = -0x0100000000000000 // 0xFF00000000000000
	reservedMask   int64 = 0x00ffff0000000000
	// MaxTTL is the largest TTL ZooKeeper accepts (EphemeralType.TTL.maxValue).
	MaxTTL int64 = ^(ttlMask | reservedMask)
)

// TTLOwner returns the ephemeralOwner ZooKeeper stores for a TTL node.
func TTLOwner(ttl int64) int64 { return ttlMask | ttl }

// ownerKind classifies an ephemeralOwner as EphemeralType.get does with
// extended types enabled.
type ownerKind uint8

const (
	ownerNone ownerKind = iota
	ownerSession
	ownerContainer
	ownerTTL
)

func kindOf(owner int64) ownerKind {
	switch {
	case owner == 0:
		return ownerNone
	case owner == ContainerOwner:
		return ownerContainer
	case owner&ttlMask == ttlMask && owner&reservedMask == 0:
		return ownerTTL
	}
	return ownerSession
}

// znode is one node: 96 bytes, one allocation (Go's 96-byte size class).
// NumChildren and DataLength are derived. Its path is stored once, as the
// key of Tree.nodes; the child names in a parent's children set are
// substrings of the children's paths, not copies.
type znode struct {
	// data is a read-only view of the data slice given to setData
	// (unsafe.String, no copy): a string header is 8 bytes smaller than a
	// slice's. nullData in flags keeps ZooKeeper's null apart from empty.
	data     string
	acl      *aclList            // interned, reference-counted (aclTable)
	children map[string]struct{} // nil when the node never had children
	czxid    int64
	mzxid    int64
	pzxid    int64
	ctime    int64
	mtime    int64
	owner    int64
	version  int32
	cversion int32 // child creates ever (StatPersisted); see stat
	aversion int32
	flags    uint32
}

// flags: bit 0 is nullData; the bits from genShift up hold the node's
// copy-on-write generation (see Tree.modify and Freeze).
const (
	nullData uint32 = 1
	genShift        = 8
	maxGen          = 1<<(32-genShift) - 1
)

func (n *znode) gen() uint32 { return n.flags >> genShift }

func (n *znode) setGen(g uint32) { n.flags = n.flags&(1<<genShift-1) | g<<genShift }

// emptyData is what getData returns for empty (not null) data.
var emptyData = []byte{}

// getData returns the node's data: nil for null data. The slice is the
// tree's own (the one given to setData): callers must not modify it.
func (n *znode) getData() []byte {
	if n.flags&nullData != 0 {
		return nil
	}
	if len(n.data) == 0 {
		return emptyData
	}
	return unsafe.Slice(unsafe.StringData(n.data), len(n.data))
}

// setData makes b the node's data without copying it: b must never be
// modified afterwards (Apply's contract on Txn.Data; Load's own copies).
func (n *znode) setData(b []byte) {
	if b == nil {
		n.data, n.flags = "", n.flags|nullData
		return
	}
	n.data, n.flags = unsafe.String(unsafe.SliceData(b), len(b)), n.flags&^nullData
}

// getACL returns the node's ACL list, shared with every node that has an
// equal one: callers must not modify it.
func (n *znode) getACL() []wire.ACL {
	if n.acl == nil {
		return nil
	}
	return n.acl.acl
}

// stat is the Stat clients see, as DataNode.copyStat makes it: the stored
// cversion counts child creates, and clients see creates plus deletes
// (2*creates - numChildren); container and TTL markers read as
// ephemeralOwner 0 (DataNode.getClientEphemeralOwner).
func (n *znode) stat() wire.Stat {
	owner := n.owner
	if kindOf(owner) != ownerSession {
		owner = 0
	}
	numChildren := int32(len(n.children))
	return wire.Stat{
		Czxid: n.czxid, Mzxid: n.mzxid, Ctime: n.ctime, Mtime: n.mtime,
		Version: n.version, Cversion: n.cversion*2 - numChildren, Aversion: n.aversion,
		EphemeralOwner: owner, DataLength: int32(len(n.data)),
		NumChildren: numChildren, Pzxid: n.pzxid,
	}
}

type session struct {
	timeout int32
	passwd  []byte
	owner   uint64
}

// Tree is the znode tree, the sessions table and the quota bookkeeping of
// one shard. Apply is its only mutator. A Tree is not safe for concurrent
// use: the Replica's lock (or the caller) serialises Apply against reads.
type Tree struct {
	// EnforceQuota makes creates and setData that would exceed a hard
	// quota limit (countHardLimit, byteHardLimit) fail with
	// wire.ErrQuotaExceeded, as ZooKeeper's zookeeper.enforceQuota does.
	// It changes Apply's results: it must be equal on every replica.
	EnforceQuota bool
	// SuperDigest is the digest id ("super:base64") that passes every ACL
	// check in Apply, like zookeeper.DigestAuthenticationProvider.superDigest.
	// It changes Apply's results: it must be equal on every replica.
	SuperDigest string
	// MaxNeverUsedIntervalMs makes ContainerCandidates also return
	// containers that never had a child once unmodified this long
	// (znode.container.maxNeverUsedIntervalMs); 0 disables.
	MaxNeverUsedIntervalMs int64

	nodes      nodeTable
	sessions   map[int64]*session
	ephemerals map[int64]map[string]struct{}
	containers map[string]struct{}
	ttls       map[string]struct{}
	quotas     map[string]struct{} // paths with a zookeeper_limits node
	acls       aclTable
	dataSize   int64
	lastZxid   int64
	origins    map[uint64]originState // member -> last admitted entry (origin.go)

	journal []func() // undo log while a multi is applied; nil otherwise
	inMulti bool

	// Copy-on-write for snapshots (Freeze): gen is the generation of the
	// latest Freeze; saving is set by Freeze and cleared when its Save
	// ends. While it is set, a node of an older generation is shared
	// with the frozen view, so modify replaces it by a copy.
	gen    uint32
	saving atomic.Bool
}

// NewTree returns the tree of a fresh ZooKeeper 3.8: "/", "/zookeeper",
// "/zookeeper/quota" (world:anyone ALL, all Stat fields zero) and
// "/zookeeper/config" (world:anyone READ, aversion -1, empty data).
func NewTree() *Tree {
	t := &Tree{}
	t.reset()
	return t
}

// drop lets go of the tree's contents before a Load replaces them, so
// that the old and the new tree are not both in memory (a Load that fails
// leaves an empty tree, and the replica stops on its ErrCorrupt anyway).
func (t *Tree) drop() {
	t.nodes = newNodeTable(0)
	t.sessions, t.ephemerals = nil, nil
	t.containers, t.ttls, t.quotas = nil, nil, nil
	t.acls = newACLTable()
}

func (t *Tree) reset() {
	t.nodes = newNodeTable(0)
	t.sessions = map[int64]*session{}
	t.ephemerals = map[int64]map[string]struct{}{}
	t.containers = map[string]struct{}{}
	t.ttls = map[string]struct{}{}
	t.quotas = map[string]struct{}{}
	t.origins = map[uint64]originState{}
	t.acls = newACLTable()
	t.dataSize = 0
	t.lastZxid = 0
	root := &znode{acl: t.acls.acquire(worldACL)}
	root.setData([]byte{})
	t.setNode("/", root)
	t.dataSize = 1
	t.insert(procPath, &znode{}, worldACL)
	t.insert(quotaPath, &znode{}, worldACL)
	t.insert(configPath, &znode{aversion: -1}, readACL)
}

var readACL = []wire.ACL{{Perms: wire.PermRead, ID: wire.ID{Scheme: SchemeWorld, ID: "anyone"}}}

// LastZxid returns the zxid of the last applied transaction.
func (t *Tree) LastZxid() int64 { return t.lastZxid }

// Get returns a node's data, Stat and ACL. The data and ACL slices are the
// tree's own: callers must not modify them.
func (t *Tree) Get(path string) (data []byte, stat wire.Stat, acl []wire.ACL, err wire.Code) {
	n := t.nodes.get(path)
	if n == nil {
		return nil, wire.Stat{}, nil, wire.ErrNoNode
	}
	return n.getData(), n.stat(), n.getACL(), wire.Ok
}

// Exists returns a node's Stat.
func (t *Tree) Exists(path string) (wire.Stat, bool) {
	n := t.nodes.get(path)
	if n == nil {
		return wire.Stat{}, false
	}
	return n.stat(), true
}

// Children returns a node's child names, sorted (ZooKeeper returns them in
// hash-set order, which clients must not rely on), its Stat and its ACL.
func (t *Tree) Children(path string) (children []string, stat wire.Stat, acl []wire.ACL, err wire.Code) {
	n := t.nodes.get(path)
	if n == nil {
		return nil, wire.Stat{}, nil, wire.ErrNoNode
	}
	return sortedKeys(n.children), n.stat(), n.getACL(), wire.Ok
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// GetACL returns a node's ACL and Stat.
func (t *Tree) GetACL(path string) ([]wire.ACL, wire.Stat, wire.Code) {
	n := t.nodes.get(path)
	if n == nil {
		return nil, wire.Stat{}, wire.ErrNoNode
	}
	return n.getACL(), n.stat(), wire.Ok
}

// CountDescendants is getAllChildrenNumber: the number of nodes below path
// (for "/", every node but the root, /zookeeper included).
func (t *Tree) CountDescendants(path string) (int32, wire.Code) {
	n := t.nodes.get(path)
	if n == nil {
		return 0, wire.ErrNoNode
	}
	if path == "/" {
		return int32(t.nodes.n - 1), wire.Ok
	}
	var count int32
	var walk func(string, *znode)
	walk = func(p string, n *znode) {
		for c := range n.children {
			cp := childPath(p, c)
			count++
			walk(cp, t.nodes.get(cp))
		}
	}
	walk(path, n)
	return count, wire.Ok
}

// Ephemerals returns the paths of a session's ephemeral nodes that start
// with prefix (a plain string prefix, as ZooKeeper's getEphemerals; "" or
// "/" means all), sorted.
func (t *Tree) Ephemerals(sessionID int64, prefix string) []string {
	set := t.ephemerals[sessionID]
	out := make([]string, 0, len(set))
	all := strings.TrimSpace(prefix) == "" || strings.TrimSpace(prefix) == "/"
	for p := range set {
		if all || strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// Session returns one row of the sessions table. Passwd is the tree's own.
func (t *Tree) Session(id int64) (SessionInfo, bool) {
	s := t.sessions[id]
	if s == nil {
		return SessionInfo{}, false
	}
	return SessionInfo{ID: id, Timeout: s.timeout, Passwd: s.passwd, Owner: s.owner}, true
}

// Sessions returns the sessions table sorted by id.
func (t *Tree) Sessions() []SessionInfo {
	ids := make([]int64, 0, len(t.sessions))
	for id := range t.sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]SessionInfo, len(ids))
	for i, id := range ids {
		s := t.sessions[id]
		out[i] = SessionInfo{ID: id, Timeout: s.timeout, Passwd: s.passwd, Owner: s.owner}
	}
	return out
}

// ContainerCandidates returns, sorted, the paths ZooKeeper's
// ContainerManager would delete at time now (ms): containers without
// children whose cversion is above zero (or, with MaxNeverUsedIntervalMs
// set, unmodified for longer than it), and, when ttlEnabled, TTL nodes
// without children unmodified for longer than their TTL. The reaper
// proposes an OpDeleteContainer for each.
func (t *Tree) ContainerCandidates(now int64, ttlEnabled bool) []string {
	var out []string
	for p := range t.containers {
		n := t.nodes.get(p)
		if n == nil || len(n.children) > 0 {
			continue
		}
		if n.cversion > 0 || (t.MaxNeverUsedIntervalMs != 0 && now-n.mtime > t.MaxNeverUsedIntervalMs) {
			out = append(out, p)
		}
	}
	if ttlEnabled {
		for p := range t.ttls {
			n := t.nodes.get(p)
			if n == nil || len(n.children) > 0 {
				continue
			}
			if ttl := n.owner &^ (ttlMask | reservedMask); ttl != 0 && now-n.mtime > ttl {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out
}

// NodeCount is ZooKeeper's zk_znode_count: the number of nodes plus one,
// because ZooKeeper's node table holds the root under both "" and "/".
func (t *Tree) NodeCount() int { return t.nodes.n + 1 }

// ApproximateDataSize is ZooKeeper's zk_approximate_data_size: the sum of
// path length plus data length over all nodes.
func (t *Tree) ApproximateDataSize() int64 { return t.dataSize }

// EphemeralCount is zk_ephemerals_count: session-owned nodes.
func (t *Tree) EphemeralCount() int {
	c := 0
	for _, s := range t.ephemerals {
		c += len(s)
	}
	return c
}

// ---- primitive mutations; each records its inverse while a multi runs ----

func (t *Tree) record(undo func()) {
	if t.inMulti {
		t.journal = append(t.journal, undo)
	}
}

// insert links n at path under its (existing) parent, gives it the
// interned acl and indexes it.
func (t *Tree) insert(path string, n *znode, acl []wire.ACL) {
	n.acl = t.acls.acquire(acl)
	n.setGen(t.gen) // not in any frozen view
	parentPath, name, _ := splitPath(path)
	parent := t.nodes.get(parentPath)
	hadMap := parent.children != nil
	if !hadMap {
		parent.children = map[string]struct{}{}
	}
	parent.children[name] = struct{}{}
	t.setNode(path, n)
	t.dataSize += int64(len(path) + len(n.data))
	t.index(path, n.owner, true)
	t.record(func() {
		delete(parent.children, name)
		if !hadMap {
			parent.children = nil
		}
		t.delNode(path)
		t.dataSize -= int64(len(path) + len(n.data))
		t.index(path, n.owner, false)
		t.acls.release(n.acl)
	})
}

// erase unlinks the (childless) node at path.
func (t *Tree) erase(path string) *znode {
	parentPath, name, _ := splitPath(path)
	parent := t.nodes.get(parentPath)
	n := t.nodes.get(path)
	delete(parent.children, name)
	t.delNode(path)
	t.dataSize -= int64(len(path) + len(n.data))
	t.index(path, n.owner, false)
	t.acls.release(n.acl)
	t.record(func() {
		t.acls.reacquire(n.acl)
		parent.children[name] = struct{}{}
		t.setNode(path, n)
		t.dataSize += int64(len(path) + len(n.data))
		t.index(path, n.owner, true)
	})
	return n
}

func (t *Tree) index(path string, owner int64, add bool) {
	switch kindOf(owner) {
	case ownerContainer:
		setOp(t.containers, path, add)
	case ownerTTL:
		setOp(t.ttls, path, add)
	case ownerSession:
		s := t.ephemerals[owner]
		if s == nil {
			if !add {
				return
			}
			s = map[string]struct{}{}
			t.ephemerals[owner] = s
		}
		setOp(s, path, add)
		if len(s) == 0 {
			delete(t.ephemerals, owner)
		}
	}
}

func setOp(m map[string]struct{}, k string, add bool) {
	if add {
		m[k] = struct{}{}
	} else {
		delete(m, k)
	}
}

// modify prepares n, the node at path, for a change of its fields (not
// its children) and returns the node to change: n itself, or, while a
// frozen view shares n (saving, older generation), a copy that replaces
// it in the table, so the view keeps the node as it was. In a multi it
// saves the fields for undo; an undo restores them on the copy, which
// stays in the table (equal to n again).
func (t *Tree) modify(path string, n *znode) *znode {
	if n.gen() != t.gen && t.saving.Load() {
		c := *n
		c.setGen(t.gen)
		n = &c
		t.setNode(path, n)
	}
	if t.inMulti {
		old := *n
		t.journal = append(t.journal, func() {
			ch := n.children
			*n = old
			n.children = ch
		})
	}
	return n
}

// setRawData replaces a node's data without touching its Stat (quota
// stats bookkeeping).
func (t *Tree) setRawData(path string, n *znode, data []byte) {
	n = t.modify(path, n)
	t.adjustSize(int64(len(data) - len(n.data)))
	n.setData(data)
}

func (t *Tree) adjustSize(d int64) {
	t.dataSize += d
	t.record(func() { t.dataSize -= d })
}
