package statemachine

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/paddockdb/paddock/wire"
)

const sess = int64(0x100)

// newTestTree returns a tree with session sess open.
func newTestTree(t *testing.T) *Tree {
	t.Helper()
	tr := NewTree()
	if r := tr.Apply(&Txn{Type: wire.OpCreateSession, SessionID: sess, Timeout: 30000, Passwd: []byte("pw"), Time: 1}); r.Err != wire.Ok {
		t.Fatalf("createSession: %v", r.Err)
	}
	return tr
}

func create(path string, data string, mode wire.CreateMode) *Txn {
	return &Txn{Type: wire.OpCreate2, SessionID: sess, Path: path, Data: []byte(data), ACL: wire.WorldACL, Mode: mode, Time: 1000}
}

func mustOK(t *testing.T, tr *Tree, txn *Txn) Result {
	t.Helper()
	r := tr.Apply(txn)
	if r.Err != wire.Ok {
		t.Fatalf("%v %s: %v", txn.Type, txn.Path, r.Err)
	}
	return r
}

func TestNewTreeMatchesFreshZooKeeper(t *testing.T) {
	tr := NewTree()
	if got := tr.NodeCount(); got != 5 {
		t.Errorf("NodeCount = %d, want 5 (ZooKeeper counts the root twice)", got)
	}
	if got := tr.ApproximateDataSize(); got != 44 {
		t.Errorf("ApproximateDataSize = %d, want 44", got)
	}
	kids, st, _, _ := tr.Children("/")
	// ZooKeeper 3.8 shows cversion = 2*creates - numChildren: -1 for /.
	if !slices.Equal(kids, []string{"zookeeper"}) || st.NumChildren != 1 || st.Cversion != -1 {
		t.Errorf("root: %v %+v", kids, st)
	}
	kids, st, _, _ = tr.Children("/zookeeper")
	if !slices.Equal(kids, []string{"config", "quota"}) || st.Cversion != -2 {
		t.Errorf("/zookeeper children %v %+v", kids, st)
	}
	acl, st, err := tr.GetACL("/zookeeper/config")
	if err != wire.Ok || st.Aversion != -1 || !reflect.DeepEqual(acl, wire.ReadACL) {
		t.Errorf("/zookeeper/config: %v %+v %v", acl, st, err)
	}
	if n, _ := tr.CountDescendants("/"); n != 3 {
		t.Errorf("CountDescendants(/) = %d, want 3", n)
	}
}

