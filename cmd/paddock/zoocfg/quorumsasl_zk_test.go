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

// zkQuorumStart starts Apache ZooKeeper 3.8's QuorumPeerMain on cfg (and
// the JAAS file, when given) and reports whether it got as far as
// electing (its "LOOKING" line: the quorum SASL settings and sections were
// taken), or exited, with its output.
func zkQuorumStart(t *testing.T, cfg, jaas string) (accepted bool, output string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), zktest.StartTimeout)
	defer cancel()
	args := []string{"-Dzookeeper.admin.enableServer=false"}
	if jaas != "" {
		args = append(args, "-Djava.security.auth.login.config="+jaas)
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
			}, c.lines...), "\n") + "\n"
			cfgPath := filepath.Join(dir, "zoo.cfg")
			if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			var jaas string
			var props []Property
			if c.jaas != "" {
				jaas = filepath.Join(dir, "jaas.conf")
				if err := os.WriteFile(jaas, []byte(c.jaas), 0o600); err != nil {
					t.Fatal(err)
				}
				props = []Property{{Name: "java.security.auth.login.config", Value: jaas, File: "$SERVER_JVMFLAGS"}}
			}
			zkAccepted, zkOut := zkQuorumStart(t, cfgPath, jaas)
			_, err := Parse(strings.NewReader(cfg), "zoo.cfg", props)
			switch {
			case c.why == "" && (!zkAccepted || err != nil):
				t.Fatalf("want both to start: ZooKeeper started %v, paddock: %v\n%s", zkAccepted, err, zkOut)
			case c.why != "" && (zkAccepted || err == nil):
				t.Fatalf("want both to refuse: ZooKeeper started %v, paddock: %v\n%s", zkAccepted, err, zkOut)
			case c.why != "" && (!strings.Contains(zkOut, c.why) || !strings.Contains(err.Error(), c.why)):
				t.Fatalf("want both to say %q: paddock: %v\nZooKeeper:\n%s", c.why, err, zkOut)
			}
		})
	}
}

// port is a free loopback port, as text.
func port(t *testing.T) string {
	_, p, _ := strings.Cut(zktest.LoopbackAddr(t), ":")
	return p
}
