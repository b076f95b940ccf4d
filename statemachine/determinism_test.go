package statemachine

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	sm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/paddockdb/paddock/wire"
)

// randomLog builds a seeded random transaction log touching every op.
func randomLog(seed int64, n int) []Txn {
	rng := rand.New(rand.NewSource(seed))
	paths := []string{"/a", "/b", "/a/x", "/a/y", "/b/z", "/c", "/c/d", "/zookeeper/quota/a", "/zookeeper/quota/a/zookeeper_limits", "/zookeeper/quota/a/zookeeper_stats"}
	ops := []wire.OpCode{wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL, wire.OpDelete, wire.OpSetData, wire.OpSetACL, wire.OpMulti, wire.OpCreateSession, wire.OpCloseSession, wire.OpDeleteContainer}
	alice := wire.ID{Scheme: "digest", ID: DigestID("alice", "pw")}
	var log []Txn
	now := int64(1_700_000_000_000)
	one := func() Txn {
		p := paths[rng.Intn(len(paths))]
		txn := Txn{Type: ops[rng.Intn(len(ops))], SessionID: int64(1 + rng.Intn(4)), Path: p, Version: int32(rng.Intn(3) - 1), Time: now}
		if rng.Intn(3) == 0 {
			txn.Auth = []wire.ID{alice}
		}
		switch txn.Type {
		case wire.OpCreate, wire.OpCreate2:
			txn.Mode = wire.CreateMode(rng.Intn(4))
			txn.ACL = wire.WorldACL
			if rng.Intn(5) == 0 {
				txn.ACL = wire.CreatorACL
			}
			txn.Data = []byte(strconv.Itoa(rng.Intn(1000)))
		case wire.OpCreateContainer:
			txn.Mode, txn.ACL = wire.ModeContainer, wire.WorldACL
		case wire.OpCreateTTL:
			txn.Mode, txn.ACL, txn.TTL = wire.ModePersistentWithTTL, wire.WorldACL, int64(1+rng.Intn(100))
		case wire.OpSetData:
			txn.Data = []byte(strings.Repeat("x", rng.Intn(10)))
		case wire.OpSetACL:
			txn.ACL = wire.WorldACL
		case wire.OpCreateSession:
			txn.Timeout, txn.Passwd = 4000, []byte("pw")
		}
		return txn
	}
	for i := 0; i < n; i++ {
		now += int64(rng.Intn(3))
		txn := one()
		if txn.Type == wire.OpMulti {
			for j := rng.Intn(4); j >= 0; j-- {
				sub := one()
				if !multiOp(sub.Type) {
					sub.Type = wire.OpCheck
				}
				txn.Ops = append(txn.Ops, sub)
			}
		}
		log = append(log, txn)
	}
	return log
}

