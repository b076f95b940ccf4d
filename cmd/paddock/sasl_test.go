package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

const serverJAAS = `Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_bob="bobsecret"
    user_alice="alicesecret";
};
`

// TestServeWithSASL starts paddock as an operator starts a SASL-secured
// ZooKeeper: the SASL provider and enforced SASL in zoo.cfg, the JAAS file
// and the super user in java.env's SERVER_JVMFLAGS. Then again with
// --jaas.
func TestServeWithSASL(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	jaas := filepath.Join(conf, "jaas.conf")
	if err := os.WriteFile(jaas, []byte(serverJAAS), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(conf, "zoo.cfg")
	zooCfg := "tickTime=200\ndataDir=" + filepath.Join(dir, "data") + "\nclientPort=2181\nadmin.enableServer=false\n" +
		"authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\nsessionRequireClientSASLAuth=true\n"
	if err := os.WriteFile(cfg, []byte(zooCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	javaEnv := `SERVER_JVMFLAGS="-Djava.security.auth.login.config=` + jaas + ` -Dzookeeper.superUser=alice"` + "\n"
	if err := os.WriteFile(filepath.Join(conf, "java.env"), []byte(javaEnv), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, _ := startServe(t, serveOptions{configPath: cfg, clientAddr: "127.0.0.1:0", logLevel: "warn"}, env(nil))
	ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
	defer cancel()
	whoami := func(c *client.Conn) []wire.ClientInfo {
		t.Helper()
		ids, err := c.WhoAmI(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	bob, err := client.Connect(ctx, addr, client.WithSASL("bob", "bobsecret"))
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if ids := whoami(bob); !slices.Contains(ids, wire.ClientInfo{AuthScheme: "sasl", User: "bob"}) {
		t.Errorf("bob's ids %v", ids)
	}
	alice, err := client.Connect(ctx, addr, client.WithSASL("alice", "alicesecret"))
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	if ids := whoami(alice); !slices.Contains(ids, wire.ClientInfo{AuthScheme: "super", User: ""}) {
		t.Errorf("alice (zookeeper.superUser) ids %v", ids)
	}
	if _, err := client.Connect(ctx, addr, client.WithSASL("bob", "wrong")); !errors.Is(err, wire.ErrAuthFailed) {
		t.Errorf("wrong password: %v", err)
	}
	// Enforced: a session without SASL is refused its first request.
	anon, err := client.Connect(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	if _, _, err := anon.Get(ctx, "/"); !errors.Is(err, wire.ErrSessionClosedRequireSasl) {
		t.Errorf("unauthenticated get: %v, want SessionClosedRequireSasl", err)
	}

	// --jaas, over the flags' JAAS file: carol is its only user.
	other := filepath.Join(dir, "other.jaas")
	if err := os.WriteFile(other, []byte("Server {\n org.apache.zookeeper.server.auth.DigestLoginModule required user_carol=\"c\";\n};\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr2, _ := startServe(t, serveOptions{configPath: cfg, dataDir: filepath.Join(dir, "data2"), clientAddr: "127.0.0.1:0", logLevel: "warn", jaas: other}, env(nil))
	carol, err := client.Connect(ctx, addr2, client.WithSASL("carol", "c"))
	if err != nil {
		t.Fatalf("carol with --jaas: %v", err)
	}
	carol.Close()
	if _, err := client.Connect(ctx, addr2, client.WithSASL("bob", "bobsecret")); !errors.Is(err, wire.ErrAuthFailed) {
		t.Errorf("bob is not in the --jaas file: %v", err)
	}
}

// TestServeRefusesBadJAAS: a JAAS file that does not parse, or names a
// login module paddock does not have, stops serve with the file, the line
// and the reason.
func TestServeRefusesBadJAAS(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ text, want string }{
		{"Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  user_bob=\"x\"\n", ":4: expected an option key or ';' in org.apache.zookeeper.server.auth.DigestLoginModule, found the end of the file"},
		{"Server {\n  com.example.Login required;\n};\n", ":2: section Server: unknown login module com.example.Login"},
	} {
		jaas := filepath.Join(dir, "bad.jaas")
		if err := os.WriteFile(jaas, []byte(c.text), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCLI("serve", "--data-dir", filepath.Join(dir, "data"), "--client-addr", "127.0.0.1:0", "--jaas", jaas)
		if code != exitUsage || !strings.Contains(stderr, jaas+c.want) {
			t.Errorf("exit %d, want %d and %q:\n%s", code, exitUsage, jaas+c.want, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("a refused start touched the data directory: %v", err)
	}
}
