package recipes

import (
	"context"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/paddockdb/paddock/actors"
	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
	"github.com/paddockdb/paddock/wire/zktest"
)

// waitTimeout bounds every wait in these tests; a wait that runs out fails
// the test loudly.
const waitTimeout = 30 * time.Second

// sessionTimeout is the timeout of the sessions a test expires
// (ConnectCuttable): short, so that an expiry test waits little, and above
// both servers' minimum (Paddock: 2 ticks of 100 ms; the zktest
// ZooKeeper: 400 ms).
const sessionTimeout = 2 * time.Second

// longSessionTimeout is the other sessions' (Connect): long enough to
// outlast a restart of ZooKeeper on a loaded machine (a JVM that has
// taken 21 s to serve again on 2 busy cores), and the zktest server's
// maxSessionTimeout. Paddock, whose ticks here are 100 ms, caps it at
// 2 s, and restarts in process well within that.
const longSessionTimeout = 60 * time.Second

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// server is a fresh server of one kind for one test.
type server struct {
	Kind string // "paddock" or "zookeeper"
	Addr string

	t       testing.TB
	restart func()
}

// forEachServer runs f as two subtests: against a fresh Paddock (in this
// process) and against a fresh Apache ZooKeeper (Debian's, standalone).
func forEachServer(t *testing.T, f func(t *testing.T, s *server)) {
	t.Run("paddock", func(t *testing.T) { f(t, startPaddock(t)) })
	t.Run("zookeeper", func(t *testing.T) { f(t, startZooKeeper(t)) })
}

func startPaddock(t *testing.T) *server {
	t.Helper()
	cfg := actors.Config{
		DataDir:         t.TempDir(),
		ClientAddr:      "127.0.0.1:0",
		TickTime:        100 * time.Millisecond,
		FourLetterWords: []string{"*"},
		Logger:          slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	var mu sync.Mutex
	start := func() *actors.Server {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		srv, err := actors.Start(ctx, cfg)
		if err != nil {
			t.Fatalf("start paddock: %v", err)
		}
		return srv
	}
	srv := start()
	cfg.ClientAddr = srv.Addr().String() // a restart keeps the address
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		srv.Close()
	})
	return &server{Kind: "paddock", Addr: cfg.ClientAddr, t: t, restart: func() {
		mu.Lock()
		defer mu.Unlock()
		srv.Close()
		srv = start()
	}}
}

func startZooKeeper(t *testing.T) *server {
	t.Helper()
	z := zktest.Start(t)
	return &server{Kind: "zookeeper", Addr: z.Addr, t: t, restart: z.Restart}
}

// Restart stops the server and starts it again on its data and address:
// sessions survive it (their clients reconnect), connections do not.
func (s *server) Restart() { s.t.Helper(); s.restart() }

// Connect opens a session (timeout longSessionTimeout), closed when the
// test ends.
func (s *server) Connect(t testing.TB, opts ...client.Option) *client.Conn {
	t.Helper()
	opts = append([]client.Option{client.WithSessionTimeout(longSessionTimeout), client.WithEventBuffer(-1)}, opts...)
	c, err := client.Connect(testCtx(t), s.Addr, opts...)
	if err != nil {
		t.Fatalf("connect to %s %s: %v", s.Kind, s.Addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// cuttable is a session whose connections the test can cut: Cut closes
// them and refuses new ones until Heal, so that the session expires on
// the server while its client keeps trying.
type cuttable struct {
	*client.Conn

	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

// ConnectCuttable opens a session (timeout sessionTimeout unless opts
// say otherwise) through a dialer the test controls.
func (s *server) ConnectCuttable(t testing.TB, opts ...client.Option) *cuttable {
	t.Helper()
	k := &cuttable{}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.cut {
			return nil, &net.OpError{Op: "dial", Net: network, Err: os.ErrDeadlineExceeded}
		}
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, addr)
		if err == nil {
			k.conns = append(k.conns, nc)
		}
		return nc, err
	}
	opts = append([]client.Option{client.WithDialer(dial), client.WithEventBuffer(1024), client.WithSessionTimeout(sessionTimeout)}, opts...)
	k.Conn = s.Connect(t, opts...)
	return k
}

// Cut closes the session's connections and refuses new ones.
func (k *cuttable) Cut() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cut = true
	for _, nc := range k.conns {
		nc.Close()
	}
	k.conns = nil
}

// Heal lets the session's client connect again.
func (k *cuttable) Heal() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cut = false
}

// Expire cuts the session off until the server has expired it, then
// heals: the client learns of the expiry when it reconnects. It returns
// once the client has (its Events report Expired). other is any live
// session on the same server, used to see the expiry: it watches an
// ephemeral node of the cut session.
func (k *cuttable) Expire(t testing.TB, other *client.Conn) {
	t.Helper()
	ctx := testCtx(t)
	marker := "/expire-marker-" + time.Now().Format("150405.000000000")
	if _, err := k.Create(ctx, marker, nil, wire.ModeEphemeral, nil); err != nil {
		t.Fatalf("expire: create marker: %v", err)
	}
	ok, _, gone, err := other.ExistsW(ctx, marker)
	if err != nil || !ok {
		t.Fatalf("expire: watch marker: %v %v", ok, err)
	}
	k.Cut()
	select {
	case <-gone:
	case <-ctx.Done():
		t.Fatalf("expire: the session was not expired within %v", waitTimeout)
	}
	k.Heal()
	for {
		select {
		case ev, ok := <-k.Events():
			if !ok || (ev.Type == wire.EventNone && ev.State == wire.StateExpired) {
				return
			}
		case <-ctx.Done():
			t.Fatalf("expire: the client did not report the expiry within %v", waitTimeout)
		}
	}
}

// TestExpire checks the helpers the recipe tests stand on: a cut session
// is expired by the server, its ephemeral nodes go, and its client says so.
func TestExpire(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		k := s.ConnectCuttable(t)
		other := s.Connect(t)
		k.Expire(t, other)
		if _, _, err := k.Exists(testCtx(t), "/"); err == nil {
			t.Fatal("an expired session still answers")
		}
		s.Restart()
		if _, _, err := other.Exists(testCtx(t), "/"); err != nil {
			t.Fatalf("after a restart: %v", err)
		}
	})
}
