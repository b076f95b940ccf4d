package zktest

import (
	"os/exec"
	"strings"
	"testing"
)

func TestStartRestart(t *testing.T) {
	s := Start(t)
	out, err := s.FourLetter("srvr")
	if err != nil || !strings.Contains(out, "Mode: standalone") {
		t.Fatalf("srvr = %q, %v", out, err)
	}
	s.Restart()
	if out, err := s.FourLetter("ruok"); err != nil || out != "imok" {
		t.Fatalf("ruok after restart = %q, %v", out, err)
	}
}

// TestKDC: the realm's KDC issues tickets from keytabs it exported.
func TestKDC(t *testing.T) {
	k := StartKDC(t)
	k.AddPrincipal("zookeeper/localhost", "")
	k.AddPrincipal("bob", "bobsecret")
	kt := k.Keytab("bob.keytab", "bob")
	cc := k.Kinit("bob", kt)
	cmd := exec.Command("klist", cc)
	cmd.Env = k.Env()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "bob@"+Realm) {
		t.Fatalf("klist: %v\n%s", err, out)
	}
}
