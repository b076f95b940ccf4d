package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire/zktest"

	"github.com/go-zookeeper/zk"

	"github.com/paddockdb/paddock/wire"
)

// The tests of this file restart `paddock serve` on one data directory
// under other hostnames: in a UTS namespace each (unshare -u, as root), and
// in re-created Docker containers. They check every znode with its Stat,
// the last zxid, and a session that reconnects with its password.

// requireUnshare fails the test when this machine cannot make a UTS
// namespace: the tests need it (CI runs them as root), and skipping would
// hide a broken data directory layout.
func requireUnshare(t *testing.T) {
	t.Helper()
	out, err := exec.Command("unshare", "-u", "--", "sh", "-c", `hostname paddock-probe && hostname`).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "paddock-probe" {
		t.Fatalf("this test renames the machine in a UTS namespace: `unshare -u` must work (run as root): %v\n%s", err, out)
	}
}

// unshared returns the argv that runs bin with args under hostname host.
func unshared(host, bin string, args ...string) (string, []string) {
	return "unshare", append([]string{"-u", "--", "sh", "-c", `hostname "$0" && exec "$@"`, host, bin}, args...)
}

// serveAs starts `paddock serve` on dataDir under hostname host.
func serveAs(t *testing.T, bin, host, dataDir string) *crashProcess {
	t.Helper()
	name, args := unshared(host, bin, "serve", "--data-dir", dataDir, "--client-addr", "127.0.0.1:0", "--log-level", "info")
	return startProcess(t, name, args...)
}

// znode is what the tests compare of a znode, named as in
// testdata/legacy-datadir/legacy-datadir.json.
type znode struct {
	Data           string `json:"data"` // hex
	Czxid          int64  `json:"czxid"`
	Mzxid          int64  `json:"mzxid"`
	Pzxid          int64  `json:"pzxid"`
	Version        int32  `json:"version"`
	Cversion       int32  `json:"cversion"`
	EphemeralOwner int64  `json:"ephemeralOwner"`
	NumChildren    int32  `json:"numChildren"`
}

// walk returns every znode of the tree.
func walk(t *testing.T, c *zk.Conn) map[string]znode {
	t.Helper()
	out := map[string]znode{}
	var visit func(p string)
	visit = func(p string) {
		data, st, err := c.Get(p)
		if err != nil {
			t.Fatalf("get %s: %v", p, err)
		}
		out[p] = znode{hex.EncodeToString(data), st.Czxid, st.Mzxid, st.Pzxid, st.Version, st.Cversion, st.EphemeralOwner, st.NumChildren}
		kids, _, err := c.Children(p)
		if err != nil {
			t.Fatalf("children %s: %v", p, err)
		}
		slices.Sort(kids)
		for _, k := range kids {
			visit(strings.TrimSuffix(p, "/") + "/" + k)
		}
	}
	visit("/")
	return out
}

