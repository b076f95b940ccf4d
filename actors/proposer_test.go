package actors

import (
	"log/slog"

	"slices"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/lni/dragonboat/v4"

	"github.com/paddockdb/paddock/statemachine"
	"github.com/paddockdb/paddock/wire"
)

// testProposer is a proposer whose proposals are recorded instead of
// replicated; the test plays apply.
type testProposer struct {
	*proposer
	sent []statemachine.Origin
}

func newTestProposer(t *testing.T) *testProposer {
	s := &Server{meta: shard{replica: statemachine.NewReplica(MetaShard, 1, nil)}, log: slog.New(slog.DiscardHandler)}
	s.cfg.ServerID = 1
	tp := &testProposer{proposer: newProposer(s)}
	tp.leader = 1
	tp.flushing = true // no flush message: the test flushes
	tp.submit = func(data []byte) (*dragonboat.RequestState, error) {
		o, _, err := statemachine.DecodeEntry(data)
		if err != nil {
			t.Fatal(err)
		}
		tp.sent = append(tp.sent, o)
		return nil, nil
	}
	return tp
}

// entry proposes one entry holding a setData of path and returns the
// channel its result comes on.
func (tp *testProposer) entry(path string) chan statemachine.Result {
	ch := make(chan statemachine.Result, 1)
	tp.internalTxn(nil, &proposeInternal{txn: statemachine.Txn{Type: wire.OpSetData, Path: path}, reply: ch})
	tp.flush(nil)
	return ch
}

// apply plays the apply of the entry of origin o.
func (tp *testProposer) apply(t *testing.T, o statemachine.Origin, a statemachine.Admission) {
	t.Helper()
	var txns []statemachine.Txn
	for _, e := range tp.inflight {
		if e.origin == o {
			txns = e.txns
		}
	}
	m := &appliedBatch{origin: o, admission: a, txns: txns}
	if a == statemachine.Admitted {
		if txns == nil {
			t.Fatalf("admitted %+v is not in flight", o)
		}
		m.results = make([]statemachine.Result, len(txns))
	}
	tp.applied(nil, m)
}

func (tp *testProposer) takeSent() []uint64 {
	var seqs []uint64
	for _, o := range tp.sent {
		seqs = append(seqs, o.Seq)
	}
	tp.sent = nil
	return seqs
}

// A proposal lost on its way to the leader shows as a gap: the next entry
// is refused. The proposer proposes the lost entry and the later ones
// again, once per gap, with the same origins; copies of entries already
// applied are duplicates; every write gets exactly one result.
func TestProposerRecoversLostEntries(t *testing.T) {
	tp := newTestProposer(t)
	r1, r2, r3 := tp.entry("/1"), tp.entry("/2"), tp.entry("/3")
	if got := tp.takeSent(); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("sent %v", got)
	}
	o := func(seq uint64) statemachine.Origin {
		return statemachine.Origin{Member: 1, Epoch: tp.epoch, Seq: seq}
	}
	tp.apply(t, o(1), statemachine.Admitted)
	if len(r1) != 1 {
		t.Fatal("entry 1 applied without a result")
	}
	// Entry 2 was lost; 3 arrives and is refused.
	tp.apply(t, o(3), statemachine.Refused)
	if got := tp.takeSent(); !slices.Equal(got, []uint64{2, 3}) {
		t.Fatalf("after the gap, sent %v, want 2 3", got)
	}
	tp.apply(t, o(3), statemachine.Refused) // another refusal of the same gap
	if got := tp.takeSent(); len(got) != 0 {
		t.Fatalf("the same gap sent again: %v", got)
	}
	if len(r2)+len(r3) != 0 {
		t.Fatal("a refused entry got a result")
	}
	tp.apply(t, o(2), statemachine.Admitted)
	tp.apply(t, o(3), statemachine.Admitted)
	tp.apply(t, o(3), statemachine.Duplicate) // a copy applied after all
	if len(r2) != 1 || len(r3) != 1 || len(tp.inflight) != 0 || len(tp.pending) != 0 {
		t.Fatalf("results %d %d, in flight %d, pending %d", len(r2), len(r3), len(tp.inflight), len(tp.pending))
	}
	// Without a leader entries are held; a leader change sends what is
	// in flight again, in order.
	r4 := tp.entry("/4")
	tp.takeSent()
	tp.leader = 0
	tp.entry("/5")
	if got := tp.takeSent(); len(got) != 0 {
		t.Fatalf("sent without a leader: %v", got)
	}
	tp.leader = 2
	tp.resend(nil, "leader changed", true)
	if got := tp.takeSent(); !slices.Equal(got, []uint64{4, 5}) {
		t.Fatalf("after the leader change, sent %v", got)
	}
	tp.apply(t, o(4), statemachine.Admitted)
	if len(r4) != 1 {
		t.Fatal("no result for entry 4")
	}
}

// An epoch that is not above one the replica already admitted (the clock
// went back across a restart) is refused from its first entry; the
// proposer starts a new epoch above it and numbers the entries anew.
// Entries of another member never complete this member's writes.
func TestProposerNewEpochWhenRefused(t *testing.T) {
	tp := newTestProposer(t)
	r := tp.entry("/a")
	first := tp.sent[0]
	tp.takeSent()
	tp.s.meta.replica.Configure(func(tr *statemachine.Tree) {
		tr.Admit(statemachine.Origin{Member: 1, Epoch: first.Epoch + 5, Seq: 1})
	})
	tp.apply(t, first, statemachine.Refused)
	if len(tp.sent) != 1 || tp.sent[0].Epoch <= first.Epoch+5 || tp.sent[0].Seq != 1 {
		t.Fatalf("sent %+v after an old epoch was refused", tp.sent)
	}
	tp.apply(t, tp.sent[0], statemachine.Admitted)
	if len(r) != 1 {
		t.Fatal("no result in the new epoch")
	}
	r2 := tp.entry("/b")
	own := tp.sent[len(tp.sent)-1]
	tp.applied(nil, &appliedBatch{origin: statemachine.Origin{Member: 2, Epoch: own.Epoch, Seq: own.Seq}, admission: statemachine.Admitted,
		txns: tp.inflight[0].txns, results: make([]statemachine.Result, 1)})
	if len(r2) != 0 {
		t.Fatal("another member's entry completed this member's write")
	}
}