func TestCreateStatAndParent(t *testing.T) {
	tr := newTestTree(t)
	r := mustOK(t, tr, create("/a", "hello", wire.ModePersistent))
	want := wire.Stat{Czxid: r.Zxid, Mzxid: r.Zxid, Pzxid: r.Zxid, Ctime: 1000, Mtime: 1000, DataLength: 5}
	if r.Stat != want || r.Path != "/a" {
		t.Fatalf("stat %+v path %q, want %+v", r.Stat, r.Path, want)
	}
	wantTrig := []Trigger{{"/a", wire.EventNodeCreated}, {"/", wire.EventNodeChildrenChanged}}
	if !reflect.DeepEqual(r.Triggers, wantTrig) {
		t.Errorf("triggers %v", r.Triggers)
	}
	root, _ := tr.Exists("/")
	if root.Cversion != 0 || root.Pzxid != r.Zxid || root.NumChildren != 2 {
		t.Errorf("root after create %+v", root)
	}
	r2 := mustOK(t, tr, create("/a/b", "", wire.ModePersistent))
	del := mustOK(t, tr, &Txn{Type: wire.OpDelete, SessionID: sess, Path: "/a/b", Version: 0})
	a, _ := tr.Exists("/a")
	if a.Cversion != 2 || a.Pzxid != del.Zxid || a.NumChildren != 0 || del.Zxid <= r2.Zxid {
		t.Errorf("/a after delete %+v (clients see creates plus deletes)", a)
	}
	// The sequential suffix follows creates only (ZooKeeper's stored cversion).
	seq := mustOK(t, tr, create("/a/s-", "", wire.ModePersistentSequential))
	if seq.Path != "/a/s-0000000001" {
		t.Errorf("sequential after a delete: %s, want /a/s-0000000001", seq.Path)
	}
	mustOK(t, tr, &Txn{Type: wire.OpDelete, SessionID: sess, Path: seq.Path, Version: -1})
	wantTrig = []Trigger{{"/a/b", wire.EventNodeDeleted}, {"/a", wire.EventNodeChildrenChanged}}
	if !reflect.DeepEqual(del.Triggers, wantTrig) {
		t.Errorf("delete triggers %v", del.Triggers)
	}
	sd := mustOK(t, tr, &Txn{Type: wire.OpSetData, SessionID: sess, Path: "/a", Data: []byte("xy"), Version: 0, Time: 2000})
	if sd.Stat.Version != 1 || sd.Stat.Mzxid != sd.Zxid || sd.Stat.Mtime != 2000 || sd.Stat.Ctime != 1000 || sd.Stat.DataLength != 2 {
		t.Errorf("setData stat %+v", sd.Stat)
	}
	if !reflect.DeepEqual(sd.Triggers, []Trigger{{"/a", wire.EventNodeDataChanged}}) {
		t.Errorf("setData triggers %v", sd.Triggers)
	}
	sa := mustOK(t, tr, &Txn{Type: wire.OpSetACL, SessionID: sess, Path: "/a", ACL: wire.ReadACL, Version: 0})
	if sa.Stat.Aversion != 1 || sa.Stat.Mzxid != sd.Zxid || len(sa.Triggers) != 0 {
		t.Errorf("setACL %+v %v", sa.Stat, sa.Triggers)
	}
	data, _, acl, _ := tr.Get("/a")
	if string(data) != "xy" || !reflect.DeepEqual(acl, wire.ReadACL) {
		t.Errorf("get %q %v", data, acl)
	}
}

