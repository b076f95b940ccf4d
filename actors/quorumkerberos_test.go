package actors

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/paddockdb/paddock/actors/quorumauth"
	"github.com/paddockdb/paddock/wire/kerberos"
	"github.com/paddockdb/paddock/wire/zktest"
)

// With Kerberos quorum SASL required on every member (the acceptor
// zkquorum/127.0.0.1, each learner logging in to a test KDC, the service
// principal zkquorum/_HOST), writes commit on every member. A member
// restarted as a principal whose key its keytab no longer holds (rekeyed
// in the KDC since) sends nothing and its log says why; the others still
// commit, and without their votes the leader steps down.
func TestEnsembleQuorumKerberos(t *testing.T) {
	kdc := zktest.StartKDC(t)
	kt := kdc.QuorumPrincipals("127.0.0.1")
	conf, err := kerberos.LoadConfig(kdc.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	acceptor := krbAcceptor(t, kt, "zkquorum", "127.0.0.1")
	logs := []*linesHandler{{}, {}, {}}
	principal := []string{"learner/127.0.0.1", "learner/127.0.0.1", "learner/127.0.0.1"}
	e := startEnsembleWith(t, 3, 500*time.Millisecond, func(c *Config) {
		p := principal[c.ServerID-1]
		c.QuorumAuth = &quorumauth.Config{LearnerRequire: true, ServerRequire: true, Mechanism: &quorumauth.Kerberos{
			Acceptor:         acceptor,
			ServicePrincipal: "zkquorum/_HOST",
			Login:            func() (*kerberos.Credentials, error) { return kerberos.NewCredentials(conf, p, kt, "") },
		}}
		c.Logger = slog.New(logs[c.ServerID-1]).With("member", c.ServerID)
	})
	leader := e.waitLeader()
	for i := range 3 {
		writeOn(t, e, i, fmt.Sprintf("/krb%d", i))
	}
	if l := logs[leader].find("INFO", "quorum SASL: a peer authenticated", "principal=learner/127.0.0.1@"+zktest.Realm); l == "" {
		t.Errorf("the leader logged no authenticated peer")
	}
	bad := (leader + 1) % 3
	e.stop(bad)
	principal[bad] = "stale/127.0.0.1"
	e.restart(bad)
	for _, where := range []string{"quorum SASL: cannot authenticate to a peer", "member channel: quorum SASL: cannot authenticate"} {
		eventually(t, "the member with the stale key says why it cannot send", func() error {
			if l := logs[bad].find("WARN", where, "login as stale/127.0.0.1@"+zktest.Realm); l != "" {
				t.Logf("member %d: %s", bad+1, l)
				return nil
			}
			return errors.New("no warning")
		})
	}
	writeOn(t, e, (leader+2)%3, "/without-the-stale-member")
	// The leader may have moved meanwhile on a loaded machine, never to
	// the stale member.
	if leader = e.waitLeader(); leader == bad {
		t.Fatalf("the member that cannot authenticate leads")
	}
	e.stop(3 - leader - bad) // the third
	waitStepDown(t, e, leader)
}

// krbAcceptor is the acceptor of service/host in zktest.Realm with the
// keys of keytab kt.
func krbAcceptor(t *testing.T, kt, service, host string) *kerberos.Acceptor {
	t.Helper()
	tab, err := keytab.Load(kt)
	if err != nil {
		t.Fatal(err)
	}
	a, err := kerberos.NewAcceptor(tab, kerberos.Principal{Name: []string{service, host}, Realm: zktest.Realm})
	if err != nil {
		t.Fatal(err)
	}
	return a
}