// An entry dragonboat does not take (a full queue) holds the later ones
// back; the retry sends from it, in order, and not the ones taken before.
func TestProposerRetriesFromTheFirstNotTaken(t *testing.T) {
	tp := newTestProposer(t)
	record := tp.submit
	busy := false
	tp.submit = func(data []byte) (*dragonboat.RequestState, error) {
		if busy {
			return nil, dragonboat.ErrSystemBusy
		}
		return record(data)
	}
	var armed []bool
	tp.arm = func(_ actor.Context, all bool) { armed = append(armed, all) }
	tp.entry("/1")
	busy = true
	tp.entry("/2") // not taken: a retry is armed
	busy = false
	tp.entry("/3") // held behind entry 2
	if got := tp.takeSent(); !slices.Equal(got, []uint64{1}) || len(armed) != 1 || armed[0] {
		t.Fatalf("sent %v, armed %v", got, armed)
	}
	tp.receiveRetry(armed[0])
	if got := tp.takeSent(); !slices.Equal(got, []uint64{2, 3}) {
		t.Fatalf("the retry sent %v, want 2 3", got)
	}
}

// receiveRetry plays the retryEntries message.
func (tp *testProposer) receiveRetry(all bool) {
	tp.retrying = false
	tp.resend(nil, "retry", all)
}

// A proposal reported lost waits until its entry is the oldest in flight,
// then everything in flight is proposed again: an entry behind a slow one
// does not make the whole pipeline go twice.
func TestProposerRetriesALostEntryWhenItIsTheOldest(t *testing.T) {
	tp := newTestProposer(t)
	tp.s.cfg.Members = []Member{{ID: 1}, {ID: 2}, {ID: 3}} // proposals can be lost on the way
	var armed []bool
	tp.arm = func(_ actor.Context, all bool) { armed = append(armed, all) }
	tp.entry("/1")
	tp.entry("/2")
	e2 := tp.inflight[1]
	tp.outcome(nil, &entryOutcome{origin: e2.origin, sent: e2.sent, why: "timeout"})
	if len(armed) != 0 {
		t.Fatalf("entry 2 lost behind entry 1 armed a retry: %v", armed)
	}
	tp.apply(t, tp.inflight[0].origin, statemachine.Admitted)
	if len(armed) != 1 || !armed[0] {
		t.Fatalf("entry 2 is the oldest now: armed %v, want one retry of everything", armed)
	}
	// A stale report (an earlier proposal of the entry) changes nothing.
	tp.receiveRetry(true)
	armed = nil
	tp.outcome(nil, &entryOutcome{origin: e2.origin, sent: e2.sent - 1, why: "dropped"})
	if len(armed) != 0 {
		t.Fatalf("a stale report armed a retry")
	}
}

// An expiry proposed by a member that stops leading is taken out of its
// entries before they go again: the new leader hears the touches now and
// decides. Left in, the entry sent again through the new leader would
// expire a session its client keeps alive on another member.
func TestProposerDropsExpiriesWhenLeadershipMoves(t *testing.T) {
	tp := newTestProposer(t)
	tp.s.cfg.Members = []Member{{ID: 1}, {ID: 2}, {ID: 3}}
	live := &liveness{id: 7, timeoutMs: 1000}
	live.expiring.Store(true)
	ch := make(chan statemachine.Result, 1)
	tp.internalTxn(nil, &proposeInternal{txn: statemachine.Txn{Type: wire.OpSetData, Path: "/kept"}, reply: ch})
	tp.internalTxn(nil, &proposeInternal{txn: statemachine.Txn{Type: wire.OpCloseSession, SessionID: 7}, expiry: live})
	tp.flush(nil)
	if got := tp.takeSent(); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("sent %v, want one entry", got)
	}

	tp.leaderIs(nil, 2)
	if got := tp.takeSent(); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("after the leader change sent %v, want entry 1 again", got)
	}
	_, txns, err := statemachine.DecodeEntry(tp.inflight[0].data)
	if err != nil {
		t.Fatal(err)
	}
	if len(txns) != 1 || txns[0].Path != "/kept" {
		t.Fatalf("entry sent again holds %+v, want the setData alone", txns)
	}
	if live.expiring.Load() {
		t.Fatal("the dropped expiry still marks its session as expiring: the new leader's tracker could never expire it")
	}
	for k, w := range tp.pending {
		if w.expiry != nil {
			t.Fatalf("expiry %+v still pending", k)
		}
	}
	tp.apply(t, tp.inflight[0].origin, statemachine.Admitted)
	if _, ok := <-ch; !ok {
		t.Fatal("the setData sharing the entry failed")
	}

	// An expiry still in an open batch when the leadership moved is not
	// proposed at all.
	live.expiring.Store(true)
	tp.internalTxn(nil, &proposeInternal{txn: statemachine.Txn{Type: wire.OpCloseSession, SessionID: 7}, expiry: live})
	tp.flush(nil)
	if got := tp.takeSent(); len(got) != 0 || len(tp.inflight) != 0 || live.expiring.Load() {
		t.Fatalf("a follower proposed an expiry: sent %v, in flight %d, expiring %v", got, len(tp.inflight), live.expiring.Load())
	}
}
