package client

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/zktest"
)

// saslZooKeeper runs Apache ZooKeeper with a JAAS Server section for bob
// and sessionRequireClientSASLAuth: a connection that does not
// authenticate is closed at its first request.
func saslZooKeeper(t *testing.T) *zktest.Server {
	jaas := filepath.Join(t.TempDir(), "jaas.conf")
	text := "Server {\n org.apache.zookeeper.server.auth.DigestLoginModule required user_bob=\"bobsecret\";\n};\n"
	if err := os.WriteFile(jaas, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return zktest.Start(t, zktest.WithJVMFlags("-Djava.security.auth.login.config="+jaas),
		zktest.WithConfig("authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider", "sessionRequireClientSASLAuth=true"))
}

// TestSASLAgainstZooKeeper: WithSASL authenticates with ZooKeeper 3.8's
// DIGEST-MD5 server, again after each reconnection (enforced SASL would
// close the connection otherwise); a wrong password fails Connect with
// AuthFailed.
func TestSASLAgainstZooKeeper(t *testing.T) {
	s := saslZooKeeper(t)
	ctx := testCtx(t)
	if _, err := Connect(ctx, s.Addr, WithSASL("bob", "wrong")); !isAuthFailed(err) {
		t.Fatalf("wrong password: %v, want AuthFailed", err)
	}
	p := newProxy(t, s.Addr)
	c := connect(t, p.Addr(), WithSASL("bob", "bobsecret"), WithSessionTimeout(10*time.Second), WithConnectTimeout(2*time.Second))
	ids, err := c.WhoAmI(ctx)
	must(t, err)
	if !slices.Contains(ids, wire.ClientInfo{AuthScheme: "sasl", User: "bob"}) {
		t.Fatalf("ids %v", ids)
	}
	path := testPath(t)
	_, err = c.Create(ctx, path, []byte("x"), wire.ModePersistent, []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "sasl", ID: "bob"}}})
	must(t, err)
	id := c.SessionID()
	p.Cut()
	waitState(t, c, wire.StateDisconnected)
	p.Restore()
	waitState(t, c, wire.StateSyncConnected)
	data, _, err := c.Get(ctx, path)
	if err != nil || string(data) != "x" {
		t.Fatalf("get after reconnecting: %q, %v", data, err)
	}
	if c.SessionID() != id {
		t.Fatalf("session 0x%x became 0x%x", id, c.SessionID())
	}
}

func isAuthFailed(err error) bool { return errors.Is(err, wire.ErrAuthFailed) }

// TestSASLBadServer: a server that answers the first token with no
// challenge (a server without SASL users) or with an error fails the
// exchange with AuthFailed; nothing hangs.
func TestSASLBadServer(t *testing.T) {
	for name, answer := range map[string]func(xid int32) []byte{
		"no challenge": func(xid int32) []byte {
			return wire.AppendFrame(nil, &wire.ReplyHeader{Xid: xid}, &wire.SASLPacket{})
		},
		"garbage challenge": func(xid int32) []byte {
			return wire.AppendFrame(nil, &wire.ReplyHeader{Xid: xid}, &wire.SASLPacket{Token: []byte("\x00\xff")})
		},
		"error": func(xid int32) []byte {
			return wire.AppendFrame(nil, &wire.ReplyHeader{Xid: xid, Err: wire.ErrSessionClosedRequireSasl})
		},
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			must(t, err)
			t.Cleanup(func() { ln.Close() })
			go func() { // ends with the listener
				for {
					nc, err := ln.Accept()
					if err != nil {
						return
					}
					go fakeSASLServer(nc, answer)
				}
			}()
			if _, err := Connect(testCtx(t), ln.Addr().String(), WithSASL("bob", "x")); !isAuthFailed(err) {
				t.Fatalf("%v, want AuthFailed", err)
			}
		})
	}
}

// fakeSASLServer answers the handshake, then the first request (the sasl
// request) with answer, then closes.
func fakeSASLServer(nc net.Conn, answer func(int32) []byte) {
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := wire.ReadFrame(nc, nil, wire.DefaultMaxPacket); err != nil {
		return
	}
	resp := wire.ConnectResponse{TimeOut: 10000, SessionID: 1, Passwd: make([]byte, 16)}
	if _, err := nc.Write(wire.AppendFrame(nil, &resp)); err != nil {
		return
	}
	frame, err := wire.ReadFrame(nc, nil, wire.DefaultMaxPacket)
	if err != nil {
		return
	}
	var h wire.RequestHeader
	d := wire.NewDecoder(frame)
	h.Decode(d)
	if h.Type != wire.OpSASL {
		return
	}
	nc.Write(answer(h.Xid))
}
