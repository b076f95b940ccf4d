package client

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire"
)

// waitTimeout bounds every wait in these tests; a wait that runs out fails
// the test loudly.
const waitTimeout = 20 * time.Second

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func connect(t *testing.T, addr string, opts ...Option) *Conn {
	t.Helper()
	c, err := Connect(testCtx(t), addr, opts...)
	if err != nil {
		t.Fatalf("Connect(%s): %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// nextEvent returns the next event on ch or fails.
func nextEvent(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatalf("event channel closed")
		}
		return ev
	case <-time.After(waitTimeout):
		t.Fatalf("no event within %v", waitTimeout)
	}
	return Event{}
}

// expectEvent reads the next event on ch and checks its type and path.
func expectEvent(t *testing.T, ch <-chan Event, typ wire.EventType, path string) Event {
	t.Helper()
	ev := nextEvent(t, ch)
	if ev.Type != typ || ev.Path != path {
		t.Fatalf("event = %v %q (state %v), want %v %q", ev.Type, ev.Path, ev.State, typ, path)
	}
	return ev
}

// waitState reads c.Events until a state change to s, skipping others.
func waitState(t *testing.T, c *Conn, s wire.State) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("Events closed while waiting for %v", s)
			}
			if ev.Type == wire.EventNone && ev.State == s {
				return
			}
		case <-deadline:
			t.Fatalf("no %v state within %v (state now %v)", s, waitTimeout, c.State())
		}
	}
}

// noEvent checks that nothing is waiting on ch. It is only used after a
// later, ordered point has been observed (a reply or another event), so
// an event that should not exist would already be there.
func noEvent(t *testing.T, ch <-chan Event) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if ok {
			t.Fatalf("unexpected event %v %q (state %v)", ev.Type, ev.Path, ev.State)
		}
	default:
	}
}

func drainEvents(c *Conn) {
	for {
		select {
		case <-c.Events():
		default:
			return
		}
	}
}

func isCode(t *testing.T, err error, want wire.Code) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testPath(t *testing.T) string {
	return "/" + strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
}

// proxy is a TCP proxy to a server that a test can cut (drop every
// connection and refuse new ones) and pause (hold the server's replies).
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	gate  chan struct{} // closed when replies flow
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, gate: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(p.gate)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.mu.Unlock()
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(s, c, false)
		go p.pipe(c, s, true)
	}
}

// pipe copies src to dst; replies (server to client) wait at the gate.
func (p *proxy) pipe(dst, src net.Conn, gated bool) {
	defer p.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && gated {
			p.mu.Lock()
			g := p.gate
			p.mu.Unlock()
			<-g
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			return
		}
	}
}

// Cut drops every connection and refuses new ones until Restore.
func (p *proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
}

func (p *proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// Pause holds the server's replies until Resume.
func (p *proxy) Pause() {
	p.mu.Lock()
	p.gate = make(chan struct{})
	p.mu.Unlock()
}

func (p *proxy) Resume() {
	p.mu.Lock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
	p.mu.Unlock()
}

func (p *proxy) close() {
	p.ln.Close()
	p.Resume()
	p.Cut()
	p.wg.Wait()
}

func runtimeGoroutines() int { return runtime.NumGoroutine() }

// waitGoroutines polls until no more than n goroutines run, failing after
// waitTimeout with a dump of the stacks.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want <= %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
