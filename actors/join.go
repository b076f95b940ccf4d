package actors

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Members on an empty data directory: bootstrap or rejoin.
//
// A zoo.cfg server id is not a Raft replica id one to one (DESIGN.md):
// Dragonboat never re-admits a removed replica id, and a replica that
// starts again with an empty log under its old id has forgotten its votes
// and what it acknowledged, which Raft's safety rests on. So a member's
// replica id is its server id in the low 8 bits (server ids are at most
// maxServerID) and an incarnation above them: replicaOf(N, 0) = N, the
// id every member of a new ensemble starts with. The meta shard's
// membership, replicated in its log and snapshots, holds which replica
// currently stands for each server id; serverOf maps a replica id back.
// A member records its replica id in its data directory (replicaFile)
// when it is not the first incarnation.
//
// A member that finds no replica in its data directory (a first start, or
// a data directory lost and replaced by an empty one) asks the other
// members over the member channel before it starts its replica. Each
// answers:
//
//   - new: it has no replica either, or one whose log holds only the
//     initial members that bootstrap writes at term 1 (it has never had a
//     leader: a leader's first act is an entry of its own term, 2 or
//     more);
//   - run: its log has entries, so the ensemble has run, and it names the
//     leader it knows;
//   - replaced: it is the leader, and it has just removed the asking
//     server's current replica from the membership and added a new one,
//     whose id it returns;
//   - refused: it is the leader and will not replace it (why: the server's
//     replica is alive and sending touches, or the membership change
//     failed).
//
// The member bootstraps with the zoo.cfg members (replica ids of
// incarnation 0) once it has heard "new" from enough members that, with
// itself, they meet every quorum (n - quorum of them: 1 of 3, 2 of 5) and
// no "run": then no quorum can have voted or logged anything. On
// "replaced" it records the new replica id and joins the shard with it,
// empty, and the leader sends it the log or a snapshot. Otherwise it asks
// again every tick, as long as it takes: it does not serve clients
// meanwhile (they try the next member). A replacement removes the old
// replica before it adds the new one (Dragonboat refuses two replicas at
// one address): while it runs, the other members are the whole
// membership, so it needs all of them up in a 3-member ensemble.

// replicaBits is how many low bits of a replica id hold the server id.
const replicaBits = 8

// replicaOf is the replica id of server id's incarnation.
func replicaOf(server, incarnation uint64) uint64 { return incarnation<<replicaBits | server }

// serverOf is the server id a replica id stands for.
func serverOf(replica uint64) uint64 { return replica & (1<<replicaBits - 1) }

// incarnationOf is a replica id's incarnation.
func incarnationOf(replica uint64) uint64 { return replica >> replicaBits }

// replicaFile, in the data directory, holds the member's replica id when
// it is not its server id. On-disk format: the id in decimal on the first
// line, then a comment.
const replicaFile = "paddock-replica"

// readReplicaID returns the replica id recorded in dir, or server when
// there is none.
func readReplicaID(dir string, server uint64) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, replicaFile))
	if errors.Is(err, os.ErrNotExist) {
		return server, nil
	}
	if err != nil {
		return 0, fmt.Errorf("paddock/actors: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	id, err := strconv.ParseUint(strings.TrimSpace(line), 10, 64)
	if err != nil || id == 0 || serverOf(id) != server {
		return 0, fmt.Errorf("paddock/actors: %s: %q is not a replica id of server %d (the file records which replica of the ensemble this data directory holds: restore it, or empty the data directory so that the member rejoins)",
			filepath.Join(dir, replicaFile), strings.TrimSpace(line), server)
	}
	return id, nil
}

// writeReplicaID records id in dir, durably (the file, then its
// directory).
func writeReplicaID(dir string, id uint64) error {
	path := filepath.Join(dir, replicaFile)
	body := fmt.Sprintf("%d\n# paddock replica id: server %d, incarnation %d (given by the ensemble's leader when this member rejoined on an empty data directory)\n",
		id, serverOf(id), incarnationOf(id))
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("paddock/actors: %w", err)
	}
	if _, err = f.WriteString(body); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("paddock/actors: recording the replica id: %w", err)
	}
	return nil
}

// Answers to a join question (the member channel's frame types 3 and 4).
const (
	joinNew      = 1
	joinRun      = 2
	joinReplaced = 3
	joinRefused  = 4
)

