package actors

import (
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/paddockdb/paddock/statemachine"
	"github.com/paddockdb/paddock/wire"
)

// liveness is what the tracker knows of one session: when its client was
// last heard from. The connection's reader touches it on every packet
// with one atomic store, so liveness costs no actor hop per request.
type liveness struct {
	id        int64
	timeoutMs int64
	lastSeen  atomic.Int64 // unix ms
	expiring  atomic.Bool
}

func (l *liveness) touch(now time.Time) { l.lastSeen.Store(now.UnixMilli()) }

// touchAt moves the last-seen time forward to ms (a follower's touch); it
// never moves it back.
func (l *liveness) touchAt(ms int64) {
	for {
		cur := l.lastSeen.Load()
		if ms <= cur || l.lastSeen.CompareAndSwap(cur, ms) {
			return
		}
	}
}

// liveness returns the session's liveness record, creating it.
func (s *Server) liveness(id int64, timeoutMs int32) *liveness {
	l := &liveness{id: id, timeoutMs: int64(timeoutMs)}
	l.touch(time.Now())
	v, _ := s.live.LoadOrStore(id, l)
	return v.(*liveness)
}

// Tracker messages.
type (
	trackerTick struct{ now time.Time }
	// trackerLead: this member became the leader (leading) or stopped
	// being it.
	trackerLead struct{ leading bool }
	// snapshotInstalled: the replica loaded a snapshot (ensemble.go).
	snapshotInstalled struct{}
	sessionOpened     struct {
		id      int64
		timeout int32
	}
	sessionClosed struct{ id int64 }
)

// tracker is the session tracker: it expires sessions whose client has
// been silent for longer than their timeout by proposing OpCloseSession,
// as ZooKeeper's SessionTrackerImpl does with its ExpiryQueue. Deadlines
// are checked on every tick (half the tickTime), so a session expires
// between timeout and timeout + tick/2 after its last packet.
//
// Every member keeps a record per session of the ensemble (from the
// applied createSession and closeSession transactions), touched by the
// member's own connections and, on the leader, by the touches followers
// send for theirs (members.go). Only the leader expires sessions, as only
// ZooKeeper's leader does; a member that becomes the leader gives every
// session a fresh full timeout first, since it cannot know when the
// previous leader last heard from them. It expires nothing while it has
// not heard from a quorum of followers (actors/design.md, guarantee 5,
// has the whole argument).
type tracker struct {
	s *Server
	// leading: the last trackerLead said this member leads, and the
	// records were made fresh then. Ticks expire nothing before that,
	// even once isLeader reports true: LeaderUpdated changes the
	// leadership before its trackerLead reaches this mailbox, and the
	// records of a member that was following are stale (followers'
	// touches went to the previous leader).
	leading bool
	// withheld: the last tick expired nothing because the leader had not
	// heard from a quorum of followers (memberChannel.quorumHeard).
	withheld bool
}

func newTracker(s *Server) *tracker { return &tracker{s: s} }

func (t *tracker) receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *trackerLead:
		t.leading = m.leading
		if m.leading {
			t.s.log.Info("leading: every session gets a fresh timeout", "sessions", t.reload(true))
		}
	case *snapshotInstalled:
		n := t.reload(false)
		// The clients' watches and read gates missed what the snapshot
		// skipped: they resume on a fresh connection (setWatches2).
		conns := t.s.connList()
		if len(conns) > 0 {
			t.s.log.Warn("snapshot installed; closing client connections to resync them", "connections", len(conns), "sessions", n)
		}
		for _, c := range conns {
			c.close("snapshot installed")
		}
	case *sessionOpened:
		t.s.liveness(m.id, m.timeout)
	case *sessionClosed:
		t.s.live.Delete(m.id)
		if c, ok := t.s.sessionConns.LoadAndDelete(m.id); ok {
			// The session is gone: its connection, if any, goes too.
			cn := c.(*conn)
			if pid := cn.sess.Load(); pid != nil {
				ctx.Send(pid, &sessionGone{})
			} else {
				cn.close("session closed")
			}
		}
	case *trackerTick:
		if !t.leading || !t.s.isLeader() {
			return
		}
		now := m.now.UnixMilli()
		quorum := 0 // 1: heard from a quorum, -1: not (asked once a tick, when a session is due)
		t.s.live.Range(func(k, v any) bool {
			l := v.(*liveness)
			if _, ok := t.s.resuming.Load(l.id); ok {
				l.touch(m.now) // its client is resuming it here
				return true
			}
			if now-l.lastSeen.Load() <= l.timeoutMs || l.expiring.Load() {
				return true
			}
			if quorum == 0 {
				quorum = t.quorum(m.now)
			}
			if quorum < 0 || now-l.lastSeen.Load() <= l.timeoutMs { // (quorum may have just made it fresh)
				return true
			}
			if l.expiring.CompareAndSwap(false, true) {
				t.s.log.Info("expiring session", "session", sid(l.id), "timeout", l.timeoutMs)
				ctx.Send(t.s.meta.proposer, &proposeInternal{txn: statemachine.Txn{Type: wire.OpCloseSession, SessionID: l.id}, expiry: l})
			}
			return true
		})
	}
}

// quorum reports (1 or -1) whether the leader may expire sessions now: in
// an ensemble only when it has heard from a quorum of followers
// (memberChannel.quorumHeard). It logs when that changes, and gives every
// session a fresh timeout when the quorum is back.
func (t *tracker) quorum(now time.Time) int {
	heard := t.s.members == nil || t.s.members.quorumHeard(now)
	if heard == t.withheld {
		if heard {
			// Its view was stale while it heard no quorum, and the
			// followers come back one by one: a session of one not back
			// yet must not expire for it. As a new leader does, it starts
			// every session's clock again.
			t.s.log.Info("heard from a quorum of followers again: every session gets a fresh timeout", "sessions", t.reload(true))
		} else {
			t.s.log.Warn("sessions due to expire, but no touches from a quorum of followers within syncLimit: expiring none until there are")
		}
	}
	t.withheld = !heard
	if heard {
		return 1
	}
	return -1
}

// reload makes the records match the replica's sessions table: records of
// sessions no longer in it go, missing ones are made (touched now); with
// fresh, every record is touched now. It returns the number of sessions.
func (t *tracker) reload(fresh bool) int {
	var infos []statemachine.SessionInfo
	t.s.meta.replica.Read(func(tr *statemachine.Tree) { infos = tr.Sessions() })
	known := make(map[int64]bool, len(infos))
	now := time.Now()
	for _, si := range infos {
		known[si.ID] = true
		l := t.s.liveness(si.ID, si.Timeout)
		if fresh {
			l.touch(now)
			l.expiring.Store(false)
		}
	}
	t.s.live.Range(func(k, _ any) bool {
		if !known[k.(int64)] {
			t.s.live.Delete(k)
		}
		return true
	})
	return len(infos)
}
