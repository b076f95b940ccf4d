package raftnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/lni/dragonboat/v4/raftio"
	pb "github.com/lni/dragonboat/v4/raftpb"

	"github.com/paddockdb/paddock/actors/quorumauth"
)

const writeStep = 1 << 20 // a write deadline covers at most this much

var (
	errConnClosed = errors.New("paddock/raftnet: connection closed")
	errPeerGone   = errors.New("paddock/raftnet: the receiver closed the snapshot connection")
)

// link is one dialled TCP connection and its reader goroutine. The peer
// never writes on it, so the reader's Read returns only when the peer
// closes or resets the connection, breaks the protocol, or we close it.
type link struct {
	nc   net.Conn
	gone chan struct{} // closed by the reader when its Read returned
	done chan struct{} // closed when the reader goroutine has ended
}

// dial connects to target by name (resolved on every dial), sends the
// hello of kind and starts the link's reader. ctx and the transport's
// Close both end a dial in progress.
func (t *transport) dial(ctx context.Context, target string, kind byte) (*link, error) {
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(t.ctx, cancel)
	defer stop()
	d := net.Dialer{Timeout: t.cfg.DialTimeout, KeepAliveConfig: keepAlive}
	nc, err := d.DialContext(dctx, "tcp", target)
	if err != nil {
		if t.ctx.Err() != nil {
			return nil, errClosed
		}
		return nil, fmt.Errorf("paddock/raftnet: dial %s: %w", target, err)
	}
	l := &link{nc: nc, gone: make(chan struct{}), done: make(chan struct{})}
	// ctx and Close end the hello and the authentication too.
	unwatch := context.AfterFunc(dctx, func() { nc.Close() })
	qa := t.cfg.QuorumAuth
	err = l.write(appendHello(nil, kind, qa.HelloMech()), t.cfg.IOTimeout)
	if err != nil {
		err = fmt.Errorf("paddock/raftnet: hello to %s: %w", target, err)
	} else if qa.HelloMech() != quorumauth.MechNone {
		err = t.learn(nc, target)
	}
	if !unwatch() {
		err = errClosed
		if t.ctx.Err() == nil {
			err = fmt.Errorf("paddock/raftnet: dial %s: %w", target, ctx.Err())
		}
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	if !t.track(nc) {
		nc.Close()
		return nil, errClosed
	}
	go t.watch(l, target)
	return l, nil
}

// learn authenticates this member on a dialled connection whose hello
// asked for quorum SASL, within the IOTimeout. Nothing else is written on
// the connection unless it succeeds.
func (t *transport) learn(nc net.Conn, target string) error {
	host, _, _ := net.SplitHostPort(target)
	_ = nc.SetDeadline(time.Now().Add(t.cfg.IOTimeout))
	if err := quorumauth.Learn(t.cfg.QuorumAuth, nc, nc, host); err != nil {
		if errors.Is(err, net.ErrClosed) {
			return err // the dial's context ended, or Close: dial says which
		}
		t.learnReports.Failed(target, "quorum SASL: cannot authenticate to a peer; not sending to it", err)
		return fmt.Errorf("paddock/raftnet: quorum SASL with %s: %w", target, err)
	}
	_ = nc.SetDeadline(time.Time{}) // the link's reader waits without one
	t.learnReports.Succeeded(target, "quorum SASL: authenticated to a peer")
	return nil
}

// watch is the link's reader goroutine: it learns at once that the peer
// closed or reset the connection, marks the link gone and closes it.
func (t *transport) watch(l *link, target string) {
	defer close(l.done)
	defer t.untrack(l.nc)
	var b [1]byte
	if _, err := l.nc.Read(b[:]); err == nil {
		t.log.Warn("closing a connection its peer wrote on", "target", target, "err", errPeerWrote)
	}
	close(l.gone)
	l.nc.Close()
}

// dead reports whether the link is known to be over: its reader saw the
// end, or the kernel already holds the peer's FIN or reset (peerClosed:
// the reader may not have run yet).
func (l *link) dead() bool {
	select {
	case <-l.gone:
		return true
	default:
	}
	return peerClosed(l.nc)
}

// write writes b, each step of at most writeStep bytes within timeout,
// so that a peer that stops reading cannot hold the writer for ever.
func (l *link) write(b []byte, timeout time.Duration) error {
	for len(b) > 0 {
		step := min(len(b), writeStep)
		if err := l.nc.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
			return err
		}
		n, err := l.nc.Write(b[:step])
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// close closes the connection and waits for the reader to end.
func (l *link) close() {
	l.nc.Close()
	<-l.done
}

// msgConn is the raftio.IConnection for message batches to one target.
// Dragonboat uses each from one goroutine; the mutex makes a stray Close
// from another safe.
type msgConn struct {
	t      *transport
	target string
	mu     sync.Mutex
	link   *link // nil after a failed redial, until the next send dials
	buf    []byte
	closed bool
}

var _ raftio.IConnection = (*msgConn)(nil)

// GetConnection dials target and returns a connection for message
// batches; it fails when the dial does.
func (t *transport) GetConnection(ctx context.Context, target string) (raftio.IConnection, error) {
	l, err := t.dial(ctx, target, kindMessages)
	if err != nil {
		return nil, err
	}
	return &msgConn{t: t, target: target, link: l}, nil
}

// SendMessageBatch writes the batch on the connection. When the
// connection is known dead (the peer closed it: it restarted, say) or the
// write fails, it dials the target again, by name, and writes the batch
// on the new connection; only when that dial or write fails does it
// return an error, which is what trips Dragonboat's circuit breaker for
// the target.
func (c *msgConn) SendMessageBatch(b pb.MessageBatch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errConnClosed
	}
	frame, err := appendBatchFrame(c.buf[:0], &b)
	if err != nil {
		return err
	}
	if cap(frame) <= keptBufferCap {
		c.buf = frame[:0]
	} else {
		c.buf = nil
	}
	if c.link != nil {
		if c.link.dead() {
			c.t.log.Debug("the peer closed the connection; dialling again", "target", c.target)
		} else if err := c.link.write(frame, c.t.cfg.IOTimeout); err != nil {
			c.t.log.Debug("write failed; dialling again", "target", c.target, "err", err)
		} else {
			return nil
		}
		c.link.close()
		c.link = nil
	}
	l, err := c.t.dial(c.t.ctx, c.target, kindMessages)
	if err != nil {
		return err
	}
	if err := l.write(frame, c.t.cfg.IOTimeout); err != nil {
		l.close()
		return fmt.Errorf("paddock/raftnet: send to %s: %w", c.target, err)
	}
	c.link = l
	return nil
}

// Close closes the connection and waits for its reader.
func (c *msgConn) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	if c.link != nil {
		c.link.close()
		c.link = nil
	}
}