func TestSequentialNames(t *testing.T) {
	tr := newTestTree(t)
	mustOK(t, tr, create("/q", "", wire.ModePersistent))
	mustOK(t, tr, create("/q/x", "", wire.ModePersistent)) // cversion 0 -> 1
	var got []string
	for i := 0; i < 3; i++ {
		got = append(got, mustOK(t, tr, create("/q/lock-", "", wire.ModeEphemeralSequential)).Path)
	}
	mustOK(t, tr, &Txn{Type: wire.OpDelete, SessionID: sess, Path: got[0], Version: -1})
	got = append(got, mustOK(t, tr, create("/q/", "", wire.ModePersistentSequential)).Path)
	want := []string{"/q/lock-0000000001", "/q/lock-0000000002", "/q/lock-0000000003", "/q/0000000004"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
	if r := tr.Apply(create("/q/", "", wire.ModePersistent)); r.Err != wire.ErrBadArguments {
		t.Errorf("create /q/ = %v", r.Err)
	}
}

func TestErrors(t *testing.T) {
	tr := newTestTree(t)
	mustOK(t, tr, create("/p", "", wire.ModePersistent))
	mustOK(t, tr, create("/p/c", "", wire.ModePersistent))
	mustOK(t, tr, create("/e", "", wire.ModeEphemeral))
	mustOK(t, tr, &Txn{Type: wire.OpCreate, SessionID: sess, Path: "/ro", ACL: wire.ReadACL})
	cases := []struct {
		name string
		txn  Txn
		want wire.Code
	}{
		{"create no parent", Txn{Type: wire.OpCreate, Path: "/x/y", ACL: wire.WorldACL}, wire.ErrNoNode},
		{"create exists", Txn{Type: wire.OpCreate, Path: "/p", ACL: wire.WorldACL}, wire.ErrNodeExists},
		{"create root", Txn{Type: wire.OpCreate, Path: "/", ACL: wire.WorldACL}, wire.ErrNodeExists},
		{"create relative", Txn{Type: wire.OpCreate, Path: "x", ACL: wire.WorldACL}, wire.ErrBadArguments},
		{"create dot", Txn{Type: wire.OpCreate, Path: "/p/..", ACL: wire.WorldACL}, wire.ErrBadArguments},
		{"create bad mode", Txn{Type: wire.OpCreate, Path: "/m", ACL: wire.WorldACL, Mode: 9}, wire.ErrBadArguments},
		{"create under ephemeral", Txn{Type: wire.OpCreate, Path: "/e/c", ACL: wire.WorldACL}, wire.ErrNoChildrenForEphemerals},
		{"create empty acl", Txn{Type: wire.OpCreate, Path: "/n"}, wire.ErrInvalidACL},
		{"create auth acl without auth", Txn{Type: wire.OpCreate, Path: "/n", ACL: wire.CreatorACL}, wire.ErrInvalidACL},
		{"create bad digest id", Txn{Type: wire.OpCreate, Path: "/n", ACL: []wire.ACL{{Perms: 31, ID: wire.ID{Scheme: "digest", ID: "nocolon"}}}}, wire.ErrInvalidACL},
		{"create bad ip", Txn{Type: wire.OpCreate, Path: "/n", ACL: []wire.ACL{{Perms: 31, ID: wire.ID{Scheme: "ip", ID: "10.0.0.0/33"}}}}, wire.ErrInvalidACL},
		{"create unknown scheme", Txn{Type: wire.OpCreate, Path: "/n", ACL: []wire.ACL{{Perms: 31, ID: wire.ID{Scheme: "foo", ID: "x"}}}}, wire.ErrInvalidACL},
		{"create no CREATE perm", Txn{Type: wire.OpCreate, Path: "/ro/c", ACL: wire.WorldACL}, wire.ErrNoAuth},
		{"createTTL without TTL mode", Txn{Type: wire.OpCreateTTL, Path: "/t", ACL: wire.WorldACL, TTL: 10}, wire.ErrBadArguments},
		{"TTL mode without createTTL", Txn{Type: wire.OpCreate, Path: "/t", ACL: wire.WorldACL, Mode: wire.ModePersistentWithTTL, TTL: 10}, wire.ErrBadArguments},
		{"createTTL zero", Txn{Type: wire.OpCreateTTL, Path: "/t", ACL: wire.WorldACL, Mode: wire.ModePersistentWithTTL}, wire.ErrBadArguments},
		{"delete missing", Txn{Type: wire.OpDelete, Path: "/nope", Version: -1}, wire.ErrNoNode},
		{"delete bad version", Txn{Type: wire.OpDelete, Path: "/p/c", Version: 3}, wire.ErrBadVersion},
		{"delete not empty", Txn{Type: wire.OpDelete, Path: "/p", Version: -1}, wire.ErrNotEmpty},
		{"delete root", Txn{Type: wire.OpDelete, Path: "/", Version: -1}, wire.ErrBadArguments},
		{"delete /zookeeper", Txn{Type: wire.OpDelete, Path: "/zookeeper", Version: -1}, wire.ErrBadArguments},
		{"delete /zookeeper/config", Txn{Type: wire.OpDelete, Path: "/zookeeper/config", Version: -1}, wire.ErrBadArguments},
		{"setData missing", Txn{Type: wire.OpSetData, Path: "/nope", Version: -1}, wire.ErrNoNode},
		{"setData bad path", Txn{Type: wire.OpSetData, Path: "/p/", Version: -1}, wire.ErrBadArguments},
		{"setData bad version", Txn{Type: wire.OpSetData, Path: "/p", Version: 7}, wire.ErrBadVersion},
		{"setData no WRITE", Txn{Type: wire.OpSetData, Path: "/ro", Version: -1}, wire.ErrNoAuth},
		{"setData config", Txn{Type: wire.OpSetData, Path: "/zookeeper/config", Version: -1}, wire.ErrNoAuth},
		{"setACL bad version", Txn{Type: wire.OpSetACL, Path: "/p", ACL: wire.WorldACL, Version: 2}, wire.ErrBadVersion},
		{"setACL no ADMIN", Txn{Type: wire.OpSetACL, Path: "/ro", ACL: wire.WorldACL, Version: -1}, wire.ErrNoAuth},
		{"setACL invalid", Txn{Type: wire.OpSetACL, Path: "/p", Version: -1}, wire.ErrInvalidACL},
		{"check bad version", Txn{Type: wire.OpCheck, Path: "/p", Version: 5}, wire.ErrBadVersion},
		{"unknown session", Txn{Type: wire.OpCreate, SessionID: 77, Path: "/z", ACL: wire.WorldACL}, wire.ErrSessionExpired},
		{"close unknown session", Txn{Type: wire.OpCloseSession, SessionID: 77}, wire.ErrSessionExpired},
		{"deleteContainer ephemeral", Txn{Type: wire.OpDeleteContainer, Path: "/e"}, wire.ErrBadVersion},
		{"deleteContainer not empty", Txn{Type: wire.OpDeleteContainer, Path: "/p"}, wire.ErrNotEmpty},
		{"unknown op", Txn{Type: wire.OpGetData, Path: "/p"}, wire.ErrUnimplemented},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			txn := c.txn
			if txn.SessionID == 0 && txn.Type != wire.OpDeleteContainer {
				txn.SessionID = sess
			}
			var before bytes.Buffer
			tr.Save(&before)
			r := tr.Apply(&txn)
			if r.Err != c.want {
				t.Fatalf("got %v, want %v", r.Err, c.want)
			}
			if len(r.Triggers) != 0 {
				t.Errorf("failed op fired %v", r.Triggers)
			}
			// A failure changes nothing but lastZxid.
			other := NewTree()
			other.Load(bytes.NewReader(before.Bytes()))
			other.lastZxid = tr.lastZxid
			var a, b bytes.Buffer
			tr.Save(&a)
			other.Save(&b)
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Errorf("failed op changed the tree")
			}
		})
	}
}

