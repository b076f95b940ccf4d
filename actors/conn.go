package actors

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/paddockdb/paddock/statemachine"
	"github.com/paddockdb/paddock/wire"
)

// conn is one client connection: a reader goroutine that decodes frames
// and hands them to the session actor, and a writer goroutine that
// flushes whatever the session actor queued in one write.
type conn struct {
	s       *Server
	nc      net.Conn
	ip      string
	started time.Time

	mu         sync.Mutex
	out        []byte
	closeAfter bool
	notify     chan struct{}
	done       chan struct{}
	closeOnce  sync.Once

	sessionID atomic.Int64
	timeout   atomic.Int32
	sess      atomic.Pointer[actor.PID] // the session actor, set once by the handshake
	live      *liveness
	readOnly  atomic.Bool // set by the handshake: a read-only session (ensemble.go)
	recv      atomic.Int64
	sent      atomic.Int64
	lastZxid  atomic.Int64 // highest zxid replied, or the client's lastZxidSeen (session.replyZxid)
	cstats    connStats    // cons's per-connection fields (connstats.go)

	// Backpressure (DESIGN.md guarantee 8; see flow control below).
	// pending and inBytes count the requests read and not yet answered
	// (and their frame bytes); queued counts the output bytes handed to
	// the writer and not yet written; held counts the reply bytes the
	// session actor keeps until their turn (written by the session actor
	// only). peak is the high-water mark of queued+held.
	pending, inBytes   atomic.Int64
	queued, held, peak atomic.Int64
	readerPaused       atomic.Bool // the reader waits for room (wake)
	sessionPaused      atomic.Bool // the session actor stopped starting requests (outputDrained)
	pauses             atomic.Int64
	wake               chan struct{}
	maxOut, maxIn      int64
	// maxPinned bounds the watch events and replies waiting for this
	// connection together (flow control below).
	maxPinned int64
}

// Flow control, as ZooKeeper's NIOServerCnxn disableRecv/enableRecv:
//
//   - At most Config.MaxOutstanding requests per connection are read and
//     not yet answered (ZooKeeper's globalOutstandingLimit, 1000, is per
//     server; Paddock applies the same number per connection), and at most
//     4 x MaxPacket bytes of them: past either, the reader stops reading
//     that socket until replies leave.
//   - At most 4 x MaxPacket bytes of replies wait for the socket
//     (queued + held): past it the reader stops reading, and the session
//     actor stops starting requests until the writer drains, so the
//     output a connection can pin is that bound plus one reply (and at
//     most maxParkedReads parked reads, readgate.go).
//   - Watch events cannot wait: they are pushed by the path actors,
//     whatever the client reads. The events and replies waiting for one
//     connection together (queued + held + the session's unreleased
//     events) are bounded by maxPinned, 6 x MaxPacket: room for the
//     replies' own bound plus a reply, and one MaxPacket of events beyond
//     it. An event that finds the bound passed closes the connection,
//     with a warning naming the session, and counts in mntr's
//     zk_slow_connections_closed. The session lives on: its client
//     reconnects within the session timeout and resumes, and setWatches2
//     brings its watches up to date (the events it missed fire then).
//     Replies alone never close a connection (they stop the session
//     instead); other connections never wait for this one.
//   - A client that takes no bytes for its session timeout (10 s before
//     the handshake) while replies wait is closed, with a warning: the
//     writer's deadline is per chunk, so a slow reader that keeps
//     reading is not closed.
//   - The writer drops a buffer larger than maxKeptWriteBuffer after the
//     write, so one large reply does not pin its size for the
//     connection's life.
const (
	maxParkedReads     = 64
	writeChunk         = 64 << 10
	maxKeptWriteBuffer = 256 << 10
)

// outputDrained tells a paused session actor the writer made room.
type outputDrained struct{}

