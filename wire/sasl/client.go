package sasl

import (
	"crypto/subtle"
	"encoding/base64"
	"io"
	"strings"
)

// Client is one DIGEST-MD5 client exchange, as ZooKeeper's Java client
// (ZooKeeperSaslClient) runs it: an empty first token, the response to the
// server's challenge, then the check of the server's rspauth.
type Client struct {
	user, password string
	random         io.Reader
	service, host  string // the digest-uri's protocol and server name
	step           int    // 0: initial; 1: wants the challenge; 2: wants rspauth; 3: complete
	uri, realm     string
	nonce, cnonce  string
	complete       bool
}

// NewClient starts an exchange for user and password, taking the cnonce
// from random (crypto/rand.Reader).
func NewClient(user, password string, random io.Reader) *Client {
	return NewClientFor(user, password, random, Service, Realm)
}

// NewClientFor is NewClient for another protocol (service) and server
// name (host, the digest-uri's): ZooKeeper's quorum learner runs
// QuorumService, QuorumRealm.
func NewClientFor(user, password string, random io.Reader, service, host string) *Client {
	return &Client{user: user, password: password, random: random, service: service, host: host}
}

// Complete reports whether the server proved it knows the password too.
func (c *Client) Complete() bool { return c.complete }

// Step returns the client's next token given the server's last one (nil
// at the start). After the server's rspauth checks out it returns nil and
// Complete is true.
func (c *Client) Step(server []byte) ([]byte, error) {
	switch c.step {
	case 0:
		c.step = 1
		return []byte{}, nil
	case 1:
		c.step = 2
		return c.respond(server)
	case 2:
		c.step = 3
		d, err := ParseDirectives(server, []string{"rspauth"})
		if err != nil {
			return nil, err
		}
		want := responseValue("", c.uri, "auth", c.user, c.realm, c.password, c.nonce, c.cnonce, nil)
		if subtle.ConstantTimeCompare([]byte(d["rspauth"]), want) != 1 {
			return nil, failf("the server's rspauth does not match: it does not know the password")
		}
		c.complete = true
		return nil, nil
	default:
		return nil, failf("client at illegal state")
	}
}

// challengeKeys are the digest-challenge directives the client reads.
var challengeKeys = []string{"realm", "nonce", "qop", "charset", "algorithm", "maxbuf", "cipher", "stale"}

func (c *Client) respond(challenge []byte) ([]byte, error) {
	d, err := ParseDirectives(challenge, challengeKeys)
	if err != nil {
		return nil, err
	}
	if d["algorithm"] != "md5-sess" {
		return nil, failf("challenge algorithm %q, want md5-sess", d["algorithm"])
	}
	nonce, ok := d["nonce"]
	if !ok {
		return nil, failf("challenge without a nonce")
	}
	if q, ok := d["qop"]; ok {
		offered := false
		for _, v := range strings.Split(q, ",") {
			if strings.TrimSpace(v) == "auth" {
				offered = true
			}
		}
		if !offered {
			return nil, failf("server offers qop %q, not auth", q)
		}
	}
	var raw [nonceBytes]byte
	if _, err := io.ReadFull(c.random, raw[:]); err != nil {
		return nil, failf("generating the cnonce: %v", err)
	}
	c.realm, c.nonce, c.cnonce = d["realm"], nonce, base64.StdEncoding.EncodeToString(raw[:])
	c.uri = c.service + "/" + c.host
	resp := responseValue("AUTHENTICATE", c.uri, "auth", c.user, c.realm, c.password, c.nonce, c.cnonce, nil)
	var b strings.Builder
	b.WriteString("charset=utf-8,username=")
	quote(&b, c.user)
	b.WriteString(",realm=")
	quote(&b, c.realm)
	b.WriteString(",nonce=")
	quote(&b, c.nonce)
	b.WriteString(",nc=00000001,cnonce=")
	quote(&b, c.cnonce)
	b.WriteString(",digest-uri=")
	quote(&b, c.uri)
	b.WriteString(",maxbuf=65536,response=")
	b.Write(resp)
	b.WriteString(",qop=auth")
	return []byte(b.String()), nil
}

// quote writes s as a quoted-string, escaping '"' and '\'.
func quote(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}
