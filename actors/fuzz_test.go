package actors

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire"
)

// FuzzServerRequest protects DESIGN.md guarantee 8 (bad input never costs
// data or other clients). Each input is sent after a valid handshake,
// either as the body of one frame (raw=false) or as raw bytes on the
// stream (raw=true, so it also fuzzes the framing). The server must then
// answer or close that connection (it may not hang on it), and a
// separate healthy session, opened once per fuzz process, must still be
// served.
//
// One server per fuzz process, started on the first input and closed by
// the fuzz function's cleanup:
//
//	go test -run '^$' -fuzz '^FuzzServerRequest$' -fuzztime 10s ./actors
func FuzzServerRequest(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(false, seed[4:]) // frame body
		f.Add(true, seed)      // whole frame on the stream
	}
	garbage := [][]byte{
		nil,
		{0},
		{0xff, 0xff, 0xff, 0xff},
		{0, 0, 0, 1},
		{0x7f, 0xff, 0xff, 0xff, 1, 2, 3},
		[]byte("ruok"),
		[]byte("\x00\x00\x00\x08\x00\x00\x00\x01\x00\x00\x03\xe7"),                 // unknown opcode 999
		[]byte("\x00\x00\x00\x07\x00\x00\x00\x01\x00\x00\x00"),                     // short header
		[]byte("\x00\x00\x00\x0c\x00\x00\x00\x01\x00\x00\x00\x01\xff\xff\xff\xff"), // create, path length -1
		[]byte("\x00\x00\x00\x0c\x00\x00\x00\x01\x00\x00\x00\x04\x7f\xff\xff\xff"), // getData, huge path length
	}
	for _, g := range garbage {
		f.Add(false, g)
		f.Add(true, g)
	}

	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, raw bool, data []byte) {
		srv, healthy := fs.get(t)
		nc, herr := fuzzHandshake(srv.Addr().String(), 2000)
		if herr != nil {
			t.Fatalf("handshake: %v", herr)
		}
		defer nc.Close()
		payload := data
		if !raw {
			payload = binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(data)), uint32(len(data)))
			payload = append(payload, data...)
		}
		_ = nc.SetDeadline(time.Now().Add(testTimeout))
		if _, werr := nc.Write(payload); werr != nil && !isClosed(werr) {
			t.Fatalf("write: %v", werr)
		}
		// End of input: the server must answer what it parsed and close.
		_ = nc.(*net.TCPConn).CloseWrite()
		if _, rerr := io.Copy(io.Discard, nc); rerr != nil && !isClosed(rerr) {
			t.Fatalf("server neither answered nor closed the connection: %v", rerr)
		}

		if herr := fs.check(healthy); herr != nil {
			t.Fatalf("healthy session not served after input (raw=%v) %x: %v", raw, data, herr)
		}
	})
}

// FuzzConnectRequest fuzzes the handshake: the first frame of a connection
// is the input instead of a ConnectRequest. The server must answer it or
// close the connection, and a healthy session must still be served.
//
//	go test -run '^$' -fuzz '^FuzzConnectRequest$' -fuzztime 10s ./actors
func FuzzConnectRequest(f *testing.F) {
	for _, req := range []wire.ConnectRequest{
		{TimeOut: 2000, Passwd: make([]byte, wire.PasswordLen)},
		{TimeOut: 2000, Passwd: make([]byte, wire.PasswordLen), HasReadOnly: true, ReadOnly: true},
		{TimeOut: 2000, SessionID: 0x0123456789, Passwd: []byte("wrong"), LastZxidSeen: 1 << 40},
		{TimeOut: -1, LastZxidSeen: -1, Passwd: nil},
	} {
		f.Add(wire.AppendFrame(nil, &req)[4:])
	}
	f.Add([]byte{})
	f.Add([]byte("ruok"))
	f.Add([]byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		srv, healthy := fs.get(t)
		nc, err := net.DialTimeout("tcp", srv.Addr().String(), testTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(testTimeout))
		frame := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(body)), uint32(len(body)))
		if _, werr := nc.Write(append(frame, body...)); werr != nil && !isClosed(werr) {
			t.Fatalf("write: %v", werr)
		}
		_ = nc.(*net.TCPConn).CloseWrite()
		if _, rerr := io.Copy(io.Discard, nc); rerr != nil && !isClosed(rerr) {
			t.Fatalf("server neither answered nor closed the connection: %v", rerr)
		}
		if err := fs.check(healthy); err != nil {
			t.Fatalf("healthy session not served after connect request %x: %v", body, err)
		}
	})
}

// fuzzServer is one server per fuzz process, started on the first input
// and closed by the fuzz function's cleanup, with a healthy session that
// every input must leave served.
type fuzzServer struct {
	once    sync.Once
	dir     string
	srv     *Server
	healthy net.Conn
	xid     int32
	err     error
}

func newFuzzServer(f *testing.F) *fuzzServer {
	fs := &fuzzServer{dir: f.TempDir()}
	f.Cleanup(func() {
		if fs.healthy != nil {
			fs.healthy.Close()
		}
		if fs.srv != nil {
			fs.srv.Close()
		}
	})
	return fs
}

