package conform

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/paddockdb/paddock/wire"
)

// Timeouts. They are generous because the reference server is a JVM on
// shared cores; a timeout is written into the transcript (so it shows in
// the diff) rather than hanging the test.
const (
	// ReplyTimeout bounds the wait for one reply or event.
	ReplyTimeout = 10 * time.Second
	// CloseTimeout is how long expect-closed waits for the server to close.
	CloseTimeout = 5 * time.Second
	// DefaultSessionTimeout is the session timeout connect asks for. It is
	// long so that no script needs pings to stay alive.
	DefaultSessionTimeout = 30000
	maxFrame              = 64 << 20
)

// Run executes script against the ZooKeeper-protocol server at addr and
// returns the normalised transcript. The error is for scripts that do not
// parse, addresses that cannot be dialled and a cancelled ctx; whatever the
// server does (errors, closed connections, silence) goes into the
// transcript. The transcript so far is returned with an error too.
func Run(ctx context.Context, addr string, script io.Reader) (string, error) {
	lines, err := readScript(script)
	if err != nil {
		return "", err
	}
	r := &runner{
		ctx:      ctx,
		addr:     addr,
		sessions: map[string]*session{},
		zxNames:  map[int64]string{},
		zxValues: map[string]int64{},
		owners:   map[int64]string{},
		start:    time.Now(),
		raw:      os.Getenv("PADDOCK_CONFORM_RAW") != "",
		done:     make(chan struct{}),
	}
	defer r.closeAll()
	for _, l := range lines {
		if len(l.toks) == 0 {
			r.printf("%s", l.text)
			continue
		}
		if err := r.exec(l); err != nil {
			return r.out.String(), fmt.Errorf("line %d: %s: %w", l.num, l.text, err)
		}
	}
	if err := r.finish(); err != nil {
		return r.out.String(), err
	}
	return r.out.String(), nil
}

type runner struct {
	ctx      context.Context
	addr     string
	out      strings.Builder
	sessions map[string]*session
	order    []*session
	zxNames  map[int64]string
	zxValues map[string]int64
	owners   map[int64]string // session id -> session name
	start    time.Time
	raw      bool // also print raw header zxids (debugging aid)
	done     chan struct{}
}

// frame is one frame read from a connection, or the error that ended it.
type frame struct {
	body []byte
	err  error
}

type session struct {
	name    string
	conn    net.Conn
	frames  chan frame
	hello   bool  // handshake sent
	eof     bool  // the server closed the connection, or will (after closeSession)
	closed  bool  // the end of the connection has been read
	broken  bool  // a reply timed out; the session's output is unreliable
	id      int64 // never printed
	passwd  []byte
	xid     int32
	maxZxid int64
	pending []*pending
	nEvents int
}

// pending is a request sent and not yet answered.
type pending struct {
	text    string
	xid     int32
	op      wire.OpCode
	connect bool
	subOps  []wire.OpCode
	subText []string
	hidden  bool // barrier requests: print only surprises
	raw     bool // request OPCODE: print the body length, not the body
}

func (r *runner) printf(format string, a ...any) {
	fmt.Fprintf(&r.out, format, a...)
	r.out.WriteByte('\n')
}

func (r *runner) closeAll() {
	close(r.done)
	for _, s := range r.order {
		if s.conn != nil {
			s.conn.Close()
		}
	}
}

func (r *runner) exec(l line) error {
	t := l.toks
	switch strings.ToLower(t[0]) {
	case "connect", "dial":
		if len(t) < 2 {
			return errors.New("connect needs a session name")
		}
		if _, ok := r.sessions[t[1]]; ok {
			if r.sessions[t[1]].conn != nil {
				r.sessions[t[1]].conn.Close()
			}
		}
		s, err := r.dial(t[1])
		if err != nil {
			return err
		}
		if strings.EqualFold(t[0], "dial") {
			r.printf("%s -> ok", l.text)
			return nil
		}
		return r.handshake(s, l.text, t[2:])
	}
	s, ok := r.sessions[t[0]]
	if !ok {
		return fmt.Errorf("no session %q (connect it first)", t[0])
	}
	if len(t) < 2 {
		return errors.New("missing command")
	}
	verb, rest := strings.ToLower(t[1]), t[2:]
	async := false
	if verb == "async" {
		if len(rest) == 0 {
			return errors.New("async needs a command")
		}
		async, verb, rest = true, strings.ToLower(rest[0]), rest[1:]
	}
	switch verb {
	case "handshake":
		return r.handshake(s, l.text, rest)
	case "send", "sendframe":
		b, err := hex.DecodeString(strings.Join(rest, ""))
		if err != nil {
			return err
		}
		if verb == "sendframe" {
			b = append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
		}
		r.write(s, b)
		r.printf("%s -> sent", l.text)
		return nil
	case "expect-closed":
		return r.expectClosed(s, l.text, rest)
	case "events":
		return r.barrier(s, l.text, false)
	case "wait-event":
		return r.waitEvent(s, l.text, rest)
	case "wait":
		return r.drain(s)
	case "request":
		if len(rest) < 1 {
			return errors.New("request needs an opcode")
		}
		op, err := strconv.ParseInt(rest[0], 0, 32)
		if err != nil {
			return err
		}
		a, err := parseArgs(rest[1:])
		if err != nil {
			return err
		}
		body, err := hex.DecodeString(a.kv["body"])
		if err != nil {
			return err
		}
		xid, err := a.int32("xid", 0)
		if err != nil {
			return err
		}
		req := &request{op: wire.OpCode(op), xid: xid, rawBody: body}
		return r.send(s, l.text, req, async, true)
	}
	req, err := buildRequest(verb, rest, r.resolveZxid(s))
	if err != nil {
		return err
	}
	return r.send(s, l.text, req, async, false)
}

