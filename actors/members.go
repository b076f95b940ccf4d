package actors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paddockdb/paddock/actors/quorumauth"
)

// The member channel: Paddock's own traffic between the members of an
// ensemble, on zoo.cfg's election port. It owns the session touches
// (ZooKeeper's followers send the leader a PING with the sessions they
// heard from; Paddock's do the same) and the leader's view of its
// followers (mntr's zk_followers and zk_synced_followers).
//
// Every tickTime/2 a follower sends the current leader one touch frame
// over a TCP connection it keeps to the leader's election address (dialled
// by name, so a leader whose IP address changed is found at the new one):
// for each session connected to the follower, its id and how long ago its
// client was last heard from. The leader moves each session's last-seen
// time forward to that, so a session stays alive whichever member its
// client is connected to. The frame also carries the follower's last
// applied zxid. The leader answers every touch frame with an ack; a
// follower that has had no ack for a tickTime drops the connection and
// dials again, so that touches never vanish into a connection that only
// looks open (a peer restarted behind a stale socket, a network that
// holds packets): its sessions would expire on the leader although their
// clients are alive.
//
// Frames: a 4-byte big-endian length, then the body. The first frame on a
// connection is the hello: "PDKM", version 2, the sender's server id
// (uint64); or, from a member whose quorum SASL authenticates it
// (quorum.auth.learnerRequireSasl), version 3: the same and a mechanism
// byte (1: DIGEST-MD5, 2: GSSAPI), and quorum SASL's authentication phase follows
// (package quorumauth documents its frames, which are length-prefixed as
// these are). The acceptor verifies the dialler with its QuorumServer
// section (DIGEST-MD5 users, or a Kerberos keytab) and closes, with a
// warning naming the peer and the reason, a connection that fails, or
// that sends version 2 while
// quorum.auth.serverRequireSasl is true; the dialler sends nothing more
// on a connection whose exchange failed. Join asks (below) go through
// the same phase. Then touch frames: type 1, the applied zxid (int64), a count
// (uint32), and per session its id (int64) and age in ms (uint32). The
// leader's acks are frames of one byte, type 2. A member on an empty data
// directory asks instead, with a frame of one byte, type 3, whether the
// ensemble has run (join.go); the answer is type 4: a state byte, the
// leader's server id (uint64), a replica id (uint64) and a reason (the
// rest of the frame), and the asker closes the connection. A frame from a
// server id that is not a member, a bad hello or an oversize frame closes
// the connection with a warning.

const (
	memberMagic        = "PDKM"
	memberVersion      = 2 // no authentication follows
	memberVersionAuth  = 3 // a mechanism byte, and quorum SASL, follow
	memberTouch        = 1
	memberAck          = 2
	memberJoinAsk      = 3
	memberJoinAnswer   = 4
	maxMemberFrame     = 16 << 20
	memberTouchEntryB  = 12
	memberHelloLen     = 4 + 1 + 8
	memberTouchHeaderB = 1 + 8 + 4
)

// follower is what the leader knows of one follower from its touches.
type follower struct {
	heard time.Time
	zxid  int64
}

// memberChannel is the listener and the follower's sender; the Server's
// wait group owns their goroutines, which end when the server stops.
type memberChannel struct {
	s  *Server
	ln net.Listener

	mu        sync.Mutex
	followers map[uint64]follower // leader's view; keyed by server id
	conns     map[net.Conn]struct{}

	// replacing serialises the leader's replacements of members that
	// rejoin on an empty data directory (join.go).
	replacing sync.Mutex

	// The outcomes of quorum SASL exchanges, per peer: as a dialler (by
	// election address) and as an acceptor (by the peer's host).
	learnReports, acceptReports quorumauth.Reporter
}

// lastHeard returns when the leader last had touches from server.
func (mc *memberChannel) lastHeard(server uint64) (time.Time, bool) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	f, ok := mc.followers[server]
	return f.heard, ok
}

// startMembers listens on this member's election address and starts the
// sender.
func (s *Server) startMembers() error {
	self, _ := s.cfg.member(s.cfg.ServerID)
	ln, err := net.Listen("tcp", self.ElectionAddr)
	if err != nil {
		return fmt.Errorf("paddock/actors: member channel: listen %s: %w", self.ElectionAddr, err)
	}
	mc := &memberChannel{s: s, ln: ln, followers: map[uint64]follower{}, conns: map[net.Conn]struct{}{}}
	mc.learnReports.Log, mc.acceptReports.Log = s.log, s.log
	if qa := s.cfg.QuorumAuth; qa != nil {
		s.log.Info("quorum SASL between the members", "mechanism", qa.Mechanism.Name(),
			"learnerRequireSasl", qa.LearnerRequire, "serverRequireSasl", qa.ServerRequire)
	} else {
		s.log.Info("members do not authenticate one another (quorum.auth.enableSasl is off)")
	}
	s.members = mc
	s.wg.Add(2)
	go mc.accept()
	go mc.sendLoop()
	return nil
}

