package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/paddockdb/paddock/statemachine"
)

const serveTimeout = 60 * time.Second

// startServe runs serve in the background as runServe would, with getenv
// as its environment, and returns the client address; the server stops
// when the test ends.
func startServe(t *testing.T, opts serveOptions, getenv func(string) string) (string, *syncBuffer) {
	t.Helper()
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	addrs := make(chan net.Addr, 1)
	done := make(chan int, 1)
	go func() {
		done <- serve(ctx, opts, getenv, &stdout, &stderr, func(a net.Addr) { addrs <- a })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("serve exited with %d:\n%s", code, stderr.String())
			}
		case <-time.After(serveTimeout):
			t.Errorf("serve did not stop:\n%s", stderr.String())
		}
	})
	select {
	case a := <-addrs:
		return a.String(), &stderr
	case code := <-done:
		done <- code
		t.Fatalf("serve exited with %d before listening:\n%s", code, stderr.String())
	case <-time.After(serveTimeout):
		t.Fatalf("serve did not start:\n%s", stderr.String())
	}
	return "", nil
}

func connectGoZK(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(serveTimeout)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				return c
			}
		case <-deadline:
			t.Fatal("no session")
		}
	}
}

func fourLetterWord(t *testing.T, addr, w string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(w)); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestServeWithJVMFlags starts paddock as zkServer.sh starts ZooKeeper:
// settings in $SERVER_JVMFLAGS and $JVMFLAGS and in the configuration
// directory's java.env, none in zoo.cfg; each one must take effect.
func TestServeWithJVMFlags(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(conf, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte("tickTime=200\ndataDir="+filepath.Join(dir, "data")+"\nclientPort=2181\nadmin.enableServer=false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	javaEnv := `# as an operator writes it
export SERVER_JVMFLAGS="$SERVER_JVMFLAGS -Dzookeeper.enforceQuota=true -Dzookeeper.maxCnxns=3"
SERVER_JVMFLAGS="$SERVER_JVMFLAGS -Dznode.container.checkIntervalMs=50 -Dznode.container.maxNeverUsedIntervalMs=100"
`
	if err := os.WriteFile(filepath.Join(conf, "java.env"), []byte(javaEnv), 0o644); err != nil {
		t.Fatal(err)
	}
	super := statemachine.DigestID("super", "secret")
	environ := map[string]string{
		"SERVER_JVMFLAGS": "-Xmx1g -Dzookeeper.extendedTypesEnabled=true -Dzookeeper.DigestAuthenticationProvider.superDigest=" + super,
		"JVMFLAGS":        "-Dzookeeper.4lw.commands.whitelist=ruok -Dreadonlymode.enabled=true -Dzookeeper.nio.sessionlessCnxnTimeout=300 -Dzookeeper.flurb=1",
	}
	addr, logs := startServe(t, serveOptions{configPath: cfg, clientAddr: "127.0.0.1:0", logLevel: "info"}, env(environ))

	// 4lw.commands.whitelist (ruok, and srvr always) and readonlymode.enabled (isro).
	for w, want := range map[string]string{"ruok": "imok", "isro": "rw", "srvr": "Zookeeper version: ",
		"stat": "stat is not executed because it is not in the whitelist."} {
		if out := fourLetterWord(t, addr, w); !strings.HasPrefix(out, want) {
			t.Errorf("%s = %q, want %q", w, out, want)
		}
	}

	c := connectGoZK(t, addr)
	// extendedTypesEnabled: TTL nodes.
	if _, err := c.CreateTTL("/ttl", nil, zk.FlagTTL, zk.WorldACL(zk.PermAll), time.Hour); err != nil {
		t.Errorf("CreateTTL with extendedTypesEnabled from SERVER_JVMFLAGS: %v", err)
	}
	// superDigest: super passes an ACL that names someone else.
	if _, err := c.Create("/private", []byte("x"), 0, zk.DigestACL(zk.PermAll, "alice", "pw")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get("/private"); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("get /private without auth: %v, want NoAuth", err)
	}
	if err := c.AddAuth("digest", []byte("super:secret")); err != nil {
		t.Fatal(err)
	}
	if data, _, err := c.Get("/private"); err != nil || string(data) != "x" {
		t.Errorf("get /private as super: %q, %v", data, err)
	}
	// enforceQuota: a hard count limit of 2 under /q.
	for _, p := range []string{"/q", "/zookeeper/quota/q"} {
		if _, err := c.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Create("/zookeeper/quota/q/zookeeper_limits", []byte("count=-1,bytes=-1=;countHardLimit=2"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/zookeeper/quota/q/zookeeper_stats", []byte("count=0,bytes=0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/q/a", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	// go-zookeeper does not know QUOTAEXCEEDED (-125) by name.
	if _, err := c.Create("/q/b", nil, 0, zk.WorldACL(zk.PermAll)); err == nil || !strings.Contains(err.Error(), "-125") {
		t.Errorf("create over countHardLimit with enforceQuota from java.env: %v, want QUOTAEXCEEDED (-125)", err)
	}
	// znode.container.*: a container that never had a child is reaped.
	if _, err := c.CreateContainer("/box", nil, zk.FlagContainer, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, _, gone, err := c.ExistsW("/box")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-gone:
		if ev.Type != zk.EventNodeDeleted {
			t.Errorf("/box: event %v", ev.Type)
		}
	case <-time.After(serveTimeout):
		t.Error("the never-used container was not reaped")
	}

	// nio.sessionlessCnxnTimeout: a connection without a handshake is
	// closed after 300 ms, not ZooKeeper's default 10 s.
	start := time.Now()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.SetReadDeadline(time.Now().Add(serveTimeout))
	if _, err := raw.Read(make([]byte, 1)); err == nil {
		t.Error("read a byte from a connection that sent nothing")
	}
	raw.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("sessionless connection closed after %v, want about 300ms", d)
	}

	// maxCnxns=3: c and two more sessions; the next connection is reset
	// at once (a connection merely without a handshake would see EOF).
	connectGoZK(t, addr)
	connectGoZK(t, addr)
	over, err := net.Dial("tcp", addr)
	if err == nil {
		_ = over.SetReadDeadline(time.Now().Add(serveTimeout))
		_, err = over.Read(make([]byte, 1))
		over.Close()
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Errorf("a 4th connection with maxCnxns=3: %v, want a reset", err)
	}

	for _, want := range []string{`msg="JVM flag: unknown system property; ignored" file=$JVMFLAGS line=0 key=-Dzookeeper.flurb`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}
