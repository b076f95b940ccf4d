package actors

import (
	"bytes"
	"crypto/rand"
	"strconv"
	"sync"
	"time"

	"github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/raftio"

	"github.com/paddockdb/paddock/actors/raftnet"
	"github.com/paddockdb/paddock/statemachine"
	"github.com/paddockdb/paddock/wire"
)

// Ensembles: how a zoo.cfg ensemble maps onto Dragonboat, and who leads.
//
// Every participant (server.N) runs one NodeHost with a replica of the
// meta shard. The replica id carries the ZooKeeper server id (it is the
// server id itself until a member rejoins on an empty data directory,
// join.go), and the initial members of the shard are the zoo.cfg
// participants (observers are not supported yet: zoo.cfg with one is
// refused). Ports:
//
//   - the quorum port (server.N's first port, 2888 by convention) carries
//     the Raft traffic on Paddock's own transport (package raftnet, under
//     Dragonboat's generic layer): RaftAddress is host:quorumPort, dialled
//     by name on every connect, so a member whose IP address changes
//     under the same hostname is reached at the new one. Its connections
//     notice at once when a peer closes them (a member restarted), and a
//     send on one that did dials again instead of failing: Dragonboat's
//     own TCP transport lost that send and then held the link for its
//     circuit breaker's back-off (500 ms), which showed as a second-long
//     failover. It also refuses, with an error naming both spellings, the
//     messages of a member whose zoo.cfg spells its own address otherwise
//     than this member's does (Dragonboat panics on that);
//   - the election port (the second, 3888) carries Paddock's member
//     channel (members.go): session liveness from followers to the leader.
//     There is no separate leader election: Raft elects.
//
// Quorum SASL (Config.QuorumAuth: zoo.cfg's quorum.auth.*) opens every
// connection on both ports: the dialling member authenticates with its
// QuorumLearner credentials when learnerRequireSasl, the accepting one
// verifies them against its QuorumServer users and, when
// serverRequireSasl, closes a connection that does not authenticate
// (package quorumauth). A member whose credentials are refused sends
// nothing: its votes and acknowledgements never arrive, so it does not
// count in any quorum, and both sides log why.
//
// Timing, from tickTime: a Raft tick (RTTMillisecond) is tickTime/40, the
// leader's heartbeat 2 ticks (tickTime/20), the election timeout 10 ticks
// (Dragonboat picks it at random in [10, 20) ticks: tickTime/4 to
// tickTime/2), with CheckQuorum (a leader that hears from no quorum for an
// election timeout steps down) and PreVote (a member cut off cannot force
// an election when it comes back). With tickTime=2000 a dead leader is
// replaced within about a second, with 500 within a quarter of one.
// syncLimit bounds how long a member keeps its clients without a leader
// (syncLimit x tickTime; then it closes their connections so they move to
// a member that has one) and how long a new connection waits for one.
// initLimit bounds how long a handshake waits for the member to catch up
// with a client that has seen a newer zxid (a ReadIndex).

// Member is one participant of an ensemble: a zoo.cfg server.N line.
type Member struct {
	ID           uint64
	QuorumAddr   string // host:quorumPort, Dragonboat's Raft transport
	ElectionAddr string // host:electionPort, the member channel
}

func (c *Config) ensemble() bool { return len(c.Members) > 0 }