func newConn(s *Server, nc net.Conn, ip string) *conn {
	c := &conn{s: s, nc: nc, ip: ip, started: time.Now(), notify: make(chan struct{}, 1), done: make(chan struct{}),
		wake: make(chan struct{}, 1), maxOut: 4 * int64(s.cfg.MaxPacket), maxIn: 4 * int64(s.cfg.MaxPacket),
		maxPinned: 6 * int64(s.cfg.MaxPacket)}
	c.cstats.reset()
	return c
}

// buffered is the reply bytes this connection pins: queued for the
// writer plus held by the session actor.
func (c *conn) buffered() int64 { return c.queued.Load() + c.held.Load() }

// overLimit reports whether the reader must stop reading.
func (c *conn) overLimit() bool {
	return c.pending.Load() >= int64(c.s.cfg.MaxOutstanding) || c.inBytes.Load() >= c.maxIn || c.buffered() >= c.maxOut
}

// waitForRoom blocks the reader until overLimit is false, or reports false
// when the connection closes.
func (c *conn) waitForRoom() bool {
	c.pauses.Add(1)
	c.readerPaused.Store(true)
	defer c.readerPaused.Store(false)
	for c.overLimit() { // re-checked after readerPaused is visible: no lost wake-up
		select {
		case <-c.wake:
		case <-c.done:
			return false
		}
	}
	return true
}

func (c *conn) wakeReader() {
	if c.readerPaused.Load() {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// answered releases n answered requests of size bytes in all.
func (c *conn) answered(n, bytes int64) {
	if n == 0 {
		return
	}
	c.s.stats.outstanding.Add(-n)
	c.pending.Add(-n)
	c.inBytes.Add(-bytes)
	c.wakeReader()
}

// enqueue appends encoded frames for the writer. Safe from any goroutine.
func (c *conn) enqueue(frames []byte, n int64) {
	c.mu.Lock()
	c.out = append(c.out, frames...)
	c.mu.Unlock()
	if b := c.queued.Add(int64(len(frames))) + c.held.Load(); b > c.peak.Load() {
		c.peak.Store(b) // enqueue runs on the session actor (or before it exists)
	}
	c.sent.Add(n)
	c.s.stats.sent.Add(n)
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// closeAfterFlush closes the connection once everything queued so far is
// written.
func (c *conn) closeAfterFlush() {
	c.mu.Lock()
	c.closeAfter = true
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// close closes the connection at once; the reason is logged.
func (c *conn) close(reason string) {
	c.closeOnce.Do(func() {
		c.s.log.Debug("closing connection", "remote", c.nc.RemoteAddr().String(), "session", sid(c.sessionID.Load()), "reason", reason)
		close(c.done)
		// Forget before closing the socket: a client that has seen EOF
		// (e.g. after a four-letter word) must not find this connection in
		// the next cons.
		c.s.forget(c)
		c.nc.Close()
	})
}

func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	var buf []byte
	for {
		select {
		case <-c.done:
			return
		case <-c.notify:
		}
		c.mu.Lock()
		buf, c.out = c.out, buf[:0]
		closeAfter := c.closeAfter
		c.mu.Unlock()
		if len(buf) > 0 {
			if !c.write(buf) {
				return
			}
			if cap(buf) > maxKeptWriteBuffer {
				buf = nil
			}
		}
		if closeAfter {
			c.mu.Lock()
			empty := len(c.out) == 0
			c.mu.Unlock()
			if empty {
				c.close("closed after flush")
				return
			}
		}
	}
}

// stuckTimeout is how long the writer waits for a client to take any
// bytes: its session timeout, 10 s before the handshake.
func (c *conn) stuckTimeout() time.Duration {
	if ms := c.timeout.Load(); ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return c.s.cfg.SessionlessTimeout
}

// write writes buf in chunks, each with its own deadline, releasing the
// queued bytes as they go. It closes the connection and reports false on
// an error.
func (c *conn) write(buf []byte) bool {
	for len(buf) > 0 {
		n := min(len(buf), writeChunk)
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.stuckTimeout()))
		w, err := c.nc.Write(buf[:n])
		c.drained(int64(w))
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.s.log.Warn("client does not read its replies, closing connection",
					"remote", c.nc.RemoteAddr().String(), "session", sid(c.sessionID.Load()),
					"stuck", c.stuckTimeout(), "queuedBytes", c.queued.Load())
			}
			c.close("write: " + err.Error())
			return false
		}
		buf = buf[n:]
	}
	return true
}

