// Package sasl owns the SASL mechanism ZooKeeper's client port speaks
// without Kerberos: DIGEST-MD5 (RFC 2831), as the JDK's DIGEST-MD5 server
// runs it inside ZooKeeper 3.8 (ZooKeeperSaslServer) and as ZooKeeper's
// Java client and kazoo (pure-sasl) run it from the other side. The tokens
// travel in the body of the sasl request (wire.OpSASL, wire.SASLPacket).
//
// The exchange, as ZooKeeper runs it:
//
//  1. The client sends an empty token; the server answers the challenge
//     realm="zk-sasl-md5",nonce="…",charset=utf-8,algorithm=md5-sess (no
//     qop directive: "auth" only, the JDK's default).
//  2. The client sends its digest-response (username, realm, nonce,
//     cnonce, nc, qop, digest-uri "zookeeper/zk-sasl-md5", response,
//     maybe authzid); the server checks it against the user's password and
//     answers rspauth=…, which the client checks in turn. The server is
//     then complete.
//
// Any other token, or any token once the server is complete, is an
// error: ZooKeeper answers AuthFailed and closes the connection. Like the
// JDK, a first token that is not empty is ignored (the JDK supports no
// subsequent authentication) and a token over MaxResponse bytes is refused.
//
// ZooKeeper's quorum SASL between ensemble members runs the same exchange
// under other names: protocol QuorumService and server name QuorumRealm
// (NewServerFor, NewClientFor; actors/quorumauth carries the tokens).
//
// The package is pure: the caller supplies the randomness (nonces) and the
// user database. It imports only the standard library.
package sasl

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ZooKeeper's names: ZooKeeperSaslServer creates its server for protocol
// "zookeeper" and server name "zk-sasl-md5", which the JDK takes as the
// realm and the digest-uri's host.
const (
	Realm     = "zk-sasl-md5"
	Service   = "zookeeper"
	DigestURI = Service + "/" + Realm
	Mechanism = "DIGEST-MD5"
)

// The names of ZooKeeper's quorum SASL (QuorumAuth): SaslQuorumAuthServer
// and SaslQuorumAuthLearner run DIGEST-MD5 for protocol
// "zookeeper-quorum" and server name "zk-quorum-sasl-md5" (NewServerFor,
// NewClientFor).
const (
	QuorumService = "zookeeper-quorum"
	QuorumRealm   = "zk-quorum-sasl-md5"
)

// MaxResponse is the JDK's bound on a DIGEST-MD5 response (4096 bytes):
// a longer token is an error before it is parsed.
const MaxResponse = 4096

// nonceBytes is the JDK's raw nonce size; the nonce is its base64.
const nonceBytes = 30

// ErrFailed is the prefix of every authentication failure.
var ErrFailed = errors.New("paddock/wire/sasl: DIGEST-MD5 authentication failed")

func failf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFailed, fmt.Sprintf(format, args...))
}

// Passwords looks up a user's password; ok is false for an unknown user.
type Passwords func(user string) (password string, ok bool)

// Server is one DIGEST-MD5 server exchange (one per connection). The zero
// value is not usable: see NewServer.
type Server struct {
	passwords Passwords
	random    io.Reader
	service   string // the digest-uri's protocol
	realm     string // the server name: the realm and the digest-uri's host
	step      int    // 1: wants the empty token; 3: wants the response; 0: done or failed
	nonce     string
	user      string
	authzid   string
	complete  bool
}

// NewServer starts an exchange that takes its nonce from random
// (crypto/rand.Reader in a server) and its users from passwords.
func NewServer(passwords Passwords, random io.Reader) *Server {
	return NewServerFor(passwords, random, Service, Realm)
}

// NewServerFor is NewServer for another protocol (service) and server
// name (realm): ZooKeeper's quorum SASL runs QuorumService, QuorumRealm.
func NewServerFor(passwords Passwords, random io.Reader, service, realm string) *Server {
	return &Server{passwords: passwords, random: random, service: service, realm: realm, step: 1}
}