// close stops the listener and every connection (Server.Close).
func (mc *memberChannel) close() {
	mc.ln.Close()
	mc.mu.Lock()
	for c := range mc.conns {
		c.Close()
	}
	mc.mu.Unlock()
}

func (mc *memberChannel) track(c net.Conn) bool {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	select {
	case <-mc.s.stop:
		return false
	default:
	}
	mc.conns[c] = struct{}{}
	return true
}

func (mc *memberChannel) untrack(c net.Conn) {
	mc.mu.Lock()
	delete(mc.conns, c)
	mc.mu.Unlock()
	c.Close()
}

func (mc *memberChannel) accept() {
	defer mc.s.wg.Done()
	for {
		c, err := mc.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-mc.s.stop:
				return
			default:
			}
			mc.s.log.Warn("member channel accept", "err", err)
			continue
		}
		if !mc.track(c) {
			c.Close()
			return
		}
		mc.s.wg.Add(1)
		go mc.serve(c)
	}
}

// serve reads one follower's frames until the connection ends.
func (mc *memberChannel) serve(c net.Conn) {
	defer mc.s.wg.Done()
	defer mc.untrack(c)
	r := bufio.NewReader(c)
	var buf []byte
	read := func() ([]byte, error) {
		_ = c.SetReadDeadline(time.Now().Add(mc.s.syncBound() + mc.s.cfg.TickTime))
		var h [4]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return nil, err
		}
		n := binary.BigEndian.Uint32(h[:])
		if n > maxMemberFrame {
			return nil, fmt.Errorf("frame of %d bytes", n)
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	hello, err := read()
	if err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			mc.s.log.Warn("member channel: refusing peer", "remote", c.RemoteAddr().String(), "err", err)
		}
		return
	}
	id, mech, err := parseHello(hello)
	if err == nil {
		if _, ok := mc.s.cfg.member(id); !ok || id == mc.s.cfg.ServerID {
			err = fmt.Errorf("server id %d is not another member of this ensemble", id)
		}
	}
	if err != nil {
		mc.s.log.Warn("member channel: refusing peer", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	if qa := mc.s.cfg.QuorumAuth; qa != nil || mech != quorumauth.MechNone {
		_ = c.SetDeadline(time.Now().Add(mc.s.syncBound() + mc.s.cfg.TickTime))
		p, err := quorumauth.Accept(qa, r, c, mech)
		peer := quorumauth.PeerHost(c.RemoteAddr())
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				mc.acceptReports.Failed(peer, "member channel: quorum SASL: closing the connection of a peer that did not authenticate", err,
					"server", id, "remote", c.RemoteAddr().String())
			}
			return
		}
		if p != "" {
			mc.acceptReports.Succeeded(peer, "member channel: quorum SASL: a peer authenticated", "server", id, "principal", p)
		}
	}
	for {
		f, err := read()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				mc.s.log.Debug("member channel: peer gone", "server", id, "err", err)
			}
			return
		}
		if len(f) == 1 && f[0] == memberJoinAsk {
			ctx, cancel := mc.s.stopContext(mc.s.initBound())
			a := mc.s.answerJoin(ctx, id)
			cancel()
			_ = c.SetWriteDeadline(time.Now().Add(mc.s.cfg.TickTime))
			if _, err := c.Write(appendJoinAnswer(nil, a)); err != nil {
				mc.s.log.Debug("member channel: join answer", "server", id, "err", err)
			}
			return
		}
		zxid, touches, err := parseTouch(f)
		if err != nil {
			mc.s.log.Warn("member channel: bad frame, closing", "server", id, "err", err)
			return
		}
		_ = c.SetWriteDeadline(time.Now().Add(mc.s.cfg.TickTime))
		if _, err := c.Write(ackFrame); err != nil {
			mc.s.log.Debug("member channel: ack", "server", id, "err", err)
			return
		}
		now := time.Now()
		for _, t := range touches {
			if v, ok := mc.s.live.Load(t.id); ok {
				v.(*liveness).touchAt(now.UnixMilli() - int64(t.ageMs))
			}
		}
		mc.mu.Lock()
		mc.followers[id] = follower{heard: now, zxid: zxid}
		mc.mu.Unlock()
	}
}

