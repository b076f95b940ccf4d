package bench

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire"
)

// fakeServer is an in-process ZooKeeper-protocol server that does no work:
// it answers the handshake, then answers every request with an Ok reply
// carrying a canned getData body, one write per batch of requests read. It
// shows the generator's own ceiling.
type fakeServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn

	// stall, when set, is how long the server stops (neither reading nor
	// answering) on meeting the first getData of each connection, before
	// answering it: a server pause, as a GC or an fsync would make.
	stall time.Duration
}

// startFake starts a fake server; opts set its fields before it accepts.
func startFake(tb testing.TB, opts ...func(*fakeServer)) *fakeServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	f := &fakeServer{ln: ln}
	for _, o := range opts {
		o(f)
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, c)
			f.mu.Unlock()
			f.wg.Add(1)
			go func() { defer f.wg.Done(); defer c.Close(); f.serve(c) }()
		}
	}()
	tb.Cleanup(f.close)
	return f
}

func (f *fakeServer) addr() string { return f.ln.Addr().String() }

func (f *fakeServer) close() {
	f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *fakeServer) serve(c net.Conn) {
	rd := newFrameReader(c, 256<<10)
	if _, err := rd.next(); err != nil {
		return
	}
	hello := wire.ConnectResponse{TimeOut: 30000, SessionID: 1, Passwd: make([]byte, wire.PasswordLen)}
	if _, err := c.Write(wire.AppendFrame(nil, &hello)); err != nil {
		return
	}
	// One canned reply: header then a getData body with 100 bytes of data.
	body := wire.GetDataResponse{Data: make([]byte, 100)}
	canned := wire.AppendFrame(nil, &wire.ReplyHeader{}, &body)
	out := make([]byte, 0, 256<<10)
	stalled := false
	for {
		if err := rd.fill(); err != nil {
			return
		}
		out = out[:0]
		for {
			fr, ok, err := rd.buffered()
			if err != nil {
				return
			}
			if !ok {
				break
			}
			xid := binary.BigEndian.Uint32(fr)
			op := wire.OpCode(int32(binary.BigEndian.Uint32(fr[4:])))
			start := len(out)
			if op == wire.OpGetData && f.stall > 0 && !stalled {
				stalled = true
				time.Sleep(f.stall) // the simulated pause itself, not synchronisation
			}
			if op == wire.OpCloseSession {
				out = wire.AppendFrame(out, &wire.ReplyHeader{Xid: int32(xid)})
				c.Write(out)
				return
			}
			out = append(out, canned...)
			binary.BigEndian.PutUint32(out[start+4:], xid)
		}
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// TestAgainstFakeServer checks the engine's bookkeeping where nothing is
// left to chance: every request answered, counted once, in order.
func TestAgainstFakeServer(t *testing.T) {
	f := startFake(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	// The fake cannot do setup's creates (it answers getData bodies), but
	// its Ok replies satisfy them.
	res, err := Run(ctx, Config{Addrs: []string{f.addr()}, Sessions: 3, InFlight: 7, Keys: 5, ReadRatio: 1, MaxOps: 10001})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkSane(t, res)
	if res.Ops != 10001 {
		t.Errorf("ops = %d, want 10001", res.Ops)
	}
	res, err = Run(ctx, Config{Addrs: []string{f.addr()}, Sessions: 2, InFlight: 64, Keys: 5, ReadRatio: 0.9,
		Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkSane(t, res)
}

// BenchmarkGenerator measures the generator's own cost per request
// against the do-nothing fake server on loopback: 4 sessions × 128 in
// flight of getData. ns/op is wall time per request for the whole
// pipeline (generator and fake share the machine); client-cpu-ns/op is the
// process CPU per request, which includes the fake server's share, so it
// is an upper bound on the generator's own cost.
func BenchmarkGenerator(b *testing.B) {
	f := startFake(b)
	ctx := context.Background()
	cfg := Config{Addrs: []string{f.addr()}, Sessions: 4, InFlight: 128, Keys: 1000, ValueSize: 100, ReadRatio: 1}
	// Setup and dialing happen outside the timer in a first short run.
	if _, err := Run(ctx, withMax(cfg, 1000)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	res, err := Run(ctx, withMax(cfg, int64(b.N)))
	cpu := cpuTime() - cpu0
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "client-cpu-ns/op")
	b.ReportMetric(res.Throughput, "ops/s")
}

func withMax(c Config, n int64) Config { c.MaxOps = n; return c }
