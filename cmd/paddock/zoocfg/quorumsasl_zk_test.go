package zoocfg

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddockdb/paddock/wire/zktest"
)

// zkQuorumStart starts Apache ZooKeeper 3.8's QuorumPeerMain on cfg with
// the system properties props (the JAAS file, krb5.conf) and reports
// whether it got as far as electing (its "LOOKING" line: the quorum SASL
// settings and sections were taken), or exited, with its output.
func zkQuorumStart(t *testing.T, cfg string, props []Property) (accepted bool, output string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), zktest.StartTimeout)
	defer cancel()
	args := []string{"-Dzookeeper.admin.enableServer=false"}
	for _, p := range props {
		args = append(args, "-D"+p.Name+"="+p.Value)
	}
	args = append(args, "-cp", zktest.Classpath, "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg)
	cmd := exec.CommandContext(ctx, "java", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("ZooKeeper (Debian's zookeeper package, installed by .ci/deps): %v", err)
	}
	var b strings.Builder
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "QuorumPeer - LOOKING") {
			accepted = true
			break
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("ZooKeeper neither refused nor started within %v:\n%s", zktest.StartTimeout, b.String())
	}
	return accepted, b.String()
}

// TestQuorumSASLAgainstZooKeeper: the quorum.auth.* combinations and JAAS
// sections that ZooKeeper 3.8 refuses at start, Paddock refuses, with the
// same reason; those it takes, Paddock takes.
func TestQuorumSASLAgainstZooKeeper(t *testing.T) {
	full := `QuorumServer { org.apache.zookeeper.server.auth.DigestLoginModule required user_learner="pw"; };
QuorumLearner { org.apache.zookeeper.server.auth.DigestLoginModule required username="learner" password="pw"; };
`
	noLearner := `QuorumServer { org.apache.zookeeper.server.auth.DigestLoginModule required user_learner="pw"; };`
	noServer := `QuorumLearner { org.apache.zookeeper.server.auth.DigestLoginModule required username="learner" password="pw"; };`
	for _, c := range []struct {
		name  string
		lines []string
		jaas  string
		why   string // in both refusals; "" when both accept
	}{
		{"serverRequireSasl alone", []string{"quorum.auth.serverRequireSasl=true"}, full,
			"quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.serverRequireSasl"},
		{"learnerRequireSasl alone", []string{"quorum.auth.learnerRequireSasl=true"}, full,
			"quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.learnerRequireSasl"},
		{"serverRequireSasl without learnerRequireSasl", []string{"quorum.auth.enableSasl=true", "quorum.auth.serverRequireSasl=true"}, full,
			"quorum.auth.learnerRequireSasl is disabled, so cannot enable quorum.auth.serverRequireSasl"},
		{"not a boolean", []string{"quorum.auth.enableSasl=yes"}, full, "yes"},
		{"no QuorumLearner section", []string{"quorum.auth.enableSasl=true"}, noLearner, "section 'QuorumLearner' could not be found"},
		{"no QuorumServer section", []string{"quorum.auth.enableSasl=true", "quorum.auth.learnerRequireSasl=true"}, noServer,
			"section 'QuorumServer' could not be found"},
		{"another section name, missing", []string{"quorum.auth.enableSasl=true", "quorum.auth.server.saslLoginContext=Elsewhere"}, full,
			"section 'Elsewhere' could not be found"},
		{"enableSasl alone", []string{"quorum.auth.enableSasl=true"}, full, ""},
		{"everything required", []string{"quorum.auth.enableSasl=true", "quorum.auth.learnerRequireSasl=true", "quorum.auth.serverRequireSasl=true"}, full, ""},
		{"off", []string{"quorum.auth.enableSasl=false", "quorum.auth.learnerRequireSasl=false"}, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var props []Property
			if c.jaas != "" {
				jaas := filepath.Join(dir, "jaas.conf")
				if err := os.WriteFile(jaas, []byte(c.jaas), 0o600); err != nil {
					t.Fatal(err)
				}
				props = []Property{{Name: "java.security.auth.login.config", Value: jaas, File: "$SERVER_JVMFLAGS"}}
			}
			compareQuorumStart(t, dir, c.lines, props, c.why, c.why)
		})
	}
}

// compareQuorumStart starts ZooKeeper on a two-member zoo.cfg with lines
// and the system properties props, parses the same with paddock, and
// checks that ZooKeeper refuses, its output saying zkWhy, or starts (zkWhy
// ""), and that paddock refuses, its error saying why, or starts (why "").
func compareQuorumStart(t *testing.T, dir string, lines []string, props []Property, zkWhy, why string) {
	t.Helper()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "myid"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := strings.Join(append([]string{
		"tickTime=2000", "initLimit=10", "syncLimit=5", "dataDir=" + data, "clientPortAddress=127.0.0.1",
		"clientPort=" + port(t),
		fmt.Sprintf("server.1=127.0.0.1:%s:%s", port(t), port(t)),
		fmt.Sprintf("server.2=127.0.0.1:%s:%s", port(t), port(t)),
	}, lines...), "\n") + "\n"
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	zkAccepted, zkOut := zkQuorumStart(t, cfgPath, props)
	_, err := Parse(strings.NewReader(cfg), "zoo.cfg", props)
	switch {
	case zkWhy == "" && !zkAccepted:
		t.Fatalf("want ZooKeeper to start:\n%s", zkOut)
	case zkWhy != "" && (zkAccepted || !strings.Contains(zkOut, zkWhy)):
		t.Fatalf("want ZooKeeper to refuse, saying %q: it started %v\n%s", zkWhy, zkAccepted, zkOut)
	case why == "" && err != nil:
		t.Fatalf("want paddock to start: %v", err)
	case why != "" && (err == nil || !strings.Contains(err.Error(), why)):
		t.Fatalf("want paddock to refuse, saying %q: %v", why, err)
	}
}