func TestZxidClock(t *testing.T) {
	tr := NewTree()
	r := tr.Apply(&Txn{Type: wire.OpCreateSession, SessionID: 5, Time: 1000})
	if r.Zxid != 1000<<20 {
		t.Errorf("zxid %x", r.Zxid)
	}
	r = tr.Apply(&Txn{Type: wire.OpCreateSession, SessionID: 6, Time: 999}) // clock went back
	if r.Zxid != 1000<<20+1 {
		t.Errorf("zxid %x", r.Zxid)
	}
	r = tr.Apply(&Txn{Type: wire.OpCreateSession, SessionID: 7, Time: 1000, MinZxid: 5000 << 20})
	if r.Zxid != 5000<<20+1 || tr.LastZxid() != r.Zxid {
		t.Errorf("zxid %x", r.Zxid)
	}
}

func TestCloseSessionDeletesEphemerals(t *testing.T) {
	tr := newTestTree(t)
	mustOK(t, tr, &Txn{Type: wire.OpCreateSession, SessionID: sess + 1, Timeout: 1})
	mustOK(t, tr, create("/b", "", wire.ModeEphemeral))
	mustOK(t, tr, create("/a", "", wire.ModePersistent))
	mustOK(t, tr, create("/a/z", "", wire.ModeEphemeral))
	other := create("/o", "", wire.ModeEphemeral)
	other.SessionID = sess + 1
	mustOK(t, tr, other)
	if tr.EphemeralCount() != 3 || !slices.Equal(tr.Ephemerals(sess, ""), []string{"/a/z", "/b"}) || !slices.Equal(tr.Ephemerals(sess, "/a"), []string{"/a/z"}) {
		t.Fatalf("ephemerals %v", tr.Ephemerals(sess, ""))
	}
	if st, _ := tr.Exists("/b"); st.EphemeralOwner != sess {
		t.Errorf("owner %x", st.EphemeralOwner)
	}
	r := mustOK(t, tr, &Txn{Type: wire.OpCloseSession, SessionID: sess})
	want := []Trigger{{"/a/z", wire.EventNodeDeleted}, {"/a", wire.EventNodeChildrenChanged}, {"/b", wire.EventNodeDeleted}, {"/", wire.EventNodeChildrenChanged}}
	if !reflect.DeepEqual(r.Triggers, want) {
		t.Errorf("triggers %v", r.Triggers)
	}
	if _, ok := tr.Exists("/b"); ok {
		t.Error("/b survived")
	}
	if _, ok := tr.Session(sess); ok {
		t.Error("session survived")
	}
	if tr.EphemeralCount() != 1 || len(tr.Sessions()) != 1 {
		t.Errorf("count %d sessions %v", tr.EphemeralCount(), tr.Sessions())
	}
	if r := tr.Apply(create("/c", "", wire.ModePersistent)); r.Err != wire.ErrSessionExpired {
		t.Errorf("op after close: %v", r.Err)
	}
}