// drained releases n written bytes and wakes whoever waits for room.
func (c *conn) drained(n int64) {
	if n == 0 {
		return
	}
	b := c.queued.Add(-n) + c.held.Load()
	c.wakeReader()
	if b < c.maxOut && c.sessionPaused.CompareAndSwap(true, false) {
		if pid := c.sess.Load(); pid != nil {
			c.s.root.Send(pid, &outputDrained{})
		}
	}
}

func (c *conn) readLoop() {
	defer c.s.wg.Done()
	defer func() {
		c.close("read loop ended")
		if pid := c.sess.Load(); pid != nil {
			c.s.root.Send(pid, &connClosed{})
		}
	}()
	// One buffered reader per connection: a read syscall fetches every
	// frame the client has sent, and frames are decoded from the buffer
	// (wire.Decoder copies what a request keeps, so the buffer is reused).
	fr := wire.NewFrameReader(c.nc, connReadBuffer, c.s.cfg.MaxPacket)
	// A connection must complete its handshake within the sessionless
	// timeout (ZooKeeper's zookeeper.nio.sessionlessCnxnTimeout, 10 s),
	// and its ConnectRequest must fit maxHandshake bytes, so the frame is
	// read into the connection's read buffer: nothing is allocated for a
	// declared length before its bytes arrive.
	_ = c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.SessionlessTimeout))
	c.s.stats.handshaking.Add(1)
	handshaking := true
	defer func() {
		if handshaking {
			c.s.stats.handshaking.Add(-1)
		}
	}()
	head, err := fr.Peek(4)
	if err != nil {
		c.logHandshakeErr(err)
		return
	}
	if w := string(head); fourLetterWords[w] {
		c.fourLetter(w)
		return
	}
	if n := int32(binary.BigEndian.Uint32(head)); n < 0 || n > maxHandshake {
		c.s.log.Warn("handshake packet too large, closing", "remote", c.nc.RemoteAddr().String(), "len", n, "max", maxHandshake)
		return
	}
	body, err := fr.Next()
	if err != nil {
		c.logHandshakeErr(err)
		return
	}
	ok := c.handshake(body)
	handshaking = false
	c.s.stats.handshaking.Add(-1)
	if !ok {
		return
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	// Requests go to the session actor in batches: everything decoded from
	// one read (up to maxRequestBatch) is one mailbox message, so a
	// pipelining client costs one actor hop per read syscall, not one per
	// request.
	pid := c.sess.Load()
	var batch []request
	var batchBytes int64 // frame bytes in batch, length prefixes included
	send := func() {
		// The shared counters move once per batch, before the session
		// can answer (and decrement outstanding).
		if n := int64(len(batch)); n > 0 {
			c.recv.Add(n)
			c.s.stats.received.Add(n)
			c.s.stats.bytesReceived.Add(batchBytes)
			c.s.stats.outstanding.Add(n)
			batchBytes = 0
		}
		switch len(batch) {
		case 0:
			return
		case 1:
			r := batch[0]
			c.s.root.Send(pid, &r)
		default:
			c.s.root.Send(pid, &requestBatch{reqs: batch})
		}
		batch = nil
	}
	defer send() // requests before a bad frame are still served
	var d wire.Decoder
	var now time.Time
	fresh := true // the next frame needs a read syscall
	for {
		if c.overLimit() {
			send() // what is decoded must reach the session to be answered
			if !c.waitForRoom() {
				return
			}
		}
		frame, err := fr.Next()
		if err != nil {
			if errors.Is(err, wire.ErrPacketTooLarge) {
				c.s.log.Warn("packet too large, closing connection", "remote", c.nc.RemoteAddr().String(), "session", sid(c.sessionID.Load()), "err", err)
			}
			return
		}
		if fresh { // frames decoded from one read arrived together
			now = time.Now()
			c.live.touch(now)
		}
		fresh = !fr.Ready()
		batchBytes += 4 + int64(len(frame))
		d.Reset(frame)
		var h wire.RequestHeader
		h.Decode(&d)
		if d.Err() != nil {
			c.s.log.Warn("malformed request header, closing connection", "remote", c.nc.RemoteAddr().String(), "session", sid(c.sessionID.Load()))
			return
		}
		if batch == nil {
			batch = make([]request, 0, 8)
		}
		batch = append(batch, request{xid: h.Xid, op: h.Type, recv: now, size: len(frame)})
		req := &batch[len(batch)-1]
		if h.Type == wire.OpCreateSession {
			// ZooKeeper 3.8 cannot parse a ConnectRequest as a request
			// after the handshake: MarshallingError, connection kept.
			req.decodeErr = true
		} else if body := wire.RequestBody(h.Type); body != nil && h.Type != wire.OpNotification && h.Type != wire.OpError {
			body.Decode(&d)
			if d.Err() != nil {
				req.decodeErr = true
			} else {
				req.body = body
			}
		} else {
			req.unknown = true
		}
		c.pending.Add(1)
		c.inBytes.Add(int64(len(frame)))
		if len(batch) >= maxRequestBatch || fresh {
			send()
		}
	}
}

