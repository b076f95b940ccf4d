package raftnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/raftio"
	pb "github.com/lni/dragonboat/v4/raftpb"

	"github.com/paddockdb/paddock/actors/quorumauth"
	"github.com/paddockdb/paddock/wire/zktest"
)

// wait bounds every wait of these tests for something that must happen.
const wait = 10 * time.Second

// recorder is the MessageHandler and ChunkHandler of a test transport.
type recorder struct {
	batches chan pb.MessageBatch
	chunks  chan pb.Chunk
	refuse  atomic.Bool // the ChunkHandler answers false
}

func newRecorder() *recorder {
	return &recorder{batches: make(chan pb.MessageBatch, 1024), chunks: make(chan pb.Chunk, 1024)}
}

func (r *recorder) onBatch(b pb.MessageBatch) { r.batches <- b }

func (r *recorder) onChunk(c pb.Chunk) bool {
	if r.refuse.Load() {
		return false
	}
	r.chunks <- c
	return true
}

func (r *recorder) nextBatch(t *testing.T) pb.MessageBatch {
	t.Helper()
	select {
	case b := <-r.batches:
		return b
	case <-time.After(wait):
		t.Fatalf("no message batch within %v", wait)
		return pb.MessageBatch{}
	}
}

func (r *recorder) noBatch(t *testing.T) {
	t.Helper()
	select {
	case b := <-r.batches:
		t.Fatalf("unexpected batch delivered: %+v", b)
	default:
	}
}

// logs records what a transport logs at Warn and above.
type logs struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

func newLogs() *logs { return &logs{changed: make(chan struct{})} }

func (l *logs) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }
func (l *logs) WithAttrs([]slog.Attr) slog.Handler            { return l }
func (l *logs) WithGroup(string) slog.Handler                 { return l }
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	return nil
}

// waitFor waits for a line holding every one of parts, logged after the
// first n lines, and returns it.
func (l *logs) waitFor(t *testing.T, n int, parts ...string) string {
	t.Helper()
	deadline := time.After(wait)
	for {
		l.mu.Lock()
		for _, line := range l.lines[min(n, len(l.lines)):] {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				l.mu.Unlock()
				return line
			}
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no log line with %q within %v; got:\n%s", parts, wait, strings.Join(l.snapshot(), "\n"))
		}
	}
}

func (l *logs) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

