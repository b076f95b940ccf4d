package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/kerberos"
)

// ErrClosed is returned by calls made on, or pending at, a closed Conn.
// It matches wire.ErrSessionExpired with errors.Is, as the Java client
// reports calls on a closed handle.
var ErrClosed error = closedError{}

type closedError struct{}

func (closedError) Error() string        { return "paddock/wire/client: connection closed" }
func (closedError) Is(target error) bool { return target == wire.ErrSessionExpired }

// errProtocol marks a reply the client cannot match or decode; the
// connection is dropped and the session resumed on another one.
var errProtocol = errors.New("paddock/wire/client: protocol error")

// setWatchesMaxLength bounds the path bytes of one setWatches2 packet, as
// ClientCnxn.SET_WATCHES_MAX_LENGTH does.
const setWatchesMaxLength = 128 * 1024

// Event is a watch notification or a session state change. Type is
// wire.EventNone for state changes. Err is set only on the last event a
// watch channel receives when the session ends (Expired, Closed,
// AuthFailed) without the watch firing.
type Event struct {
	Type  wire.EventType
	State wire.State
	Path  string
	Err   error
}

// Call is one request in flight. Done is closed when the reply arrived
// or the call failed; then Err holds the result and Resp the decoded
// response body (when Err is nil). Until Done is closed the Conn may
// still write to Resp, even after the caller's ctx ended.
type Call struct {
	Op   wire.OpCode
	Req  wire.Record
	Resp wire.Record
	// Zxid is the zxid in the reply header.
	Zxid int64
	Err  error
	Done chan struct{}

	ctx  context.Context
	xid  int32
	hook func(code wire.Code) // run by the reader before Done closes
}

