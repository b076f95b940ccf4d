package statemachine

import (
	"bytes"
	"testing"

	"github.com/paddockdb/paddock/wire"
)

func TestAdmit(t *testing.T) {
	tr := NewTree()
	steps := []struct {
		o    Origin
		want Admission
	}{
		{Origin{}, Admitted},                            // no origin: always
		{Origin{Member: 1, Epoch: 10, Seq: 2}, Refused}, // a new epoch starts at 1
		{Origin{Member: 1, Epoch: 10, Seq: 1}, Admitted},
		{Origin{Member: 1, Epoch: 10, Seq: 2}, Admitted},
		{Origin{Member: 1, Epoch: 10, Seq: 2}, Duplicate}, // proposed again after a leader change
		{Origin{Member: 1, Epoch: 10, Seq: 1}, Duplicate},
		{Origin{Member: 2, Epoch: 10, Seq: 1}, Admitted}, // members are apart
		{Origin{Member: 1, Epoch: 10, Seq: 4}, Refused},  // gap: 3 was lost
		{Origin{Member: 1, Epoch: 10, Seq: 5}, Refused},  // and stays refused
		{Origin{Member: 1, Epoch: 9, Seq: 1}, Refused},   // older epoch
		{Origin{Member: 1, Epoch: 11, Seq: 1}, Admitted}, // the proposer started anew
		{Origin{Member: 1, Epoch: 10, Seq: 3}, Refused},  // the old epoch is over
	}
	for i, s := range steps {
		if got := tr.Admit(s.o); got != s.want {
			t.Fatalf("step %d %+v: %v, want %v", i, s.o, got, s.want)
		}
	}
	if got := tr.LastOrigin(1); got != (Origin{Member: 1, Epoch: 11, Seq: 1}) {
		t.Fatalf("LastOrigin %+v", got)
	}
	if got := tr.LastOrigin(3); got != (Origin{Member: 3}) {
		t.Fatalf("LastOrigin of a member without entries %+v", got)
	}
	// Origins are part of the state: they survive a snapshot.
	var buf bytes.Buffer
	if err := tr.Save(&buf); err != nil {
		t.Fatal(err)
	}
	back := NewTree()
	if err := back.Load(&buf); err != nil {
		t.Fatal(err)
	}
	if back.LastOrigin(1) != tr.LastOrigin(1) || back.LastOrigin(2) != tr.LastOrigin(2) {
		t.Fatalf("after load %+v %+v", back.LastOrigin(1), back.LastOrigin(2))
	}
	if back.Admit(Origin{Member: 2, Epoch: 10, Seq: 1}) != Duplicate {
		t.Fatal("loaded tree admits a duplicate")
	}
}

// A session's writes proposed by a member it has left fail with
// SessionMoved; reattaching checks the password and moves the owner.
func TestSessionOwner(t *testing.T) {
	tr := NewTree()
	mustOK(t, tr, &Txn{Type: wire.OpCreateSession, SessionID: sess, Timeout: 30000, Passwd: []byte("pw"), Origin: 1})
	if s, _ := tr.Session(sess); s.Owner != 1 {
		t.Fatalf("owner %d", s.Owner)
	}
	w := func(origin uint64, path string) wire.Code {
		c := create(path, "", wire.ModePersistent)
		c.Origin = origin
		return tr.Apply(c).Err
	}
	if got := w(1, "/a"); got != wire.Ok {
		t.Fatalf("owner's write: %v", got)
	}
	if got := w(2, "/b"); got != wire.ErrSessionMoved {
		t.Fatalf("other member's write: %v", got)
	}
	if got := w(0, "/c"); got != wire.Ok {
		t.Fatalf("write without origin: %v", got)
	}
	if r := tr.Apply(&Txn{Type: OpReattachSession, SessionID: sess, Passwd: []byte("no"), Origin: 2}); r.Err != wire.ErrAuthFailed {
		t.Fatalf("reattach with a wrong password: %v", r.Err)
	}
	if r := tr.Apply(&Txn{Type: OpReattachSession, SessionID: sess + 9, Passwd: []byte("pw"), Origin: 2}); r.Err != wire.ErrSessionExpired {
		t.Fatalf("reattach of a closed session: %v", r.Err)
	}
	mustOK(t, tr, &Txn{Type: OpReattachSession, SessionID: sess, Passwd: []byte("pw"), Origin: 2})
	if got := w(1, "/d"); got != wire.ErrSessionMoved {
		t.Fatalf("old member's write after the move: %v", got)
	}
	if got := w(2, "/d"); got != wire.Ok {
		t.Fatalf("new owner's write: %v", got)
	}
	// A multi of the moved session fails as a whole.
	m := &Txn{Type: wire.OpMulti, SessionID: sess, Origin: 1, Ops: []Txn{*create("/e", "", wire.ModePersistent)}}
	if r := tr.Apply(m); r.Err == wire.Ok {
		t.Fatal("moved multi applied")
	}
	if _, ok := tr.Exists("/e"); ok {
		t.Fatal("/e created by a moved session")
	}
	// The owner is part of the state.
	var buf bytes.Buffer
	if err := tr.Save(&buf); err != nil {
		t.Fatal(err)
	}
	back := NewTree()
	if err := back.Load(&buf); err != nil {
		t.Fatal(err)
	}
	if s, _ := back.Session(sess); s.Owner != 2 {
		t.Fatalf("owner after load %d", s.Owner)
	}
}

// Members' clocks differ: a transaction stamped earlier than the last one
// gets the last one's time, so mtimes never go back along the log.
func TestTimeNeverGoesBack(t *testing.T) {
	tr := newTestTree(t)
	a := create("/a", "", wire.ModePersistent)
	a.Time = 5000
	mustOK(t, tr, a)
	b := create("/b", "", wire.ModePersistent)
	b.Time = 4000 // another member, clock behind
	mustOK(t, tr, b)
	sa, _ := tr.Exists("/a")
	sb, _ := tr.Exists("/b")
	if sb.Mtime < sa.Mtime || sb.Mzxid <= sa.Mzxid {
		t.Fatalf("/a mtime %d zxid %x, /b mtime %d zxid %x", sa.Mtime, sa.Mzxid, sb.Mtime, sb.Mzxid)
	}
}
