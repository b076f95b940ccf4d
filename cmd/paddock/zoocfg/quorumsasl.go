package zoocfg

import (
	"fmt"
	"strings"
)

// Quorum SASL, as ZooKeeper 3.8's QuorumPeerConfig and QuorumPeer read it:
// three zoo.cfg keys (never system properties), checked together, and two
// sections of the JAAS file.
//
//   - quorum.auth.enableSasl: members authenticate one another at all;
//     the JAAS file must then have the server section (default
//     QuorumServer: DigestLoginModule, user_NAME="password" for each
//     member's learner credentials) and the learner section (default
//     QuorumLearner: DigestLoginModule, username and password), as
//     SaslQuorumAuthServer and SaslQuorumAuthLearner refuse to start
//     without them.
//   - quorum.auth.learnerRequireSasl: a member authenticates when it
//     connects to another.
//   - quorum.auth.serverRequireSasl: a member refuses connections that do
//     not authenticate.
//   - quorum.auth.server.saslLoginContext, quorum.auth.learner.saslLoginContext:
//     other names for the two sections.
//
// As in ZooKeeper, a require flag without enableSasl, and
// serverRequireSasl without learnerRequireSasl, stop the server. Kerberos
// (a Krb5LoginModule in either section, quorum.auth.kerberos.servicePrincipal)
// is refused until paddock has GSSAPI.

// The quorum.auth.* keys and the default section names (QuorumAuth).
const (
	keyQuorumEnable          = "quorum.auth.enableSasl"
	keyQuorumServerRequire   = "quorum.auth.serverRequireSasl"
	keyQuorumLearnerRequire  = "quorum.auth.learnerRequireSasl"
	keyQuorumServerContext   = "quorum.auth.server.saslLoginContext"
	keyQuorumLearnerContext  = "quorum.auth.learner.saslLoginContext"
	defaultQuorumServerJAAS  = "QuorumServer"
	defaultQuorumLearnerJAAS = "QuorumLearner"
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
	users, ok, err := p.jaas.DigestUsers(serverSection)
	switch {
	case err != nil:
		p.errs = append(p.errs, err)
	case !ok:
		missing(serverSection)
	case len(users) == 0:
		p.errs = append(p.errs, &Error{File: file, Msg: fmt.Sprintf(
			"section %s has no user_NAME=\"password\" option: no member could authenticate to this one", serverSection)})
	}
	user, password, line, ok, err := p.jaas.DigestCredentials(learnerSection)
	switch {
	case err != nil:
		p.errs = append(p.errs, err)
	case !ok:
		missing(learnerSection)
	case user == "" || password == "":
		p.errs = append(p.errs, &Error{File: file, Line: line, Msg: fmt.Sprintf(
			"section %s: %s needs a username and a password option (this member's credentials)", learnerSection, DigestLoginModule)})
	}
	p.cfg.QuorumSASL = &QuorumSASL{LearnerRequire: learnerRequire, ServerRequire: serverRequire, Users: users, User: user, Password: password}
}