// Wait waits for the call, or for ctx. It returns ctx.Err() if ctx ends
// first; the call itself goes on and its reply is consumed in order.
func (call *Call) Wait(ctx context.Context) error {
	select {
	case <-call.Done:
		return call.Err
	default:
	}
	select {
	case <-call.Done:
		return call.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (call *Call) finish(err error) {
	call.Err = err
	close(call.Done)
}

// Conn is a ZooKeeper session. It is safe for concurrent use.
type Conn struct {
	cfg     config
	servers []string
	chroot  string
	krb     *kerberos.Credentials // WithKerberos's tickets; closed at shutdown

	// runCtx is cancelled by Close; closing is its Done channel.
	runCtx  context.Context
	cancel  context.CancelFunc
	closing <-chan struct{}
	done    chan struct{} // closed when the run goroutine has exited

	events chan Event // nil when disabled

	lastZxid atomic.Int64

	mu          sync.Mutex
	state       wire.State
	terminal    error // once set, every call fails with it
	closeCalled bool
	sessionID   int64
	passwd      []byte
	timeout     time.Duration // negotiated
	server      string
	nextServer  int
	queue       []*Call // submitted, not yet written
	auths       []authInfo
	authFailed  bool
	xid         int32

	wake chan struct{} // nudges the writer; capacity 1

	pmu         sync.Mutex
	pending     []*Call // written, waiting for replies, in xid order
	authPending []*Call // auth packets waiting for replies

	wmu     sync.Mutex
	watches map[string]*watchSet
}

// Connect establishes a session with one of the servers of connectString
// ("host:port,host2:port/chroot") and returns once the session is
// connected, or when ctx ends. Servers are tried in an order shuffled once.
// Auth given with WithAuth is sent before Connect returns; an auth failure
// fails Connect.
func Connect(ctx context.Context, connectString string, opts ...Option) (*Conn, error) {
	servers, chroot, err := ParseConnectString(connectString)
	if err != nil {
		return nil, err
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxPacket <= 0 {
		cfg.maxPacket = wire.DefaultMaxPacket
	}
	rand.Shuffle(len(servers), func(i, j int) { servers[i], servers[j] = servers[j], servers[i] })
	c := &Conn{
		cfg:     cfg,
		servers: servers,
		chroot:  chroot,
		done:    make(chan struct{}),
		wake:    make(chan struct{}, 1),
		watches: make(map[string]*watchSet),
		state:   wire.StateDisconnected,
		passwd:  make([]byte, wire.PasswordLen),
		timeout: cfg.sessionTimeout,
	}
	if cfg.eventBuffer >= 0 {
		c.events = make(chan Event, cfg.eventBuffer)
	}
	c.runCtx, c.cancel = context.WithCancel(context.Background())
	c.closing = c.runCtx.Done()
	if c.krb, err = newKerberos(cfg.kerberos); err != nil {
		c.cancel()
		return nil, err
	}

	nc, err := c.connectLoop(ctx)
	if err != nil {
		c.cancel()
		c.closeKerberos()
		return nil, err
	}
	go c.run(nc)
	for _, a := range cfg.auths {
		if err := c.AddAuth(ctx, a.scheme, a.auth); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Events returns the session's event channel: every watch notification
// in the order the server sent it, interleaved with session state
// changes (SyncConnected, Disconnected, Expired, AuthFailed, Closed). It
// is closed after the session ends. It is nil with WithEventBuffer(-1).
func (c *Conn) Events() <-chan Event { return c.events }

// State returns the current session state.
func (c *Conn) State() wire.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// SessionID returns the session id (0 before the first connection).
func (c *Conn) SessionID() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessionID
}

// SessionTimeout returns the timeout negotiated with the server.
func (c *Conn) SessionTimeout() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.timeout
}

// Server returns the address of the server last connected to.
func (c *Conn) Server() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.server
}

// LastZxid returns the largest zxid seen in a reply.
func (c *Conn) LastZxid() int64 { return c.lastZxid.Load() }

// Close closes the session (closeSession) and stops the Conn's
// goroutines, waiting at most the session timeout for the server.
func (c *Conn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.SessionTimeout())
	defer cancel()
	return c.CloseContext(ctx)
}

// CloseContext is Close bounded by ctx. Ephemeral nodes of the session are
// gone when it returns nil. Pending calls fail with ErrClosed.
func (c *Conn) CloseContext(ctx context.Context) error {
	c.mu.Lock()
	if c.closeCalled {
		c.mu.Unlock()
		<-c.done
		return nil
	}
	c.closeCalled = true
	var call *Call
	if c.terminal == nil && c.state == wire.StateSyncConnected {
		call = &Call{Op: wire.OpCloseSession, Req: wire.Empty{}, Resp: wire.Empty{}, Done: make(chan struct{}), ctx: ctx}
		c.queue = append(c.queue, call)
	}
	if c.terminal == nil {
		c.terminal = ErrClosed
	}
	c.mu.Unlock()
	var err error
	if call != nil {
		c.kick()
		err = call.Wait(ctx)
		if errors.Is(err, wire.ErrConnectionLoss) {
			err = nil // the server closed the socket as it closed the session
		}
	}
	c.cancel()
	<-c.done
	return err
}

func (c *Conn) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Do sends a request without waiting for its reply: op with body req,
// whose successful response is decoded into resp (see wire.RequestBody
// and wire.ResponseBody for the records of each op). Paths in req are
// sent under the chroot and paths in resp returned without it; req is not
// modified. Many calls may be in flight; they are sent and completed in
// the order Do was called. A watch flag set in req registers a watch on
// the server whose events appear only on Events.
func (c *Conn) Do(ctx context.Context, op wire.OpCode, req, resp wire.Record) *Call {
	return c.submit(ctx, op, req, resp, nil)
}

func (c *Conn) submit(ctx context.Context, op wire.OpCode, req, resp wire.Record, hook func(wire.Code)) *Call {
	if req == nil {
		req = wire.Empty{}
	}
	if resp == nil {
		resp = wire.Empty{}
	}
	call := &Call{Op: op, Req: c.chrootRequest(req), Resp: resp, Done: make(chan struct{}), ctx: ctx, hook: hook}
	if err := ctx.Err(); err != nil {
		call.finish(err)
		return call
	}
	c.mu.Lock()
	if c.terminal != nil {
		err := c.terminal
		c.mu.Unlock()
		call.finish(err)
		return call
	}
	c.queue = append(c.queue, call)
	c.mu.Unlock()
	c.kick()
	return call
}

// call submits a request and waits for it.
func (c *Conn) call(ctx context.Context, op wire.OpCode, req, resp wire.Record, hook func(wire.Code)) error {
	return c.submit(ctx, op, req, resp, hook).Wait(ctx)
}

// run owns the session: it serves one connection at a time and
// reconnects, until Close, expiry or an auth failure.
func (c *Conn) run(nc net.Conn) {
	defer close(c.done)
	var final wire.State
	var finalErr error
	for {
		err := c.serve(nc)
		c.failPending(wire.ErrConnectionLoss)
		c.mu.Lock()
		authFailed, closed := c.authFailed, c.closeCalled
		c.mu.Unlock()
		if authFailed {
			final, finalErr = wire.StateAuthFailed, wire.ErrAuthFailed
			break
		}
		if closed || c.runCtx.Err() != nil {
			final, finalErr = wire.StateClosed, ErrClosed
			break
		}
		c.cfg.logger.Warn("zk: connection lost", "server", c.Server(), "err", err)
		c.setState(wire.StateDisconnected)
		c.failQueued(wire.ErrConnectionLoss)
		c.emit(Event{Type: wire.EventNone, State: wire.StateDisconnected})
		nc, err = c.connectLoop(c.runCtx)
		if err != nil {
			if errors.Is(err, wire.ErrSessionExpired) {
				final, finalErr = wire.StateExpired, wire.ErrSessionExpired
			} else if errors.Is(err, wire.ErrAuthFailed) {
				c.cfg.logger.Warn("zk: SASL authentication failed", "err", err)
				c.emit(Event{Type: wire.EventNone, State: wire.StateAuthFailed})
				final, finalErr = wire.StateAuthFailed, wire.ErrAuthFailed
			} else {
				final, finalErr = wire.StateClosed, ErrClosed
			}
			break
		}
	}
	c.shutdown(final, finalErr)
}

func (c *Conn) setState(s wire.State) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
}