// joinAnswer is one member's answer.
type joinAnswer struct {
	state   byte
	leader  uint64 // the server id of the leader it knows (run)
	replica uint64 // the new replica id (replaced)
	why     string // refused
}

var joinAsk = []byte{0, 0, 0, 1, memberJoinAsk}

func appendJoinAnswer(b []byte, a joinAnswer) []byte {
	why := a.why[:min(len(a.why), 1024)]
	b = binary.BigEndian.AppendUint32(b, uint32(1+1+8+8+len(why)))
	b = append(b, memberJoinAnswer, a.state)
	b = binary.BigEndian.AppendUint64(b, a.leader)
	b = binary.BigEndian.AppendUint64(b, a.replica)
	return append(b, why...)
}

func parseJoinAnswer(b []byte) (joinAnswer, error) {
	if len(b) < 18 || b[0] != memberJoinAnswer {
		return joinAnswer{}, errors.New("not a join answer")
	}
	a := joinAnswer{state: b[1], leader: binary.BigEndian.Uint64(b[2:]), replica: binary.BigEndian.Uint64(b[10:]), why: string(b[18:])}
	if a.state < joinNew || a.state > joinRefused {
		return joinAnswer{}, fmt.Errorf("join answer of state %d", a.state)
	}
	if a.state == joinReplaced && a.replica == 0 {
		return joinAnswer{}, errors.New("join answer without a replica id")
	}
	return a, nil
}

