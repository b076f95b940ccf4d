package statemachine

import "maps"

// nodeTable is the tree's node table, path to node, split into
// nodeShards maps by a hash of the path. The split is for snapshots: a
// Frozen view shares the shards, and the tree copies a shard the first
// time it inserts, replaces or deletes in it while the view is being
// saved (Tree.shard), so Freeze costs 256 map references instead of a
// copy of a million-entry map, and the copying is spread over the writes
// that follow, a few thousand entries at a time. No result depends on the
// split (Save sorts paths); the hash is a fixed one all the same, so that
// the package stays free of randomness.
type nodeTable struct {
	shards [nodeShards]map[string]*znode
	gens   [nodeShards]uint32 // the Tree.gen each shard was made or copied in
	n      int
}

const (
	shardBits  = 8
	nodeShards = 1 << shardBits
)

// shardOf hashes the whole path, eight bytes at a time (a multiply and
// xor per word), and takes the top bits, where the multiplications mix.
func shardOf(path string) int {
	const k = 0x9e3779b97f4a7c15
	h := uint64(len(path)) * k
	for len(path) >= 8 {
		w := uint64(path[0]) | uint64(path[1])<<8 | uint64(path[2])<<16 | uint64(path[3])<<24 |
			uint64(path[4])<<32 | uint64(path[5])<<40 | uint64(path[6])<<48 | uint64(path[7])<<56
		h = (h ^ w) * k
		h ^= h >> 29
		path = path[8:]
	}
	for i := 0; i < len(path); i++ {
		h = (h ^ uint64(path[i])) * k
	}
	h ^= h >> 32
	return int(h >> (64 - shardBits))
}

// newNodeTable returns an empty table with room for about size nodes.
func newNodeTable(size int) nodeTable {
	var nt nodeTable
	for i := range nt.shards {
		nt.shards[i] = make(map[string]*znode, size/nodeShards)
	}
	return nt
}

func (nt *nodeTable) get(path string) *znode { return nt.shards[shardOf(path)][path] }

// each calls fn for every node, in no particular order.
func (nt *nodeTable) each(fn func(path string, n *znode)) {
	for _, m := range nt.shards {
		for p, n := range m {
			fn(p, n)
		}
	}
}

// shard returns shard i ready for a change: while a frozen view made in
// an earlier generation shares it, a copy replaces it first.
func (t *Tree) shard(i int) map[string]*znode {
	m := t.nodes.shards[i]
	if t.nodes.gens[i] != t.gen && t.saving.Load() {
		m = maps.Clone(m)
		t.nodes.shards[i], t.nodes.gens[i] = m, t.gen
	}
	return m
}

// setNode inserts or replaces the node at path.
func (t *Tree) setNode(path string, n *znode) {
	m := t.shard(shardOf(path))
	if _, ok := m[path]; !ok {
		t.nodes.n++
	}
	m[path] = n
}

// delNode removes the node at path.
func (t *Tree) delNode(path string) {
	m := t.shard(shardOf(path))
	if _, ok := m[path]; ok {
		delete(m, path)
		t.nodes.n--
	}
}
