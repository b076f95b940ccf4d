package zoocfg

import (
	"fmt"
	"slices"
	"strings"

	krb5config "github.com/jcmturner/gokrb5/v8/config"

	"github.com/paddockdb/paddock/actors/quorumauth"
	"github.com/paddockdb/paddock/wire/kerberos"
)

// Quorum SASL, as ZooKeeper 3.8's QuorumPeerConfig and QuorumPeer read it:
// four zoo.cfg keys (never system properties), checked together, and two
// sections of the JAAS file.
//
//   - quorum.auth.enableSasl: members authenticate one another at all;
//     the JAAS file must then have the server section (default
//     QuorumServer) and the learner section (default QuorumLearner), as
//     SaslQuorumAuthServer and SaslQuorumAuthLearner refuse to start
//     without them. Either both hold a DigestLoginModule (DIGEST-MD5:
//     the server section's user_NAME="password" for each member's
//     learner credentials, the learner section's username and password)
//     or both a Krb5LoginModule (GSSAPI: the server section's service
//     principal, e.g. zkquorum/host@REALM, with useKeyTab, keyTab and
//     storeKey; the learner section's principal, e.g. learner/host@REALM,
//     with useKeyTab and keyTab).
//   - quorum.auth.learnerRequireSasl: a member authenticates when it
//     connects to another.
//   - quorum.auth.serverRequireSasl: a member refuses connections that do
//     not authenticate.
//   - quorum.auth.server.saslLoginContext, quorum.auth.learner.saslLoginContext:
//     other names for the two sections.
//   - quorum.auth.kerberos.servicePrincipal: with Kerberos, the principal
//     a learner asks a ticket for (default zkquorum/localhost;
//     service/_HOST names the member dialled, quorumauth.ServicePrincipalFor).
//
// As in ZooKeeper, a require flag without enableSasl, and
// serverRequireSasl without learnerRequireSasl, stop the server. Beyond
// ZooKeeper, so is what cannot work, with the file, the line and the
// reason: Kerberos in one section only (each member would speak one
// mechanism and verify the other), a keytab that cannot be read or lacks
// its section's principal, a server section without storeKey=true, a
// learner whose krb5.conf names no KDC for its realm, a service principal
// that is not service/host[@REALM]. Paddock checks the keytabs but does not
// log in at start (ZooKeeper does, and exits when the KDC refuses): a
// learner logs in each time it connects, and its log says why it could not.

// The quorum.auth.* keys and the default section names (QuorumAuth).
const (
	keyQuorumEnable           = "quorum.auth.enableSasl"
	keyQuorumServerRequire    = "quorum.auth.serverRequireSasl"
	keyQuorumLearnerRequire   = "quorum.auth.learnerRequireSasl"
	keyQuorumServerContext    = "quorum.auth.server.saslLoginContext"
	keyQuorumLearnerContext   = "quorum.auth.learner.saslLoginContext"
	keyQuorumServicePrincipal = "quorum.auth.kerberos.servicePrincipal"
	defaultQuorumServerJAAS   = "QuorumServer"
	defaultQuorumLearnerJAAS  = "QuorumLearner"
)

// QuorumSASL is quorum SASL between the members of an ensemble.
type QuorumSASL struct {
	LearnerRequire bool // quorum.auth.learnerRequireSasl
	ServerRequire  bool // quorum.auth.serverRequireSasl
	// Users are the server section's DIGEST-MD5 users, who may
	// authenticate to this member.
	Users map[string]string
	// User and Password are the learner section's: this member's own.
	User, Password string
	// Kerberos is GSSAPI instead, when both sections have a
	// Krb5LoginModule (then Users, User and Password are unset).
	Kerberos *QuorumKerberos
}