func (r *runner) dial(name string) (*session, error) {
	var d net.Dialer
	ctx, cancel := context.WithTimeout(r.ctx, ReplyTimeout)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", r.addr)
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		// The server accepted the connection and reset it before the
		// dial returned (ZooKeeper closes a connection over its limits
		// with SO_LINGER 0). On a slower machine the dial succeeds and
		// the first read fails: give the script that, so that both
		// timings print alike.
		var peer net.Conn
		c, peer = net.Pipe()
		peer.Close()
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", r.addr, err)
	}
	s := &session{name: name, conn: c, frames: make(chan frame, 4096)}
	r.sessions[name] = s
	r.order = append(r.order, s)
	go r.read(s) // ends when the connection is closed (closeAll at the latest)
	return s, nil
}

func (r *runner) read(s *session) {
	for {
		b, err := wire.ReadFrame(s.conn, nil, maxFrame)
		if err != nil {
			select {
			case s.frames <- frame{err: err}:
			case <-r.done:
			}
			return
		}
		select {
		case s.frames <- frame{body: b}:
		case <-r.done:
			return
		}
	}
}

func (r *runner) write(s *session, b []byte) bool {
	_ = s.conn.SetWriteDeadline(time.Now().Add(ReplyTimeout))
	_, err := s.conn.Write(b)
	return err == nil
}

func (r *runner) handshake(s *session, text string, toks []string) error {
	a, err := parseArgs(toks)
	if err != nil {
		return err
	}
	to, err := a.int32("timeout", DefaultSessionTimeout)
	if err != nil {
		return err
	}
	proto, err := a.int32("protocol", wire.ProtocolVersion)
	if err != nil {
		return err
	}
	last, err := r.resolveZxid(s)(a.kv["lastzxid"])
	if err != nil {
		return err
	}
	req := &wire.ConnectRequest{ProtocolVersion: proto, LastZxidSeen: last, TimeOut: to,
		Passwd: make([]byte, wire.PasswordLen), HasReadOnly: true, ReadOnly: a.has("readonly")}
	if other := a.kv["resume"]; other != "" {
		o, ok := r.sessions[other]
		if !ok {
			return fmt.Errorf("resume: no session %q", other)
		}
		req.SessionID, req.Passwd = o.id, o.passwd
		if a.has("badpassword") {
			req.Passwd = make([]byte, wire.PasswordLen)
		}
		if req.LastZxidSeen == 0 {
			req.LastZxidSeen = o.maxZxid
		}
	}
	s.hello = true
	p := &pending{text: text, connect: true}
	s.pending = append(s.pending, p)
	if !r.write(s, wire.AppendFrame(nil, req)) {
		r.printf("%s -> connection closed", text)
		s.eof, s.pending = true, nil
		return nil
	}
	return r.await(s, p)
}

func (r *runner) resolveZxid(s *session) zxidResolver {
	return func(v string) (int64, error) {
		switch {
		case v == "":
			return 0, nil
		case v == "last":
			return s.maxZxid, nil
		case strings.HasPrefix(v, "z"):
			if n, ok := r.zxValues[v]; ok {
				return n, nil
			}
			return 0, fmt.Errorf("zxid %s has not appeared in the transcript yet", v)
		}
		return strconv.ParseInt(v, 0, 64)
	}
}