// emit delivers a session event, waiting for room unless the Conn is closing.
func (c *Conn) emit(ev Event) {
	if c.events == nil {
		return
	}
	select {
	case c.events <- ev:
	case <-c.closing:
	}
}

// closeKerberos drops the WithKerberos tickets, if any.
func (c *Conn) closeKerberos() {
	if c.krb != nil {
		c.krb.Close()
	}
}

func (c *Conn) shutdown(state wire.State, err error) {
	c.closeKerberos()
	c.mu.Lock()
	if c.terminal == nil || state == wire.StateExpired || state == wire.StateAuthFailed {
		c.terminal = err
	}
	c.state = state
	q := c.queue
	c.queue = nil
	c.mu.Unlock()
	for _, call := range q {
		call.finish(err)
	}
	c.failPending(err)
	c.closeWatches(state, err)
	switch state {
	case wire.StateClosed:
		if c.events != nil {
			select {
			case c.events <- Event{Type: wire.EventNone, State: state}:
			default:
			}
		}
	case wire.StateAuthFailed:
		// The reader reported it when the auth reply arrived.
	default:
		c.cfg.logger.Warn("zk: session ended", "state", state.String())
		c.emit(Event{Type: wire.EventNone, State: state})
	}
	if c.events != nil {
		close(c.events)
	}
	c.cancel()
}

func (c *Conn) failPending(err error) {
	c.pmu.Lock()
	p, a := c.pending, c.authPending
	c.pending, c.authPending = nil, nil
	c.pmu.Unlock()
	for _, call := range p {
		call.finish(err)
	}
	for _, call := range a {
		if call.Done != nil {
			call.finish(err)
		}
	}
}

func (c *Conn) failQueued(err error) {
	c.mu.Lock()
	q := c.queue
	c.queue = nil
	c.mu.Unlock()
	for _, call := range q {
		call.finish(err)
	}
}

// connectLoop tries the servers in turn until one establishes (or
// resumes) the session. It returns wire.ErrSessionExpired if the server
// says the session is gone, or ctx's error.
func (c *Conn) connectLoop(ctx context.Context) (net.Conn, error) {
	backoff := 10 * time.Millisecond
	var lastErr error
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		addr := c.servers[c.nextServer%len(c.servers)]
		c.nextServer++
		c.mu.Unlock()
		nc, err := c.handshake(ctx, addr)
		if err == nil {
			return nc, nil
		}
		if errors.Is(err, wire.ErrSessionExpired) || errors.Is(err, wire.ErrAuthFailed) {
			return nil, err
		}
		if ctx.Err() != nil {
			if lastErr == nil {
				lastErr = err
			}
			return nil, fmt.Errorf("paddock/wire/client: connect: %w (last error: %v)", ctx.Err(), lastErr)
		}
		lastErr = err
		c.cfg.logger.Debug("zk: connect failed", "server", addr, "err", err)
		if (attempt+1)%len(c.servers) == 0 { // a full round failed: back off
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
			backoff = min(backoff*2, time.Second)
		}
	}
}

