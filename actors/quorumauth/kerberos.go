package quorumauth

import (
	"fmt"
	"strings"

	"github.com/paddockdb/paddock/wire/kerberos"
)

// MechGSSAPI is GSSAPI (Kerberos V5) on the wire.
const MechGSSAPI = 2

// DefaultServicePrincipal is quorum.auth.kerberos.servicePrincipal when
// zoo.cfg does not set it (ZooKeeper's QuorumAuth default).
const DefaultServicePrincipal = "zkquorum/localhost"

// Kerberos is GSSAPI (package wire/kerberos) with the credentials of a
// JAAS file's Krb5LoginModule sections: QuorumServer's service principal
// and keytab (Acceptor) verify the learners without a KDC; QuorumLearner's
// principal and keytab (Login) are this member's own, with which it gets
// a ticket for the acceptor's ServicePrincipal from the KDC.
type Kerberos struct {
	Acceptor *kerberos.Acceptor
	// Login makes this member's credentials for one exchange; the
	// exchange closes them once it holds its service ticket (so no
	// ticket renewal outlives it).
	Login func() (*kerberos.Credentials, error)
	// ServicePrincipal is quorum.auth.kerberos.servicePrincipal: the
	// acceptor's principal, service/host, where a host of _HOST is the
	// member's being dialled (ServicePrincipalFor).
	ServicePrincipal string
}

var _ Mechanism = (*Kerberos)(nil)

func (k *Kerberos) ID() byte     { return MechGSSAPI }
func (k *Kerberos) Name() string { return kerberos.Mechanism }

func (k *Kerberos) NewServer() ServerExchange { return &authzServer{s: k.Acceptor.NewServer()} }

func (k *Kerberos) NewLearner(host string) Exchange { return &krbLearner{k: k, host: host} }

// ServicePrincipalFor is the service principal a learner asks a ticket
// for to authenticate to the member at host, as ZooKeeper's
// SecurityUtils.getServerPrincipal makes it: a pattern of exactly two
// '/'-separated parts (Java's split, trailing empty parts dropped) whose
// second is _HOST becomes the first part, '/' and host in lower case;
// any other pattern is used as it is (so zkquorum/_HOST@REALM is not
// replaced, as in ZooKeeper).
func ServicePrincipalFor(pattern, host string) string {
	parts := javaSplit(pattern, "/")
	if len(parts) != 2 || parts[1] != "_HOST" {
		return pattern
	}
	return parts[0] + "/" + strings.ToLower(host)
}

// SplitServicePrincipal checks that a service principal is service/host
// with an optional realm, and returns service and host. The realm is not
// used: as the JDK's GSSAPI client (which ZooKeeper's learner gives only
// the service and the host), the ticket is asked for in krb5.conf's realm
// of the host (domain_realm, else default_realm).
func SplitServicePrincipal(spn string) (service, host string, err error) {
	p, err := kerberos.ParsePrincipal(spn, "")
	if err != nil {
		return "", "", err
	}
	if len(p.Name) != 2 {
		return "", "", fmt.Errorf("paddock/quorumauth: service principal %q is not of the form service/host[@REALM]", spn)
	}
	return p.Name[0], p.Name[1], nil
}

// krbLearner is the learner's side: its first step gets the service
// ticket, then the exchange is kerberos.Client's.
type krbLearner struct {
	k    *Kerberos
	host string
	c    *kerberos.Client
}

func (l *krbLearner) Step(in []byte) ([]byte, error) {
	if l.c == nil {
		service, host, err := SplitServicePrincipal(ServicePrincipalFor(l.k.ServicePrincipal, l.host))
		if err != nil {
			return nil, err
		}
		creds, err := l.k.Login()
		if err != nil {
			return nil, err
		}
		defer creds.Close()
		if l.c, err = creds.NewClient(service, host); err != nil {
			return nil, err
		}
	}
	return l.c.Step(in)
}

func (l *krbLearner) Complete() bool { return l.c != nil && l.c.Complete() }