func saved(t *testing.T, tr *Tree) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := tr.Save(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Guarantee 7 (DESIGN.md): the same log gives byte-identical snapshots.
func TestDeterminism(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		log := randomLog(seed, 400)
		a, b := NewTree(), NewTree()
		var ra, rb []Result
		for i := range log {
			ra = append(ra, a.Apply(&log[i]))
		}
		// b applies a decoded copy, half way through a save/load.
		enc, err := EncodeBatch(log)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := DecodeBatch(enc)
		if err != nil {
			t.Fatal(err)
		}
		for i := range dec {
			if i == len(dec)/2 {
				nb := NewTree()
				if err := nb.Load(bytes.NewReader(saved(t, b))); err != nil {
					t.Fatal(err)
				}
				b = nb
			}
			rb = append(rb, b.Apply(&dec[i]))
		}
		checkACLTable(t, a)
		checkACLTable(t, b)
		sa, sb := saved(t, a), saved(t, b)
		if !bytes.Equal(sa, sb) {
			t.Fatalf("seed %d: snapshots differ", seed)
		}
		if fmt.Sprint(ra) != fmt.Sprint(rb) {
			t.Fatalf("seed %d: results differ", seed)
		}
		c := NewTree()
		if err := c.Load(bytes.NewReader(sa)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(saved(t, c), sa) {
			t.Fatalf("seed %d: save/load/save differs", seed)
		}
		if c.ApproximateDataSize() != a.ApproximateDataSize() || c.EphemeralCount() != a.EphemeralCount() || c.NodeCount() != a.NodeCount() ||
			fmt.Sprint(c.ContainerCandidates(1<<50, true)) != fmt.Sprint(a.ContainerCandidates(1<<50, true)) || len(c.quotas) != len(a.quotas) {
			t.Fatalf("seed %d: derived state differs after load", seed)
		}
	}
}

func TestLoadRejectsGarbage(t *testing.T) {
	tr := NewTree()
	good := saved(t, tr)
	for _, b := range [][]byte{nil, []byte("junk"), good[:len(good)/2]} {
		if err := tr.Load(bytes.NewReader(b)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Load(%q) = %v", b, err)
		}
	}
	if !bytes.Equal(saved(t, tr), good) {
		t.Error("failed Load changed the tree")
	}
}

func TestReplica(t *testing.T) {
	var gotIndex uint64
	var gotResults []Result
	r := NewReplica(1, 1, func(a *Applied) {
		gotIndex, gotResults = a.Index, a.Results
	})
	batch := []Txn{
		{Type: wire.OpCreateSession, SessionID: 9, Timeout: 5000, Passwd: []byte("p"), Time: 10},
		{Type: wire.OpCreate, SessionID: 9, Path: "/x", Data: []byte("d"), ACL: wire.WorldACL, Mode: wire.ModeEphemeral, Time: 10},
		{Type: wire.OpCreate, SessionID: 9, Path: "/x", ACL: wire.WorldACL, Time: 10},
	}
	cmd, err := EncodeBatch(batch)
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Update([]sm.Entry{{Index: 7, Cmd: cmd}})
	if err != nil {
		t.Fatal(err)
	}
	res := out[0].Result
	if gotIndex != 7 || len(gotResults) != 3 || gotResults[1].Err != wire.Ok || gotResults[2].Err != wire.ErrNodeExists || res.Value != uint64(gotResults[2].Zxid) {
		t.Fatalf("onApply %d %+v %v", gotIndex, gotResults, res)
	}
	if v, _ := r.Lookup(nil); v.(int64) != gotResults[2].Zxid {
		t.Errorf("Lookup %v", v)
	}
	var snap bytes.Buffer
	frozen, err := r.PrepareSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SaveSnapshot(frozen, &snap, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.SaveSnapshot("not frozen", &bytes.Buffer{}, nil, nil); err == nil {
		t.Error("SaveSnapshot accepted a state identifier PrepareSnapshot did not return")
	}
	stopped := make(chan struct{})
	close(stopped)
	frozen, err = r.PrepareSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SaveSnapshot(frozen, &bytes.Buffer{}, nil, stopped); !errors.Is(err, sm.ErrSnapshotStopped) {
		t.Errorf("SaveSnapshot after its replica stopped = %v, want ErrSnapshotStopped", err)
	}
	r.Read(func(tr *Tree) {
		if tr.saving.Load() {
			t.Error("a stopped snapshot left copy-on-write on")
		}
	})
	r2 := NewReplica(1, 2, nil)
	if err := r2.RecoverFromSnapshot(bytes.NewReader(snap.Bytes()), nil, nil); err != nil {
		t.Fatal(err)
	}
	r2.Read(func(tr *Tree) {
		d, st, _, code := tr.Get("/x")
		if code != wire.Ok || string(d) != "d" || st.EphemeralOwner != 9 {
			t.Errorf("recovered /x: %q %+v %v", d, st, code)
		}
		if s, ok := tr.Session(9); !ok || s.Timeout != 5000 {
			t.Errorf("recovered session %+v", s)
		}
	})
	for _, bad := range [][]byte{[]byte{0xc1}, mustEncode(t, []Txn{{Type: wire.OpGetData}}), mustEncode(t, []Txn{{Type: wire.OpMulti, Ops: []Txn{{Type: wire.OpCreateSession}}}})} {
		before := r.tree.LastZxid()
		if _, err := r.Update([]sm.Entry{{Index: 8, Cmd: bad}}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Update(%x) = %v, want ErrCorrupt", bad, err)
		}
		if r.tree.LastZxid() != before {
			t.Error("corrupt entry was partly applied")
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

func mustEncode(t *testing.T, txns []Txn) []byte {
	b, err := EncodeBatch(txns)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The package's non-test code stays deterministic (STYLE.md, dependency
// direction): no clock, no randomness, no actors, no goroutines.
func TestDeterministicImports(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	forbidden := map[string]bool{"time": true, "math/rand": true, "math/rand/v2": true, "crypto/rand": true, "hash/maphash": true, "os": true, "net": true}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range file.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if forbidden[p] || strings.Contains(p, "/actors") {
				t.Errorf("%s imports %s", f, p)
			}
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if g, ok := n.(*ast.GoStmt); ok {
				t.Errorf("%s: go statement", fset.Position(g.Pos()))
			}
			return true
		})
	}
}