// chunkConn is the raftio.ISnapshotConnection: the chunks of one
// snapshot, in order, on one connection (never redialled: a stream that
// breaks fails, and Dragonboat sends the snapshot again).
type chunkConn struct {
	t      *transport
	target string
	mu     sync.Mutex
	link   *link
	buf    []byte
	closed bool
}

var _ raftio.ISnapshotConnection = (*chunkConn)(nil)

// GetSnapshotConnection dials target and returns a connection for the
// chunks of one snapshot.
func (t *transport) GetSnapshotConnection(ctx context.Context, target string) (raftio.ISnapshotConnection, error) {
	l, err := t.dial(ctx, target, kindChunks)
	if err != nil {
		return nil, err
	}
	return &chunkConn{t: t, target: target, link: l}, nil
}

// SendChunk writes the chunk; it fails once the receiver has closed the
// connection (its ChunkHandler refused a chunk) or a write fails.
func (c *chunkConn) SendChunk(chunk pb.Chunk) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errConnClosed
	}
	if c.link.dead() {
		return fmt.Errorf("%w (%s)", errPeerGone, c.target)
	}
	frame, err := appendChunkFrame(c.buf[:0], &chunk)
	if err != nil {
		return err
	}
	c.buf = frame[:0]
	if err := c.link.write(frame, c.t.cfg.IOTimeout); err != nil {
		return fmt.Errorf("paddock/raftnet: snapshot chunk to %s: %w", c.target, err)
	}
	return nil
}

// Close ends the stream: it half-closes the connection and waits, up to
// the IOTimeout, for the receiver to close its end, which it does once it
// has handed every chunk to its ChunkHandler; then it closes.
func (c *chunkConn) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	if tc, ok := c.link.nc.(*net.TCPConn); ok && tc.CloseWrite() == nil {
		wait := time.NewTimer(c.t.cfg.IOTimeout)
		select {
		case <-c.link.gone:
		case <-wait.C:
			c.t.log.Warn("snapshot receiver did not close its end in time", "target", c.target, "timeout", c.t.cfg.IOTimeout)
		case <-c.t.ctx.Done():
		}
		wait.Stop()
	}
	c.link.close()
	c.buf = nil
}