// logHandshakeErr logs why a connection ended before its handshake.
func (c *conn) logHandshakeErr(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.s.log.Warn("no handshake within the sessionless timeout, closing", "remote", c.nc.RemoteAddr().String(), "timeout", c.s.cfg.SessionlessTimeout)
	}
}

// maxHandshake is the largest ConnectRequest accepted (a real one is about
// 50 bytes): it fits the connection's read buffer.
const maxHandshake = 4 << 10

// connReadBuffer is a connection's read buffer (frames larger than it are
// read into a larger one, up to MaxPacket); maxRequestBatch bounds the
// requests handed to the session actor in one message.
const (
	connReadBuffer  = 16 << 10
	maxRequestBatch = 256
)

// handshake answers the ConnectRequest in body, creating or resuming a
// session, and starts the session actor. It reports whether to serve.
func (c *conn) handshake(body []byte) bool {
	s := c.s
	var req wire.ConnectRequest
	d := wire.NewDecoder(body)
	req.Decode(d)
	if d.Err() != nil {
		s.log.Warn("request before handshake or malformed connect request, closing", "remote", c.nc.RemoteAddr().String(), "err", d.Err())
		return false
	}
	c.recv.Add(1) // the ConnectRequest is a packet received, as in ZooKeeper
	s.stats.received.Add(1)
	s.stats.bytesReceived.Add(4 + int64(len(body)))
	if req.SessionID != 0 {
		// The client is alive while its resume waits (for a leader, to
		// catch up, for the reattach): its session must not expire
		// meanwhile (tracker.go, members.go), as ZooKeeper's leader
		// touches a session it revalidates.
		s.resuming.Store(req.SessionID, c)
		defer s.resuming.CompareAndDelete(req.SessionID, c)
	}
	if s.cfg.ensemble() {
		readOnly := s.cfg.ReadOnlyMode && req.HasReadOnly && req.ReadOnly
		if readOnly && s.servingReadOnly(time.Now()) || !s.waitLeader(s.syncBound(), c.done) {
			if readOnly {
				return c.readOnlyHandshake(&req)
			}
			// A member without a leader cannot create, resume or serve
			// a session: the client tries another server, as it does
			// when a ZooKeeper follower is looking for its leader.
			s.log.Warn("refusing session: no leader", "remote", c.nc.RemoteAddr().String(), "waited", s.syncBound())
			return false
		}
	}
	last := s.lastZxid()
	if req.LastZxidSeen > last && s.cfg.ensemble() && s.catchUp(s.initBound(), c.done) {
		// The client saw a write this member has not applied yet: catch
		// up (bounded by initLimit ticks) rather than refuse it.
		last = s.lastZxid()
	}
	if req.LastZxidSeen > last {
		// Guarantee 4: never serve a client older state than it saw.
		s.log.Warn("refusing session: client has seen a newer zxid than this server",
			"remote", c.nc.RemoteAddr().String(), "clientZxid", zx(req.LastZxidSeen), "lastZxid", zx(last))
		return false
	}
	resp := wire.ConnectResponse{HasReadOnly: req.HasReadOnly}
	if req.SessionID != 0 {
		var info statemachine.SessionInfo
		var ok bool
		s.meta.replica.Read(func(t *statemachine.Tree) { info, ok = t.Session(req.SessionID) })
		if !ok && s.cfg.ensemble() && s.catchUp(s.syncBound(), c.done) {
			// Created on another member and not applied here yet?
			s.meta.replica.Read(func(t *statemachine.Tree) { info, ok = t.Session(req.SessionID) })
		}
		if ok && bytes.Equal(info.Passwd, req.Passwd) && s.cfg.ensemble() {
			// The session moves to this member: a transaction checks it
			// is still open and makes this member its owner, so writes
			// still in flight from its previous member fail with
			// SessionMoved instead of landing after this member's.
			r, done := s.proposeAndWait(c, statemachine.Txn{Type: statemachine.OpReattachSession, SessionID: info.ID, Timeout: info.Timeout, Passwd: req.Passwd})
			if !done {
				s.log.Warn("resuming session failed", "session", sid(req.SessionID))
				return false
			}
			ok = r.Err == wire.Ok
			c.lastZxid.Store(r.Zxid)
		}
		if !ok || !bytes.Equal(info.Passwd, req.Passwd) {
			s.log.Info("invalid or expired session on reconnect", "session", sid(req.SessionID), "known", ok)
			return c.answerExpired(&req)
		}
		resp.SessionID, resp.TimeOut, resp.Passwd = info.ID, info.Timeout, info.Passwd
	} else {
		timeout := s.negotiate(req.TimeOut)
		id := s.newSessionID()
		passwd := make([]byte, wire.PasswordLen)
		_, _ = rand.Read(passwd)
		r, done := s.proposeAndWait(c, statemachine.Txn{Type: wire.OpCreateSession, SessionID: id, Timeout: timeout, Passwd: passwd})
		if !done {
			s.log.Warn("create session not completed (connection closed, server stopping or timed out)", "session", sid(id))
			return false
		}
		if r.Err != wire.Ok {
			s.log.Warn("create session failed", "session", sid(id), "err", r.Err)
			return false
		}
		c.lastZxid.Store(r.Zxid)
		// A new session is a reply in cons (lop=SESS, cxid 0), as
		// FinalRequestProcessor counts createSession; a resumed one is
		// not.
		rs := replyStats{at: time.Now()}
		rs.add(wire.OpCreateSession, 0, r.Zxid, c.started)
		c.record(&rs)
		resp.SessionID, resp.TimeOut, resp.Passwd = id, timeout, passwd
	}
	if c.lastZxid.Load() < req.LastZxidSeen {
		c.lastZxid.Store(req.LastZxidSeen)
	}
	c.sessionID.Store(resp.SessionID)
	c.timeout.Store(resp.TimeOut)
	c.live = s.liveness(resp.SessionID, resp.TimeOut)
	c.live.touch(time.Now())
	c.startSession()
	if old, ok := s.sessionConns.Swap(resp.SessionID, c); ok && old.(*conn) != c {
		old.(*conn).close("session resumed on another connection")
	}
	if req.SessionID != 0 {
		// A resumed session may have expired between the check above and
		// the Swap: then the tracker handled its close without seeing this
		// connection, and a liveness record made here would never go.
		// Checked again now that the connection is published: a close
		// applied after this read finds it in sessionConns.
		var ok bool
		s.meta.replica.Read(func(t *statemachine.Tree) { _, ok = t.Session(req.SessionID) })
		if !ok {
			s.log.Info("session expired while resuming", "session", sid(req.SessionID))
			s.live.CompareAndDelete(req.SessionID, c.live)
			s.sessionConns.CompareAndDelete(req.SessionID, c)
			return c.answerExpired(&req)
		}
	}
	c.enqueue(wire.AppendFrame(nil, &resp), 1)
	s.log.Debug("session established", "session", sid(resp.SessionID), "timeout", resp.TimeOut, "remote", c.nc.RemoteAddr().String())
	return true
}

