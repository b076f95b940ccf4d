package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCLI(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string // must contain
		stderr string // must contain
	}{
		{nil, exitUsage, "", "Usage:"},
		{[]string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{[]string{"help"}, exitOK, "serve", ""},
		{[]string{"--help"}, exitOK, "Commands:", ""},
		{[]string{"help", "serve"}, exitOK, "-data-dir", ""},
		{[]string{"help", "bench"}, exitOK, "paddock bench failover", ""},
		{[]string{"bench", "failover", "-h"}, exitOK, "", "usage: paddock bench failover"},
		{[]string{"bench", "failover", "-systems", "etcd"}, exitUsage, "", `unknown system "etcd"`},
		{[]string{"help", "nope"}, exitUsage, "", `unknown command "nope"`},
		{[]string{"help", "a", "b"}, exitUsage, "", "usage: paddock help"},
		{[]string{"version"}, exitOK, "paddock ", ""},
		{[]string{"--version"}, exitOK, "paddock ", ""},
		{[]string{"version", "extra"}, exitUsage, "", "unexpected argument"},
		{[]string{"serve", "--bogus"}, exitUsage, "", "flag provided but not defined: -bogus"},
		{[]string{"serve", "-h"}, exitOK, "", "usage: paddock serve"},
		{[]string{"serve", "stray"}, exitUsage, "", `unexpected argument "stray"`},
		{[]string{"serve", "--log-level", "loud"}, exitUsage, "", `--log-level "loud"`},
		{[]string{"serve", "--log-format", "xml"}, exitUsage, "", `invalid value "xml" for flag -log-format: want text or json`},
		{[]string{"serve", "--log-format", ""}, exitUsage, "", `invalid value "" for flag -log-format: want text or json`},
		{[]string{"serve", "--config", "/nonexistent/zoo.cfg"}, exitUsage, "", "/nonexistent/zoo.cfg"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("paddock %q = %d\nstdout: %s\nstderr: %s\nwant %d, stdout with %q, stderr with %q",
					tt.args, code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServe starts the server from a zoo.cfg on a kernel-chosen port,
// connects to it, and stops it as SIGTERM would (by cancelling ctx).
func TestServe(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	text := "tickTime=200\ndataDir=" + filepath.Join(dir, "data") + "\nflurb=1\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=0\n"
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	addrs := make(chan net.Addr, 1)
	done := make(chan int, 1)
	go func() {
		done <- serve(ctx, serveOptions{configPath: cfg, clientAddr: "127.0.0.1:0", logLevel: "debug"}, func(string) string { return "" },
			&stdout, &stderr, func(a net.Addr) { addrs <- a })
	}()
	select {
	case a := <-addrs:
		c, err := net.DialTimeout("tcp", a.String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		// zoo.cfg's admin.* keys reach the AdminServer.
		m := regexp.MustCompile(`msg="AdminServer serving".* addr=(\S+) commandURL=/commands`).FindStringSubmatch(stderr.String())
		if m == nil {
			t.Fatalf("no AdminServer in the log:\n%s", stderr.String())
		}
		resp, err := http.Get("http://" + m[1] + "/commands/ruok")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"command": "ruok"`) {
			t.Errorf("AdminServer ruok: %d %s", resp.StatusCode, body)
		}
	case code := <-done:
		t.Fatalf("serve exited with %d before listening:\n%s", code, stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start:\n%s", stderr.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit code %d:\n%s", code, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not stop:\n%s", stderr.String())
	}
	logs := stderr.String()
	for _, want := range []string{"unknown key", "key=flurb", "source=\"zoo.cfg dataDir\"", "msg=serving", "msg=stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// TestServeRefusesSecuritySettings: `paddock serve` exits 2, naming the
// setting, when zoo.cfg or the real environment asks for what paddock
// cannot do, and opens no port.
func TestServeRefusesSecuritySettings(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte("dataDir="+filepath.Join(dir, "data")+"\nclientPort=0\nsessionRequireClientSASLAuth=true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI("serve", "--config", cfg)
	if code != exitUsage || !strings.Contains(stderr, cfg+":3: sessionRequireClientSASLAuth: authentication scheme sasl is not available") {
		t.Errorf("zoo.cfg: exit %d\n%s", code, stderr)
	}
	t.Setenv("SERVER_JVMFLAGS", "-Dzookeeper.ssl.keyStore.location=/k.jks")
	code, _, stderr = runCLI("serve", "--data-dir", filepath.Join(dir, "data"), "--client-addr", "127.0.0.1:0")
	if code != exitUsage || !strings.Contains(stderr, "$SERVER_JVMFLAGS: -Dzookeeper.ssl.keyStore.location: TLS is not supported by paddock yet") {
		t.Errorf("SERVER_JVMFLAGS: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("a refused start touched the data directory: %v", err)
	}
}
