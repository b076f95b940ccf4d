package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/paddockdb/paddock/wire/zktest"
)

// quorumJAAS is an operator's JAAS file for quorum SASL: the members'
// learner credentials, and each member's own.
const quorumJAAS = `QuorumServer {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_zkquorum="quorumsecret";
};
QuorumLearner {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       username="zkquorum"
       password="%s";
};
`

// TestServeQuorumSASL starts members as an operator secures a ZooKeeper
// ensemble: the quorum.auth.* keys in zoo.cfg, the JAAS file's
// QuorumServer and QuorumLearner sections named by java.env's
// SERVER_JVMFLAGS. Members 1 and 2 share the password and form the
// ensemble (member 3 verifies their credentials, so it answers their
// question whether the ensemble is new); member 3's QuorumLearner
// password is wrong: it cannot even ask the others, so it never starts
// serving, and both sides log why, while the other two commit writes.
func TestServeQuorumSASL(t *testing.T) {
	serveQuorumSASL(t, quorumSetup{
		member: func(i int) (string, string, []string) {
			password := "quorumsecret"
			if i == 2 {
				password = "wrong"
			}
			return fmt.Sprintf(quorumJAAS, password), "", []string{"quorum.auth.learner.saslLoginContext=QuorumLearner", "quorum.auth.server.saslLoginContext=QuorumServer"}
		},
		mechanism:  "DIGEST-MD5",
		badWarn:    []string{"rejected"},
		acceptWarn: []string{"mismatched response"},
	})
}

// quorumSetup is what a serve test of quorum SASL varies.
type quorumSetup struct {
	// member returns member i's JAAS file, more -D flags for java.env
	// and more zoo.cfg lines; member 2 (the third) must be refused.
	member func(i int) (jaas, flags string, lines []string)
	// mechanism is the name the members log.
	mechanism string
	// badWarn is in the refused member's warning that it cannot
	// authenticate; acceptWarn in the others' that it did not.
	badWarn, acceptWarn []string
}

func serveQuorumSASL(t *testing.T, setup quorumSetup) {
	t.Helper()
	root := t.TempDir()
	port := func() int {
		_, p, _ := net.SplitHostPort(zktest.LoopbackAddr(t))
		n, _ := strconv.Atoi(p)
		return n
	}
	var servers []string
	clientPorts := make([]int, 3)
	for i := range 3 {
		servers = append(servers, fmt.Sprintf("server.%d=127.0.0.1:%d:%d", i+1, port(), port()))
		clientPorts[i] = port()
	}
	cfgs := make([]string, 3)
	for i := range 3 {
		dir := filepath.Join(root, fmt.Sprint(i+1))
		conf := filepath.Join(dir, "conf")
		if err := os.MkdirAll(conf, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		text, flags, lines := setup.member(i)
		jaas := filepath.Join(conf, "jaas.conf")
		if err := os.WriteFile(jaas, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(conf, "java.env"), []byte(`SERVER_JVMFLAGS="-Djava.security.auth.login.config=`+jaas+flags+`"`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := strings.Join(append(append([]string{
			"tickTime=500", "initLimit=10", "syncLimit=5", "dataDir=" + dir,
			fmt.Sprintf("clientPort=%d", clientPorts[i]), "clientPortAddress=127.0.0.1", "admin.enableServer=false",
			"quorum.auth.enableSasl=true", "quorum.auth.learnerRequireSasl=true", "quorum.auth.serverRequireSasl=true",
		}, lines...), servers...), "\n") + "\n"
		cfgs[i] = filepath.Join(conf, "zoo.cfg")
		if err := os.WriteFile(cfgs[i], []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	type member struct {
		listening chan net.Addr
		stderr    *syncBuffer
		done      chan int
	}
	run := func(cfg string) *member {
		ctx, stop := context.WithCancel(context.Background())
		m := &member{listening: make(chan net.Addr, 1), stderr: &syncBuffer{}, done: make(chan int, 1)}
		go func() {
			m.done <- serve(ctx, serveOptions{configPath: cfg, logLevel: "info"}, env(nil), &syncBuffer{}, m.stderr, func(a net.Addr) { m.listening <- a })
		}()
		t.Cleanup(func() {
			stop()
			select {
			case <-m.done:
			case <-time.After(serveTimeout):
				t.Errorf("serve did not stop:\n%s", m.stderr.String())
			}
		})
		return m
	}
	// All three at once, as an operator starts them: members 1 and 2
	// form the ensemble; member 3, refused, asks on.
	all := []*member{run(cfgs[0]), run(cfgs[1]), run(cfgs[2])}
	var addrs []string
	for i, m := range all[:2] {
		select {
		case a := <-m.listening:
			addrs = append(addrs, a.String())
		case code := <-m.done:
			t.Fatalf("member %d exited with %d:\n%s", i+1, code, m.stderr.String())
		case <-time.After(serveTimeout):
			t.Fatalf("member %d did not start:\n%s", i+1, m.stderr.String())
		}
	}
	waitLog := func(what string, b *syncBuffer, parts ...string) {
		t.Helper()
		deadline := time.Now().Add(serveTimeout)
		for {
			for _, line := range strings.Split(b.String(), "\n") {
				hit := true
				for _, p := range parts {
					hit = hit && strings.Contains(line, p)
				}
				if hit {
					t.Logf("%s: %s", what, line)
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no log line with %q in:\n%s", what, parts, b.String())
			}
			time.Sleep(20 * time.Millisecond) // polling a log being written by another goroutine
		}
	}
	waitLog("member 1", all[0].stderr, "quorum SASL between the members", "mechanism="+setup.mechanism, "learnerRequireSasl=true", "serverRequireSasl=true")
	for i, addr := range addrs {
		c := connectGoZK(t, addr)
		p := fmt.Sprintf("/written-on-%d", i)
		if _, err := c.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create on %s: %v", addr, err)
		}
		if _, err := c.Sync("/"); err != nil {
			t.Fatal(err)
		}
		kids, _, err := c.Children("/")
		if err != nil || len(kids) < i+2 {
			t.Fatalf("children of / on %s: %v %v", addr, kids, err)
		}
		c.Close()
	}
	waitLog("member 3", all[2].stderr, append([]string{"WARN", "member channel: quorum SASL: cannot authenticate"}, setup.badWarn...)...)
	for i, m := range all[:2] {
		waitLog(fmt.Sprintf("member %d", i+1), m.stderr, append([]string{"WARN", "closing the connection of a peer that did not authenticate"}, setup.acceptWarn...)...)
	}
	select {
	case code := <-all[2].done:
		all[2].done <- code
		t.Fatalf("member 3 exited with %d:\n%s", code, all[2].stderr.String())
	case <-all[2].listening:
		t.Fatal("member 3 listens for clients without having authenticated")
	default:
	}
	if _, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", clientPorts[2]), time.Second); err == nil {
		t.Fatal("member 3 listens for clients without having authenticated")
	}
}
