package actors

import (
	"bufio"
	"fmt"
	"net"
	"testing"

	"github.com/paddockdb/paddock/wire"
)

// Micro-benchmarks of a session round trip through a real in-process
// Paddock server over loopback (connection goroutine, session actor,
// replica read or proposer + Raft + fsync + apply, reply write), driven
// by a raw pipelined connection. Allocations are the whole process's:
// client and server together.
func benchServer(b *testing.B) *Server {
	s := startServer(b, b.TempDir(), nil)
	b.Cleanup(func() { s.Close() })
	return s
}

// benchConn is a raw session: requests are encoded back to back into one
// buffer and written with one syscall; replies are read through a
// buffered reader.
type benchConn struct {
	b   *testing.B
	nc  net.Conn
	r   *bufio.Reader
	out []byte
	in  []byte
	xid int32
}

func dialBench(b *testing.B, s *Server) *benchConn {
	b.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr().String(), testTimeout)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	c := &benchConn{b: b, nc: nc, r: bufio.NewReaderSize(nc, 64<<10)}
	req := wire.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}
	if _, err := nc.Write(wire.AppendFrame(nil, &req)); err != nil {
		b.Fatal(err)
	}
	if _, err := wire.ReadFrame(c.r, nil, wire.DefaultMaxPacket); err != nil {
		b.Fatalf("handshake: %v", err)
	}
	return c
}

// roundTrips sends n requests (made by body) in batches of window, each
// batch in one write, and reads every reply, checking xid and error code.
func (c *benchConn) roundTrips(n, window int, op wire.OpCode, body func(i int) wire.Record) {
	c.roundTripsOps(n, window, func(i int) (wire.OpCode, wire.Record) { return op, body(i) })
}

// roundTripsOps is roundTrips with the opcode chosen per request.
func (c *benchConn) roundTripsOps(n, window int, req func(i int) (wire.OpCode, wire.Record)) {
	for done := 0; done < n; {
		k := min(window, n-done)
		c.out = c.out[:0]
		first := c.xid + 1
		for j := 0; j < k; j++ {
			c.xid++
			op, body := req(done + j)
			c.out = wire.AppendFrame(c.out, &wire.RequestHeader{Xid: c.xid, Type: op}, body)
		}
		if _, err := c.nc.Write(c.out); err != nil {
			c.b.Fatal(err)
		}
		for j := 0; j < k; j++ {
			frame, err := wire.ReadFrame(c.r, c.in, wire.DefaultMaxPacket)
			if err != nil {
				c.b.Fatalf("read: %v", err)
			}
			c.in = frame
			d := wire.NewDecoder(frame)
			var h wire.ReplyHeader
			h.Decode(d)
			if h.Xid != first+int32(j) || h.Err != wire.Ok {
				c.b.Fatalf("reply xid %d err %v, want xid %d Ok", h.Xid, h.Err, first+int32(j))
			}
		}
		done += k
	}
}

const benchKeys = 1000

func benchSetup(b *testing.B) (*benchConn, []string, []byte) {
	s := benchServer(b)
	c := dialBench(b, s)
	val := make([]byte, 100)
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("/bench/k%08d", i)
	}
	c.roundTrips(1, 1, wire.OpCreate, func(int) wire.Record {
		return &wire.CreateRequest{Path: "/bench", ACL: wire.WorldACL}
	})
	c.roundTrips(len(keys), 64, wire.OpCreate, func(i int) wire.Record {
		return &wire.CreateRequest{Path: keys[i], Data: val, ACL: wire.WorldACL}
	})
	return c, keys, val
}

func benchGetData(b *testing.B, window int) {
	c, keys, _ := benchSetup(b)
	reqs := make([]wire.PathWatchRequest, len(keys))
	for i := range reqs {
		reqs[i].Path = keys[i]
	}
	b.ReportAllocs()
	b.ResetTimer()
	c.roundTrips(b.N, window, wire.OpGetData, func(i int) wire.Record { return &reqs[(i*7)%len(reqs)] })
}

