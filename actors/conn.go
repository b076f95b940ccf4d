package actors

import (
	"bytes"
	"crypto/rand"
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
	session   *actor.PID // set once before the read loop serves requests
	live      *liveness
	recv      atomic.Int64
	sent      atomic.Int64
	lastZxid  atomic.Int64
}

func newConn(s *Server, nc net.Conn, ip string) *conn {
	return &conn{s: s, nc: nc, ip: ip, started: time.Now(), notify: make(chan struct{}, 1), done: make(chan struct{})}
}

// enqueue appends encoded frames for the writer. Safe from any goroutine.
func (c *conn) enqueue(frames []byte, n int64) {
	c.mu.Lock()
	c.out = append(c.out, frames...)
	c.mu.Unlock()
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
			_ = c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := c.nc.Write(buf); err != nil {
				c.close("write: " + err.Error())
				return
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

func (c *conn) readLoop() {
	defer c.s.wg.Done()
	defer func() {
		c.close("read loop ended")
		if c.session != nil {
			c.s.root.Send(c.session, &connClosed{})
		}
	}()
	// One buffered reader per connection: a read syscall fetches every
	// frame the client has sent, and frames are decoded from the buffer
	// (wire.Decoder copies what a request keeps, so the buffer is reused).
	fr := wire.NewFrameReader(c.nc, connReadBuffer, c.s.cfg.MaxPacket)
	head, err := fr.Peek(4)
	if err != nil {
		return
	}
	if w := string(head); fourLetterWords[w] {
		c.fourLetter(w)
		return
	}
	body, err := fr.Next()
	if err != nil {
		if errors.Is(err, wire.ErrPacketTooLarge) {
			c.s.log.Warn("handshake packet too large, closing", "remote", c.nc.RemoteAddr().String(), "err", err)
		}
		return
	}
	if !c.handshake(body) {
		return
	}
	// Requests go to the session actor in batches: everything decoded from
	// one read (up to maxRequestBatch) is one mailbox message, so a
	// pipelining client costs one actor hop per read syscall, not one per
	// request.
	var batch []request
	send := func() {
		switch len(batch) {
		case 0:
			return
		case 1:
			r := batch[0]
			c.s.root.Send(c.session, &r)
		default:
			c.s.root.Send(c.session, &requestBatch{reqs: batch})
		}
		batch = nil
	}
	defer send() // requests before a bad frame are still served
	var d wire.Decoder
	for {
		frame, err := fr.Next()
		if err != nil {
			if errors.Is(err, wire.ErrPacketTooLarge) {
				c.s.log.Warn("packet too large, closing connection", "remote", c.nc.RemoteAddr().String(), "session", sid(c.sessionID.Load()), "err", err)
			}
			return
		}
		now := time.Now()
		c.live.touch(now)
		c.recv.Add(1)
		c.s.stats.received.Add(1)
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
		c.s.stats.outstanding.Add(1)
		if len(batch) >= maxRequestBatch || !fr.Ready() {
			send()
		}
	}
}

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
	s.stats.received.Add(1)
	last := s.lastZxid()
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
		s.replica.Read(func(t *statemachine.Tree) { info, ok = t.Session(req.SessionID) })
		if !ok || !bytes.Equal(info.Passwd, req.Passwd) {
			s.log.Info("invalid or expired session on reconnect", "session", sid(req.SessionID), "known", ok)
			resp.Passwd = make([]byte, wire.PasswordLen)
			c.enqueue(wire.AppendFrame(nil, &resp), 1)
			c.closeAfterFlush()
			<-c.done
			return false
		}
		resp.SessionID, resp.TimeOut, resp.Passwd = info.ID, info.Timeout, info.Passwd
	} else {
		timeout := s.negotiate(req.TimeOut)
		id := s.newSessionID()
		passwd := make([]byte, wire.PasswordLen)
		_, _ = rand.Read(passwd)
		ch := make(chan statemachine.Result, 1)
		s.root.Send(s.proposer, &proposeInternal{
			txn:   statemachine.Txn{Type: wire.OpCreateSession, SessionID: id, Timeout: timeout, Passwd: passwd},
			reply: ch,
		})
		select {
		case r, ok := <-ch:
			if !ok || r.Err != wire.Ok {
				s.log.Warn("create session failed", "session", sid(id), "err", r.Err)
				return false
			}
			c.lastZxid.Store(r.Zxid)
		case <-c.done:
			return false
		case <-time.After(30 * time.Second):
			s.log.Warn("create session timed out", "session", sid(id))
			return false
		}
		resp.SessionID, resp.TimeOut, resp.Passwd = id, timeout, passwd
	}
	if c.lastZxid.Load() < req.LastZxidSeen {
		c.lastZxid.Store(req.LastZxidSeen)
	}
	c.sessionID.Store(resp.SessionID)
	c.timeout.Store(resp.TimeOut)
	c.live = s.liveness(resp.SessionID, resp.TimeOut)
	c.live.touch(time.Now())
	if old, ok := s.sessionConns.Swap(resp.SessionID, c); ok && old.(*conn) != c {
		old.(*conn).close("session resumed on another connection")
	}
	c.session = s.root.Spawn(actor.PropsFromProducer(func() actor.Actor { return newSession(s, c) },
		actor.WithSupervisor(actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective }))))
	c.enqueue(wire.AppendFrame(nil, &resp), 1)
	s.log.Debug("session established", "session", sid(resp.SessionID), "timeout", resp.TimeOut, "remote", c.nc.RemoteAddr().String())
	return true
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

var sessionSeq struct {
	sync.Mutex
	next int64
}

// newSessionID makes ids as ZooKeeper's SessionTrackerImpl.initializeNextSession:
// the server id in the top byte, the start time in ms below it, then a
// counter.
func (s *Server) newSessionID() int64 {
	sessionSeq.Lock()
	defer sessionSeq.Unlock()
	if sessionSeq.next == 0 {
		base := int64(uint64(time.Now().UnixMilli()) << 24 >> 8)
		sessionSeq.next = base | int64(s.cfg.ServerID&0xff)<<56
	}
	sessionSeq.next++
	return sessionSeq.next
}