func TestMulti(t *testing.T) {
	tr := newTestTree(t)
	mustOK(t, tr, create("/m", "", wire.ModePersistent))
	ok := &Txn{Type: wire.OpMulti, SessionID: sess, Time: 5, Ops: []Txn{
		{Type: wire.OpCreate, Path: "/m/a", ACL: wire.WorldACL},
		{Type: wire.OpCreate2, Path: "/m/s-", ACL: wire.WorldACL, Mode: wire.ModePersistentSequential},
		{Type: wire.OpSetData, Path: "/m/a", Data: []byte("x"), Version: 0},
		{Type: wire.OpCheck, Path: "/m", Version: 0},
		{Type: wire.OpDelete, Path: "/m/a", Version: 1},
	}}
	r := mustOK(t, tr, ok)
	if len(r.Multi) != 5 || r.Multi[0].Type != wire.OpCreate || r.Multi[0].Path != "/m/a" ||
		r.Multi[1].Type != wire.OpCreate2 || r.Multi[1].Path != "/m/s-0000000001" || r.Multi[1].Stat.Czxid != r.Zxid ||
		r.Multi[2].Type != wire.OpSetData || r.Multi[2].Stat.Version != 1 || r.Multi[3].Type != wire.OpCheck || r.Multi[4].Type != wire.OpDelete {
		t.Fatalf("multi results %+v", r.Multi)
	}
	if len(r.Triggers) != 7 {
		t.Errorf("triggers %v", r.Triggers)
	}
	var before bytes.Buffer
	tr.Save(&before)
	bad := &Txn{Type: wire.OpMulti, SessionID: sess, Ops: []Txn{
		{Type: wire.OpCreate, Path: "/m/b", ACL: wire.WorldACL},
		{Type: wire.OpSetData, Path: "/m", Data: []byte("zz"), Version: -1},
		{Type: wire.OpCreate, Path: "/zookeeper/quota/m", ACL: wire.WorldACL},
		{Type: wire.OpCreate, Path: "/zookeeper/quota/m/zookeeper_limits", Data: []byte("count=1,bytes=-1"), ACL: wire.WorldACL},
		{Type: wire.OpCheck, Path: "/m", Version: 0},
		{Type: wire.OpDelete, Path: "/m/b", Version: -1},
	}}
	r = tr.Apply(bad)
	want := []wire.MultiResult{{Type: wire.OpError}, {Type: wire.OpError}, {Type: wire.OpError}, {Type: wire.OpError}, {Type: wire.OpError, Err: wire.ErrBadVersion}, {Type: wire.OpError, Err: wire.ErrRuntimeInconsistency}}
	if r.Err != wire.ErrBadVersion || !reflect.DeepEqual(r.Multi, want) || len(r.Triggers) != 0 {
		t.Fatalf("failed multi: %v %+v %v", r.Err, r.Multi, r.Triggers)
	}
	tr2 := NewTree()
	tr2.Load(bytes.NewReader(before.Bytes()))
	tr2.lastZxid = tr.lastZxid
	var a, b bytes.Buffer
	tr.Save(&a)
	tr2.Save(&b)
	if !bytes.Equal(a.Bytes(), b.Bytes()) || len(tr.quotas) != 0 {
		t.Error("failed multi left changes")
	}
}

