package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/paddockdb/paddock/wire"
)

// sessionTimeout is the session timeout the generator asks for. Runs keep
// every session busy, so the server never needs a ping from us.
const sessionTimeout = 30 * time.Second

// ioTimeout bounds every blocking step outside the measured hot path
// (dial, handshake, setup requests, draining, close).
const ioTimeout = 10 * time.Second

// errProtocol marks a reply the generator cannot make sense of: a frame too
// large, a reply out of order, a truncated header. A run that sees one
// fails, since its figures would be meaningless.
var errProtocol = errors.New("paddock/bench: protocol error")

// frameReader reads length-prefixed frames out of one large buffer that it
// refills with a single read call, so many replies cost one syscall and no
// allocation. A frame returned by next is valid until the following call.
type frameReader struct {
	r          io.Reader
	buf        []byte
	start, end int
	max        int
}

func newFrameReader(r io.Reader, size int) *frameReader {
	return &frameReader{r: r, buf: make([]byte, size), max: wire.DefaultMaxPacket}
}

// buffered returns the next frame if it is entirely in the buffer.
func (f *frameReader) buffered() ([]byte, bool, error) {
	avail := f.end - f.start
	if avail < 4 {
		return nil, false, nil
	}
	n := int(int32(binary.BigEndian.Uint32(f.buf[f.start:])))
	if n < 0 || n > f.max {
		return nil, false, fmt.Errorf("%w: %w: frame of %d bytes (max %d)", errProtocol, wire.ErrPacketTooLarge, n, f.max)
	}
	if avail < 4+n {
		if 4+n > len(f.buf) { // grow for a large reply, up to the max packet
			nb := make([]byte, max(2*len(f.buf), 4+n))
			copy(nb, f.buf[f.start:f.end])
			f.buf, f.end, f.start = nb, avail, 0
		}
		return nil, false, nil
	}
	fr := f.buf[f.start+4 : f.start+4+n]
	f.start += 4 + n
	return fr, true, nil
}