func (c *Config) member(id uint64) (Member, bool) {
	for _, m := range c.Members {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}

// raftTick is the Raft tick for a tickTime: tickTime/40, at least 1 ms.
func raftTick(tick time.Duration) uint64 {
	return uint64(max(tick.Milliseconds()/40, 1))
}

// ensembleConfig sets the NodeHost and replica configuration of a member.
func (s *Server) ensembleConfig(nhc *config.NodeHostConfig, rc *config.Config) error {
	self, _ := s.cfg.member(s.cfg.ServerID)
	nhc.RaftAddress = self.QuorumAddr
	nhc.RTTMillisecond = raftTick(s.cfg.TickTime)
	nhc.Expert.TransportFactory = &raftnet.Factory{Logger: s.cfg.Logger, QuorumAuth: s.cfg.QuorumAuth, Peer: func(shardID, replicaID uint64) (string, bool) {
		m, ok := s.cfg.member(serverOf(replicaID))
		return m.QuorumAddr, ok && shardID == MetaShard
	}}
	id, err := readReplicaID(s.cfg.DataDir, s.cfg.ServerID)
	if err != nil {
		return err
	}
	rc.ReplicaID = id
	rc.HeartbeatRTT = 2
	rc.ElectionRTT = 10
	rc.PreVote = true
	return nil
}

// leadership is the meta shard's leader as Dragonboat last reported it.
// LeaderUpdated (Dragonboat's goroutines) writes it; anyone reads it.
type leadership struct {
	mu      sync.Mutex
	leader  uint64        // 0: none known
	term    uint64        // of the last report
	lostAt  time.Time     // when the leader was last lost (zero while one is known)
	changed chan struct{} // closed and replaced on every change of leader
}

// LeaderUpdated implements raftio.IRaftEventListener. It runs on
// Dragonboat's goroutines and must not block: it records and sends.
func (s *Server) LeaderUpdated(info raftio.LeaderInfo) {
	if info.ShardID != MetaShard {
		return
	}
	// The leader's server id: its replica id carries it (join.go).
	leader := serverOf(info.LeaderID)
	l := &s.meta.lead
	l.mu.Lock()
	if leader == l.leader {
		l.term = info.Term
		l.mu.Unlock()
		return
	}
	was := l.leader
	l.leader, l.term = leader, info.Term
	if leader == 0 {
		l.lostAt = time.Now()
	} else {
		l.lostAt = time.Time{}
	}
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	s.log.Info("leader changed", "leader", leader, "replica", info.LeaderID, "previous", was, "term", info.Term, "self", s.cfg.ServerID)
	s.root.Send(s.meta.proposer, &leaderChanged{leader: leader})
	if leader == s.cfg.ServerID || was == s.cfg.ServerID {
		s.root.Send(s.tracker, &trackerLead{leading: leader == s.cfg.ServerID})
	}
}

// leaderID returns the known leader (0: none) and a channel closed when it
// changes.
func (s *Server) leaderID() (uint64, <-chan struct{}) {
	s.meta.lead.mu.Lock()
	defer s.meta.lead.mu.Unlock()
	return s.meta.lead.leader, s.meta.lead.changed
}

// isLeader reports whether this member leads the meta shard: only the
// leader expires sessions and reaps containers and TTL nodes.
func (s *Server) isLeader() bool {
	id, _ := s.leaderID()
	return id == s.cfg.ServerID
}

// waitLeader waits up to d for a known leader; it reports whether there is
// one.
func (s *Server) waitLeader(d time.Duration, done <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		id, changed := s.leaderID()
		if id != 0 {
			return true
		}
		select {
		case <-changed:
		case <-t.C:
			return false
		case <-done:
			return false
		case <-s.stop:
			return false
		}
	}
}

// leaderlessFor returns how long the member has had no leader (0 while it
// has one).
func (s *Server) leaderlessFor(now time.Time) time.Duration {
	s.meta.lead.mu.Lock()
	defer s.meta.lead.mu.Unlock()
	if s.meta.lead.leader != 0 || s.meta.lead.lostAt.IsZero() {
		return 0
	}
	return now.Sub(s.meta.lead.lostAt)
}

// syncBound is syncLimit x tickTime: how long a member keeps its clients,
// and a new connection waits, without a leader.
func (s *Server) syncBound() time.Duration { return time.Duration(s.cfg.SyncLimit) * s.cfg.TickTime }

// initBound is initLimit x tickTime: how long a handshake waits for the
// member to catch up.
func (s *Server) initBound() time.Duration { return time.Duration(s.cfg.InitLimit) * s.cfg.TickTime }

// dropLeaderless closes every client connection once the member has had no
// leader for syncBound: it cannot take writes or syncs, and its clients
// are better served by a member that has one (ZooKeeper's follower closes
// them as soon as it loses its leader). The ticker calls it.
func (s *Server) dropLeaderless(now time.Time) {
	if !s.cfg.ensemble() || s.leaderlessFor(now) < s.syncBound() {
		s.leaderlessDropped = false
		return
	}
	if s.leaderlessDropped {
		return
	}
	s.leaderlessDropped = true
	conns := s.connList()
	s.log.Warn("no leader for syncLimit ticks; closing client connections", "connections", len(conns), "bound", s.syncBound())
	for _, c := range conns {
		if !c.readOnly.Load() {
			c.close("no leader")
		}
	}
}

// Read-only mode (readonlymode.enabled, as ZooKeeper's): a member that has
// had no leader for readOnlyDelay serves the clients that ask for it
// (canBeReadOnly in their ConnectRequest) from its replica, as ZooKeeper's
// ReadOnlyZooKeeperServer does. Their writes, sync and check answer
// NotReadOnly. A new session is local to the member (never replicated;
// a client drops it when it reaches a read-write server, as ZooKeeper's
// clients do); a known session resumes read-only without the reattach
// transaction. When the member has a leader again it closes its read-only
// connections, and the clients reconnect read-write.

// readOnlyDelay is how long a member is without a leader before it serves
// read-only sessions at once: max(2 s, tickTime), ZooKeeper's.
func (s *Server) readOnlyDelay() time.Duration { return max(2*time.Second, s.cfg.TickTime) }

// servingReadOnly reports whether the member is in read-only mode at now:
// readonlymode.enabled and no leader for readOnlyDelay (ZooKeeper runs its
// ReadOnlyZooKeeperServer then, and isro answers "ro").
func (s *Server) servingReadOnly(now time.Time) bool {
	return s.cfg.ReadOnlyMode && s.leaderlessFor(now) >= s.readOnlyDelay()
}