// followerCounts returns, on the leader, the followers heard from within
// syncLimit ticks and those of them whose applied zxid was the leader's
// (mntr's zk_followers and zk_synced_followers).
func (mc *memberChannel) followerCounts(now time.Time, leaderZxid int64) (followers, synced int) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	for _, f := range mc.followers {
		if now.Sub(f.heard) > mc.s.syncBound() {
			continue
		}
		followers++
		if f.zxid >= leaderZxid || now.Sub(f.heard) <= mc.s.cfg.TickTime {
			synced++
		}
	}
	return followers, synced
}

var ackFrame = []byte{0, 0, 0, 1, memberAck}

// quorumHeard reports, on the leader, whether it has heard touches from
// enough followers within syncLimit ticks to make a quorum with itself.
// Without that its view of the sessions connected to other members may
// be stale (it is cut off, or stalled and about to learn of a newer
// leader), and an expiry it proposed would still be forwarded to the new
// leader and committed: the tracker expires nothing meanwhile.
func (mc *memberChannel) quorumHeard(now time.Time) bool {
	heard := 1 // itself
	mc.mu.Lock()
	for _, f := range mc.followers {
		if now.Sub(f.heard) <= mc.s.syncBound() {
			heard++
		}
	}
	mc.mu.Unlock()
	return heard > len(mc.s.cfg.Members)/2
}

// sendLoop sends touches to the leader every tickTime/2 while this member
// follows.
func (mc *memberChannel) sendLoop() {
	defer mc.s.wg.Done()
	t := time.NewTicker(max(mc.s.cfg.TickTime/2, 10*time.Millisecond))
	defer t.Stop()
	var c net.Conn
	var to uint64
	var acked *atomic.Int64 // unix ms of the leader's last ack on c (or of the dial)
	var dialled int64       // unix ms of c's dial
	quiet := false          // a silence was warned of and no ack came since
	drop := func() {
		if c != nil {
			mc.untrack(c) // ends c's readAcks
			c, to, acked = nil, 0, nil
		}
	}
	defer drop()
	var frame []byte
	for {
		select {
		case <-mc.s.stop:
			return
		case <-t.C:
		}
		leader, _ := mc.s.leaderID()
		if leader == 0 || leader == mc.s.cfg.ServerID {
			drop()
			continue
		}
		if c != nil {
			last := acked.Load()
			if last > dialled {
				quiet = false // answered: the next silence is news
			}
			if silent := time.Now().UnixMilli() - last; silent > mc.s.cfg.TickTime.Milliseconds() {
				log := mc.s.log.Warn
				if quiet {
					log = mc.s.log.Debug // still silent: warned already
				}
				log("member channel: no answer from the leader; dialling again", "leader", to, "silent", time.Duration(silent)*time.Millisecond)
				quiet = true
				drop()
			}
		}
		if to != leader {
			drop()
			m, ok := mc.s.cfg.member(leader)
			if !ok {
				continue
			}
			d := net.Dialer{Timeout: mc.s.cfg.TickTime}
			nc, err := d.Dial("tcp", m.ElectionAddr)
			if err != nil {
				mc.s.log.Debug("member channel: dial leader", "leader", leader, "addr", m.ElectionAddr, "err", err)
				continue
			}
			if !mc.track(nc) {
				nc.Close()
				return
			}
			if err := mc.open(nc, m, mc.s.cfg.TickTime); err != nil {
				mc.s.log.Debug("member channel: open", "leader", leader, "addr", m.ElectionAddr, "err", err)
				mc.untrack(nc)
				continue
			}
			c, to, acked, dialled = nc, leader, new(atomic.Int64), time.Now().UnixMilli()
			acked.Store(dialled)
			mc.s.wg.Add(1)
			go mc.readAcks(nc, acked)
		}
		frame = mc.s.appendTouches(frame[:0], time.Now())
		_ = c.SetWriteDeadline(time.Now().Add(mc.s.cfg.TickTime))
		if _, err := c.Write(frame); err != nil {
			mc.s.log.Debug("member channel: send touches", "leader", leader, "err", err)
			drop()
		}
	}
}

// open sends the hello on c, dialled to member m, and runs quorum SASL
// when this member authenticates (quorum.auth.learnerRequireSasl), all
// within timeout; nothing else may be sent on c unless it succeeds. It
// leaves c without deadlines.
func (mc *memberChannel) open(c net.Conn, m Member, timeout time.Duration) error {
	qa := mc.s.cfg.QuorumAuth
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(appendHello(nil, mc.s.cfg.ServerID, qa.HelloMech())); err != nil {
		return err
	}
	if qa.HelloMech() != quorumauth.MechNone {
		host, _, _ := net.SplitHostPort(m.ElectionAddr)
		if err := quorumauth.Learn(qa, c, c, host); err != nil {
			mc.learnReports.Failed(m.ElectionAddr, "member channel: quorum SASL: cannot authenticate to a member; not sending to it", err, "server", m.ID)
			return err
		}
		mc.learnReports.Succeeded(m.ElectionAddr, "member channel: quorum SASL: authenticated to a member", "server", m.ID)
	}
	return c.SetDeadline(time.Time{})
}