// Complete reports whether the client has authenticated.
func (s *Server) Complete() bool { return s.complete }

// User is the authenticated user (the response's username); "" until
// Complete.
func (s *Server) User() string { return s.user }

// Authzid is the authorization id the client asked for (its username when
// it sent none); "" until Complete.
func (s *Server) Authzid() string { return s.authzid }

// Step evaluates the client's token and returns the server's next token
// (the challenge, then rspauth). Any error ends the exchange: every later
// Step fails too.
func (s *Server) Step(token []byte) ([]byte, error) {
	if len(token) > MaxResponse {
		s.step = 0
		return nil, failf("invalid digest response length: got %d, expected < %d", len(token), MaxResponse)
	}
	switch s.step {
	case 1:
		var raw [nonceBytes]byte
		if _, err := io.ReadFull(s.random, raw[:]); err != nil {
			s.step = 0
			return nil, failf("generating the nonce: %v", err)
		}
		s.nonce = base64.StdEncoding.EncodeToString(raw[:])
		s.step = 3
		return []byte(`realm="` + s.realm + `",nonce="` + s.nonce + `",charset=utf-8,algorithm=md5-sess`), nil
	case 3:
		s.step = 0 // whatever happens, no third token
		rspauth, err := s.validate(token)
		if err != nil {
			return nil, err
		}
		s.complete = true
		return rspauth, nil
	default:
		return nil, failf("server at illegal state (a token after the exchange ended)")
	}
}

// The directives of a digest-response, as the JDK's DigestMD5Server knows
// them; others (auth-param) are ignored.
var responseKeys = []string{"username", "realm", "nonce", "cnonce", "nc", "qop", "digest-uri", "response", "maxbuf", "charset", "cipher", "authzid"}

func (s *Server) validate(token []byte) ([]byte, error) {
	d, err := ParseDirectives(token, responseKeys)
	if err != nil {
		return nil, err
	}
	if cs, ok := d["charset"]; ok && cs != "utf-8" {
		return nil, failf("incompatible charset value: %q", cs)
	}
	if mb, ok := d["maxbuf"]; ok {
		if _, err := strconv.ParseInt(mb, 10, 32); err != nil {
			return nil, failf("maxbuf %q is not a number", mb)
		}
	}
	user, ok := d["username"]
	if !ok {
		return nil, failf("missing username")
	}
	realm := d["realm"] // "" when absent, which is not the server's realm
	if realm != s.realm {
		return nil, failf("nonexistent realm: %q", realm)
	}
	nonce, ok := d["nonce"]
	if !ok {
		return nil, failf("missing nonce")
	}
	if nonce != s.nonce {
		return nil, failf("mismatched nonce")
	}
	cnonce, ok := d["cnonce"]
	if !ok {
		return nil, failf("missing cnonce")
	}
	if nc, ok := d["nc"]; ok {
		if n, err := strconv.ParseInt(nc, 16, 64); err != nil || n != 1 {
			return nil, failf("nonce count does not match: %q", nc)
		}
	}
	qop := "auth"
	if q, ok := d["qop"]; ok {
		qop = q
	}
	if qop != "auth" {
		return nil, failf("server does not support qop %q", qop)
	}
	uri, ok := d["digest-uri"]
	if want := s.service + "/" + s.realm; !ok || !strings.EqualFold(uri, want) {
		return nil, failf("mismatched URI: %q; expecting %q", uri, want)
	}
	resp, ok := d["response"]
	if !ok {
		return nil, failf("missing response")
	}
	authzid, hasAuthzid := d["authzid"]
	password, known := s.passwords(user)
	if !known {
		return nil, failf("cannot acquire password for %q in realm %q", user, realm)
	}
	var az *string
	if hasAuthzid {
		az = &authzid
	} else {
		authzid = user
	}
	want := responseValue("AUTHENTICATE", uri, qop, user, realm, password, nonce, cnonce, az)
	if subtle.ConstantTimeCompare([]byte(resp), want) != 1 {
		return nil, failf("mismatched response (wrong password for %q?)", user)
	}
	s.user, s.authzid = user, authzid
	return append([]byte("rspauth="), responseValue("", uri, qop, user, realm, password, nonce, cnonce, az)...), nil
}

