package raftnet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/raftio"
	pb "github.com/lni/dragonboat/v4/raftpb"

	"github.com/paddockdb/paddock/actors/quorumauth"
)

// Name is the transport's name as Dragonboat logs it.
const Name = "paddock-raftnet"

// Defaults of the Factory's timeouts.
const (
	DefaultDialTimeout = 2 * time.Second
	DefaultIOTimeout   = 5 * time.Second
)

// keepAlive probes an idle connection after 10 s, and gives a peer that
// stopped answering (a machine gone without closing its sockets) another
// 15 s. NoDelay stays Go's default, on: a heartbeat or a vote is never
// held back to be coalesced.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 5 * time.Second, Count: 3}

// Factory is the config.TransportFactory of an ensemble member
// (NodeHostConfig.Expert.TransportFactory). The zero value works.
type Factory struct {
	// Logger receives the warnings about bad peers and bad input; nil:
	// slog.Default().
	Logger *slog.Logger
	// Peer returns the address this member was configured with for a
	// replica of a shard (a peer's RaftAddress, spelled as in this
	// member's configuration), and false for a replica it has none for.
	// A message batch from a replica whose SourceAddress is spelled
	// otherwise is refused with an error naming both, where Dragonboat
	// would panic ("inconsistent target"). nil: no check.
	Peer func(shardID, replicaID uint64) (string, bool)
	// DialTimeout bounds each dial (default DefaultDialTimeout).
	DialTimeout time.Duration
	// IOTimeout bounds every step of a write, a hello with its
	// authentication phase and every step of a frame being read once its
	// first byte has come, and the wait for a snapshot receiver to take
	// the last chunk (default DefaultIOTimeout).
	IOTimeout time.Duration
	// QuorumAuth is the member's quorum SASL (zoo.cfg's
	// quorum.auth.enableSasl and its require flags; package quorumauth):
	// dialled connections authenticate when it asks the learner to,
	// accepted ones are verified; nil: none (a peer that asks to
	// authenticate is told so and closed).
	QuorumAuth *quorumauth.Config
}

var _ config.TransportFactory = (*Factory)(nil)

func (f *Factory) peer(shardID, replicaID uint64) (string, bool) {
	if f.Peer == nil {
		return "", false
	}
	return f.Peer(shardID, replicaID)
}

// Create implements config.TransportFactory: the transport listens on
// nhc's ListenAddress, or its RaftAddress when that is empty.
func (f *Factory) Create(nhc config.NodeHostConfig, onBatch raftio.MessageHandler, onChunk raftio.ChunkHandler) raftio.ITransport {
	cfg := *f
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = cfg.Logger.With("component", "raftnet")
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.IOTimeout <= 0 {
		cfg.IOTimeout = DefaultIOTimeout
	}
	t := &transport{
		cfg:        cfg,
		listenAddr: nhc.GetListenAddress(),
		onBatch:    onBatch,
		onChunk:    onChunk,
		log:        cfg.Logger,
		conns:      map[net.Conn]struct{}{},
	}
	t.learnReports.Log, t.acceptReports.Log = cfg.Logger, cfg.Logger
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return t
}

// Validate implements config.TransportFactory: addr is host:port with a
// port in 1-65535 and a host that is an IP address (v4 or v6) or a
// hostname. Dragonboat checks RaftAddress and every peer address with it.
func (f *Factory) Validate(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return false
	}
	return net.ParseIP(host) != nil || validHostname(host)
}

// validHostname: dot-separated labels of 1-63 letters, digits, '-' or
// '_' (container names have them), not starting or ending with '-'; at
// most 253 bytes.
func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	label := 0
	for i := 0; i <= len(h); i++ {
		if i == len(h) || h[i] == '.' {
			if label == 0 || label > 63 || h[i-1] == '-' || h[i-label] == '-' {
				return false
			}
			label = 0
			continue
		}
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
		label++
	}
	return true
}