func (r *runner) send(s *session, text string, req *request, async, raw bool) error {
	if !s.hello {
		// A request before the handshake: send the frame and let the
		// script say what it expects (usually expect-closed).
		s.xid++
		b := r.encode(s.xid, req)
		r.write(s, b)
		r.printf("%s -> sent before handshake", text)
		return nil
	}
	if s.eof {
		r.printf("%s -> connection closed", text)
		return nil
	}
	if s.broken {
		r.printf("%s -> skipped: session broken by an earlier timeout", text)
		return nil
	}
	xid := req.xid
	if xid == 0 {
		s.xid++
		xid = s.xid
	}
	p := &pending{text: text, xid: xid, op: req.op, subOps: req.subOps, raw: raw}
	if m, ok := req.body.(*wire.MultiRequest); ok {
		for _, op := range m.Ops {
			p.subText = append(p.subText, op.Type.String()+" "+wire.RequestPath(op.Body))
		}
	}
	s.pending = append(s.pending, p)
	if !r.write(s, r.encode(xid, req)) {
		r.connClosed(s)
		return nil
	}
	if async {
		return nil
	}
	return r.await(s, p)
}

func (r *runner) encode(xid int32, req *request) []byte {
	h := &wire.RequestHeader{Xid: xid, Type: req.op}
	if req.body == nil {
		e := wire.NewEncoder(nil)
		h.Encode(e)
		body := append(e.Bytes(), req.rawBody...)
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	return wire.AppendFrame(nil, h, req.body)
}

// next waits for the session's next frame.
func (r *runner) next(s *session, d time.Duration) (frame, bool, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case f := <-s.frames:
		return f, true, nil
	case <-t.C:
		return frame{}, false, nil
	case <-r.ctx.Done():
		return frame{}, false, r.ctx.Err()
	}
}

// await reads frames until p is answered.
func (r *runner) await(s *session, p *pending) error {
	for slices.Contains(s.pending, p) {
		f, ok, err := r.next(s, ReplyTimeout)
		if err != nil {
			return err
		}
		if !ok {
			r.printf("%s -> TIMEOUT: no reply within %v", p.text, ReplyTimeout)
			s.broken = true
			s.pending = nil
			return nil
		}
		r.handle(s, f)
	}
	return nil
}