// port is a free loopback port, as text.
func port(t *testing.T) string {
	_, p, _ := strings.Cut(zktest.LoopbackAddr(t), ":")
	return p
}

// TestQuorumKerberosAgainstZooKeeper: quorum SASL with Kerberos sections
// (a test KDC, its krb5.conf as -Djava.security.krb5.conf): ZooKeeper
// 3.8 and Paddock both start on good keytabs (ZooKeeper logs both
// sections in to the KDC), and both refuse a keytab that cannot be read
// or lacks a section's principal (ZooKeeper: the JDK's login module asks
// for a password, and QuorumPeerMain exits; paddock names the file and
// line). Where ZooKeeper starts on what cannot work (Kerberos in one
// section only, a QuorumServer without storeKey), paddock refuses; a
// learner principal the KDC does not know stops ZooKeeper, which logs in
// at start, and not paddock, which logs in when it connects (README,
// "Quorum SASL with Kerberos").
func TestQuorumKerberosAgainstZooKeeper(t *testing.T) {
	kdc := zktest.StartKDC(t)
	for _, p := range []string{"zkquorum/127.0.0.1", "learner/127.0.0.1"} {
		kdc.AddPrincipal(p, "")
	}
	kt := kdc.Keytab("quorum.keytab", "zkquorum/127.0.0.1", "learner/127.0.0.1")
	section := func(name, keytab, principal string) string { return zktest.Krb5Section(name, keytab, principal, "") }
	server, learner := section("QuorumServer", kt, "zkquorum/127.0.0.1"), section("QuorumLearner", kt, "learner/127.0.0.1")
	// A keytab of a principal the KDC does not know.
	ghost, _ := krbFiles(t, "", "ghost/127.0.0.1")
	lines := []string{"quorum.auth.enableSasl=true", "quorum.auth.learnerRequireSasl=true", "quorum.auth.serverRequireSasl=true",
		"quorum.auth.kerberos.servicePrincipal=zkquorum/_HOST"}
	for _, c := range []struct {
		name, jaas, zkWhy, why string
	}{
		{"good keytabs", server + learner, "", ""},
		{"learner keytab missing", server + section("QuorumLearner", "/nonexistent/learner.keytab", "learner/127.0.0.1"),
			"the QuorumLearner is being asked for a password", "cannot read the keytab /nonexistent/learner.keytab"},
		{"learner principal not in the keytab", server + section("QuorumLearner", kt, "learner/elsewhere"),
			"the QuorumLearner is being asked for a password", "the keytab has no key for learner/elsewhere@EXAMPLE.COM"},
		{"server principal not in the keytab", section("QuorumServer", kt, "zkquorum/elsewhere") + learner,
			"at org.apache.zookeeper.server.quorum.auth.SaslQuorumAuthServer.<init>", "the keytab has no key for zkquorum/elsewhere@EXAMPLE.COM"},
		// Where paddock refuses what ZooKeeper starts on, and fails every
		// connection with: a member would speak one mechanism and verify
		// the other; an acceptor without its key.
		{"Kerberos in QuorumServer only", server + "QuorumLearner { org.apache.zookeeper.server.auth.DigestLoginModule required username=\"learner\" password=\"pw\"; };\n",
			"", "section QuorumLearner has no com.sun.security.auth.module.Krb5LoginModule"},
		// Where ZooKeeper logs in at start and paddock when it connects.
		{"learner unknown to the KDC", server + section("QuorumLearner", ghost, "ghost/127.0.0.1"), "Client not found in Kerberos database (6) - CLIENT_NOT_FOUND", ""},
		{"QuorumServer without storeKey", strings.Replace(server, "storeKey=true", "storeKey=false", 1) + learner,
			"", "section QuorumServer: com.sun.security.auth.module.Krb5LoginModule: storeKey=true is needed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			jaas := filepath.Join(dir, "jaas.conf")
			if err := os.WriteFile(jaas, []byte(c.jaas), 0o600); err != nil {
				t.Fatal(err)
			}
			props := []Property{
				{Name: "java.security.auth.login.config", Value: jaas, File: "$SERVER_JVMFLAGS"},
				{Name: "java.security.krb5.conf", Value: kdc.Krb5Conf, File: "$SERVER_JVMFLAGS"},
			}
			compareQuorumStart(t, dir, lines, props, c.zkWhy, c.why)
		})
	}
}
