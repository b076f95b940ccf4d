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

// liveness returns the session's liveness record, creating it.
func (s *Server) liveness(id int64, timeoutMs int32) *liveness {
	l := &liveness{id: id, timeoutMs: int64(timeoutMs)}
	l.touch(time.Now())
	v, _ := s.live.LoadOrStore(id, l)
	return v.(*liveness)
}

// Tracker messages.
type (
	trackerTick   struct{ now time.Time }
	trackerRearm  struct{ sessions []statemachine.SessionInfo }
	sessionOpened struct {
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
type tracker struct {
	s *Server
}

func newTracker(s *Server) *tracker { return &tracker{s: s} }

func (t *tracker) receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *trackerRearm:
		for _, si := range m.sessions {
			t.s.liveness(si.ID, si.Timeout)
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
		now := m.now.UnixMilli()
		t.s.live.Range(func(k, v any) bool {
			l := v.(*liveness)
			if now-l.lastSeen.Load() > l.timeoutMs && l.expiring.CompareAndSwap(false, true) {
				t.s.log.Info("expiring session", "session", sid(l.id), "timeout", l.timeoutMs)
				ctx.Send(t.s.proposer, &proposeInternal{txn: statemachine.Txn{Type: wire.OpCloseSession, SessionID: l.id}, expiry: l})
			}
			return true
		})
	}
}
