package main

import (
	"testing"

	"github.com/paddockdb/paddock/wire/zktest"
)

// TestServeQuorumKerberos is TestServeQuorumSASL with Kerberos: the
// sections are Krb5LoginModules as ZooKeeper's guide writes them (the
// service principal and its keytab, the member's own principal and
// keytab), java.env names krb5.conf (a test KDC's),
// zoo.cfg the service principal zkquorum/_HOST. Member 3 logs in as a
// principal whose key its keytab no longer holds (rekeyed in the KDC):
// it cannot authenticate, never serves, and says why; the others commit.
func TestServeQuorumKerberos(t *testing.T) {
	kdc := zktest.StartKDC(t)
	kt := kdc.QuorumPrincipals("127.0.0.1")
	serveQuorumSASL(t, quorumSetup{
		member: func(i int) (string, string, []string) {
			learner := "learner/127.0.0.1"
			if i == 2 {
				learner = "stale/127.0.0.1"
			}
			jaas := zktest.Krb5Section("QuorumServer", kt, "zkquorum/127.0.0.1", "debug=false") + zktest.Krb5Section("QuorumLearner", kt, learner, "debug=false")
			return jaas, " -Djava.security.krb5.conf=" + kdc.Krb5Conf,
				[]string{"quorum.auth.kerberos.servicePrincipal=zkquorum/_HOST"}
		},
		mechanism:  "GSSAPI",
		badWarn:    []string{"login as stale/127.0.0.1@" + zktest.Realm},
		acceptWarn: []string{"closed inside the exchange"},
	})
}
