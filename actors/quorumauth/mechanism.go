package quorumauth

import (
	"crypto/rand"
	"fmt"
	"io"

	"github.com/paddockdb/paddock/wire/sasl"
)

// Mechanism is one SASL mechanism: it makes the two sides of an
// exchange. Its methods are called from any goroutine; an Exchange is
// used by one.
type Mechanism interface {
	// ID names the mechanism on the wire (the hello's mechanism byte);
	// never MechNone.
	ID() byte
	// Name is the SASL name, for logs.
	Name() string
	// NewServer starts the acceptor's side of one exchange.
	NewServer() ServerExchange
	// NewLearner starts the dialler's side of one exchange with the
	// member at host.
	NewLearner(host string) Exchange
}

// Exchange is one side of one exchange. Step takes the other side's last
// token (nil for the learner's first step) and returns the next token to
// send; an error ends the exchange as a failure. Complete reports whether
// this side is satisfied: the learner once the acceptor proved it knows
// the password, the acceptor once the learner authenticated.
type Exchange interface {
	Step(in []byte) ([]byte, error)
	Complete() bool
}

// ServerExchange is the acceptor's side: once Complete, Principal is the
// authenticated id.
type ServerExchange interface {
	Exchange
	Principal() string
}

// MechDigest is DIGEST-MD5 on the wire.
const MechDigest = 1

// Digest is DIGEST-MD5 with the credentials of a JAAS file's
// DigestLoginModule sections: QuorumServer's user_NAME="password" options
// (Users) verify the learners; QuorumLearner's username and password
// (User, Password) are this member's own.
type Digest struct {
	Users          map[string]string
	User, Password string
	// Random supplies the nonces; nil: crypto/rand.
	Random io.Reader
}

var _ Mechanism = (*Digest)(nil)

func (d *Digest) ID() byte     { return MechDigest }
func (d *Digest) Name() string { return sasl.Mechanism }

func (d *Digest) random() io.Reader {
	if d.Random == nil {
		return rand.Reader
	}
	return d.Random
}

func (d *Digest) NewServer() ServerExchange {
	return &authzServer{s: sasl.NewServerFor(func(user string) (string, bool) {
		p, ok := d.Users[user]
		return p, ok
	}, d.random(), sasl.QuorumService, sasl.QuorumRealm)}
}

func (d *Digest) NewLearner(string) Exchange {
	return sasl.NewClientFor(d.User, d.Password, d.random(), sasl.QuorumService, sasl.QuorumRealm)
}

// authzServer is a mechanism's server exchange with
// SaslQuorumServerCallbackHandler's authorization: the authorization id
// must be the authenticated one.
type authzServer struct {
	s interface {
		Exchange
		User() string
		Authzid() string
	}
	complete bool
}

func (d *authzServer) Step(in []byte) ([]byte, error) {
	out, err := d.s.Step(in)
	if err != nil || !d.s.Complete() {
		return out, err
	}
	if d.s.Authzid() != d.s.User() {
		return nil, fmt.Errorf("user %q asks to act as %q: a member authorizes as itself only", d.s.User(), d.s.Authzid())
	}
	d.complete = true
	return out, nil
}

func (d *authzServer) Complete() bool    { return d.complete }
func (d *authzServer) Principal() string { return d.s.User() }