// readAcks records the time of every ack the leader sends on c until c
// ends (sendLoop closes it) or carries anything but acks.
func (mc *memberChannel) readAcks(c net.Conn, acked *atomic.Int64) {
	defer mc.s.wg.Done()
	defer c.Close()
	r := bufio.NewReader(c)
	f := make([]byte, len(ackFrame))
	for {
		if _, err := io.ReadFull(r, f); err != nil {
			return
		}
		if !bytes.Equal(f, ackFrame) {
			mc.s.log.Warn("member channel: not an ack from the leader, closing", "remote", c.RemoteAddr().String())
			return
		}
		acked.Store(time.Now().UnixMilli())
	}
}

type touch struct {
	id    int64
	ageMs uint32
}

// appendHello appends the hello of server id; mech is the quorum SASL
// mechanism of the authentication phase that follows (version 3), or
// quorumauth.MechNone for none (version 2).
func appendHello(b []byte, id uint64, mech byte) []byte {
	if mech == quorumauth.MechNone {
		b = binary.BigEndian.AppendUint32(b, memberHelloLen)
		b = append(b, memberMagic...)
		b = append(b, memberVersion)
		return binary.BigEndian.AppendUint64(b, id)
	}
	b = binary.BigEndian.AppendUint32(b, memberHelloLen+1)
	b = append(b, memberMagic...)
	b = append(b, memberVersionAuth)
	b = binary.BigEndian.AppendUint64(b, id)
	return append(b, mech)
}

// parseHello returns a hello's server id and its mechanism
// (quorumauth.MechNone: no authentication follows).
func parseHello(b []byte) (uint64, byte, error) {
	if len(b) < memberHelloLen || string(b[:4]) != memberMagic {
		return 0, 0, errors.New("not a Paddock member hello")
	}
	switch {
	case b[4] == memberVersion && len(b) == memberHelloLen:
		return binary.BigEndian.Uint64(b[5:]), quorumauth.MechNone, nil
	case b[4] == memberVersionAuth && len(b) == memberHelloLen+1 && b[memberHelloLen] != quorumauth.MechNone:
		return binary.BigEndian.Uint64(b[5:]), b[memberHelloLen], nil
	case b[4] == memberVersion || b[4] == memberVersionAuth:
		return 0, 0, fmt.Errorf("member hello of version %d and %d bytes", b[4], len(b))
	}
	return 0, 0, fmt.Errorf("member channel version %d, want %d or %d", b[4], memberVersion, memberVersionAuth)
}

// appendTouches appends a touch frame for the sessions connected here.
func (s *Server) appendTouches(b []byte, now time.Time) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, memberTouch)
	b = binary.BigEndian.AppendUint64(b, uint64(s.lastZxid()))
	countAt := len(b)
	b = append(b, 0, 0, 0, 0)
	n := uint32(0)
	ms := now.UnixMilli()
	s.sessionConns.Range(func(k, v any) bool {
		c := v.(*conn)
		if c.live == nil {
			return true
		}
		age := max(ms-c.live.lastSeen.Load(), 0)
		b = binary.BigEndian.AppendUint64(b, uint64(k.(int64)))
		b = binary.BigEndian.AppendUint32(b, uint32(min(age, 1<<31)))
		n++
		return true
	})
	s.resuming.Range(func(k, _ any) bool {
		b = binary.BigEndian.AppendUint64(b, uint64(k.(int64)))
		b = binary.BigEndian.AppendUint32(b, 0) // its client is in a handshake now
		n++
		return true
	})
	binary.BigEndian.PutUint32(b[countAt:], n)
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}

func parseTouch(b []byte) (int64, []touch, error) {
	if len(b) < memberTouchHeaderB || b[0] != memberTouch {
		return 0, nil, errors.New("not a touch frame")
	}
	zxid := int64(binary.BigEndian.Uint64(b[1:]))
	n := binary.BigEndian.Uint32(b[9:])
	rest := b[memberTouchHeaderB:]
	if uint64(len(rest)) != uint64(n)*memberTouchEntryB {
		return 0, nil, fmt.Errorf("touch frame of %d bytes for %d sessions", len(rest), n)
	}
	out := make([]touch, n)
	for i := range out {
		e := rest[i*memberTouchEntryB:]
		out[i] = touch{id: int64(binary.BigEndian.Uint64(e)), ageMs: binary.BigEndian.Uint32(e[8:])}
	}
	return zxid, out, nil
}
