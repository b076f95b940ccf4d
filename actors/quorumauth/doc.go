// Package quorumauth is quorum SASL: the authentication phase that opens
// a connection between the members of an ensemble, on the quorum port
// (package raftnet) and on the election port (the member channel,
// actors/members.go), as ZooKeeper 3.8's QuorumAuth runs it between its
// servers (SaslQuorumAuthLearner on the side that connects,
// SaslQuorumAuthServer on the side that accepts).
//
// The member that dials is the learner: it authenticates with the
// credentials of the JAAS QuorumLearner section. The member that accepts
// is the server: it verifies them against the users of the QuorumServer
// section. The settings are ZooKeeper's zoo.cfg keys:
//
//   - quorum.auth.enableSasl: a member has a Config at all (nil: no quorum
//     SASL, as ZooKeeper's NullQuorumAuthServer and NullQuorumAuthLearner).
//   - quorum.auth.learnerRequireSasl (Config.LearnerRequire): the dialler
//     authenticates, and sends nothing else on a connection before the
//     acceptor has proved it knows the password too (DIGEST-MD5's
//     rspauth). Without it the dialler does not authenticate at all, as
//     ZooKeeper's learner skips SASL then.
//   - quorum.auth.serverRequireSasl (Config.ServerRequire): the acceptor
//     closes a connection whose dialler does not authenticate. Without it
//     such a connection is let through (a rolling upgrade: enableSasl on
//     every member first, then learnerRequireSasl, then
//     serverRequireSasl).
//
// A failed authentication closes the connection on both sides, whatever
// the flags: the acceptor answers an error and closes, with a warning
// naming the peer and the reason. (ZooKeeper's server keeps such a
// connection when serverRequireSasl is false, but its learner, which
// authenticates only when learnerRequireSasl, drops it on that error: the
// outcome is the same.)
//
// Wire format. The protocol's own hello says whether an authentication
// phase follows and with which mechanism (raftnet's hello version 2, the
// member channel's version 3; the older versions mean no authentication
// and are still accepted). Then frames, all integers big-endian:
//
//	frame = length (4 bytes, of what follows: 1 + the token's length) | status (1 byte) | token
//	status: 0 in progress, 1 success, 2 error, 3 unsupported
//
// The learner sends the first frame (status 0, its initial token:
// empty for DIGEST-MD5, the AP-REQ for GSSAPI); the server answers each frame with one, status
// 0 and its challenge while the exchange goes on, 1 and its last token
// (DIGEST-MD5's rspauth; none for GSSAPI) when the learner has authenticated, 2 (no token)
// when it failed, 3 (no token) when this member does not do quorum SASL
// or not with the mechanism asked for. The learner sends only status 0.
// A token is at most MaxToken bytes; an exchange has at most MaxRounds
// server answers in progress (ZooKeeper's MAX_RETRIES, 5). A frame out of
// bounds, an unknown status or a learner frame that is not in progress
// ends the exchange as a failure. Once both sides are done the protocol's
// own frames follow on the connection.
//
// Mechanisms. A Mechanism (mechanism.go) makes both sides' exchanges;
// the wire names it by one byte, the hello's mechanism byte:
//
//	0 MechNone    the dialler does not authenticate
//	1 MechDigest  DIGEST-MD5
//	2 MechGSSAPI  GSSAPI (Kerberos V5)
//
// Digest is DIGEST-MD5 (package wire/sasl) with ZooKeeper's quorum names
// (protocol "zookeeper-quorum", server name "zk-quorum-sasl-md5"): the
// learner's first token is empty, the acceptor's last is rspauth.
//
// Kerberos (kerberos.go) is GSSAPI (package wire/kerberos, RFC 4752) with
// the Krb5LoginModule sections, as ZooKeeper runs it between members:
// the acceptor is the QuorumServer section's service principal (e.g.
// zkquorum/host@REALM) and keytab, and needs no KDC; the learner logs in
// to the KDC as the QuorumLearner section's principal (e.g.
// learner/host@REALM) with its keytab, asks a ticket for
// quorum.auth.kerberos.servicePrincipal (default zkquorum/localhost;
// zkquorum/_HOST names the member being dialled, as ZooKeeper's
// SecurityUtils.getServerPrincipal replaces it: ServicePrincipalFor),
// and sends an AP-REQ asking for mutual authentication. The tokens, in
// the frames above: learner AP-REQ; acceptor AP-REP; learner empty;
// acceptor its wrapped security-layer offer; learner its wrapped answer
// ("no security layer", its principal as the authorization id); acceptor
// success with no token. The learner is complete only after the AP-REP
// and the offer checked out with the ticket's session key, which only
// the holder of the service key can have. Every learner exchange logs in
// afresh and drops its tickets once it holds the service ticket: members
// connect rarely, and no ticket renewal outlives the exchange. The KDC
// is contacted by the learner only, never at start (ZooKeeper's
// Krb5LoginModule logs in when the member starts, and a member whose KDC
// refuses it exits; paddock's starts, and each refused exchange says why
// in the log).

// Authorization, as SaslQuorumServerCallbackHandler: the authenticated
// and the authorization ids must be the same, and a principal of the form
// name/host@REALM must name a host of the ensemble (Config.Hosts).
//
// The package does no I/O of its own beyond the reader and writer it is
// given, except the Kerberos learner's login and ticket request to the
// KDC (in its first step, bounded by gokrb5's own timeouts: 5 seconds
// for each KDC it tries, not by the connection's deadline), and starts
// no goroutines: callers set the connection's deadlines around Learn and
// Accept.
package quorumauth