// responseValue is RFC 2831's response-value for md5-sess (method
// "AUTHENTICATE" for the client's response, "" for rspauth), as lower-case
// hex.
func responseValue(method, uri, qop, user, realm, password, nonce, cnonce string, authzid *string) []byte {
	inner := md5.Sum(latin1OrUTF8(user + ":" + realm + ":" + password))
	a1 := append(inner[:], ":"+nonce+":"+cnonce...)
	if authzid != nil {
		a1 = append(a1, ":"+*authzid...)
	}
	ha1 := md5.Sum(a1)
	ha2 := md5.Sum([]byte(method + ":" + uri))
	kd := md5.Sum([]byte(hex.EncodeToString(ha1[:]) + ":" + nonce + ":00000001:" + cnonce + ":" + qop + ":" + hex.EncodeToString(ha2[:])))
	return []byte(hex.EncodeToString(kd[:]))
}

// latin1OrUTF8 encodes s as ISO 8859-1 when every character fits, else as
// UTF-8: RFC 2831's rule for the user, realm and password, and the JDK's.
func latin1OrUTF8(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return []byte(s)
		}
		out = append(out, byte(r))
	}
	return out
}

// maxDirectives bounds a token's directives (known or not).
const maxDirectives = 64

// ParseDirectives reads a DIGEST-MD5 token, a comma-separated list of
// key=value or key="quoted value" (backslash escapes the next character),
// with optional white space around the elements and empty elements
// allowed, as the JDK's parser reads it. Keys are compared without case;
// the result holds the keys of known, lower case, each at most once (a
// repeated known key is an error); other keys are checked for syntax and
// dropped. Values must be UTF-8.
func ParseDirectives(b []byte, known []string) (map[string]string, error) {
	out := make(map[string]string, len(known))
	n := 0
	i := 0
	for {
		i = skipSpace(b, i)
		if i == len(b) {
			return out, nil
		}
		if b[i] == ',' {
			i++
			continue
		}
		n++
		if n > maxDirectives {
			return nil, failf("more than %d directives", maxDirectives)
		}
		start := i
		for i < len(b) && isTokenByte(b[i]) {
			i++
		}
		if i == start {
			return nil, failf("directive key expected at offset %d", start)
		}
		key := strings.ToLower(string(b[start:i]))
		i = skipSpace(b, i)
		if i == len(b) || b[i] != '=' {
			return nil, failf("'=' expected after %q", key)
		}
		i = skipSpace(b, i+1)
		var val []byte
		if i < len(b) && b[i] == '"' {
			i++
			closed := false
			for i < len(b) {
				c := b[i]
				i++
				if c == '\\' {
					if i == len(b) {
						break
					}
					val = append(val, b[i])
					i++
					continue
				}
				if c == '"' {
					closed = true
					break
				}
				val = append(val, c)
			}
			if !closed {
				return nil, failf("unterminated quoted value of %q", key)
			}
		} else {
			start := i
			for i < len(b) && b[i] != ',' && !isSpace(b[i]) {
				i++
			}
			val = b[start:i]
		}
		i = skipSpace(b, i)
		if i < len(b) && b[i] != ',' {
			return nil, failf("',' expected after the value of %q", key)
		}
		if !utf8.Valid(val) {
			return nil, failf("the value of %q is not UTF-8", key)
		}
		for _, k := range known {
			if k == key {
				if _, dup := out[key]; dup {
					return nil, failf("directive %q is repeated", key)
				}
				out[key] = string(val)
				break
			}
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// isTokenByte is RFC 2616's token character (what a directive key is made
// of).
func isTokenByte(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	return !strings.ContainsRune("()<>@,;:\\\"/[]?={}", rune(c))
}
