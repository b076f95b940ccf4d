package wire_test

// This file regenerates testdata/golden from real Apache ZooKeeper traffic:
//
//	go test ./wire -run TestCaptureGolden -capture
//
// It starts ZooKeeper (wire/zktest), puts a recording proxy in front of it
// and drives Debian's kazoo through the proxy. The proxy cuts both byte
// streams into frames; the frames are grouped by operation and written as
// hex, one frame per line (see golden_test.go for the format). Without
// -capture the test skips: the committed files are what the always-run
// TestGolden checks.

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/zktest"
)

var capture = flag.Bool("capture", false, "regenerate testdata/golden from a real ZooKeeper (needs java, zookeeper and python3-kazoo)")

// kazooScript drives one session through every operation the golden files
// cover. It prints WAIT_PING and waits for a line on stdin before closing,
// so the test can hold the session open until the proxy has seen a ping.
const kazooScript = `
import sys, threading
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError, NodeExistsError

zk = KazooClient(hosts=sys.argv[1], timeout=1.0)
zk.start(timeout=30)
zk.create("/golden", b"hello")
try:
    zk.create("/golden", b"again")
    raise SystemExit("create of an existing node did not fail")
except NodeExistsError:
    pass
zk.create("/golden/c2", b"two", include_data=True)
zk.get("/golden")
zk.set("/golden", b"world", version=0)
if zk.exists("/golden/missing") is not None:
    raise SystemExit("exists found a missing node")
zk.get_children("/golden", include_data=True)
fired = threading.Event()
zk.get("/golden/c2", watch=lambda ev: fired.set())
zk.set("/golden/c2", b"changed")
if not fired.wait(30):
    raise SystemExit("watch did not fire")
zk.delete("/golden/c2")
t = zk.transaction()
t.create("/golden/m1", b"m")
t.set_data("/golden/m1", b"mm")
t.check("/golden/m1", 1)
t.delete("/golden/m1")
t.commit()
t = zk.transaction()
t.create("/golden/m2", b"m")
t.check("/golden", 99)
res = t.commit()
if not isinstance(res[1], Exception):
    raise SystemExit("failing transaction did not fail: %r" % (res,))
print("WAIT_PING", flush=True)
sys.stdin.readline()
zk.stop()
zk.close()
print("DONE", flush=True)
`

// goldenRenames gives the repeated groups of the capture, in the order the
// script makes them, names that say what they hold.
var goldenRenames = map[string]string{
	"create_nodealreadyexists": "create_nodeexists",
	"exists_nodedoesnotexist":  "exists_nonode",
	"getData_2":                "getData_watch",
	"setData_2":                "setData_firewatch",
	"multi_2":                  "multi_failed",
	"handshake_2":              "handshake_noreadonly",
	"closeSession_2":           "closeSession_noreadonly",
}

// capFrame is one frame seen by the proxy.
type capFrame struct {
	conn       int
	fromClient bool
	frame      []byte // with its length prefix
}

// recorder is a TCP proxy that records every frame in both directions.
type recorder struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	frames []capFrame
	conns  []net.Conn
	nconn  int
	closed bool
	ping   chan struct{} // closed when a ping reply has been relayed
	pinged bool
}

func startRecorder(t *testing.T, target string) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{ln: ln, target: target, ping: make(chan struct{})}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.close)
	return r
}

func (r *recorder) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", r.target)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		id := r.nconn
		r.nconn++
		r.conns = append(r.conns, c, s)
		r.mu.Unlock()
		r.wg.Add(2)
		go r.pump(id, true, c, s)
		go r.pump(id, false, s, c)
	}
}

// pump relays frames from src to dst, recording each.
func (r *recorder) pump(id int, fromClient bool, src, dst net.Conn) {
	defer r.wg.Done()
	defer func() {
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}()
	for {
		body, err := wire.ReadFrame(src, nil, 1<<24)
		if err != nil {
			return
		}
		frame := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
		frame = append(frame, body...)
		r.mu.Lock()
		r.frames = append(r.frames, capFrame{conn: id, fromClient: fromClient, frame: frame})
		if !fromClient && len(body) >= 4 && int32(binary.BigEndian.Uint32(body)) == wire.XidPing && !r.pinged {
			r.pinged = true
			close(r.ping)
		}
		r.mu.Unlock()
		if _, err := dst.Write(frame); err != nil {
			return
		}
	}
}