func (c *Conn) handshake(ctx context.Context, addr string) (net.Conn, error) {
	c.mu.Lock()
	req := wire.ConnectRequest{
		ProtocolVersion: wire.ProtocolVersion,
		LastZxidSeen:    c.lastZxid.Load(),
		TimeOut:         int32(c.cfg.sessionTimeout / time.Millisecond),
		SessionID:       c.sessionID,
		Passwd:          append([]byte(nil), c.passwd...),
		HasReadOnly:     true,
	}
	timeout := c.cfg.connectTimeout
	if timeout <= 0 {
		timeout = c.timeout / time.Duration(len(c.servers))
	}
	c.mu.Unlock()
	timeout = max(timeout, 100*time.Millisecond)
	c.cfg.logger.Debug("zk: connecting", "server", addr, "timeout", timeout)
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nc, err := c.cfg.dial(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	deadline, _ := dctx.Deadline()
	_ = nc.SetDeadline(deadline)
	stop := context.AfterFunc(dctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := nc.Write(wire.AppendFrame(nil, &req)); err != nil {
		nc.Close()
		return nil, err
	}
	frame, err := wire.ReadFrame(nc, nil, c.cfg.maxPacket)
	if err != nil {
		nc.Close()
		return nil, err
	}
	var resp wire.ConnectResponse
	if err := wire.Unmarshal(frame, &resp); err != nil {
		nc.Close()
		return nil, err
	}
	if resp.TimeOut <= 0 || resp.SessionID == 0 {
		nc.Close()
		return nil, wire.ErrSessionExpired
	}
	if c.cfg.sasl != nil || c.krb != nil {
		if err := c.saslExchange(nc, addr); err != nil {
			nc.Close()
			if ctx := dctx.Err(); ctx != nil && !errors.Is(err, wire.ErrAuthFailed) {
				return nil, ctx
			}
			return nil, err
		}
	}
	if !stop() {
		nc.Close()
		return nil, dctx.Err()
	}
	_ = nc.SetDeadline(time.Time{})
	c.mu.Lock()
	resumed := c.sessionID != 0
	c.sessionID = resp.SessionID
	c.passwd = resp.Passwd
	c.timeout = time.Duration(resp.TimeOut) * time.Millisecond
	c.server = addr
	c.state = wire.StateSyncConnected
	c.mu.Unlock()
	c.cfg.logger.Info("zk: connected", "server", addr, "session", fmt.Sprintf("0x%x", resp.SessionID),
		"timeout", c.timeout, "resumed", resumed)
	c.emit(Event{Type: wire.EventNone, State: wire.StateSyncConnected})
	return nc, nil
}

// serve runs one connection: the reader in a new goroutine, the writer in
// this one. It returns when the connection fails or the Conn closes, after
// the reader has exited.
func (c *Conn) serve(nc net.Conn) error {
	c.mu.Lock()
	timeout := c.timeout
	c.mu.Unlock()
	readTimeout := timeout * 2 / 3
	rdone := make(chan struct{})
	var rerr error
	go func() { // the reader; exits when nc fails or is closed
		defer close(rdone)
		rerr = c.readLoop(nc, readTimeout)
	}()
	werr := c.writeLoop(nc, rdone, timeout/3, readTimeout)
	nc.Close()
	<-rdone
	if werr != nil {
		return werr
	}
	return rerr
}

func (c *Conn) writeLoop(nc net.Conn, rdone <-chan struct{}, pingEvery, writeTimeout time.Duration) error {
	var buf []byte
	write := func() error {
		if len(buf) == 0 {
			return nil
		}
		_ = nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := nc.Write(buf)
		buf = buf[:0]
		return err
	}
	// Prime the connection: watches first, then auth, as ClientCnxn does.
	for _, sw := range c.setWatchesRequests() {
		hdr := wire.RequestHeader{Xid: wire.XidSetWatches, Type: wire.OpSetWatches}
		if sw.V2 {
			hdr.Type = wire.OpSetWatches2
		}
		buf = wire.AppendFrame(buf, &hdr, sw)
	}
	c.mu.Lock()
	auths := append([]authInfo(nil), c.auths...)
	c.mu.Unlock()
	for _, a := range auths {
		hdr := wire.RequestHeader{Xid: wire.XidAuth, Type: wire.OpAuth}
		buf = wire.AppendFrame(buf, &hdr, &wire.AuthPacket{Scheme: a.scheme, Auth: a.auth})
		c.pmu.Lock()
		c.authPending = append(c.authPending, &Call{Op: wire.OpAuth}) // internal: no waiter
		c.pmu.Unlock()
	}
	if err := write(); err != nil {
		return err
	}
	ping := time.NewTimer(pingEvery)
	defer ping.Stop()
	var batch []*Call
	for {
		c.mu.Lock()
		batch, c.queue = c.queue, batch[:0]
		c.mu.Unlock()
		for i, call := range batch {
			batch[i] = nil
			if err := call.ctx.Err(); err != nil {
				call.finish(err)
				continue
			}
			hdr := wire.RequestHeader{Xid: wire.XidAuth, Type: call.Op}
			if call.Op != wire.OpAuth {
				hdr.Xid = c.nextXid()
			}
			call.xid = hdr.Xid
			start := len(buf)
			buf = wire.AppendFrame(buf, &hdr, call.Req)
			if n := len(buf) - start - 4; n > c.cfg.maxPacket {
				buf = buf[:start]
				call.finish(fmt.Errorf("%w: request of %d bytes (max %d)", wire.ErrPacketTooLarge, n, c.cfg.maxPacket))
				continue
			}
			c.pmu.Lock()
			if call.Op == wire.OpAuth {
				c.authPending = append(c.authPending, call)
			} else {
				c.pending = append(c.pending, call)
			}
			c.pmu.Unlock()
		}
		if len(buf) > 0 {
			if err := write(); err != nil {
				return err
			}
			ping.Reset(pingEvery)
			continue
		}
		select {
		case <-c.closing:
			return ErrClosed
		case <-rdone:
			return nil
		case <-c.wake:
		case <-ping.C:
			hdr := wire.RequestHeader{Xid: wire.XidPing, Type: wire.OpPing}
			buf = wire.AppendFrame(buf, &hdr)
			if err := write(); err != nil {
				return err
			}
			ping.Reset(pingEvery)
		}
	}
}

func (c *Conn) nextXid() int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.xid++
	if c.xid <= 0 {
		c.xid = 1
	}
	return c.xid
}

func (c *Conn) readLoop(nc net.Conn, readTimeout time.Duration) error {
	br := bufio.NewReaderSize(nc, 64<<10)
	var buf []byte
	for {
		_ = nc.SetReadDeadline(time.Now().Add(readTimeout))
		frame, err := wire.ReadFrame(br, buf, c.cfg.maxPacket)
		if err != nil {
			return err
		}
		buf = frame[:0]
		d := wire.NewDecoder(frame)
		var hdr wire.ReplyHeader
		hdr.Decode(d)
		if d.Err() != nil {
			return fmt.Errorf("%w: reply header: %v", errProtocol, d.Err())
		}
		if hdr.Zxid > 0 {
			for {
				old := c.lastZxid.Load()
				if hdr.Zxid <= old || c.lastZxid.CompareAndSwap(old, hdr.Zxid) {
					break
				}
			}
		}
		switch hdr.Xid {
		case wire.XidNotification:
			var ev wire.WatcherEvent
			ev.Decode(d)
			if d.Err() != nil {
				return fmt.Errorf("%w: notification: %v", errProtocol, d.Err())
			}
			c.dispatch(ev)
		case wire.XidPing:
		case wire.XidSetWatches:
			if hdr.Err != wire.Ok {
				c.cfg.logger.Warn("zk: setWatches failed", "err", hdr.Err)
			}
		case wire.XidAuth:
			c.pmu.Lock()
			var call *Call
			if len(c.authPending) > 0 {
				call = c.authPending[0]
				c.authPending = c.authPending[1:]
			}
			c.pmu.Unlock()
			if hdr.Err == wire.ErrAuthFailed {
				c.mu.Lock()
				c.authFailed = true
				c.terminal = wire.ErrAuthFailed
				c.state = wire.StateAuthFailed
				c.mu.Unlock()
				c.cfg.logger.Warn("zk: authentication failed")
				c.emit(Event{Type: wire.EventNone, State: wire.StateAuthFailed})
			}
			if call != nil && call.Done != nil {
				if call.hook != nil {
					call.hook(hdr.Err)
				}
				call.finish(hdr.Err.Err())
			}
		default:
			c.pmu.Lock()
			var call *Call
			if len(c.pending) > 0 && c.pending[0].xid == hdr.Xid {
				call = c.pending[0]
				c.pending[0] = nil
				c.pending = c.pending[1:]
			}
			c.pmu.Unlock()
			if call == nil {
				return fmt.Errorf("%w: reply xid %d matches no request", errProtocol, hdr.Xid)
			}
			call.Zxid = hdr.Zxid
			code := hdr.Err
			if code == wire.Ok || ((call.Op == wire.OpMulti || call.Op == wire.OpMultiRead) && d.Remaining() > 0) {
				call.Resp.Decode(d)
				if err := d.Err(); err != nil {
					call.finish(fmt.Errorf("%w: %v response: %v", errProtocol, call.Op, err))
					return call.Err
				}
				c.chrootResponse(call.Op, call.Resp)
			}
			if call.hook != nil {
				call.hook(code)
			}
			call.finish(code.Err())
		}
	}
}