func compareTrees(t *testing.T, got, want map[string]znode) {
	t.Helper()
	for p, w := range want {
		if g, ok := got[p]; !ok {
			t.Errorf("%s lost", p)
		} else if g != w {
			t.Errorf("%s: got %+v, want %+v", p, g, w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s appeared", p)
		}
	}
}

// srvrZxid returns the last zxid the server at addr reports (srvr).
func srvrZxid(t *testing.T, addr string) int64 {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write([]byte("srvr")); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(nc)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`Zxid: 0x([0-9a-f]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("srvr: no Zxid in %q", out)
	}
	z, err := strconv.ParseUint(string(m[1]), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return int64(z)
}

// movingClient is a go-zookeeper session whose server moves: the test
// points it at each new process, and it reconnects there with its session
// id and password, as after a server restart.
type movingClient struct {
	*zk.Conn
	addr     atomic.Pointer[string]
	sessions chan int64 // the session id at each StateHasSession
	expired  atomic.Bool
}

func dialMoving(t *testing.T, addr string) *movingClient {
	t.Helper()
	m := &movingClient{sessions: make(chan int64, 16)}
	m.addr.Store(&addr)
	dial := func(network, _ string, timeout time.Duration) (net.Conn, error) {
		return net.DialTimeout(network, *m.addr.Load(), timeout)
	}
	// The server list only has to parse; the dialer picks the address.
	c, ev, err := zk.Connect([]string{"127.0.0.1:1"}, 30*time.Second, zk.WithDialer(dial),
		zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	m.Conn = c
	t.Cleanup(c.Close)
	go func() { // ends when the connection closes
		for e := range ev {
			switch e.State {
			case zk.StateHasSession:
				m.sessions <- c.SessionID()
			case zk.StateExpired:
				m.expired.Store(true)
			}
		}
	}()
	m.awaitSession(t)
	return m
}

// moveTo points the client at addr and waits until its session is back.
func (m *movingClient) moveTo(t *testing.T, addr string) int64 {
	t.Helper()
	m.addr.Store(&addr)
	return m.awaitSession(t)
}

func (m *movingClient) awaitSession(t *testing.T) int64 {
	t.Helper()
	select {
	case sid := <-m.sessions:
		return sid
	case <-time.After(30 * time.Second):
		t.Fatal("no session within 30s")
		return 0
	}
}

// resume opens a raw connection to addr resuming session sid with passwd,
// and returns the server's answer (session id 0 and timeout 0: refused).
func resume(t *testing.T, addr string, sid int64, passwd []byte) (int64, int32) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	req := wire.ConnectRequest{TimeOut: 30000, SessionID: sid, Passwd: passwd}
	if _, err := nc.Write(wire.AppendFrame(nil, &req)); err != nil {
		t.Fatal(err)
	}
	body, err := wire.ReadFrame(nc, nil, wire.DefaultMaxPacket)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	var resp wire.ConnectResponse
	d := wire.NewDecoder(body)
	resp.Decode(d)
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	return resp.SessionID, resp.TimeOut
}

// hostEntries lists dir as the layout checks want it: name, "/" for a
// directory, "-> target" for a link.
func hostEntries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		switch {
		case de.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(filepath.Join(dir, de.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, de.Name()+" -> "+target)
		case de.IsDir():
			out = append(out, de.Name()+"/")
		default:
			out = append(out, de.Name())
		}
	}
	slices.Sort(out)
	return out
}

// checkLayout checks the NodeHost and WAL directories of dataDir hold
// exactly want besides dragonboat's own files.
func checkLayout(t *testing.T, dataDir string, want ...string) {
	t.Helper()
	for _, d := range []string{"nodehost", "wal"} {
		got := slices.DeleteFunc(hostEntries(t, filepath.Join(dataDir, d)), func(e string) bool {
			return e == "LOCK" || e == "NODEHOST.ID" || e == "dragonboat.ds"
		})
		w := slices.Clone(want)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s holds %q, want %q", filepath.Join(dataDir, d), got, w)
		}
	}
}

// TestServeAcrossHostnames starts `paddock serve` under one hostname,
// writes, stops it, and starts it on the same data directory under
// another: every znode, the last zxid and the open session are there, and
// no second tree was made.
func TestServeAcrossHostnames(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	requireUnshare(t)
	bin := buildPaddock(t)
	dataDir := t.TempDir()

	p := serveAs(t, bin, "paddock-host-a", dataDir)
	c := dialMoving(t, p.addr)
	sid := c.SessionID()
	acl := zk.WorldACL(zk.PermAll)
	for _, n := range []struct {
		path  string
		data  string
		flags int32
	}{
		{"/app", "root", 0},
		{"/app/config", "v1", 0},
		{"/app/gone", "x", 0},
		{"/app/item-", "a", zk.FlagSequence},
		{"/app/item-", "b", zk.FlagSequence},
		{"/app/big", strings.Repeat("0123456789abcdef", 256), 0},
		{"/app/owner", "held by the session", zk.FlagEphemeral},
	} {
		if _, err := c.Create(n.path, []byte(n.data), n.flags, acl); err != nil {
			t.Fatalf("create %s: %v", n.path, err)
		}
	}
	if _, err := c.Set("/app/config", []byte("v2"), 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("/app/gone", -1); err != nil {
		t.Fatal(err)
	}
	want := walk(t, c.Conn)
	lastZxid := srvrZxid(t, p.addr)
	if code := p.stop(t); code != 0 {
		t.Fatalf("stop exited %d:\n%s", code, p.stderr())
	}
	checkLayout(t, dataDir, "paddock/", "paddock-host-a -> paddock")

	p = serveAs(t, bin, "paddock-host-b", dataDir)
	if !strings.Contains(p.stderr(), "hostname changed since the last start") || !strings.Contains(p.stderr(), "was=paddock-host-a") {
		t.Errorf("no log line for the hostname change:\n%s", p.stderr())
	}
	if z := srvrZxid(t, p.addr); z != lastZxid {
		t.Errorf("last zxid after the restart 0x%x, before 0x%x", z, lastZxid)
	}
	if got := c.moveTo(t, p.addr); got != sid || c.expired.Load() {
		t.Fatalf("session 0x%x came back as 0x%x (expired: %v)", sid, got, c.expired.Load())
	}
	compareTrees(t, walk(t, c.Conn), want)
	_, st, err := c.Conn.Get("/app/owner")
	if err != nil || st.EphemeralOwner != sid {
		t.Errorf("ephemeral /app/owner: owner 0x%x, %v; want 0x%x", st.EphemeralOwner, err, sid)
	}
	if _, err := c.Create("/app/after", nil, 0, acl); err != nil {
		t.Fatal(err)
	}
	if _, st, err := c.Conn.Get("/app/after"); err != nil || st.Czxid <= lastZxid {
		t.Errorf("a write after the restart got zxid 0x%x (%v), not above 0x%x", st.Czxid, err, lastZxid)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("stop exited %d:\n%s", code, p.stderr())
	}
	checkLayout(t, dataDir, "paddock/", "paddock-host-a -> paddock", "paddock-host-b -> paddock")
}

// legacyManifest is testdata/legacy-datadir/legacy-datadir.json: what
// make.py wrote into the data directory of the layout before.
type legacyManifest struct {
	Hostname string `json:"hostname"`
	LastZxid int64  `json:"lastZxid"`
	Session  struct {
		ID       int64  `json:"id"`
		Password string `json:"password"`
	} `json:"session"`
	Znodes map[string]znode `json:"znodes"`
}

// extractTarGz unpacks the archive into dir.
func extractTarGz(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, h.Name)
		if !strings.HasPrefix(target, filepath.Clean(dir)+string(filepath.Separator)) {
			t.Fatalf("%s: %q leaves the directory", archive, h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o750); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(target, b, 0o640); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("%s: unexpected entry %q (type %c)", archive, h.Name, h.Typeflag)
		}
	}
}

// TestServeTakesOverPreviousLayout starts `paddock serve` on a data
// directory written by the paddock of before (dragonboat's layout, the tree
// named after the hostname, legacy-host) under other hostnames, twice.
func TestServeTakesOverPreviousLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	requireUnshare(t)
	var m legacyManifest
	b, err := os.ReadFile(filepath.Join("testdata", "legacy-datadir", "legacy-datadir.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	passwd, err := hex.DecodeString(m.Session.Password)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	extractTarGz(t, filepath.Join("testdata", "legacy-datadir", "legacy-datadir.tar.gz"), work)
	dataDir := filepath.Join(work, "data")
	checkLayout(t, dataDir, m.Hostname+"/")
	bin := buildPaddock(t)

	p := serveAs(t, bin, "paddock-new-host", dataDir)
	if n := strings.Count(p.stderr(), "data directory of the previous layout"); n != 1 ||
		!strings.Contains(p.stderr(), "tree="+m.Hostname) {
		t.Errorf("%d takeover log lines naming tree=%s, want 1:\n%s", n, m.Hostname, p.stderr())
	}
	if z := srvrZxid(t, p.addr); z != m.LastZxid {
		t.Errorf("last zxid 0x%x, the data directory's 0x%x", z, m.LastZxid)
	}
	if sid, tout := resume(t, p.addr, m.Session.ID, make([]byte, len(passwd))); sid != 0 || tout != 0 {
		t.Errorf("the session resumed with a wrong password: 0x%x, %d", sid, tout)
	}
	if sid, tout := resume(t, p.addr, m.Session.ID, passwd); sid != m.Session.ID || tout <= 0 {
		t.Fatalf("the session 0x%x did not resume with its password: got 0x%x, timeout %d", m.Session.ID, sid, tout)
	}
	c := crashDial(t, p.addr)
	compareTrees(t, walk(t, c), m.Znodes)
	c.Close()
	if code := p.stop(t); code != 0 {
		t.Fatalf("stop exited %d:\n%s", code, p.stderr())
	}
	checkLayout(t, dataDir, m.Hostname+"/", "paddock -> "+m.Hostname, "paddock-new-host -> paddock")

	p = serveAs(t, bin, "paddock-third-host", dataDir)
	if strings.Contains(p.stderr(), "previous layout") {
		t.Errorf("taken over again:\n%s", p.stderr())
	}
	if sid, tout := resume(t, p.addr, m.Session.ID, passwd); sid != m.Session.ID || tout <= 0 {
		t.Fatalf("the session 0x%x did not resume after the second restart: 0x%x, timeout %d", m.Session.ID, sid, tout)
	}
	c = crashDial(t, p.addr)
	got := walk(t, c)
	c.Close()
	compareTrees(t, got, m.Znodes)
	if code := p.stop(t); code != 0 {
		t.Fatalf("stop exited %d:\n%s", code, p.stderr())
	}
	checkLayout(t, dataDir, m.Hostname+"/", "paddock -> "+m.Hostname, "paddock-new-host -> paddock", "paddock-third-host -> paddock")
}

// TestServeRefusesAnotherMembersDataDir gives server 2 the data directory
// of server 1 (a volume attached to the wrong member, whose provisioning
// writes its myid): serve refuses, names both ids, and changes nothing.
func TestServeRefusesAnotherMembersDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildPaddock(t)
	member1 := t.TempDir()
	if err := os.WriteFile(filepath.Join(member1, "myid"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startCrashProcess(t, bin, member1)
	c := crashDial(t, p.addr)
	if _, err := c.Create("/member1", []byte("data"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if code := p.stop(t); code != 0 {
		t.Fatalf("stop exited %d:\n%s", code, p.stderr())
	}

	if err := os.WriteFile(filepath.Join(member1, "myid"), []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	refusal(t, bin, member1, []string{"belongs to server 1", "this is server 2", member1},
		"serve", "--data-dir", member1, "--client-addr", "127.0.0.1:0")
}

// refusal runs bin with args, expects it to exit with exitFailure saying
// every one of want, and dataDir to be as it was.
func refusal(t *testing.T, bin, dataDir string, want []string, args ...string) {
	t.Helper()
	before := zktest.DirState(t, dataDir)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	done := make(chan struct{})
	var out []byte
	var runErr error
	go func() { out, runErr = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("paddock %q did not exit:\n%s", args, out)
	}
	var exit *exec.ExitError
	if !errors.As(runErr, &exit) || exit.ExitCode() != exitFailure {
		t.Fatalf("paddock %q exited with %v, want code %d:\n%s", args, runErr, exitFailure, out)
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Errorf("the refusal does not say %q:\n%s", w, out)
		}
	}
	if after := zktest.DirState(t, dataDir); after != before {
		t.Errorf("the refusal changed the data directory:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestServeRefusesAnotherEnsemblesDataDir gives a member of an ensemble
// (server.1 to server.3) the data directory of a standalone server: serve
// refuses, names both ensemble ids, and changes nothing.
func TestServeRefusesAnotherEnsemblesDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildPaddock(t)
	dataDir := t.TempDir()
	p := startCrashProcess(t, bin, dataDir)
	if code := p.stop(t); code != 0 {
		t.Fatalf("stop exited %d:\n%s", code, p.stderr())
	}
	recorded := regexp.MustCompile(`ensemble_id=(standalone-[0-9a-f]+)`).FindStringSubmatch(p.stderr())
	if recorded == nil {
		t.Fatalf("no ensemble id in the log:\n%s", p.stderr())
	}
	if err := os.WriteFile(filepath.Join(dataDir, "myid"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "zoo.cfg")
	text := "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=" + dataDir + "\n" +
		"server.1=127.0.0.1:1:2\nserver.2=127.0.0.1:3:4\nserver.3=127.0.0.1:5:6\n"
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	refusal(t, bin, dataDir, []string{"belongs to ensemble " + recorded[1], "in ensemble servers-1-2-3"},
		"serve", "--config", cfg, "--client-addr", "127.0.0.1:0")
}