func (r *recorder) close() {
	r.mu.Lock()
	r.closed = true
	r.ln.Close()
	for _, c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *recorder) snapshot() []capFrame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]capFrame(nil), r.frames...)
}

func TestCaptureGolden(t *testing.T) {
	if !*capture {
		t.Skip("capture helper: run with -capture to regenerate testdata/golden from a real ZooKeeper")
	}
	zk := zktest.Start(t)
	rec := startRecorder(t, zk.Addr)

	script := filepath.Join(t.TempDir(), "drive.py")
	if err := os.WriteFile(script, []byte(kazooScript), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", script, rec.ln.Addr().String())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	lines := make(chan string, 8)
	go func() { // owned by this test: ends when python closes stdout
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	const timeout = 60 * time.Second
	deadline := time.After(timeout)
	waitLine := func(want string) {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					cmd.Wait()
					t.Fatalf("kazoo exited before %s; stderr:\n%s", want, stderr.String())
				}
				if l == want {
					return
				}
				t.Logf("kazoo: %s", l)
			case <-deadline:
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("no %s from kazoo within %v; stderr:\n%s", want, timeout, stderr.String())
			}
		}
	}
	waitLine("WAIT_PING")
	select {
	case <-rec.ping:
	case <-deadline:
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("kazoo sent no ping within %v", timeout)
	}
	io.WriteString(stdin, "go\n")
	waitLine("DONE")
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("kazoo: %v; stderr:\n%s", err, stderr.String())
		}
	case <-deadline:
		cmd.Process.Kill()
		<-done
		t.Fatalf("kazoo did not exit within %v", timeout)
	}
	rawHandshake(t, rec.ln.Addr().String())
	rec.close() // flush: every relayed frame is recorded once the pumps end

	groups, err := groupFrames(rec.snapshot())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "golden")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.hex"))
	for _, f := range old {
		os.Remove(f)
	}
	for from, to := range goldenRenames {
		if g, ok := groups[from]; ok {
			delete(groups, from)
			groups[to] = g
		}
	}
	names := make([]string, 0, len(groups))
	for name := range groups {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		var b strings.Builder
		fmt.Fprintf(&b, "# Captured from Apache ZooKeeper (Debian) and kazoo by TestCaptureGolden -capture.\n")
		fmt.Fprintf(&b, "# One frame per line, with its 4-byte length: c = client to server, s = server to client.\n")
		for _, l := range groups[name] {
			b.WriteString(l)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".hex"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d golden files: %s", len(names), strings.Join(names, " "))
	for _, want := range requiredGolden {
		if _, ok := groups[want]; !ok {
			t.Errorf("capture produced no %s.hex", want)
		}
	}
}

// groupFrames decodes a capture and sorts its frames into named groups of
// golden-file lines: a request and its reply share a group named after the
// opcode (plus the error for a failed reply); notifications, pings and the
// handshake get their own. Later occurrences of a name get a suffix.
func groupFrames(frames []capFrame) (map[string][]string, error) {
	type pending struct {
		op   wire.OpCode
		line string
	}
	groups := map[string][]string{}
	seen := map[string]int{}
	add := func(name string, lines ...string) {
		seen[name]++
		if seen[name] > 1 {
			name = fmt.Sprintf("%s_%d", name, seen[name])
		}
		groups[name] = append(groups[name], lines...)
	}
	gotConnect := map[int]bool{}
	gotConnectResp := map[int]bool{}
	var connectLine = map[int]string{}
	reqs := map[[2]int]pending{}
	pinged := false
	for _, f := range frames {
		body := f.frame[4:]
		hx := hex.EncodeToString(f.frame)
		switch {
		case f.fromClient && !gotConnect[f.conn]:
			gotConnect[f.conn] = true
			var r wire.ConnectRequest
			if err := wire.Unmarshal(body, &r); err != nil {
				return nil, fmt.Errorf("connect request: %w", err)
			}
			connectLine[f.conn] = fmt.Sprintf("# client->server ConnectRequest timeout=%d has readOnly byte=%v readOnly=%v\nc connect %s\n", r.TimeOut, r.HasReadOnly, r.ReadOnly, hx)
		case !f.fromClient && !gotConnectResp[f.conn]:
			gotConnectResp[f.conn] = true
			var r wire.ConnectResponse
			if err := wire.Unmarshal(body, &r); err != nil {
				return nil, fmt.Errorf("connect response: %w", err)
			}
			add("handshake", connectLine[f.conn], fmt.Sprintf("# server->client ConnectResponse timeout=%d has readOnly byte=%v readOnly=%v\ns connect %s\n", r.TimeOut, r.HasReadOnly, r.ReadOnly, hx))
		case f.fromClient:
			d := wire.NewDecoder(body)
			var h wire.RequestHeader
			h.Decode(d)
			if d.Err() != nil {
				return nil, fmt.Errorf("request header: %w", d.Err())
			}
			reqs[[2]int{f.conn, int(h.Xid)}] = pending{h.Type, fmt.Sprintf("# client->server %s request xid=%d %s\nc request %s\n", h.Type, h.Xid, describe(d, wire.RequestBody(h.Type)), hx)}
		default:
			d := wire.NewDecoder(body)
			var h wire.ReplyHeader
			h.Decode(d)
			if d.Err() != nil {
				return nil, fmt.Errorf("reply header: %w", d.Err())
			}
			if h.Xid == wire.XidNotification {
				add("notification", fmt.Sprintf("# server->client notification xid=-1 %s\ns reply %s\n", describe(d, &wire.WatcherEvent{}), hx))
				continue
			}
			p, ok := reqs[[2]int{f.conn, int(h.Xid)}]
			if !ok {
				return nil, fmt.Errorf("reply xid %d has no request", h.Xid)
			}
			delete(reqs, [2]int{f.conn, int(h.Xid)})
			if p.op == wire.OpPing {
				if pinged {
					continue // one ping is enough
				}
				pinged = true
			}
			name := p.op.String()
			what := "ok"
			var body wire.Record = wire.ResponseBody(p.op)
			if h.Err != wire.Ok {
				name += "_" + codeName(h.Err)
				what = "error " + h.Err.String()
				body = nil
			}
			add(name, p.line, fmt.Sprintf("# server->client %s reply xid=%d zxid=%#x %s %s\ns reply %s\n", p.op, h.Xid, h.Zxid, what, describe(d, body), hx))
		}
	}
	return groups, nil
}

// describe decodes the rest of d into r (if any) and says what it holds.
func describe(d *wire.Decoder, r wire.Record) string {
	if r == nil {
		if d.Remaining() > 0 {
			return fmt.Sprintf("(%d body bytes)", d.Remaining())
		}
		return "(no body)"
	}
	r.Decode(d)
	if d.Err() != nil {
		return "undecodable: " + d.Err().Error()
	}
	s := fmt.Sprintf("%T %+v", r, r)
	if m, ok := r.(*wire.MultiRequest); ok {
		var parts []string
		for _, op := range m.Ops {
			parts = append(parts, fmt.Sprintf("%s%+v", op.Type, op.Body))
		}
		s = "*wire.MultiRequest ops: " + strings.Join(parts, ", ")
	}
	if m, ok := r.(*wire.MultiResponse); ok {
		var parts []string
		for _, res := range m.Results {
			switch res.Type {
			case wire.OpError:
				parts = append(parts, fmt.Sprintf("error(%d %s)", int32(res.Err), res.Err))
			case wire.OpCreate, wire.OpCreate2:
				parts = append(parts, fmt.Sprintf("%s(%s)", res.Type, res.Path))
			default:
				parts = append(parts, res.Type.String())
			}
		}
		s = "*wire.MultiResponse results: " + strings.Join(parts, ", ")
	}
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func codeName(c wire.Code) string {
	return strings.ReplaceAll(strings.ToLower(strings.ReplaceAll(c.String(), " ", "")), ":", "")
}

// rawHandshake opens a session through addr with a ConnectRequest that
// has no readOnly byte, as pre-3.4 clients send it, then closes it.
func rawHandshake(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	req := wire.ConnectRequest{TimeOut: 1000, Passwd: make([]byte, wire.PasswordLen)}
	if _, err := c.Write(wire.AppendFrame(nil, &req)); err != nil {
		t.Fatal(err)
	}
	if _, err := wire.ReadFrame(c, nil, wire.DefaultMaxPacket); err != nil {
		t.Fatalf("raw handshake: %v", err)
	}
	if _, err := c.Write(wire.AppendFrame(nil, &wire.RequestHeader{Xid: 1, Type: wire.OpCloseSession})); err != nil {
		t.Fatal(err)
	}
	if _, err := wire.ReadFrame(c, nil, wire.DefaultMaxPacket); err != nil {
		t.Fatalf("raw closeSession: %v", err)
	}
}