// readOnlyHandshake answers a ConnectRequest with a read-only session.
func (c *conn) readOnlyHandshake(req *wire.ConnectRequest) bool {
	s := c.s
	resp := wire.ConnectResponse{HasReadOnly: true, ReadOnly: true}
	if req.SessionID != 0 {
		var info statemachine.SessionInfo
		var ok bool
		s.meta.replica.Read(func(t *statemachine.Tree) { info, ok = t.Session(req.SessionID) })
		if !ok || !bytes.Equal(info.Passwd, req.Passwd) {
			s.log.Info("invalid or expired session on a read-only reconnect", "session", sid(req.SessionID), "known", ok)
			return c.answerExpired(req)
		}
		resp.SessionID, resp.TimeOut, resp.Passwd = info.ID, info.Timeout, info.Passwd
	} else {
		resp.SessionID, resp.TimeOut = s.newSessionID(), s.negotiate(req.TimeOut)
		resp.Passwd = make([]byte, wire.PasswordLen)
		_, _ = rand.Read(resp.Passwd)
	}
	c.readOnly.Store(true)
	s.readOnlyConns.Add(1)
	c.lastZxid.Store(max(req.LastZxidSeen, s.lastZxid()))
	c.sessionID.Store(resp.SessionID)
	c.timeout.Store(resp.TimeOut)
	// Its own record, outside the tracker's table: a read-only session
	// is not the ensemble's to expire.
	c.live = &liveness{id: resp.SessionID, timeoutMs: int64(resp.TimeOut)}
	c.live.touch(time.Now())
	c.startSession()
	c.enqueue(wire.AppendFrame(nil, &resp), 1)
	s.log.Info("read-only session", "session", sid(resp.SessionID), "remote", c.nc.RemoteAddr().String())
	return true
}

// closeReadOnly closes the read-only connections once the member has a
// leader again (the ticker calls it).
func (s *Server) closeReadOnly() {
	if s.readOnlyConns.Load() == 0 {
		return
	}
	if id, _ := s.leaderID(); id == 0 {
		return
	}
	for _, c := range s.connList() {
		if c.readOnly.Load() {
			c.close("a leader is back: read-only session ends")
		}
	}
}

// refusedReadOnly reports whether op is refused with NotReadOnly on a
// read-only session (ZooKeeper's ReadOnlyRequestProcessor).
func refusedReadOnly(op wire.OpCode) bool {
	switch op {
	case wire.OpSync, wire.OpCreate, wire.OpCreate2, wire.OpCreateTTL, wire.OpCreateContainer,
		wire.OpDelete, wire.OpDeleteContainer, wire.OpSetData, wire.OpReconfig, wire.OpSetACL,
		wire.OpMulti, wire.OpCheck:
		return true
	}
	return false
}

// onRecover runs when the replica loads a snapshot instead of applying
// entries: at start, or when a member that fell behind is sent one. What
// the member derived from applied entries is stale then, as a ZooKeeper
// learner's state is after a SNAP sync: the tracker reloads its records,
// the watermark moves to the snapshot, and the clients are disconnected so
// that they resume with setWatches2 (events for what they missed). It runs
// under the replica's write lock, so it only sends.
func (s *Server) onRecover(lastZxid int64) {
	s.meta.recovered.Add(1)
	s.log.Info("loaded a snapshot", "zxid", strconv.FormatInt(lastZxid, 16))
	s.root.Send(s.tracker, &snapshotInstalled{})
	s.root.Send(s.meta.router, &appliedTriggers{results: []statemachine.Result{{Zxid: lastZxid}}})
}

// catchUp makes the local replica apply everything committed before the
// call (a ReadIndex: on a follower it asks the leader for its commit index
// and waits until the replica has applied up to it). Without a leader it
// waits for one; it gives up after bound, when done closes or the server
// stops, and reports whether it caught up. A read served after it sees
// every write committed before the call.
func (s *Server) catchUp(bound time.Duration, done <-chan struct{}) bool {
	deadline := time.Now().Add(bound)
	for {
		left := time.Until(deadline)
		if left <= 0 || !s.waitLeader(left, done) {
			return false
		}
		_, changed := s.leaderID()
		// One attempt lasts at most a tick: a ReadIndex sent to a leader
		// that is just losing its place is dropped without an answer.
		rs, err := s.nh.ReadIndex(MetaShard, min(max(time.Until(deadline), time.Millisecond), max(s.cfg.TickTime, 100*time.Millisecond)))
		if err == nil {
			select {
			case r := <-rs.ResultC():
				rs.Release()
				if r.Completed() {
					return true
				}
			case <-changed:
				// A new leader: ask it instead (the old request ends
				// with its timeout; its state is left to the GC).
				continue
			case <-done:
				return false
			case <-s.stop:
				return false
			}
		}
		// No leader after all, or it changed: wait for the next one.
		select {
		case <-time.After(s.retryInterval()):
		case <-done:
			return false
		case <-s.stop:
			return false
		}
	}
}