func TestACL(t *testing.T) {
	alice := wire.ID{Scheme: "digest", ID: DigestID("alice", "secret")}
	if alice.ID != "alice:"+"8bCw4zGkWG9SS0Zuam0qlQ+xxB0=" && len(alice.ID) != len("alice:")+28 {
		t.Fatalf("digest %q", alice.ID)
	}
	tr := newTestTree(t)
	c := create("/priv", "", wire.ModePersistent)
	c.ACL = wire.CreatorACL
	c.Auth = []wire.ID{{Scheme: "ip", ID: "127.0.0.1"}, alice}
	mustOK(t, tr, c)
	acl, _, _ := tr.GetACL("/priv")
	if !reflect.DeepEqual(acl, []wire.ACL{{Perms: wire.PermAll, ID: alice}}) {
		t.Fatalf("auth ACL expanded to %v", acl)
	}
	sd := &Txn{Type: wire.OpSetData, SessionID: sess, Path: "/priv", Version: -1}
	if r := tr.Apply(sd); r.Err != wire.ErrNoAuth {
		t.Errorf("anonymous setData: %v", r.Err)
	}
	sd.Auth = []wire.ID{alice}
	mustOK(t, tr, sd)
	sd.Auth = []wire.ID{{Scheme: "digest", ID: DigestID("alice", "wrong")}}
	if r := tr.Apply(sd); r.Err != wire.ErrNoAuth {
		t.Errorf("wrong password: %v", r.Err)
	}
	sd.Auth = []wire.ID{{Scheme: "super", ID: ""}}
	mustOK(t, tr, sd)
	tr.SuperDigest = DigestID("super", "s3")
	sd.Auth = []wire.ID{{Scheme: "digest", ID: DigestID("super", "s3")}}
	mustOK(t, tr, sd)

	ipACL := []wire.ACL{{Perms: wire.PermRead, ID: wire.ID{Scheme: "ip", ID: "10.1.0.0/16"}}}
	for _, c := range []struct {
		ip   string
		want bool
	}{{"10.1.2.3", true}, {"10.2.0.1", false}, {"bogus", false}} {
		if got := CheckACL(ipACL, wire.PermRead, []wire.ID{{Scheme: "ip", ID: c.ip}}, ""); got != c.want {
			t.Errorf("ip %s: %v", c.ip, got)
		}
	}
	if CheckACL(ipACL, wire.PermWrite, []wire.ID{{Scheme: "ip", ID: "10.1.2.3"}}, "") {
		t.Error("perm bit ignored")
	}
	if !CheckACL(nil, wire.PermAdmin, nil, "") {
		t.Error("empty ACL must allow")
	}
}

func TestDigestIDMatchesZooKeeper(t *testing.T) {
	// zkCli: DigestAuthenticationProvider.generateDigest("super:admin")
	if got := DigestID("super", "admin"); got != "super:xQJmxLMiHGwaqBvst5y6rkB6HQs=" {
		t.Errorf("got %s", got)
	}
}

// ZooKeeper keeps null data apart from empty data, in the tree and in
// snapshots.
func TestNullAndEmptyData(t *testing.T) {
	tr := newTestTree(t)
	mustOK(t, tr, &Txn{Type: wire.OpCreate, SessionID: sess, Path: "/null", Data: nil, ACL: wire.WorldACL})
	if d, _, _, _ := tr.Get("/null"); d != nil {
		t.Errorf("/null after create: %v, want nil", d)
	}
	mustOK(t, tr, &Txn{Type: wire.OpCreate, SessionID: sess, Path: "/empty", Data: []byte{}, ACL: wire.WorldACL})
	mustOK(t, tr, &Txn{Type: wire.OpSetData, SessionID: sess, Path: "/empty", Data: nil, Version: -1})
	mustOK(t, tr, &Txn{Type: wire.OpSetData, SessionID: sess, Path: "/null", Data: []byte{}, Version: -1})
	check := func(tr *Tree) {
		t.Helper()
		if d, _, _, _ := tr.Get("/empty"); d != nil {
			t.Errorf("/empty after setData null: %q, want nil", d)
		}
		if d, _, _, _ := tr.Get("/null"); d == nil || len(d) != 0 {
			t.Errorf("/null after setData empty: %v, want empty", d)
		}
	}
	check(tr)
	nt := NewTree()
	if err := nt.Load(bytes.NewReader(saved(t, tr))); err != nil {
		t.Fatal(err)
	}
	check(nt)
}

