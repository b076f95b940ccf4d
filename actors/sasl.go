package actors

// SASL on the client port, as ZooKeeperServer.processSasl runs it: the
// sasl request's token goes to the connection's SASL server, DIGEST-MD5
// (wire/sasl) or, when the JAAS server section has a Krb5LoginModule,
// GSSAPI (wire/kerberos: one acceptor, with its keytab and replay cache,
// for the whole server); once complete the session gains the id ("sasl", principal),
// and ("super", "") when the principal is a zookeeper.superUser. A failed
// exchange is answered AuthFailed (SessionClosedRequireSasl when SASL is
// enforced) with an empty SetSASLResponse, and the connection closed;
// with allowSaslFailedClients (and SASL not enforced) it is answered OK
// with no token instead and the connection stays. Replies carry zxid 0.
//
// Enforced authentication (AuthenticationHelper.enforceAuthentication): a
// session that holds no id of an enforced scheme is answered
// SessionClosedRequireSasl, with no body, to any request but auth and
// sasl, and its connection is closed (the session lives on until it
// expires, as in ZooKeeper).
//
// A session that never sends a sasl request pays nothing: its session
// holds a nil saslServer, and the enforcement check is one length test
// of the configuration while enforcement is off.

import (
	"crypto/rand"
	"log/slog"
	"regexp"
	"slices"
	"strings"

	"github.com/paddockdb/paddock/statemachine"
	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/kerberos"
	"github.com/paddockdb/paddock/wire/sasl"
)

// SASLConfig is the SASL server's configuration: the JAAS server
// section's DIGEST-MD5 users and ZooKeeper's SASL system properties.
type SASLConfig struct {
	Users map[string]string // user -> password (user_NAME="password")
	// Kerberos, when set, makes the mechanism GSSAPI for every session
	// (the JAAS server section's Krb5LoginModule); Users are not used then,
	// as in ZooKeeper, whose server picks GSSAPI when its Subject holds a
	// Kerberos principal, whatever the client's first token.
	Kerberos *kerberos.Acceptor
	// DefaultRealm is krb5.conf's default_realm ("" without one): names
	// in it map by KerberosName's DEFAULT rule.
	DefaultRealm string
	// SuperPassword, when HasSuperPassword, is the password of the user
	// "super" (zookeeper.SASLAuthenticationProvider.superPassword).
	SuperPassword    string
	HasSuperPassword bool
	SuperUsers       []string // principals that gain ("super", ""): zookeeper.superUser(.*)
	RemoveHost       bool     // zookeeper.kerberos.removeHostFromPrincipal
	RemoveRealm      bool     // zookeeper.kerberos.removeRealmFromPrincipal
	AllowFailed      bool     // zookeeper.allowSaslFailedClients
}

// saslServer is one SASL exchange of a session: sasl.Server
// (DIGEST-MD5) or kerberos.Server (GSSAPI).
type saslServer interface {
	Step(token []byte) ([]byte, error)
	Complete() bool
	User() string // the authenticated name, once Complete
}

// newServer starts the configured mechanism's exchange.
func (c *SASLConfig) newServer() saslServer {
	if c.Kerberos != nil {
		return c.Kerberos.NewServer()
	}
	return sasl.NewServer(c.password, rand.Reader)
}

func (c *SASLConfig) password(user string) (string, bool) {
	if user == "super" && c.HasSuperPassword {
		return c.SuperPassword, true
	}
	p, ok := c.Users[user]
	return p, ok
}

func (ss *session) saslStep(sl *slot) {
	req := sl.req.body.(*wire.SASLPacket)
	cfg := ss.s.cfg.SASL
	h := wire.ReplyHeader{Xid: sl.req.xid}
	var token []byte
	switch {
	case cfg == nil:
		// ZooKeeper without a JAAS server section has no SASL server:
		// it logs the NullPointerException and answers OK, no token.
		ss.s.logRequest(slog.LevelWarn, "sasl request but no SASL users are configured (no JAAS server section)", ss.id, sl.span)
	default:
		if ss.saslSrv == nil {
			ss.saslSrv = cfg.newServer()
		}
		tok, err := ss.saslSrv.Step(req.Token)
		switch {
		case err != nil:
			required := slices.Contains(ss.s.cfg.EnforceAuth, statemachine.SchemeSASL)
			if cfg.AllowFailed && !required {
				ss.s.logRequest(slog.LevelWarn, "SASL authentication failed; connection kept (allowSaslFailedClients)", ss.id, sl.span, "err", err)
				break
			}
			h.Err = wire.ErrAuthFailed
			if required {
				h.Err = wire.ErrSessionClosedRequireSasl
			}
			ss.s.logRequest(slog.LevelWarn, "SASL authentication failed, closing connection", ss.id, sl.span, "err", err)
		case ss.saslSrv.Complete():
			id, ok := saslPrincipal(ss.saslSrv.User(), cfg.DefaultRealm, cfg.RemoveHost, cfg.RemoveRealm)
			if !ok || !ss.authRoom(wire.ID{Scheme: statemachine.SchemeSASL, ID: id}) {
				h.Err = wire.ErrAuthFailed
				ss.s.logRequest(slog.LevelWarn, "SASL principal refused, closing connection", ss.id, sl.span, "user", ss.saslSrv.User())
				break
			}
			token = tok
			ss.auth = appendID(ss.auth, wire.ID{Scheme: statemachine.SchemeSASL, ID: id})
			ss.s.logRequest(slog.LevelInfo, "adding SASL authorization", ss.id, sl.span, "id", id)
			if id != "" && slices.Contains(cfg.SuperUsers, id) { // isSaslSuperUser: never the empty id
				ss.auth = appendID(ss.auth, wire.ID{Scheme: statemachine.SchemeSuper, ID: ""})
				ss.s.logRequest(slog.LevelInfo, "SASL id authenticated as super user", ss.id, sl.span, "id", id)
			}
		default:
			token = tok
		}
	}
	sl.frame = wire.AppendFrame(nil, &h, &wire.SASLPacket{Token: token})
	ss.hold(len(sl.frame))
	sl.code, sl.done, sl.zxid = h.Err, true, 0
	if h.Err != wire.Ok {
		sl.close = true
		ss.closing = true
	}
}

