// Package kerberos owns SASL GSSAPI with the Kerberos V5 mechanism
// (RFC 4752 over RFC 4121), as ZooKeeper 3.8 runs it through the JDK's
// GssKrb5Server and GssKrb5Client, on both sides:
//
//   - An Acceptor is a service principal (service/host@REALM) and its
//     keytab; it verifies AP-REQs without a KDC and keeps the replay
//     cache. Each exchange is a Server.
//   - Credentials are a client principal's keytab or password and its
//     krb5.conf; they log in to the KDC and get service tickets. Each
//     exchange is a Client.
//
// Neither knows about ZooKeeper sessions: the tokens are what the sasl
// request (wire.OpSASL) carries on the client port, and the same types
// authenticate ensemble members to one another (actors/quorumauth's
// Kerberos mechanism, quorum SASL).
//
// The exchange (server side, as GssKrb5Server runs it):
//
//  1. The client's initial context token: RFC 2743's framing around the
//     krb5 OID, TOK_ID 0100 and an AP-REQ. The ticket must be for the
//     acceptor's principal and decrypt with its keytab, be valid within
//     the clock skew (5 minutes), and its authenticator must not have
//     been seen before; the authenticator carries RFC 4121's GSS checksum.
//  2. If the client asked for mutual authentication (kazoo through MIT
//     does; the JDK client by default does not), the server answers an
//     AP-REP token (built here: gokrb5 only decodes them) and waits for
//     an empty token.
//  3. The server sends its security-layer offer wrapped (RFC 4121 wrap
//     token, integrity only): "no security layer" and a 65536-byte
//     buffer, the JDK's defaults inside ZooKeeper.
//  4. The client's wrapped answer must choose "no security layer"; the
//     bytes after its first four are the authorization id (UTF-8). The
//     server is then complete; any further token is an error.
//
// What is not supported, with the error saying so: enctypes that use
// RFC 1964 tokens (DES, 3DES, RC4): only AES (aes128/aes256-cts-hmac-sha1-96,
// aes128/aes256-sha2) keys a context; sealed wrap tokens (confidentiality
// is never negotiated here); channel bindings are ignored, as an
// acceptor without bindings does.
//
// Dependencies: wire/ is stdlib only (DESIGN.md), so the Kerberos code,
// on github.com/jcmturner/gokrb5/v8 (its crypto, ASN.1 types, keytab and
// KDC client; never its service package, whose replay cache is a global
// with a goroutine nobody stops), lives in this sibling package, imported
// by wire/client and actors (cmd/paddock/layout_test.go). Tokens are
// bounded by MaxToken before they are parsed.
package kerberos
