package client

import (
	"crypto/rand"
	"fmt"
	"net"
	"strings"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/kerberos"
	"github.com/paddockdb/paddock/wire/sasl"
)

// saslRounds bounds the exchange: DIGEST-MD5 takes two, GSSAPI three.
const saslRounds = 4

// saslClient is one SASL exchange: sasl.Client (DIGEST-MD5) or
// kerberos.Client (GSSAPI).
type saslClient interface {
	Step(server []byte) ([]byte, error)
	Complete() bool
}

// newKerberos reads the WithKerberos credentials (nil without them).
func newKerberos(k *Kerberos) (*kerberos.Credentials, error) {
	if k == nil {
		return nil, nil
	}
	conf, err := kerberos.LoadConfig(k.Krb5Conf)
	if err != nil {
		return nil, err
	}
	return kerberos.NewCredentials(conf, k.Principal, k.Keytab, k.Password)
}

// saslMechanism starts the configured exchange for a connection to addr
// and names the user it authenticates as.
func (c *Conn) saslMechanism(addr string) (saslClient, string, error) {
	if c.krb == nil {
		return sasl.NewClient(c.cfg.sasl.user, c.cfg.sasl.password, rand.Reader), c.cfg.sasl.user, nil
	}
	service, host := c.cfg.kerberos.Service, c.cfg.kerberos.Host
	if service == "" {
		service = "zookeeper"
	}
	if host == "" {
		h, _, err := net.SplitHostPort(addr)
		if err != nil {
			h = addr
		}
		host = canonicalHost(h)
	}
	cl, err := c.krb.NewClient(service, host)
	if err != nil {
		return nil, "", fmt.Errorf("%w: sasl: %v", wire.ErrAuthFailed, err)
	}
	return cl, c.krb.Principal().String(), nil
}

// canonicalHost is InetAddress.getByName(host).getCanonicalHostName():
// the first name of host's first address, else that address, else host.
func canonicalHost(host string) string {
	ip := host
	if net.ParseIP(host) == nil {
		addrs, err := net.LookupHost(host)
		if err != nil || len(addrs) == 0 {
			return strings.ToLower(host)
		}
		ip = addrs[0]
	}
	names, err := net.LookupAddr(ip)
	if err != nil || len(names) == 0 {
		return ip
	}
	return strings.ToLower(strings.TrimSuffix(names[0], "."))
}

// saslExchange runs SASL (DIGEST-MD5 or GSSAPI) on a connection to addr
// whose handshake just completed, before anything else is sent on it
// (the Java client holds its other requests back while SASL is in
// progress too). Any error but a connection failure wraps
// wire.ErrAuthFailed.
func (c *Conn) saslExchange(nc net.Conn, addr string) error {
	cl, user, err := c.saslMechanism(addr)
	if err != nil {
		return err
	}
	var server []byte
	for range saslRounds {
		tok, err := cl.Step(server)
		if err != nil {
			return fmt.Errorf("%w: sasl: %v", wire.ErrAuthFailed, err)
		}
		if cl.Complete() {
			c.cfg.logger.Debug("zk: SASL authenticated", "user", user)
			return nil
		}
		hdr := wire.RequestHeader{Xid: c.nextXid(), Type: wire.OpSASL}
		if _, err := nc.Write(wire.AppendFrame(nil, &hdr, &wire.SASLPacket{Token: tok})); err != nil {
			return err
		}
		frame, err := wire.ReadFrame(nc, nil, c.cfg.maxPacket)
		if err != nil {
			return err
		}
		d := wire.NewDecoder(frame)
		var rh wire.ReplyHeader
		rh.Decode(d)
		var resp wire.SASLPacket
		if rh.Err == wire.Ok {
			resp.Decode(d)
		}
		if d.Err() != nil {
			return fmt.Errorf("%w: sasl reply: %v", errProtocol, d.Err())
		}
		if rh.Xid != hdr.Xid {
			return fmt.Errorf("%w: sasl reply xid %d, want %d", errProtocol, rh.Xid, hdr.Xid)
		}
		if rh.Err != wire.Ok {
			return fmt.Errorf("%w: the server answered the sasl request %v", wire.ErrAuthFailed, rh.Err)
		}
		server = resp.Token
	}
	return fmt.Errorf("%w: sasl: no end after %d rounds", wire.ErrAuthFailed, saslRounds)
}
