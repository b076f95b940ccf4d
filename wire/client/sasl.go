package client

import (
	"crypto/rand"
	"fmt"
	"net"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/sasl"
)

// saslRounds bounds the exchange: DIGEST-MD5 takes two.
const saslRounds = 4

// saslExchange runs SASL DIGEST-MD5 on a connection whose handshake just
// completed, before anything else is sent on it (the Java client holds
// its other requests back while SASL is in progress too). Any error but a
// connection failure wraps wire.ErrAuthFailed.
func (c *Conn) saslExchange(nc net.Conn) error {
	cl := sasl.NewClient(c.cfg.sasl.user, c.cfg.sasl.password, rand.Reader)
	var server []byte
	for range saslRounds {
		tok, err := cl.Step(server)
		if err != nil {
			return fmt.Errorf("%w: sasl: %v", wire.ErrAuthFailed, err)
		}
		if cl.Complete() {
			c.cfg.logger.Debug("zk: SASL authenticated", "user", c.cfg.sasl.user)
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