// transport is the raftio.ITransport. Its goroutines (the accept loop,
// one per accepted connection, one reader per dialled connection) are
// counted by wg; Close ends them all.
type transport struct {
	cfg        Factory
	listenAddr string
	onBatch    raftio.MessageHandler
	onChunk    raftio.ChunkHandler
	log        *slog.Logger
	// The outcomes of quorum SASL exchanges, per peer: as a dialler (by
	// target) and as an acceptor (by the peer's host).
	learnReports, acceptReports quorumauth.Reporter
	// ctx is cancelled by Close: it ends the dials in progress.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{} // accepted and dialled, open; Close closes them
	closed bool
	wg     sync.WaitGroup
}

var errClosed = errors.New("paddock/raftnet: transport closed")

func (t *transport) Name() string { return Name }

// Start listens and serves every accepted connection on a goroutine of
// its own.
func (t *transport) Start() error {
	lc := net.ListenConfig{KeepAliveConfig: keepAlive}
	ln, err := lc.Listen(t.ctx, "tcp", t.listenAddr)
	if err != nil {
		return fmt.Errorf("paddock/raftnet: %w", err)
	}
	t.mu.Lock()
	if t.closed || t.ln != nil {
		t.mu.Unlock()
		ln.Close()
		return errors.New("paddock/raftnet: transport closed or started already")
	}
	t.ln = ln
	t.wg.Add(1)
	t.mu.Unlock()
	go t.accept(ln)
	return nil
}

// Close stops the listener, closes every connection, accepted or
// dialled, and waits for every goroutine of the transport to end.
func (t *transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	ln := t.ln
	conns := make([]net.Conn, 0, len(t.conns))
	for nc := range t.conns {
		conns = append(conns, nc)
	}
	t.mu.Unlock()
	t.cancel()
	if ln != nil {
		ln.Close()
	}
	for _, nc := range conns {
		nc.Close()
	}
	t.wg.Wait()
	return nil
}

// track records an open connection and counts the goroutine that will
// own it; it refuses once the transport is closed.
func (t *transport) track(nc net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.conns[nc] = struct{}{}
	t.wg.Add(1)
	return true
}

// untrack ends what track began; the connection's goroutine calls it
// last.
func (t *transport) untrack(nc net.Conn) {
	t.mu.Lock()
	delete(t.conns, nc)
	t.mu.Unlock()
	t.wg.Done()
}

func (t *transport) accept(ln net.Listener) {
	defer t.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, most likely: wait a little
			// rather than spin.
			t.log.Warn("accept failed", "addr", ln.Addr().String(), "err", err)
			select {
			case <-time.After(50 * time.Millisecond):
			case <-t.ctx.Done():
				return
			}
			continue
		}
		if !t.track(nc) {
			nc.Close()
			return
		}
		go t.serve(nc)
	}
}

// serve reads one accepted connection until it ends or breaks the
// protocol, handing what it carries to Dragonboat's handlers.
func (t *transport) serve(nc net.Conn) {
	defer t.untrack(nc)
	defer nc.Close()
	r := &frameReader{br: bufio.NewReaderSize(nc, 64<<10), deadline: nc.SetReadDeadline, timeout: t.cfg.IOTimeout}
	kind, mech, err := r.hello()
	if err != nil {
		t.ended(nc, "hello", err)
		return
	}
	if t.cfg.QuorumAuth != nil || mech != quorumauth.MechNone {
		_ = nc.SetDeadline(time.Now().Add(t.cfg.IOTimeout))
		p, err := quorumauth.Accept(t.cfg.QuorumAuth, r.br, nc, mech)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			t.acceptReports.Failed(quorumauth.PeerHost(nc.RemoteAddr()), "quorum SASL: closing the connection of a peer that did not authenticate",
				err, "remote", nc.RemoteAddr().String())
			return
		}
		if p != "" {
			t.acceptReports.Succeeded(quorumauth.PeerHost(nc.RemoteAddr()), "quorum SASL: a peer authenticated", "principal", p, "remote", nc.RemoteAddr().String())
		}
		_ = nc.SetWriteDeadline(time.Time{})
	}
	src := sourceCheck{t: t, remote: nc.RemoteAddr().String()}
	for {
		p, err := r.next(maxPayload(kind))
		if err != nil {
			t.ended(nc, "frame", err)
			return
		}
		if kind == kindMessages {
			b, err := decodeBatch(p)
			if err != nil {
				t.ended(nc, "frame", err)
				return
			}
			if src.accept(&b) {
				t.onBatch(b)
			}
			continue
		}
		c, err := decodeChunk(p)
		if err != nil {
			t.ended(nc, "frame", err)
			return
		}
		if err := src.checkMembership(&c); err != nil {
			t.log.Error("refusing a snapshot; closing the snapshot connection", "remote", nc.RemoteAddr().String(), "err", err)
			return
		}
		if !t.onChunk(c) {
			t.log.Warn("snapshot chunk refused; closing the snapshot connection", "remote", nc.RemoteAddr().String(),
				"shard", c.ShardID, "replica", c.ReplicaID, "from", c.From, "chunk", c.ChunkId, "chunks", c.ChunkCount)
			return
		}
	}
}