func benchSetData(b *testing.B, window int) {
	c, keys, val := benchSetup(b)
	reqs := make([]wire.SetDataRequest, len(keys))
	for i := range reqs {
		reqs[i] = wire.SetDataRequest{Path: keys[i], Data: val, Version: -1}
	}
	b.ReportAllocs()
	b.ResetTimer()
	c.roundTrips(b.N, window, wire.OpSetData, func(i int) wire.Record { return &reqs[(i*7)%len(reqs)] })
}

// One request at a time: the latency of a round trip.
func BenchmarkSessionGetDataSerial(b *testing.B) { benchGetData(b, 1) }

// 64 in flight on one session: the throughput of one session's read path.
func BenchmarkSessionGetDataPipelined(b *testing.B) { benchGetData(b, 64) }

// One request at a time: proposal, Raft commit with fsync, apply, reply.
func BenchmarkSessionSetDataSerial(b *testing.B) { benchSetData(b, 1) }

// 64 in flight on one session: group commit amortises Raft and fsync.
func BenchmarkSessionSetDataPipelined(b *testing.B) { benchSetData(b, 64) }

// 64 in flight on one session, half setData and half getData of the same
// keys in a random order: reads wait for the session's earlier writes
// (guarantee 2) while later writes keep flowing.
func BenchmarkSessionMixedPipelined(b *testing.B) {
	c, keys, val := benchSetup(b)
	sets := make([]wire.SetDataRequest, len(keys))
	gets := make([]wire.PathWatchRequest, len(keys))
	for i := range keys {
		sets[i] = wire.SetDataRequest{Path: keys[i], Data: val, Version: -1}
		gets[i].Path = keys[i]
	}
	b.ReportAllocs()
	b.ResetTimer()
	c.roundTripsOps(b.N, 64, func(i int) (wire.OpCode, wire.Record) {
		k := (i * 7) % len(keys)
		if (i*2654435761)>>7&1 == 0 { // a fixed pseudo-random half
			return wire.OpSetData, &sets[k]
		}
		return wire.OpGetData, &gets[k]
	})
}

// readEvent reads one frame and checks it is a watch event of type typ.
func (c *benchConn) readEvent(typ wire.EventType) {
	frame, err := wire.ReadFrame(c.r, c.in, wire.DefaultMaxPacket)
	if err != nil {
		c.b.Fatalf("read event: %v", err)
	}
	c.in = frame
	d := wire.NewDecoder(frame)
	var h wire.ReplyHeader
	h.Decode(d)
	var ev wire.WatcherEvent
	ev.Decode(d)
	if h.Xid != wire.XidNotification || ev.Type != typ {
		c.b.Fatalf("got xid %d event %v, want a %v notification", h.Xid, ev.Type, typ)
	}
}

// A watch trigger end to end: one setData on a node that 16 other
// sessions watch (persistent watches, registered once), timed until every
// watcher has read its NodeDataChanged event — apply, router, path actor,
// 16 session actors, 16 socket writes.
func BenchmarkWatchTrigger16(b *testing.B) {
	const watchers = 16
	s := benchServer(b)
	w := dialBench(b, s)
	w.roundTrips(1, 1, wire.OpCreate, func(int) wire.Record { return &wire.CreateRequest{Path: "/w", ACL: wire.WorldACL} })
	ws := make([]*benchConn, watchers)
	for i := range ws {
		ws[i] = dialBench(b, s)
		ws[i].roundTrips(1, 1, wire.OpAddWatch, func(int) wire.Record {
			return &wire.AddWatchRequest{Path: "/w", Mode: wire.WatchPersistent}
		})
	}
	set := &wire.SetDataRequest{Path: "/w", Data: make([]byte, 100), Version: -1}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.roundTrips(1, 1, wire.OpSetData, func(int) wire.Record { return set })
		for _, c := range ws {
			c.readEvent(wire.EventNodeDataChanged)
		}
	}
}