// answerExpired answers a resume that cannot be honoured as ZooKeeper
// does, with a response that has no session (the client reads it as
// expired), and closes the connection once it is written; it returns
// false for the handshake.
func (c *conn) answerExpired(req *wire.ConnectRequest) bool {
	c.enqueue(wire.AppendFrame(nil, &wire.ConnectResponse{HasReadOnly: req.HasReadOnly, Passwd: make([]byte, wire.PasswordLen)}), 1)
	c.closeAfterFlush()
	<-c.done
	return false
}

// startSession starts the session actor of a connection whose handshake
// succeeded. The actor exists before the connection is published in
// sessionConns, so the tracker always finds c.sess set (no race on it).
func (c *conn) startSession() {
	s := c.s
	c.sess.Store(s.root.Spawn(actor.PropsFromProducer(func() actor.Actor { return newSession(s, c) })))
}

// proposeAndWait proposes a server-made txn for the handshake of c and
// waits for its result; done is false when it did not complete (the
// connection closed, the server stopped, or no result within the session
// timeout bound).
func (s *Server) proposeAndWait(c *conn, txn statemachine.Txn) (statemachine.Result, bool) {
	ch := make(chan statemachine.Result, 1)
	s.root.Send(s.meta.proposer, &proposeInternal{txn: txn, reply: ch})
	t := time.NewTimer(max(s.cfg.MaxSessionTimeout, 30*time.Second))
	defer t.Stop()
	select {
	case r, ok := <-ch:
		return r, ok
	case <-c.done:
	case <-t.C:
		s.log.Warn("handshake transaction timed out", "session", sid(txn.SessionID), "op", txn.Type)
	}
	return statemachine.Result{}, false
}

// negotiate clamps a requested session timeout (ms) to the configured
// bounds, as ZooKeeper does.
func (s *Server) negotiate(ms int32) int32 {
	lo, hi := int32(s.cfg.MinSessionTimeout.Milliseconds()), int32(s.cfg.MaxSessionTimeout.Milliseconds())
	if ms < lo {
		return lo
	}
	if ms > hi {
		return hi
	}
	return ms
}

// newSessionID makes ids as ZooKeeper's SessionTrackerImpl.initializeNextSession:
// the server id in the top byte, the server's start time in ms below it,
// then a counter (Server.sessionSeq, one per Server).
func (s *Server) newSessionID() int64 { return s.sessionSeq.Add(1) }

// firstSessionID is the session counter's start (SessionTrackerImpl's
// initializeNextSessionId): id must be at most maxServerID, or its bits
// would spill out of the top byte and alias another server's ids.
func firstSessionID(id uint64, now time.Time) int64 {
	return int64(uint64(now.UnixMilli())<<24>>8 | id<<56)
}