// fill reads once from the connection, compacting the buffer first.
func (f *frameReader) fill() error {
	if f.start > 0 {
		f.end = copy(f.buf, f.buf[f.start:f.end])
		f.start = 0
	}
	n, err := f.r.Read(f.buf[f.end:])
	f.end += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// next returns the next frame, reading as needed.
func (f *frameReader) next() ([]byte, error) {
	for {
		fr, ok, err := f.buffered()
		if err != nil || ok {
			return fr, err
		}
		if err := f.fill(); err != nil {
			return nil, err
		}
	}
}

// replyHeader decodes a reply header by hand: it is on the hot path and
// this way it cannot allocate.
func replyHeader(fr []byte) (xid int32, code wire.Code, body []byte, err error) {
	if len(fr) < 16 {
		return 0, 0, nil, fmt.Errorf("%w: reply of %d bytes", errProtocol, len(fr))
	}
	xid = int32(binary.BigEndian.Uint32(fr))
	code = wire.Code(int32(binary.BigEndian.Uint32(fr[12:])))
	return xid, code, fr[16:], nil
}

// session is one raw ZooKeeper session on one TCP connection.
type session struct {
	conn net.Conn
	id   int64
	rd   *frameReader
	enc  *wire.Encoder
	xid  int32
}

// dialSession connects to addr and performs the handshake.
func dialSession(addr string, readBuf int) (*session, error) {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return nil, fmt.Errorf("paddock/bench: dial %s: %w", addr, err)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	s := &session{conn: c, rd: newFrameReader(c, readBuf), enc: wire.NewEncoder(make([]byte, 0, 4096))}
	if err := s.handshake(); err != nil {
		c.Close()
		return nil, fmt.Errorf("paddock/bench: handshake with %s: %w", addr, err)
	}
	return s, nil
}

func (s *session) handshake() error {
	req := wire.ConnectRequest{
		TimeOut: int32(sessionTimeout / time.Millisecond),
		Passwd:  make([]byte, wire.PasswordLen),
	}
	_ = s.conn.SetDeadline(time.Now().Add(ioTimeout))
	defer s.conn.SetDeadline(time.Time{})
	if _, err := s.conn.Write(wire.AppendFrame(nil, &req)); err != nil {
		return err
	}
	fr, err := s.rd.next()
	if err != nil {
		return err
	}
	var resp wire.ConnectResponse
	if err := wire.Unmarshal(fr, &resp); err != nil {
		return err
	}
	if resp.SessionID == 0 || resp.TimeOut <= 0 {
		return fmt.Errorf("%w: server refused the session", errProtocol)
	}
	s.id = resp.SessionID
	return nil
}

// appendRequest appends one request frame (header and body) to the
// session's encoder. It does not allocate once the encoder has grown.
func appendRequest(e *wire.Encoder, xid int32, op wire.OpCode, body wire.Record) {
	start := e.Len()
	e.Int(0)
	e.Int(xid)
	e.Int(int32(op))
	body.Encode(e)
	b := e.Bytes()
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
}

// call sends requests in one write and waits for all their replies, in
// order, returning each result code. Notifications met on the way are
// passed to onEvent (which may be nil). It is for setup and control, not
// for the measured hot path.
func (s *session) call(reqs []request, onEvent func(wire.WatcherEvent)) ([]wire.Code, error) {
	s.enc.Reset()
	first := s.xid + 1
	for _, r := range reqs {
		s.xid++
		appendRequest(s.enc, s.xid, r.op, r.body)
	}
	_ = s.conn.SetDeadline(time.Now().Add(ioTimeout))
	defer s.conn.SetDeadline(time.Time{})
	if _, err := s.conn.Write(s.enc.Bytes()); err != nil {
		return nil, err
	}
	codes := make([]wire.Code, 0, len(reqs))
	for len(codes) < len(reqs) {
		fr, err := s.rd.next()
		if err != nil {
			return codes, err
		}
		xid, code, body, err := replyHeader(fr)
		if err != nil {
			return codes, err
		}
		if xid == wire.XidNotification {
			if onEvent != nil {
				var ev wire.WatcherEvent
				if err := wire.Unmarshal(body, &ev); err != nil {
					return codes, err
				}
				onEvent(ev)
			}
			continue
		}
		if xid == wire.XidPing {
			continue
		}
		if want := first + int32(len(codes)); xid != want {
			return codes, fmt.Errorf("%w: reply xid %d, want %d", errProtocol, xid, want)
		}
		codes = append(codes, code)
	}
	return codes, nil
}

// request is one request for call.
type request struct {
	op   wire.OpCode
	body wire.Record
}

// close ends the session politely (closeSession, so its ephemerals go at
// once) and closes the connection. Errors are ignored: the server may
// already have gone.
func (s *session) close() {
	_ = s.conn.SetDeadline(time.Now().Add(2 * time.Second))
	s.enc.Reset()
	s.xid++
	appendRequest(s.enc, s.xid, wire.OpCloseSession, wire.Empty{})
	if _, err := s.conn.Write(s.enc.Bytes()); err == nil {
		for {
			fr, err := s.rd.next()
			if err != nil {
				break
			}
			if xid, _, _, err := replyHeader(fr); err != nil || xid == s.xid {
				break
			}
		}
	}
	s.conn.Close()
}

// ensurePath creates path and its missing parents as persistent nodes
// holding no data.
func (s *session) ensurePath(path string) error {
	for i := 1; i <= len(path); i++ {
		if i < len(path) && path[i] != '/' {
			continue
		}
		p := path[:i]
		codes, err := s.call([]request{{wire.OpCreate, &wire.CreateRequest{Path: p, ACL: wire.WorldACL}}}, nil)
		if err != nil {
			return err
		}
		if codes[0] != wire.Ok && codes[0] != wire.ErrNodeExists {
			return fmt.Errorf("paddock/bench: create %s: %w", p, codes[0])
		}
	}
	return nil
}

// createAll creates the nodes (ignoring ones that exist) in pipelined
// batches.
func (s *session) createAll(paths []string, data []byte) error {
	const batch = 256
	for i := 0; i < len(paths); i += batch {
		j := min(i+batch, len(paths))
		reqs := make([]request, 0, j-i)
		for _, p := range paths[i:j] {
			reqs = append(reqs, request{wire.OpCreate, &wire.CreateRequest{Path: p, Data: data, ACL: wire.WorldACL}})
		}
		codes, err := s.call(reqs, nil)
		if err != nil {
			return err
		}
		for k, c := range codes {
			if c != wire.Ok && c != wire.ErrNodeExists {
				return fmt.Errorf("paddock/bench: create %s: %w", paths[i+k], c)
			}
		}
	}
	return nil
}

// ensureAll is createAll for nodes that may exist already: it reads them
// with exists first and creates only the missing ones, so that a set-up
// repeated before every point of a sweep writes nothing (failed creates
// are transactions on both servers, and a million of them would set off
// snapshots during the point).
func (s *session) ensureAll(paths []string, data []byte) error {
	const batch = 256
	reqs := make([]request, 0, batch)
	for i := 0; i < len(paths); i += batch {
		chunk := paths[i:min(i+batch, len(paths))]
		reqs = reqs[:0]
		for _, p := range chunk {
			reqs = append(reqs, request{wire.OpExists, &wire.PathWatchRequest{Path: p}})
		}
		codes, err := s.call(reqs, nil)
		if err != nil {
			return err
		}
		var missing []string
		for k, c := range codes {
			switch c {
			case wire.Ok:
			case wire.ErrNoNode:
				missing = append(missing, chunk[k])
			default:
				return fmt.Errorf("paddock/bench: exists %s: %w", chunk[k], c)
			}
		}
		if err := s.createAll(missing, data); err != nil {
			return err
		}
	}
	return nil
}