func (p *parser) finishQuorumSASL() {
	set := func(k string) (entry, bool) {
		e, ok := p.quorumKeys[k]
		return e, ok && strings.EqualFold(e.value, "true")
	}
	enable, enabled := set(keyQuorumEnable)
	server, serverRequire := set(keyQuorumServerRequire)
	learner, learnerRequire := set(keyQuorumLearnerRequire)
	bad := false
	if !enabled && serverRequire {
		p.errorf(server.line, server.key, "%s is disabled, so cannot enable %s", keyQuorumEnable, keyQuorumServerRequire)
		bad = true
	}
	if !enabled && learnerRequire {
		p.errorf(learner.line, learner.key, "%s is disabled, so cannot enable %s", keyQuorumEnable, keyQuorumLearnerRequire)
		bad = true
	}
	if !learnerRequire && serverRequire {
		p.errorf(server.line, server.key, "%s is disabled, so cannot enable %s (this member could not authenticate itself to the others, which would refuse it)",
			keyQuorumLearnerRequire, keyQuorumServerRequire)
		bad = true
	}
	if !enabled || bad {
		return
	}
	if !p.cfg.Distributed() {
		p.warnf(enable.line, enable.key, "no effect on a standalone server (there are no other members to authenticate)")
		return
	}
	section := func(k, def string) string {
		if e, ok := p.quorumKeys[k]; ok {
			return e.value
		}
		return def
	}
	serverSection := section(keyQuorumServerContext, defaultQuorumServerJAAS)
	learnerSection := section(keyQuorumLearnerContext, defaultQuorumLearnerJAAS)
	file := p.cfg.SASL.JAASFile
	if file == "" {
		p.errorf(enable.line, enable.key, "quorum SASL needs a JAAS file with the %s and %s sections (-Djava.security.auth.login.config=FILE in SERVER_JVMFLAGS or java.env, or --jaas FILE)",
			serverSection, learnerSection)
		return
	}
	if p.jaas == nil {
		return // the file did not parse: finishSASL said why
	}
	missing := func(name string) {
		p.errs = append(p.errs, &Error{File: file, Msg: fmt.Sprintf(
			"the JAAS configuration section '%s' could not be found, and %s:%d sets %s=true", name, p.name, enable.line, keyQuorumEnable)})
	}
	q := &QuorumSASL{LearnerRequire: learnerRequire, ServerRequire: serverRequire}
	_, hasServer := p.jaas.Sections[serverSection]
	_, hasLearner := p.jaas.Sections[learnerSection]
	if !hasServer {
		missing(serverSection)
	}
	if !hasLearner {
		missing(learnerSection)
	}
	srvKrb, serverKrb := p.jaas.krb5Module(serverSection)
	lrnKrb, learnerKrb := p.jaas.krb5Module(learnerSection)
	spn, spnSet := p.quorumKeys[keyQuorumServicePrincipal]
	switch {
	case !hasServer || !hasLearner:
	case serverKrb != learnerKrb:
		m, krb, other := srvKrb, serverSection, learnerSection
		if learnerKrb {
			m, krb, other = lrnKrb, learnerSection, serverSection
		}
		p.errs = append(p.errs, krb5Error(p.jaas, krb, m,
			"section %s has no %s: a member's learner speaks GSSAPI or DIGEST-MD5 as its own section says, and the others verify what theirs say, "+
				"so no member could authenticate to another (ZooKeeper starts so, and fails every connection); use Kerberos in both sections or in neither",
			other, krb5LoginModule))
	case serverKrb:
		q.Kerberos = p.quorumKerberos(serverSection, learnerSection, srvKrb, lrnKrb)
	default:
		if spnSet {
			p.warnf(spn.line, spn.key, "no effect: the %s and %s sections use DIGEST-MD5, not Kerberos", serverSection, learnerSection)
		}
		q.Users, q.User, q.Password = p.quorumDigest(file, serverSection, learnerSection)
	}
	p.cfg.QuorumSASL = q
}

// quorumDigest reads the DIGEST-MD5 sections: the users of the server
// section, this member's credentials from the learner section.
func (p *parser) quorumDigest(file, serverSection, learnerSection string) (users map[string]string, user, password string) {
	users, _, err := p.jaas.DigestUsers(serverSection)
	switch {
	case err != nil:
		p.errs = append(p.errs, err)
	case len(users) == 0:
		p.errs = append(p.errs, &Error{File: file, Msg: fmt.Sprintf(
			"section %s has no user_NAME=\"password\" option: no member could authenticate to this one", serverSection)})
	}
	user, password, line, _, err := p.jaas.DigestCredentials(learnerSection)
	switch {
	case err != nil:
		p.errs = append(p.errs, err)
	case user == "" || password == "":
		p.errs = append(p.errs, &Error{File: file, Line: line, Msg: fmt.Sprintf(
			"section %s: %s needs a username and a password option (this member's credentials)", learnerSection, DigestLoginModule)})
	}
	return users, user, password
}

