package statemachine

import "github.com/paddockdb/paddock/wire"

// Origin names the proposer that made a Raft entry: the member (its
// ZooKeeper server id), the proposer's epoch and the entry's sequence
// number within that epoch. Every member of an ensemble proposes entries
// (Dragonboat forwards a follower's proposals to the leader), and a
// forwarded proposal may be lost in a leader change while a later one of
// the same member is committed. Apply uses the origin to keep each
// member's entries in the order they were proposed, exactly once:
//
//   - an entry whose sequence number follows the member's last admitted
//     one (same epoch), or that opens a newer epoch with sequence 1, is
//     Admitted;
//   - an entry of the same epoch at or below the last admitted sequence is
//     a Duplicate (a proposal made again after a leader change, whose
//     first copy was committed): it is skipped;
//   - anything else is Refused and changes nothing: a gap (an earlier
//     entry of that epoch was lost, so applying this one would break the
//     FIFO order of the sessions whose writes it carries) or an older
//     epoch. Once a gap refused an entry, every later entry of that epoch
//     is refused too, until the member's proposer starts a new epoch.
//
// The zero Origin (Member 0) is admitted without checks: entries of
// BatchFormatVersion 2, written before origins existed, and tests.
type Origin struct {
	Member uint64
	Epoch  uint64
	Seq    uint64
}

// Admission is Apply's verdict on an entry's Origin.
type Admission uint8

const (
	Admitted Admission = iota
	Duplicate
	Refused
)

func (a Admission) String() string {
	switch a {
	case Admitted:
		return "admitted"
	case Duplicate:
		return "duplicate"
	case Refused:
		return "refused"
	}
	return "unknown"
}

// originState is the last admitted entry of one member.
type originState struct {
	epoch, seq uint64
}

// Admit decides whether the entry of origin o is applied, and records it
// when it is. Replica calls it once per entry, before applying the
// entry's transactions.
func (t *Tree) Admit(o Origin) Admission {
	if o.Member == 0 {
		return Admitted
	}
	cur, ok := t.origins[o.Member]
	switch {
	case ok && o.Epoch == cur.epoch && o.Seq <= cur.seq:
		return Duplicate
	case ok && o.Epoch == cur.epoch && o.Seq == cur.seq+1, (!ok || o.Epoch > cur.epoch) && o.Seq == 1:
		t.origins[o.Member] = originState{epoch: o.Epoch, seq: o.Seq}
		return Admitted
	}
	return Refused
}

// LastOrigin returns the last admitted entry of member (zero without one):
// a proposer that starts picks an epoch above it.
func (t *Tree) LastOrigin(member uint64) Origin {
	cur := t.origins[member]
	return Origin{Member: member, Epoch: cur.epoch, Seq: cur.seq}
}

// OpReattachSession is a Paddock transaction, not a ZooKeeper opcode: a
// client resumed an existing session on the member that proposes it. It
// checks the password, fails with SessionExpired when the session is gone,
// and makes the proposing member the session's owner, so that writes of
// the session still in flight from its previous member are refused with
// SessionMoved (ZooKeeper's leader does the same with its session owner
// check). Its Timeout and Passwd are the session's.
const OpReattachSession wire.OpCode = -100