// ended logs why an accepted connection ends: a warning for bad input
// or a peer that stalled; a clean end and our own Close are not news.
func (t *transport) ended(nc net.Conn, at string, err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF): // closed before a hello or between frames
		t.log.Debug("peer closed its connection", "remote", nc.RemoteAddr().String(), "in", at)
	case errors.Is(err, net.ErrClosed):
	case errors.As(err, &ne) && ne.Timeout():
		t.log.Warn("peer stalled; closing its connection", "remote", nc.RemoteAddr().String(), "in", at, "timeout", t.cfg.IOTimeout)
	case errors.Is(err, errHello), errors.Is(err, errFrameSize), errors.Is(err, errChecksum),
		errors.Is(err, errTruncated), errors.Is(err, errDecode):
		t.log.Warn("bad input; closing the connection", "remote", nc.RemoteAddr().String(), "err", err)
	default:
		t.log.Debug("connection ended", "remote", nc.RemoteAddr().String(), "err", err)
	}
}

// sourceCheck refuses, on one accepted connection, what Dragonboat's
// address registry would panic on: a message batch whose SourceAddress is
// not a valid address, or is spelled otherwise than this member's
// configuration spells the sending replica (Factory.Peer); a snapshot
// whose membership spells a replica's address otherwise (Dragonboat
// records the membership's addresses when it installs the snapshot). It
// logs the first refused batch of each connection.
type sourceCheck struct {
	t      *transport
	remote string
	warned bool
}

func (s *sourceCheck) accept(b *pb.MessageBatch) bool {
	err := s.check(b)
	if err == nil {
		return true
	}
	if !s.warned {
		s.warned = true
		s.t.log.Error("refusing the messages of a peer (logged once per connection)", "remote", s.remote, "err", err)
	}
	return false
}

func (s *sourceCheck) check(b *pb.MessageBatch) error {
	if b.SourceAddress == "" {
		return nil
	}
	if !s.t.cfg.Validate(b.SourceAddress) {
		return fmt.Errorf("paddock/raftnet: the peer's address %q is not host:port", b.SourceAddress)
	}
	for _, m := range b.Requests {
		if m.From == 0 {
			continue
		}
		if want, ok := s.t.cfg.peer(m.ShardID, m.From); ok && want != b.SourceAddress {
			return fmt.Errorf("paddock/raftnet: replica %d of shard %d calls itself %q, but this member is configured with %q for it: every member must spell a peer's address the same way",
				m.From, m.ShardID, b.SourceAddress, want)
		}
	}
	return nil
}

// checkMembership checks the addresses of a snapshot chunk's membership
// as check does a batch's source.
func (s *sourceCheck) checkMembership(c *pb.Chunk) error {
	for _, set := range []map[uint64]string{c.Membership.Addresses, c.Membership.NonVotings, c.Membership.Witnesses} {
		for id, addr := range set {
			if !s.t.cfg.Validate(addr) {
				return fmt.Errorf("paddock/raftnet: the snapshot's membership has %q for replica %d of shard %d, not host:port", addr, id, c.ShardID)
			}
			if want, ok := s.t.cfg.peer(c.ShardID, id); ok && want != addr {
				return fmt.Errorf("paddock/raftnet: the snapshot's membership has %q for replica %d of shard %d, but this member is configured with %q for it: every member must spell a peer's address the same way",
					addr, id, c.ShardID, want)
			}
		}
	}
	return nil
}