// QuorumKerberos is quorum SASL with GSSAPI: both sections have a
// Krb5LoginModule.
type QuorumKerberos struct {
	// ServicePrincipal is quorum.auth.kerberos.servicePrincipal (default
	// zkquorum/localhost): the principal a learner asks a ticket for;
	// service/_HOST names the member dialled.
	ServicePrincipal string
	// Acceptor is the server section's principal and keytab.
	Acceptor *kerberos.Acceptor
	// Principal and Keytab are the learner section's: this member's own
	// (the principal with its realm).
	Principal, Keytab string
	// Krb5 is krb5.conf, which says where the realm's KDC is.
	Krb5 *krb5config.Config
}

// Login makes this member's credentials (for quorumauth.Kerberos).
func (q *QuorumKerberos) Login() (*kerberos.Credentials, error) {
	return kerberos.NewCredentials(q.Krb5, q.Principal, q.Keytab, "")
}

// quorumKerberos checks the Krb5LoginModule of each section as
// ZooKeeper's QuorumServer and QuorumLearner logins would at start (the
// server's keytab must hold its principal's key; the learner's its own),
// krb5.conf (it must name the learner's realm's KDC) and the service
// principal. nil when any of it cannot work: the errors say why.
func (p *parser) quorumKerberos(serverSection, learnerSection string, srv, lrn JAASModule) *QuorumKerberos {
	p.loadKrb5Conf(true)
	j, bad := p.jaas, false
	q := &QuorumKerberos{ServicePrincipal: quorumauth.DefaultServicePrincipal}
	if e, ok := p.quorumKeys[keyQuorumServicePrincipal]; ok {
		q.ServicePrincipal = e.value
		if _, _, err := quorumauth.SplitServicePrincipal(quorumauth.ServicePrincipalFor(e.value, "host")); err != nil {
			p.errorf(e.line, e.key, "%v", err)
			bad = true
		} else if strings.Contains(e.value, "_HOST") && quorumauth.ServicePrincipalFor(e.value, "host") == e.value {
			p.warnf(e.line, e.key, "_HOST is replaced by the member's host only in service/_HOST, without a realm (as in ZooKeeper): tickets are asked for %s as written", e.value)
		}
	}
	if princ, kt, ok := p.krb5Login(j, serverSection, srv, true); !ok {
		bad = true
	} else if q.Acceptor, ok = p.krb5Acceptor(j, serverSection, srv, princ, kt); !ok {
		bad = true
	}
	princ, kt, ok := p.krb5Login(j, learnerSection, lrn, false)
	if !ok {
		return nil
	}
	fail := func(format string, args ...any) *QuorumKerberos {
		p.errs = append(p.errs, krb5Error(j, learnerSection, lrn, format, args...))
		return nil
	}
	switch {
	case princ.Realm == "":
		return fail("principal %s has no realm, and krb5.conf names no default_realm", princ)
	case kerberos.CheckKeytab(kt, princ) != nil:
		return fail("keytab %s: %v", lrn.Options["keyTab"], kerberos.CheckKeytab(kt, princ))
	case p.krb5 == nil && p.krb5Missing != "":
		return fail("a member logs in to its realm's KDC, and there is no krb5.conf to say where it is (%s does not exist; set -Djava.security.krb5.conf=FILE)", p.krb5Missing)
	case p.krb5 == nil:
		return nil // krb5.conf did not parse: loadKrb5Conf said why
	case !p.krb5.LibDefaults.DNSLookupKDC && !slices.ContainsFunc(p.krb5.Realms, func(r krb5config.Realm) bool { return r.Realm == princ.Realm && len(r.KDC) > 0 }):
		return fail("krb5.conf %s names no kdc for realm %s (and dns_lookup_kdc is false)", p.krb5Path, princ.Realm)
	case bad:
		return nil
	}
	q.Principal, q.Keytab, q.Krb5 = princ.String(), lrn.Options["keyTab"], p.krb5
	return q
}