// enforced reports whether the session may be served under enforced
// authentication: it holds an id of one of the enforced schemes.
func (ss *session) enforced() bool {
	for _, id := range ss.auth {
		if slices.Contains(ss.s.cfg.EnforceAuth, id.Scheme) {
			return true
		}
	}
	return false
}

// refuseUnauthenticated answers sl SessionClosedRequireSasl and closes
// the connection.
func (ss *session) refuseUnauthenticated(sl *slot) {
	ss.s.logRequest(slog.LevelWarn, "session has not authenticated with an enforced scheme, closing connection",
		ss.id, sl.span, "op", sl.req.op.String(), "enforced", ss.s.cfg.EnforceAuth)
	h := wire.ReplyHeader{Xid: sl.req.xid, Err: wire.ErrSessionClosedRequireSasl}
	sl.frame = wire.AppendFrame(nil, &h)
	ss.hold(len(sl.frame))
	sl.code, sl.done, sl.zxid = h.Err, true, 0
	sl.close = true
	ss.closing = true
}

// kerberosName is ZooKeeper's KerberosName pattern: name[/host]@realm.
var kerberosName = regexp.MustCompile(`^([^/@]*)(/([^/@]*))?@([^/@]*)$`)

// saslPrincipal is the id SaslServerCallbackHandler.handleAuthorizeCallback
// gives the authenticated user: the KerberosName's short name (by the
// DEFAULT rule: the name when it has no realm or its realm is the default
// one, krb5.conf's default_realm, "" without one), then "/host" unless
// removeHostFromPrincipal and "@REALM" unless removeRealmFromPrincipal. A
// realm the rule does not map leaves the name as it is (ZooKeeper logs
// the NoMatchingRule and keeps the client's authorization id: paddock
// keeps the authenticated name, so a client cannot choose its id). A name
// with '@' that is not a Kerberos name is refused (ZooKeeper fails the
// exchange with an IllegalArgumentException).
func saslPrincipal(user, defaultRealm string, removeHost, removeRealm bool) (string, bool) {
	m := kerberosName.FindStringSubmatch(user)
	if m == nil {
		if strings.Contains(user, "@") {
			return "", false
		}
		return user, true
	}
	service, hasHost, host, realm := m[1], m[2] != "", m[3], m[4]
	if realm != defaultRealm {
		return user, true // no rule applies
	}
	id := service
	if hasHost && !removeHost {
		id += "/" + host
	}
	if !removeRealm {
		id += "@" + realm
	}
	return id, true
}

// saslIDValid is SASLAuthenticationProvider.isValid: a KerberosName
// parses it.
func saslIDValid(id string) bool {
	return kerberosName.MatchString(id) || !strings.Contains(id, "@")
}

// withoutSASL is ids without the sasl one: what a write carries when the
// sasl scheme is not registered, so that an auth ACL does not expand to it
// (PrepRequestProcessor.fixupACL skips ids without a provider; checkACL
// does too, and no sasl ACL can exist then).
func withoutSASL(ids []wire.ID) []wire.ID {
	out := make([]wire.ID, 0, len(ids))
	for _, id := range ids {
		if id.Scheme != statemachine.SchemeSASL {
			out = append(out, id)
		}
	}
	return out
}

// aclSchemeRefused reports whether acl names the sasl scheme while it is
// not registered, or a sasl id that is not valid: PrepRequestProcessor's
// fixupACL answers InvalidACL.
func (ss *session) aclSchemeRefused(acl []wire.ACL) bool {
	for _, a := range acl {
		if a.ID.Scheme == statemachine.SchemeSASL && (!ss.s.cfg.SASLScheme || !saslIDValid(a.ID.ID)) {
			return true
		}
	}
	return false
}