// stopContext is a context that ends after d or when the server stops.
func (s *Server) stopContext(d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	go func() { // ends with ctx, which cancel or the timeout ends
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// answerJoin answers server's question on this member.
func (s *Server) answerJoin(ctx context.Context, server uint64) joinAnswer {
	nh := s.running.Load()
	if nh == nil {
		return joinAnswer{state: joinNew}
	}
	lr, err := nh.GetLogReader(MetaShard)
	if err != nil {
		return joinAnswer{state: joinNew}
	}
	// Bootstrap writes the initial members into the log at term 1; the
	// first leader's term is 2 at least, and it appends an entry.
	if _, last := lr.GetRange(); last == 0 {
		return joinAnswer{state: joinNew}
	} else if term, err := lr.Term(last); err == nil && term <= 1 {
		return joinAnswer{state: joinNew}
	}
	leader, _ := s.leaderID()
	if leader != s.cfg.ServerID {
		return joinAnswer{state: joinRun, leader: leader}
	}
	replica, err := s.replaceReplica(ctx, server)
	if err != nil {
		return joinAnswer{state: joinRefused, leader: leader, why: err.Error()}
	}
	return joinAnswer{state: joinReplaced, leader: leader, replica: replica}
}

// replaceReplica, on the leader, removes server's current replica from
// the meta shard and adds a new incarnation at the same address. It
// refuses while that replica is alive: it sent touches within syncLimit
// ticks, so another machine may be starting with the same server id.
func (s *Server) replaceReplica(ctx context.Context, server uint64) (uint64, error) {
	m, ok := s.cfg.member(server)
	if !ok {
		return 0, fmt.Errorf("server %d is not a member", server)
	}
	if heard, ok := s.members.lastHeard(server); ok {
		if ago := time.Since(heard); ago <= s.syncBound() {
			return 0, fmt.Errorf("server %d's member sent touches %v ago: it is alive (is another machine using server id %d?); a replacement waits until it has been silent for syncLimit ticks (%v)",
				server, ago.Round(time.Millisecond), server, s.syncBound())
		}
	}
	s.members.replacing.Lock()
	defer s.members.replacing.Unlock()
	nh := s.running.Load()
	ms, err := nh.SyncGetShardMembership(ctx, MetaShard)
	if err != nil {
		return 0, fmt.Errorf("reading the membership: %w", err)
	}
	next := uint64(0)
	var current []uint64
	for _, set := range []map[uint64]string{ms.Nodes, ms.NonVotings, ms.Witnesses} {
		for id := range set {
			if serverOf(id) == server {
				current = append(current, id)
				next = max(next, incarnationOf(id)+1)
			}
		}
	}
	for id := range ms.Removed {
		if serverOf(id) == server {
			next = max(next, incarnationOf(id)+1)
		}
	}
	if incarnationOf(replicaOf(server, next)) != next {
		return 0, fmt.Errorf("server %d has no replica id left", server)
	}
	ccid := ms.ConfigChangeID
	for _, id := range current {
		if err := nh.SyncRequestDeleteReplica(ctx, MetaShard, id, ccid); err != nil {
			return 0, fmt.Errorf("removing replica %d: %w", id, err)
		}
		s.log.Warn("removed the replica of a member that is rejoining on an empty data directory", "server", server, "replica", id)
		if ms, err = nh.SyncGetShardMembership(ctx, MetaShard); err != nil {
			return 0, fmt.Errorf("reading the membership: %w", err)
		}
		ccid = ms.ConfigChangeID
	}
	id := replicaOf(server, next)
	if err := nh.SyncRequestAddReplica(ctx, MetaShard, id, m.QuorumAddr, ccid); err != nil {
		return 0, fmt.Errorf("adding replica %d: %w", id, err)
	}
	s.log.Warn("added a new replica for a member that rejoins on an empty data directory", "server", server, "replica", id, "incarnation", next)
	return id, nil
}

// askPeers asks every other member the join question at once and returns
// the answers that came within a tick.
func (s *Server) askPeers(ctx context.Context) map[uint64]joinAnswer {
	var mu sync.Mutex
	out := map[uint64]joinAnswer{}
	var wg sync.WaitGroup
	for _, m := range s.cfg.Members {
		if m.ID == s.cfg.ServerID {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := s.askPeer(ctx, m)
			if err != nil {
				s.log.Debug("join: no answer", "server", m.ID, "err", err)
				return
			}
			mu.Lock()
			out[m.ID] = a
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// askPeer asks one member. A leader's replacement takes a few Raft round
// trips: the answer may take up to initLimit ticks.
func (s *Server) askPeer(ctx context.Context, m Member) (joinAnswer, error) {
	d := net.Dialer{Timeout: s.cfg.TickTime}
	c, err := d.DialContext(ctx, "tcp", m.ElectionAddr)
	if err != nil {
		return joinAnswer{}, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := s.members.open(c, m, s.initBound()); err != nil {
		return joinAnswer{}, err
	}
	_ = c.SetDeadline(time.Now().Add(s.initBound()))
	if _, err := c.Write(joinAsk); err != nil {
		return joinAnswer{}, err
	}
	r := bufio.NewReader(c)
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return joinAnswer{}, err
	}
	n := binary.BigEndian.Uint32(h[:])
	if n > 4096 {
		return joinAnswer{}, fmt.Errorf("join answer of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return joinAnswer{}, err
	}
	return parseJoinAnswer(b)
}

// decideStart is what a member with no replica in its data directory does:
// bootstrap the shard with the zoo.cfg members (join false, its replica id
// is its server id) or join it with the replica id the leader gave it.
// It asks until it knows, ctx ends or the server stops.
func (s *Server) decideStart(ctx context.Context) (replica uint64, join bool, err error) {
	n := len(s.cfg.Members)
	need := n - (n/2 + 1)
	newAt := map[uint64]bool{}
	logged := map[string]bool{}
	waiting := false
	for {
		answers := s.askPeers(ctx)
		run := false
		for id, a := range answers {
			switch a.state {
			case joinNew:
				newAt[id] = true
			case joinReplaced:
				s.log.Warn("this member's data directory is empty but the ensemble has run: it rejoins as a new replica, and the leader sends it the data",
					"leader", id, "replica", a.replica, "incarnation", incarnationOf(a.replica))
				return a.replica, true, nil
			case joinRun, joinRefused:
				run = true
				msg := fmt.Sprintf("server %d: state %d, leader %d: %s", id, a.state, a.leader, a.why)
				if !logged[msg] {
					logged[msg] = true
					s.log.Warn("this member's data directory is empty but the ensemble has run; waiting for its leader to replace this member's replica",
						"server", id, "leader", a.leader, "refused", a.why)
				}
			}
		}
		if !run && len(newAt) >= need {
			s.log.Info("a new ensemble: starting with the zoo.cfg members", "answered_new", len(newAt))
			return s.cfg.ServerID, false, nil
		}
		if !waiting {
			waiting = true
			s.log.Info("this member's data directory is empty: waiting for other members to answer before it starts the ensemble or joins it",
				"answered", len(answers), "needed", need)
		}
		select {
		case <-ctx.Done():
			return 0, false, ctx.Err()
		case <-s.stop:
			return 0, false, errors.New("paddock/actors: server closed while waiting for the other members")
		case <-time.After(max(s.cfg.TickTime/4, 10*time.Millisecond)):
		}
	}
}