func (l *logs) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// start starts a transport listening on addr.
func start(t *testing.T, addr string, f Factory, lg *logs) (*transport, *recorder) {
	t.Helper()
	if f.Logger == nil {
		f.Logger = slog.New(lg)
	}
	rec := newRecorder()
	tr := f.Create(config.NodeHostConfig{RaftAddress: addr}, rec.onBatch, rec.onChunk).(*transport)
	if err := tr.Start(); err != nil {
		t.Fatalf("start %s: %v", addr, err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, rec
}

func payload(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// testBatch is a batch of a heartbeat and a replicate with entries, one
// of them entryBytes long.
func testBatch(src string, seq uint64, entryBytes int) pb.MessageBatch {
	return pb.MessageBatch{
		DeploymentId: 7, BinVer: raftio.TransportBinVersion, SourceAddress: src,
		Requests: []pb.Message{
			{Type: pb.Heartbeat, ShardID: 1, From: 1, To: 2, Term: 5, Commit: seq},
			{Type: pb.Replicate, ShardID: 1, From: 1, To: 2, Term: 5, LogIndex: seq, LogTerm: 5, Commit: seq,
				Entries: []pb.Entry{
					{Term: 5, Index: seq + 1, Type: pb.ApplicationEntry, Key: 3, ClientID: 4, SeriesID: 5, Cmd: payload(entryBytes)},
					{Term: 5, Index: seq + 2, Type: pb.EncodedEntry, Cmd: []byte("paddock")},
				}},
		},
	}
}

func marshal(t *testing.T, m interface{ Marshal() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameBatch(t *testing.T, got, want pb.MessageBatch) {
	t.Helper()
	if !bytes.Equal(marshal(t, &got), marshal(t, &want)) {
		t.Fatalf("batch differs: got %d requests (source %q), want %d (source %q)", len(got.Requests), got.SourceAddress, len(want.Requests), want.SourceAddress)
	}
}

func testChunk(i, n uint64, data []byte) pb.Chunk {
	return pb.Chunk{
		ShardID: 1, ReplicaID: 2, From: 1, DeploymentId: 7, BinVer: raftio.TransportBinVersion,
		ChunkId: i, ChunkCount: n, FileChunkId: i, FileChunkCount: n, ChunkSize: uint64(len(data)),
		Index: 100, Term: 5, Filepath: "snapshot-0000000000000064.gbsnap", FileSize: n * uint64(len(data)),
		Membership: pb.Membership{ConfigChangeId: 3, Addresses: map[uint64]string{1: "peer1:2888"}},
		Data:       data,
	}
}

// TestExchange: message batches both ways and a snapshot's chunks arrive
// whole and in order; Close of the snapshot connection returns once the
// receiver has taken the last chunk.
func TestExchange(t *testing.T) {
	lg := newLogs()
	addrA, addrB := zktest.LoopbackAddr(t), zktest.LoopbackAddr(t)
	a, recA := start(t, addrA, Factory{}, lg)
	b, recB := start(t, addrB, Factory{}, lg)

	ab, err := a.GetConnection(context.Background(), addrB)
	if err != nil {
		t.Fatal(err)
	}
	defer ab.Close()
	ba, err := b.GetConnection(context.Background(), addrA)
	if err != nil {
		t.Fatal(err)
	}
	defer ba.Close()
	// Sizes around the read step and one over several steps.
	for i, size := range []int{0, 10, frameReadStep - 200, frameReadStep + 1, 3*frameReadStep + 17} {
		want := testBatch(addrA, uint64(10*i), size)
		if err := ab.SendMessageBatch(want); err != nil {
			t.Fatalf("A->B batch %d: %v", i, err)
		}
		sameBatch(t, recB.nextBatch(t), want)
		back := testBatch(addrB, uint64(10*i+1), size/2)
		if err := ba.SendMessageBatch(back); err != nil {
			t.Fatalf("B->A batch %d: %v", i, err)
		}
		sameBatch(t, recA.nextBatch(t), back)
	}

	sc, err := a.GetSnapshotConnection(context.Background(), addrB)
	if err != nil {
		t.Fatal(err)
	}
	var sent []pb.Chunk
	const n = 4
	for i := uint64(0); i < n; i++ {
		size := 2 << 20 // Dragonboat's chunk size
		if i == n-1 {
			size = 1234
		}
		c := testChunk(i, n, payload(size))
		if err := sc.SendChunk(c); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		sent = append(sent, c)
	}
	sc.Close()
	if len(recB.chunks) != n {
		t.Fatalf("after the snapshot connection's Close the receiver has %d chunks, want %d", len(recB.chunks), n)
	}
	for i := range sent {
		got := <-recB.chunks
		if !bytes.Equal(marshal(t, &got), marshal(t, &sent[i])) {
			t.Fatalf("chunk %d differs: got id %d, %d bytes", i, got.ChunkId, len(got.Data))
		}
	}
	if l := lg.snapshot(); len(l) > 0 {
		t.Fatalf("warnings on a clean exchange:\n%s", strings.Join(l, "\n"))
	}
}

// TestChunkRefusedClosesStream: when the ChunkHandler refuses a chunk
// the receiver closes the connection and the sender's next SendChunk
// fails, without a redial.
func TestChunkRefusedClosesStream(t *testing.T) {
	lg := newLogs()
	addrA, addrB := zktest.LoopbackAddr(t), zktest.LoopbackAddr(t)
	a, _ := start(t, addrA, Factory{}, lg)
	_, recB := start(t, addrB, Factory{}, lg)
	recB.refuse.Store(true)
	sc, err := a.GetSnapshotConnection(context.Background(), addrB)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.SendChunk(testChunk(0, 2, payload(100))); err != nil {
		t.Fatalf("first chunk: %v", err)
	}
	lg.waitFor(t, 0, "WARN", "snapshot chunk refused")
	// The refusal's close reaches the sender's reader at once; a chunk
	// after it fails.
	<-sc.(*chunkConn).link.gone
	if err := sc.SendChunk(testChunk(1, 2, payload(100))); !errors.Is(err, errPeerGone) {
		t.Fatalf("chunk after the receiver refused: %v, want %v", err, errPeerGone)
	}
}

// TestStaleConnection is the failover tail: A holds a connection to B,
// B stops and starts again on the same address (a member restarted), and
// A's next batch must arrive, the send reporting success. A transport
// that does not notice the peer's close writes the batch into the dead
// socket, where it is lost: then the batch never arrives.
func TestStaleConnection(t *testing.T) {
	lg := newLogs()
	addrA, addrB := zktest.LoopbackAddr(t), zktest.LoopbackAddr(t)
	a, _ := start(t, addrA, Factory{}, lg)
	b, recB := start(t, addrB, Factory{}, lg)
	c, err := a.GetConnection(context.Background(), addrB)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first := testBatch(addrA, 1, 10)
	if err := c.SendMessageBatch(first); err != nil {
		t.Fatal(err)
	}
	sameBatch(t, recB.nextBatch(t), first)

	for round := range 3 {
		b.Close()
		var recB2 *recorder
		b, recB2 = start(t, addrB, Factory{}, lg)
		next := testBatch(addrA, uint64(10+round), 10)
		if err := c.SendMessageBatch(next); err != nil {
			t.Fatalf("round %d: send after the peer restarted: %v", round, err)
		}
		sameBatch(t, recB2.nextBatch(t), next)
		recB.noBatch(t)
		recB = recB2
	}
}

// TestTargetDown: a target with nothing listening fails GetConnection
// and SendMessageBatch at once; a connection whose target went away
// fails its next send, and works again once the target is back.
func TestTargetDown(t *testing.T) {
	lg := newLogs()
	addrA, addrB := zktest.LoopbackAddr(t), zktest.LoopbackAddr(t)
	a, _ := start(t, addrA, Factory{}, lg)

	t0 := time.Now()
	if _, err := a.GetConnection(context.Background(), addrB); err == nil {
		t.Fatal("GetConnection to a target with nothing listening succeeded")
	}
	if _, err := a.GetSnapshotConnection(context.Background(), addrB); err == nil {
		t.Fatal("GetSnapshotConnection to a target with nothing listening succeeded")
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("refused dials took %v", d)
	}

	b, _ := start(t, addrB, Factory{}, lg)
	c, err := a.GetConnection(context.Background(), addrB)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b.Close()
	t0 = time.Now()
	if err := c.SendMessageBatch(testBatch(addrA, 1, 10)); err == nil {
		t.Fatal("send to a target that is down succeeded")
	}
	if err := c.SendMessageBatch(testBatch(addrA, 2, 10)); err == nil {
		t.Fatal("second send to a target that is down succeeded")
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("sends to a target that is down took %v", d)
	}
	_, recB := start(t, addrB, Factory{}, lg)
	want := testBatch(addrA, 3, 10)
	if err := c.SendMessageBatch(want); err != nil {
		t.Fatalf("send once the target is back: %v", err)
	}
	sameBatch(t, recB.nextBatch(t), want)
}

// TestStalledPeer: a peer that accepts and never reads cannot hold a
// sender longer than the write timeouts (two writes: the first, and the
// one after the redial).
func TestStalledPeer(t *testing.T) {
	lg := newLogs()
	ln, err := net.Listen("tcp", zktest.LoopbackAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		ln.Close()
		<-accepted
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	const timeout = 200 * time.Millisecond
	a, _ := start(t, zktest.LoopbackAddr(t), Factory{IOTimeout: timeout}, lg)
	c, err := a.GetConnection(context.Background(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	big := testBatch("x:1", 1, 40<<20) // more than the socket buffers hold
	t0 := time.Now()
	err = c.SendMessageBatch(big)
	d := time.Since(t0)
	if err == nil {
		t.Fatal("40 MiB to a peer that never reads: sent")
	}
	if d > 20*timeout+time.Second {
		t.Fatalf("send to a stalled peer took %v (write timeout %v)", d, timeout)
	}
}

// rawConn dials a transport without being one.
func rawConn(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*net.TCPConn)
}

// closedByPeer waits for the transport to close c: a read returns EOF
// or a reset, never data and never the deadline.
func closedByPeer(t *testing.T, c net.Conn, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	var b [1]byte
	n, err := c.Read(b[:])
	var ne net.Error
	switch {
	case n > 0:
		t.Fatalf("%s: the transport wrote %q", what, b[:n])
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("%s: the transport did not close the connection within %v", what, wait)
	case err == nil:
		t.Fatalf("%s: read returned nothing and no error", what)
	}
}

func frame(p []byte) []byte {
	b, err := appendFrame(nil, len(p), len(p), func(dst []byte) (int, error) { return copy(dst, p), nil })
	if err != nil {
		panic(err)
	}
	return b
}

func header(n uint32, crc uint32) []byte {
	return []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestMalformedInput: every kind of bad input closes its own connection
// with a warning, never reaches Dragonboat's handlers, and the transport
// goes on serving.
func TestMalformedInput(t *testing.T) {
	lg := newLogs()
	addrA, addrB := zktest.LoopbackAddr(t), zktest.LoopbackAddr(t)
	a, _ := start(t, addrA, Factory{}, lg)
	_, recB := start(t, addrB, Factory{IOTimeout: 300 * time.Millisecond}, lg)

	hm, hc := appendHello(nil, kindMessages, quorumauth.MechNone), appendHello(nil, kindChunks, quorumauth.MechNone)
	good := testBatch(addrA, 1, 100)
	goodFrame, err := appendBatchFrame(nil, &good)
	if err != nil {
		t.Fatal(err)
	}
	badCRC := bytes.Clone(goodFrame)
	badCRC[5] ^= 0xff
	flipped := bytes.Clone(goodFrame)
	flipped[len(flipped)-3] ^= 0x01
	// The payload on which Dragonboat's own decoder indexes out of range.
	dragonboatPanic := frame([]byte{0x0a, 0x00, 0x0a, 0xff})
	cases := []struct {
		name  string
		input []byte
		half  bool   // half-close after the input
		warn  string // in the warning
	}{
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false, "not a Paddock Raft connection"},
		{"member channel hello", []byte("PDKM\x01\x00\x00\x00\x00\x00\x00\x01"), false, "not a Paddock Raft connection"},
		{"bad magic", []byte("PDKX\x01\x01"), false, "not a Paddock Raft connection"},
		{"wrong version", []byte("PDKR\x03\x01"), false, "version 3"},
		{"version 2 without a mechanism", []byte("PDKR\x02\x01\x00"), false, "without a mechanism"},
		{"version 2 cut before the mechanism", []byte("PDKR\x02\x01"), true, "closed inside"},
		{"unknown kind", []byte("PDKR\x01\x07"), false, "unknown kind 7"},
		{"truncated hello", []byte("PDK"), true, "bad hello"},
		{"no hello", nil, false, "stalled"},
		{"oversize batch", cat(hm, header(maxBatchPayload+1, 0)), false, "out of bounds"},
		{"oversize chunk", cat(hc, header(maxChunkPayload+1, 0)), false, "out of bounds"},
		{"huge length", cat(hm, header(0xffffffff, 0)), false, "out of bounds"},
		{"empty frame", cat(hm, header(0, 0)), false, "out of bounds"},
		{"bad checksum in header", cat(hm, badCRC), false, "checksum mismatch"},
		{"bad checksum in payload", cat(hm, flipped), false, "checksum mismatch"},
		{"truncated header", cat(hm, goodFrame[:5]), true, "inside the header"},
		{"truncated payload", cat(hm, goodFrame[:len(goodFrame)-10]), true, "inside the payload"},
		{"stalled payload", cat(hm, goodFrame[:len(goodFrame)-10]), false, "stalled"},
		{"undecodable batch", cat(hm, frame([]byte{0xff, 0xff, 0xff})), false, "undecodable"},
		{"Dragonboat decoder panic", cat(hm, dragonboatPanic), false, "undecodable"},
		{"undecodable chunk", cat(hc, frame([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})), false, "undecodable"},
		{"a good batch on a chunk connection", cat(hc, goodFrame), false, "undecodable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := lg.count()
			c := rawConn(t, addrB)
			defer c.Close()
			if _, err := c.Write(tc.input); err != nil {
				t.Fatal(err)
			}
			if tc.half {
				_ = c.CloseWrite()
			}
			closedByPeer(t, c, tc.name)
			lg.waitFor(t, n, "WARN", tc.warn)
			recB.noBatch(t)
		})
	}
	// A good frame after all that is served.
	conn, err := a.GetConnection(context.Background(), addrB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SendMessageBatch(good); err != nil {
		t.Fatal(err)
	}
	sameBatch(t, recB.nextBatch(t), good)
}

// TestPeerClosingBeforeHello: a connect and close (a port probe) is not
// worth a warning.
func TestPeerClosingBeforeHello(t *testing.T) {
	lg := newLogs()
	addrA, addrB := zktest.LoopbackAddr(t), zktest.LoopbackAddr(t)
	a, _ := start(t, addrA, Factory{}, lg)
	_, recB := start(t, addrB, Factory{}, lg)
	rawConn(t, addrB).Close()
	c, err := a.GetConnection(context.Background(), addrB)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := testBatch(addrA, 1, 1)
	if err := c.SendMessageBatch(want); err != nil {
		t.Fatal(err)
	}
	sameBatch(t, recB.nextBatch(t), want)
	if l := lg.snapshot(); len(l) > 0 {
		t.Fatalf("warnings for a probe:\n%s", strings.Join(l, "\n"))
	}
}

// TestOversizeBatchRefusedBySender: the sender refuses a batch over the
// receiver's bound instead of sending what the receiver would close on.
func TestOversizeBatchRefusedBySender(t *testing.T) {
	lg := newLogs()
	addrA, addrB := zktest.LoopbackAddr(t), zktest.LoopbackAddr(t)
	a, _ := start(t, addrA, Factory{}, lg)
	_, recB := start(t, addrB, Factory{}, lg)
	c, err := a.GetConnection(context.Background(), addrB)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMessageBatch(testBatch(addrA, 1, maxBatchPayload)); !errors.Is(err, errFrameSize) {
		t.Fatalf("oversize batch: %v, want %v", err, errFrameSize)
	}
	want := testBatch(addrA, 2, 10)
	if err := c.SendMessageBatch(want); err != nil {
		t.Fatal(err)
	}
	sameBatch(t, recB.nextBatch(t), want)
}

// TestSourceAddressSpelling: a batch from a replica whose address this
// member spells otherwise is refused with an error naming both spellings
// (Dragonboat's registry would panic), once per connection; the
// connection stays, and a batch spelled right on it is delivered.
func TestSourceAddressSpelling(t *testing.T) {
	lg := newLogs()
	addrA, addrB := zktest.LoopbackAddr(t), zktest.LoopbackAddr(t)
	_, port, _ := net.SplitHostPort(addrA)
	other := "localhost:" + port
	a, _ := start(t, addrA, Factory{}, lg)
	peer := func(shardID, replicaID uint64) (string, bool) { return addrA, shardID == 1 && replicaID == 1 }
	_, recB := start(t, addrB, Factory{Peer: peer}, lg)
	c, err := a.GetConnection(context.Background(), addrB)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, src := range []string{other, other, "not an address", addrA} {
		if err := c.SendMessageBatch(testBatch(src, 1, 1)); err != nil {
			t.Fatal(err)
		}
	}
	got := recB.nextBatch(t)
	if got.SourceAddress != addrA {
		t.Fatalf("delivered a batch from %q", got.SourceAddress)
	}
	line := lg.waitFor(t, 0, "ERROR", "refusing the messages", other, addrA)
	t.Log(line)
	for _, l := range lg.snapshot() {
		if strings.Contains(l, "not an address") {
			t.Fatalf("a second refusal on the same connection was logged: %s", l)
		}
	}
	// A batch with no replica known to Peer passes.
	unknown := testBatch(other, 3, 1)
	for i := range unknown.Requests {
		unknown.Requests[i].From = 9
	}
	if err := c.SendMessageBatch(unknown); err != nil {
		t.Fatal(err)
	}
	sameBatch(t, recB.nextBatch(t), unknown)

	// A snapshot whose membership spells replica 1 otherwise: Dragonboat
	// would record those addresses on installing it.
	for _, addr := range []string{other, "no port"} {
		n := lg.count()
		sc, err := a.GetSnapshotConnection(context.Background(), addrB)
		if err != nil {
			t.Fatal(err)
		}
		ch := testChunk(0, 1, payload(10))
		ch.Membership.Addresses = map[uint64]string{1: addr}
		if err := sc.SendChunk(ch); err != nil {
			t.Fatal(err)
		}
		lg.waitFor(t, n, "ERROR", "refusing a snapshot", addr)
		<-sc.(*chunkConn).link.gone
		sc.Close()
		if len(recB.chunks) != 0 {
			t.Fatalf("membership %q: the chunk was delivered", addr)
		}
	}
	sc, err := a.GetSnapshotConnection(context.Background(), addrB)
	if err != nil {
		t.Fatal(err)
	}
	ch := testChunk(0, 1, payload(10))
	ch.Membership.Addresses = map[uint64]string{1: addrA, 2: addrB}
	if err := sc.SendChunk(ch); err != nil {
		t.Fatal(err)
	}
	sc.Close()
	if len(recB.chunks) != 1 {
		t.Fatal("a snapshot with the right spellings was not delivered")
	}
}

// raftnetGoroutines lists the goroutines running the transport's code.
func raftnetGoroutines() []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, f := range []string{"raftnet.(*transport).accept", "raftnet.(*transport).serve", "raftnet.(*transport).watch"} {
			if strings.Contains(g, f) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// waitGoroutines waits until n goroutines run the transport's code.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		got := raftnetGoroutines()
		if len(got) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of the transport, want %d:\n%s", len(got), n, strings.Join(got, "\n\n"))
		}
		time.Sleep(time.Millisecond) // polling the goroutine list: there is nothing to wait on
	}
}

// noGoroutines waits for the transport's goroutines to be gone: Close
// waited for them, so they are at most returning from their defers.
func noGoroutines(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		left := raftnetGoroutines()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of the transport left after Close:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // polling the goroutine list: there is nothing to wait on
	}
}

// TestCloseEndsEveryGoroutine: Close with connections of every kind open
// (dialled message and snapshot connections with their readers, accepted
// ones mid-frame and before their hello) returns promptly and leaves no
// goroutine behind; the connections fail afterwards without dialling.
func TestCloseEndsEveryGoroutine(t *testing.T) {
	noGoroutines(t)
	lg := newLogs()
	addrA, addrB := zktest.LoopbackAddr(t), zktest.LoopbackAddr(t)
	a, _ := start(t, addrA, Factory{}, lg)
	b, recB := start(t, addrB, Factory{}, lg)
	ab, err := a.GetConnection(context.Background(), addrB)
	if err != nil {
		t.Fatal(err)
	}
	ba, err := b.GetConnection(context.Background(), addrA)
	if err != nil {
		t.Fatal(err)
	}
	want := testBatch(addrA, 1, 10)
	if err := ab.SendMessageBatch(want); err != nil {
		t.Fatal(err)
	}
	sameBatch(t, recB.nextBatch(t), want)
	sc, err := a.GetSnapshotConnection(context.Background(), addrB)
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.SendChunk(testChunk(0, 3, payload(1000))); err != nil {
		t.Fatal(err)
	}
	quiet := rawConn(t, addrB) // no hello yet
	defer quiet.Close()
	mid := rawConn(t, addrB) // inside a frame
	defer mid.Close()
	if _, err := mid.Write(cat(appendHello(nil, kindMessages, quorumauth.MechNone), header(1000, 0), []byte("abc"))); err != nil {
		t.Fatal(err)
	}
	// 2 accept loops, 3 readers of dialled connections (ab, ba, sc), 5
	// accepted connections served (ab, ba, sc, quiet, mid).
	waitGoroutines(t, 10)

	t0 := time.Now()
	a.Close()
	b.Close()
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("Close took %v", d)
	}
	noGoroutines(t)
	if err := ab.SendMessageBatch(want); err == nil {
		t.Fatal("send after the transport closed succeeded")
	}
	if err := sc.SendChunk(testChunk(1, 3, payload(10))); err == nil {
		t.Fatal("chunk after the transport closed succeeded")
	}
	ab.Close()
	ba.Close()
	sc.Close()
	noGoroutines(t)
	if _, err := a.GetConnection(context.Background(), addrB); err == nil {
		t.Fatal("GetConnection on a closed transport succeeded")
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestValidate(t *testing.T) {
	var f Factory
	for addr, want := range map[string]bool{
		"127.0.0.1:2888":               true,
		"peer1:2888":                   true,
		"zk-0.zk.default.svc:2888":     true,
		"paddock_1:2888":               true,
		"[::1]:2888":                   true,
		"localhost:65535":              true,
		"localhost:0":                  false,
		"localhost:65536":              false,
		"localhost:-1":                 false,
		"localhost:http":               false,
		"localhost":                    false,
		":2888":                        false,
		"":                             false,
		"a b:2888":                     false,
		"-peer:2888":                   false,
		"peer-:2888":                   false,
		"peer..x:2888":                 false,
		"::1:2888":                     false,
		strings.Repeat("a", 64) + ":1": false,
	} {
		if got := f.Validate(addr); got != want {
			t.Errorf("Validate(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestListenAddress: the transport listens on ListenAddress when it is
// set, RaftAddress otherwise; a port taken fails Start.
func TestListenAddress(t *testing.T) {
	listen := zktest.LoopbackAddr(t)
	rec := newRecorder()
	f := &Factory{Logger: slog.New(newLogs())}
	tr := f.Create(config.NodeHostConfig{RaftAddress: "peer9:2888", ListenAddress: listen}, rec.onBatch, rec.onChunk)
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	c := rawConn(t, listen)
	c.Close()
	again := f.Create(config.NodeHostConfig{RaftAddress: listen}, rec.onBatch, rec.onChunk)
	if err := again.Start(); err == nil {
		t.Fatal("second transport on the same address started")
	}
	again.Close()
}