func TestContainersAndTTL(t *testing.T) {
	tr := newTestTree(t)
	c := mustOK(t, tr, &Txn{Type: wire.OpCreateContainer, SessionID: sess, Path: "/c", ACL: wire.WorldACL, Mode: wire.ModeContainer, Time: 100})
	// Clients see ephemeralOwner 0 for containers and TTL nodes; the
	// marker stays inside (ZooKeeper's getClientEphemeralOwner).
	if c.Stat.EphemeralOwner != 0 || tr.nodes.get("/c").owner != ContainerOwner {
		t.Fatalf("container owner %x", c.Stat.EphemeralOwner)
	}
	ttl := mustOK(t, tr, &Txn{Type: wire.OpCreateTTL, SessionID: sess, Path: "/t", ACL: wire.WorldACL, Mode: wire.ModePersistentWithTTL, TTL: 500, Time: 100})
	if ttl.Stat.EphemeralOwner != 0 || uint64(tr.nodes.get("/t").owner) != 0xFF000000000001F4 {
		t.Fatalf("ttl owner %x", ttl.Stat.EphemeralOwner)
	}
	if got := tr.ContainerCandidates(600, true); len(got) != 0 {
		t.Errorf("fresh container is a candidate: %v", got)
	}
	mustOK(t, tr, create("/c/x", "", wire.ModePersistent))
	if got := tr.ContainerCandidates(10000, false); len(got) != 0 {
		t.Errorf("non-empty container is a candidate: %v", got)
	}
	mustOK(t, tr, &Txn{Type: wire.OpDelete, SessionID: sess, Path: "/c/x", Version: -1})
	if got := tr.ContainerCandidates(600, true); !slices.Equal(got, []string{"/c"}) {
		t.Errorf("candidates %v", got)
	}
	if got := tr.ContainerCandidates(601, true); !slices.Equal(got, []string{"/c", "/t"}) {
		t.Errorf("candidates %v", got)
	}
	if got := tr.ContainerCandidates(601, false); !slices.Equal(got, []string{"/c"}) {
		t.Errorf("candidates %v", got)
	}
	if r := tr.Apply(create("/c/e", "", wire.ModeEphemeral)); r.Err != wire.Ok {
		t.Errorf("ephemeral under container: %v", r.Err)
	}
	tr.Apply(&Txn{Type: wire.OpDelete, SessionID: sess, Path: "/c/e", Version: -1})
	r := mustOK(t, tr, &Txn{Type: wire.OpDeleteContainer, Path: "/t"})
	if !reflect.DeepEqual(r.Triggers, []Trigger{{"/t", wire.EventNodeDeleted}, {"/", wire.EventNodeChildrenChanged}}) {
		t.Errorf("triggers %v", r.Triggers)
	}
	mustOK(t, tr, &Txn{Type: wire.OpDeleteContainer, Path: "/c"})
	if len(tr.containers) != 0 || len(tr.ttls) != 0 {
		t.Error("indexes not cleared")
	}
}

func TestQuota(t *testing.T) {
	tr := newTestTree(t)
	mustOK(t, tr, create("/app", "12345", wire.ModePersistent))
	mustOK(t, tr, create("/app/x", "ab", wire.ModePersistent))
	for _, p := range []string{"/zookeeper/quota/app"} {
		mustOK(t, tr, create(p, "", wire.ModePersistent))
	}
	mustOK(t, tr, create("/zookeeper/quota/app/zookeeper_limits", "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3", wire.ModePersistent))
	mustOK(t, tr, create("/zookeeper/quota/app/zookeeper_stats", "count=0,bytes=0", wire.ModePersistent))
	stats := func() string {
		d, _, _, _ := tr.Get("/zookeeper/quota/app/zookeeper_stats")
		return string(d)
	}
	if got := stats(); got != "count=2,bytes=7" {
		t.Fatalf("initial stats %q", got)
	}
	st0, _ := tr.Exists("/zookeeper/quota/app/zookeeper_stats")
	mustOK(t, tr, create("/app/y", "xyz", wire.ModePersistent))
	mustOK(t, tr, &Txn{Type: wire.OpSetData, SessionID: sess, Path: "/app/x", Data: []byte("a"), Version: -1})
	if got := stats(); got != "count=3,bytes=9" {
		t.Errorf("stats %q", got)
	}
	// Over the hard limit: logged only, unless enforced.
	mustOK(t, tr, create("/app/z", "", wire.ModePersistent))
	mustOK(t, tr, &Txn{Type: wire.OpDelete, SessionID: sess, Path: "/app/z", Version: -1})
	tr.EnforceQuota = true
	if r := tr.Apply(create("/app/z", "", wire.ModePersistent)); r.Err != wire.ErrQuotaExceeded {
		t.Errorf("enforced quota: %v", r.Err)
	}
	mustOK(t, tr, &Txn{Type: wire.OpDelete, SessionID: sess, Path: "/app/y", Version: -1})
	if got := stats(); got != "count=2,bytes=6" {
		t.Errorf("stats after delete %q", got)
	}
	st1, _ := tr.Exists("/zookeeper/quota/app/zookeeper_stats")
	if st1.Version != st0.Version || st1.Mzxid != st0.Mzxid {
		t.Error("stats rewrites must not touch the Stat")
	}
	mustOK(t, tr, &Txn{Type: wire.OpDelete, SessionID: sess, Path: "/zookeeper/quota/app/zookeeper_limits", Version: -1})
	mustOK(t, tr, create("/app/w", "", wire.ModePersistent))
	if got := stats(); got != "count=2,bytes=6" {
		t.Errorf("stats after quota removal %q", got)
	}
}