// drain waits for every pending reply of s.
func (r *runner) drain(s *session) error {
	for len(s.pending) > 0 && !s.eof {
		if err := r.await(s, s.pending[len(s.pending)-1]); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) connClosed(s *session) {
	s.eof, s.closed = true, true
	for _, p := range s.pending {
		r.printf("%s -> connection closed", p.text)
	}
	s.pending = nil
}

// handle prints one frame: an event, a reply, the end of the connection.
func (r *runner) handle(s *session, f frame) {
	if f.err != nil {
		if len(s.pending) == 0 {
			r.printf("%s <- connection closed by server", s.name)
		}
		r.connClosed(s)
		return
	}
	if len(s.pending) > 0 && s.pending[0].connect {
		p := s.pending[0]
		s.pending = s.pending[1:]
		var resp wire.ConnectResponse
		d := wire.NewDecoder(f.body)
		resp.Decode(d)
		if d.Err() != nil {
			r.printf("%s -> undecodable connect response (%d bytes)", p.text, len(f.body))
			return
		}
		if resp.SessionID == 0 && resp.TimeOut <= 0 {
			r.printf("%s -> session expired", p.text)
			return
		}
		if s.id != 0 && resp.SessionID != s.id {
			delete(r.owners, s.id)
		}
		s.id, s.passwd = resp.SessionID, resp.Passwd
		if _, ok := r.owners[s.id]; !ok {
			r.owners[s.id] = s.name
		}
		ro := ""
		if resp.HasReadOnly {
			ro = fmt.Sprintf(" readOnly=%v", resp.ReadOnly)
		}
		same := ""
		for name, o := range r.sessions {
			if o != s && o.id == s.id {
				same = " session=" + name
			}
		}
		r.printf("%s -> ok timeout=%d%s%s passwordLen=%d", p.text, resp.TimeOut, ro, same, len(resp.Passwd))
		return
	}
	d := wire.NewDecoder(f.body)
	var h wire.ReplyHeader
	h.Decode(d)
	if d.Err() != nil {
		r.printf("%s <- undecodable frame (%d bytes)", s.name, len(f.body))
		return
	}
	note := ""
	if h.Zxid > 0 && h.Zxid < s.maxZxid {
		note = " !zxid-went-back"
	}
	if h.Zxid > s.maxZxid {
		s.maxZxid = h.Zxid
	}
	if r.raw {
		note += fmt.Sprintf(" [xid=%d zxid=%#x]", h.Xid, h.Zxid)
	}
	if h.Xid == wire.XidNotification {
		var ev wire.WatcherEvent
		ev.Decode(d)
		s.nEvents++
		state := ""
		if ev.State != wire.StateSyncConnected {
			state = " state=" + ev.State.String()
		}
		r.printf("%s <- event %s %s%s%s", s.name, ev.Type, ev.Path, state, note)
		return
	}
	i := slices.IndexFunc(s.pending, func(p *pending) bool { return p.xid == h.Xid })
	if i < 0 {
		r.printf("%s <- unexpected reply xid=%d %s%s", s.name, h.Xid, codeName(h.Err), note)
		return
	}
	p := s.pending[i]
	s.pending = slices.Delete(s.pending, i, i+1)
	if i > 0 {
		note += " !out-of-order"
	}
	res := r.formatReply(p, h, d)
	if p.op == wire.OpCloseSession && h.Err == wire.Ok {
		// The session is over; the server closes the connection next.
		s.eof = true
	}
	if p.hidden && h.Err == wire.Ok {
		return
	}
	r.printf("%s -> %s%s", p.text, res, note)
}

// barrier makes every event already due on s arrive: a sync of / and an
// exists of / pipelined behind it. A reply from the server is ordered
// after every event for a change the server had applied before it, so
// events caused by other sessions' completed requests are printed here.
func (r *runner) barrier(s *session, text string, quiet bool) error {
	if s.eof || s.broken || !s.hello {
		if !quiet {
			r.printf("%s -> connection closed", text)
		}
		return nil
	}
	before := s.nEvents
	var last *pending
	for _, req := range []*request{
		{op: wire.OpSync, body: &wire.PathRequest{Path: "/"}},
		{op: wire.OpExists, body: &wire.PathWatchRequest{Path: "/"}},
	} {
		s.xid++
		last = &pending{text: text + " (" + req.op.String() + ")", xid: s.xid, op: req.op, hidden: true}
		s.pending = append(s.pending, last)
		if !r.write(s, r.encode(s.xid, req)) {
			r.connClosed(s)
			return nil
		}
	}
	if err := r.await(s, last); err != nil {
		return err
	}
	if !quiet {
		r.printf("%s -> %d", text, s.nEvents-before)
	}
	return nil
}

func (r *runner) waitEvent(s *session, text string, toks []string) error {
	a, err := parseArgs(toks)
	if err != nil {
		return err
	}
	ms, err := a.int32("timeout", int32(ReplyTimeout/time.Millisecond))
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Duration(ms) * time.Millisecond)
	before := s.nEvents
	for s.nEvents == before {
		if s.eof {
			r.printf("%s -> connection closed", text)
			return nil
		}
		f, ok, err := r.next(s, time.Until(deadline))
		if err != nil {
			return err
		}
		if !ok {
			r.printf("%s -> TIMEOUT: no event within %dms", text, ms)
			return nil
		}
		r.handle(s, f)
	}
	r.printf("%s -> ok", text)
	return nil
}

func (r *runner) expectClosed(s *session, text string, toks []string) error {
	a, err := parseArgs(toks)
	if err != nil {
		return err
	}
	ms, err := a.int32("timeout", int32(CloseTimeout/time.Millisecond))
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Duration(ms) * time.Millisecond)
	// After closeSession's reply eof is set already; wait for the server
	// to actually close the connection.
	for !s.closed {
		f, ok, err := r.next(s, time.Until(deadline))
		if err != nil {
			return err
		}
		if !ok {
			r.printf("%s -> still open after %dms", text, ms)
			return nil
		}
		if f.err != nil {
			r.connClosed(s)
			break
		}
		r.handle(s, f)
	}
	r.printf("%s -> closed", text)
	return nil
}

// finish collects outstanding replies and, through a barrier, the events
// still due on every live session, so that a script cannot lose output by
// ending early.
func (r *runner) finish() error {
	header := false
	for _, s := range r.order {
		if s.eof || s.broken || !s.hello {
			continue
		}
		if !header {
			r.printf("# end of script: outstanding replies and events")
			header = true
		}
		if err := r.drain(s); err != nil {
			return err
		}
		if err := r.barrier(s, s.name+" (end)", true); err != nil {
			return err
		}
	}
	if header && strings.HasSuffix(r.out.String(), "# end of script: outstanding replies and events\n") {
		// Nothing was outstanding: drop the header.
		str := strings.TrimSuffix(r.out.String(), "# end of script: outstanding replies and events\n")
		r.out.Reset()
		r.out.WriteString(str)
	}
	return nil
}
