package statemachine

import (
	"encoding/binary"

	"github.com/paddockdb/paddock/wire"
)

// aclList is one distinct ACL list of the tree, shared by every node that
// has it, as ZooKeeper's ReferenceCountedACLCache shares them.
type aclList struct {
	acl  []wire.ACL // never modified
	key  string
	refs int
}

// aclTable interns the ACL lists of a tree's nodes, with reference counts:
// a list goes when its last node does, so setACL with ever new ids cannot
// grow the table without bound. It is derived state (Save writes each
// node's list, Load interns again) and never iterated, so it has no
// bearing on determinism. insert and erase acquire and release, and so do
// their undo closures in a multi.
type aclTable struct {
	m map[string]*aclList
	// world is m's entry for world:anyone ALL while it has one: the list
	// nearly every node has, acquired without building a key.
	world *aclList
}

func newACLTable() aclTable { return aclTable{m: map[string]*aclList{}} }

// aclKey appends the canonical key of acl: per entry, perms and the
// length-prefixed scheme and id.
func aclKey(b []byte, acl []wire.ACL) []byte {
	for _, a := range acl {
		b = binary.BigEndian.AppendUint32(b, uint32(a.Perms))
		b = binary.AppendUvarint(b, uint64(len(a.ID.Scheme)))
		b = append(b, a.ID.Scheme...)
		b = binary.AppendUvarint(b, uint64(len(a.ID.ID)))
		b = append(b, a.ID.ID...)
	}
	return b
}

// acquire returns the interned list equal to acl, with one more reference.
// A list seen for the first time is copied, so the caller's slice is not
// kept.
func (t *aclTable) acquire(acl []wire.ACL) *aclList {
	if t.world != nil && len(acl) == 1 && acl[0] == worldACL[0] {
		t.world.refs++
		return t.world
	}
	var buf [96]byte
	k := aclKey(buf[:0], acl)
	if l := t.m[string(k)]; l != nil {
		l.refs++
		return l
	}
	l := &aclList{acl: append([]wire.ACL(nil), acl...), key: string(k), refs: 1}
	if len(acl) == 0 {
		l.acl = []wire.ACL{}
	}
	t.m[l.key] = l
	if len(acl) == 1 && acl[0] == worldACL[0] {
		t.world = l
	}
	return l
}

// release drops one reference; the list leaves the table with its last.
func (t *aclTable) release(l *aclList) {
	if l == nil {
		return
	}
	l.refs--
	if l.refs <= 0 {
		delete(t.m, l.key)
		if t.world == l {
			t.world = nil
		}
	}
}

// reacquire takes a reference to l again after a release (the undo of an
// erase in a multi), putting it back in the table if it had left, so the
// node keeps the very list that older undo records also hold.
func (t *aclTable) reacquire(l *aclList) {
	l.refs++
	if t.m[l.key] == nil {
		t.m[l.key] = l
		if len(l.acl) == 1 && l.acl[0] == worldACL[0] {
			t.world = l
		}
	}
}

// len is the number of distinct ACL lists (tests).
func (t *aclTable) len() int { return len(t.m) }