func (fs *fuzzServer) get(t *testing.T) (*Server, net.Conn) {
	fs.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		fs.srv, fs.err = Start(ctx, Config{
			DataDir:    fs.dir,
			ClientAddr: "127.0.0.1:0",
			TickTime:   100 * time.Millisecond,
			// The healthy session must not expire while the fuzzer
			// minimises or pauses.
			MaxSessionTimeout: time.Hour,
			FourLetterWords:   []string{"*"},
			Logger:            slog.New(slog.DiscardHandler),
		})
		if fs.err != nil {
			return
		}
		fs.healthy, fs.err = fuzzHandshake(fs.srv.Addr().String(), int32(time.Hour/time.Millisecond))
	})
	if fs.err != nil {
		t.Fatalf("server set-up: %v", fs.err)
	}
	return fs.srv, fs.healthy
}

// check runs an exists on the healthy session.
func (fs *fuzzServer) check(healthy net.Conn) error {
	fs.xid++
	return fuzzExists(healthy, fs.xid, "/")
}

// isClosed reports whether err means the peer closed the connection (not
// a timeout).
func isClosed(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	var oe *net.OpError
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.As(err, &oe)
}

// fuzzHandshake opens a session on addr.
func fuzzHandshake(addr string, timeoutMs int32) (net.Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	req := wire.ConnectRequest{TimeOut: timeoutMs, Passwd: make([]byte, wire.PasswordLen)}
	if _, err := nc.Write(wire.AppendFrame(nil, &req)); err != nil {
		nc.Close()
		return nil, err
	}
	body, err := wire.ReadFrame(nc, nil, wire.DefaultMaxPacket)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect response: %w", err)
	}
	var resp wire.ConnectResponse
	d := wire.NewDecoder(body)
	resp.Decode(d)
	if d.Err() != nil || resp.SessionID == 0 {
		nc.Close()
		return nil, fmt.Errorf("connect response: %v, session %#x", d.Err(), resp.SessionID)
	}
	return nc, nil
}

// fuzzExists sends exists(path) on nc and waits for its reply.
func fuzzExists(nc net.Conn, xid int32, path string) error {
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	if _, err := nc.Write(wire.AppendFrame(nil, &wire.RequestHeader{Xid: xid, Type: wire.OpExists}, &wire.PathWatchRequest{Path: path})); err != nil {
		return err
	}
	for {
		body, err := wire.ReadFrame(nc, nil, wire.DefaultMaxPacket)
		if err != nil {
			return err
		}
		var h wire.ReplyHeader
		d := wire.NewDecoder(body)
		h.Decode(d)
		if d.Err() != nil {
			return d.Err()
		}
		if h.Xid != xid {
			continue // a watch event or an older reply
		}
		if h.Err != wire.Ok {
			return fmt.Errorf("exists %s: %v", path, h.Err)
		}
		return nil
	}
}

// fuzzSeeds are valid request frames for a spread of opcodes.
func fuzzSeeds() [][]byte {
	frame := func(op wire.OpCode, body wire.Record) []byte {
		h := &wire.RequestHeader{Xid: 1, Type: op}
		if body == nil {
			return wire.AppendFrame(nil, h)
		}
		return wire.AppendFrame(nil, h, body)
	}
	return [][]byte{
		frame(wire.OpPing, nil),
		frame(wire.OpCreate, &wire.CreateRequest{Path: "/fuzz", Data: []byte("x"), ACL: wire.WorldACL}),
		frame(wire.OpCreate2, &wire.CreateRequest{Path: "/fuzz-s-", Data: []byte("y"), ACL: wire.WorldACL, Flags: wire.ModePersistent}),
		frame(wire.OpGetData, &wire.PathWatchRequest{Path: "/fuzz", Watch: true}),
		frame(wire.OpExists, &wire.PathWatchRequest{Path: "/nope", Watch: true}),
		frame(wire.OpGetChildren2, &wire.PathWatchRequest{Path: "/", Watch: true}),
		frame(wire.OpSetData, &wire.SetDataRequest{Path: "/fuzz", Data: []byte("z"), Version: -1}),
		frame(wire.OpDelete, &wire.PathVersionRequest{Path: "/fuzz", Version: -1}),
		frame(wire.OpSync, &wire.PathRequest{Path: "/"}),
		frame(wire.OpGetEphemerals, &wire.PathRequest{Path: "/"}),
		frame(wire.OpAddWatch, &wire.AddWatchRequest{Path: "/", Mode: wire.WatchPersistentRecursive}),
		frame(wire.OpCheckWatches, &wire.WatchesRequest{Path: "/", Type: wire.WatcherAny}),
		frame(wire.OpSetWatches2, &wire.SetWatchesRequest{DataWatches: []string{"/a"}, ChildWatches: []string{"/"}, V2: true}),
		frame(wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
			{Type: wire.OpCreate, Body: &wire.CreateRequest{Path: "/fuzz-m", ACL: wire.WorldACL}},
			{Type: wire.OpDelete, Body: &wire.PathVersionRequest{Path: "/fuzz-m", Version: -1}},
		}}),
		frame(wire.OpWhoAmI, nil),
		frame(wire.OpCloseSession, nil),
	}
}