func TestValidatePath(t *testing.T) {
	for p, ok := range map[string]bool{
		"/": true, "/a": true, "/a/b.c": true, "/...": true, "/a/.b": true, "/ü": true,
		"": false, "a": false, "/a/": false, "//": false, "/a//b": false, "/.": false, "/a/..": false,
		"/a\x00": false, "/a\x1f": false, "/\u0085": false, "/\ue000": false, "/\ufff0": false,
		"/\U0001F600": false, "/\xff": false,
	} {
		if got := ValidatePath(p) == nil; got != ok {
			t.Errorf("ValidatePath(%q) ok=%v, want %v", p, got, ok)
		}
	}
}

func TestDescendants(t *testing.T) {
	tr := newTestTree(t)
	for _, p := range []string{"/a", "/a/b", "/a/b/c", "/a/d", "/ab"} {
		mustOK(t, tr, create(p, "", wire.ModePersistent))
	}
	if n, _ := tr.CountDescendants("/a"); n != 3 {
		t.Errorf("got %d", n)
	}
	if n, _ := tr.CountDescendants("/"); n != 8 {
		t.Errorf("got %d", n)
	}
	if _, err := tr.CountDescendants("/zz"); err != wire.ErrNoNode {
		t.Errorf("got %v", err)
	}
	if fmt.Sprint(tr.NodeCount()) != "10" {
		t.Errorf("NodeCount %d", tr.NodeCount())
	}
}

// Session ids of servers with myid >= 128 are negative (myid<<56, as
// ZooKeeper makes them); they own ephemerals like any other. Only 0 and
// the container/TTL owner markers are refused.
func TestNegativeSessionIDs(t *testing.T) {
	tr := newTestTree(t)
	neg := int64(-0x3800000000000000 + 7) // myid 200
	mustOK(t, tr, &Txn{Type: wire.OpCreateSession, SessionID: neg, Timeout: 4000, Passwd: []byte("pw")})
	eph := create("/neg", "", wire.ModeEphemeral)
	eph.SessionID = neg
	mustOK(t, tr, eph)
	if st, _ := tr.Exists("/neg"); st.EphemeralOwner != neg {
		t.Fatalf("owner %x, want %x", st.EphemeralOwner, neg)
	}
	mustOK(t, tr, &Txn{Type: wire.OpCloseSession, SessionID: neg})
	if _, ok := tr.Exists("/neg"); ok {
		t.Fatal("/neg survived its session")
	}
	for _, id := range []int64{0, ContainerOwner, TTLOwner(1000)} {
		if r := tr.Apply(&Txn{Type: wire.OpCreateSession, SessionID: id, Timeout: 4000}); r.Err != wire.ErrBadArguments {
			t.Errorf("createSession %x: %v, want BadArguments", id, r.Err)
		}
	}
}
