package statemachine

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/paddockdb/paddock/wire"
)

// checkACLTable verifies the interned ACL lists: every node's list is the
// table's entry for its key, reference counts equal the nodes using a list,
// and the table holds nothing else.
func checkACLTable(t *testing.T, tr *Tree) {
	t.Helper()
	uses := map[*aclList]int{}
	tr.nodes.each(func(p string, n *znode) {
		if n.acl == nil {
			t.Fatalf("%s: no ACL", p)
		}
		if tr.acls.m[n.acl.key] != n.acl {
			t.Fatalf("%s: ACL list %v not the table's", p, n.acl.acl)
		}
		uses[n.acl]++
	})
	if w := tr.acls.world; w != nil && tr.acls.m[w.key] != w {
		t.Fatal("world list is not the table's")
	}
	if len(uses) != tr.acls.len() {
		t.Fatalf("table holds %d lists, nodes use %d", tr.acls.len(), len(uses))
	}
	for l, c := range uses {
		if l.refs != c {
			t.Fatalf("list %v: refs %d, used by %d", l.acl, l.refs, c)
		}
	}
}

func TestACLTable(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		tr := NewTree()
		log := randomLog(seed, 400)
		for i := range log {
			tr.Apply(&log[i])
			checkACLTable(t, tr)
		}
	}
	// A rolled-back multi that deletes the last node with an ACL and then
	// fails leaves the table as it was.
	tr := NewTree()
	alice := []wire.ID{{Scheme: "digest", ID: DigestID("alice", "pw")}}
	tr.Apply(&Txn{Type: wire.OpCreate, Path: "/a", ACL: wire.CreatorACL, Auth: alice})
	tr.Apply(&Txn{Type: wire.OpMulti, Auth: alice, Ops: []Txn{
		{Type: wire.OpSetData, Path: "/a", Data: []byte("x"), Version: -1},
		{Type: wire.OpDelete, Path: "/a", Version: -1},
		{Type: wire.OpCreate, Path: "/b", ACL: wire.CreatorACL},
		{Type: wire.OpCheck, Path: "/nope"},
	}})
	checkACLTable(t, tr)
	if acl, _, _ := tr.GetACL("/a"); len(acl) != 1 || acl[0].ID != alice[0] {
		t.Fatalf("/a ACL %v", acl)
	}
	if n := tr.acls.len(); n != 3 { // world ALL, world READ (/zookeeper/config), alice
		t.Fatalf("%d lists", n)
	}
	tr.Apply(&Txn{Type: wire.OpDelete, Path: "/a", Version: -1, Auth: alice})
	checkACLTable(t, tr)
	if n := tr.acls.len(); n != 2 {
		t.Fatalf("%d lists after the last user went", n)
	}
}

// The node stays in Go's 96-byte size class.
func TestZnodeSize(t *testing.T) {
	if s := unsafe.Sizeof(znode{}); s > 96 {
		t.Fatalf("znode is %d bytes", s)
	}
}

// Null data and empty data stay apart through setData, Get and Save/Load.
func TestNullData(t *testing.T) {
	tr := NewTree()
	tr.Apply(&Txn{Type: wire.OpCreate, Path: "/n", ACL: wire.WorldACL})
	tr.Apply(&Txn{Type: wire.OpCreate, Path: "/e", Data: []byte{}, ACL: wire.WorldACL})
	for _, x := range []*Tree{tr, loadCopy(t, tr)} {
		if d, st, _, _ := x.Get("/n"); d != nil || st.DataLength != 0 {
			t.Fatalf("null: %v %d", d, st.DataLength)
		}
		if d, _, _, _ := x.Get("/e"); d == nil || len(d) != 0 {
			t.Fatalf("empty: %v", d)
		}
	}
}

func loadCopy(t *testing.T, tr *Tree) *Tree {
	c := NewTree()
	if err := c.Load(bytes.NewReader(saved(t, tr))); err != nil {
		t.Fatal(err)
	}
	checkACLTable(t, c)
	return c
}
