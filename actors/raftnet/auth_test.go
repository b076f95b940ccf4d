package raftnet

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/paddockdb/paddock/actors/quorumauth"
	"github.com/paddockdb/paddock/wire/sasl"
	"github.com/paddockdb/paddock/wire/zktest"
)

// quorumSASL is a member's quorum SASL with the ensemble's QuorumServer
// users and its own QuorumLearner password.
func quorumSASL(password string, learnerRequire, serverRequire bool) *quorumauth.Config {
	return &quorumauth.Config{LearnerRequire: learnerRequire, ServerRequire: serverRequire, Hosts: []string{"127.0.0.1"},
		Mechanism: &quorumauth.Digest{Users: map[string]string{"learner": "quorumsecret"}, User: "learner", Password: password}}
}

// TestQuorumSASL: with quorum SASL on both sides, message batches and a
// snapshot's chunks travel on authenticated connections, quietly.
func TestQuorumSASL(t *testing.T) {
	lg := newLogs()
	addrA, addrB := zktest.LoopbackAddr(t), zktest.LoopbackAddr(t)
	a, _ := start(t, addrA, Factory{QuorumAuth: quorumSASL("quorumsecret", true, true)}, lg)
	_, recB := start(t, addrB, Factory{QuorumAuth: quorumSASL("quorumsecret", true, true)}, lg)
	conn, err := a.GetConnection(context.Background(), addrB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	want := testBatch(addrA, 1, 100)
	if err := conn.SendMessageBatch(want); err != nil {
		t.Fatal(err)
	}
	sameBatch(t, recB.nextBatch(t), want)
	sc, err := a.GetSnapshotConnection(context.Background(), addrB)
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.SendChunk(testChunk(0, 1, []byte("data"))); err != nil {
		t.Fatal(err)
	}
	sc.Close()
	if len(recB.chunks) != 1 {
		t.Fatalf("%d chunks after the snapshot connection's Close, want 1", len(recB.chunks))
	}
	if l := lg.snapshot(); len(l) > 0 {
		t.Fatalf("warnings with quorum SASL:\n%s", strings.Join(l, "\n"))
	}
}

// TestQuorumSASLRefusals: a wrong password, no authentication against a
// member that requires it, and authentication against a member without
// quorum SASL: nothing reaches the acceptor's handlers, the dialler's
// error says why, and the acceptor warns naming the peer and the reason.
func TestQuorumSASLRefusals(t *testing.T) {
	for _, c := range []struct {
		name             string
		dialler, server  *quorumauth.Config
		dialErr          error  // from GetConnection; nil: the dial succeeds and the send is lost
		serverWarn       string // in the acceptor's warning
		diallerWarnParts []string
	}{
		{"wrong password", quorumSASL("wrong", true, true), quorumSASL("quorumsecret", true, true),
			quorumauth.ErrRejected, "mismatched response", []string{"cannot authenticate", "rejected"}},
		{"no authentication, server requires it", nil, quorumSASL("quorumsecret", true, true),
			nil, "serverRequireSasl is true", nil},
		{"learner requires, server has no quorum SASL", quorumSASL("quorumsecret", true, false), nil,
			quorumauth.ErrUnsupported, "quorum.auth.enableSasl is not true on this member", []string{"cannot authenticate", "enableSasl"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			lg := newLogs()
			addrA, addrB := zktest.LoopbackAddr(t), zktest.LoopbackAddr(t)
			a, _ := start(t, addrA, Factory{QuorumAuth: c.dialler}, lg)
			_, recB := start(t, addrB, Factory{QuorumAuth: c.server}, lg)
			conn, err := a.GetConnection(context.Background(), addrB)
			if c.dialErr != nil {
				if !errors.Is(err, c.dialErr) {
					t.Fatalf("dial: %v, want %v", err, c.dialErr)
				}
				lg.waitFor(t, 0, append([]string{"WARN", addrB}, c.diallerWarnParts...)...)
			} else {
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				_ = conn.SendMessageBatch(testBatch(addrA, 1, 10))
			}
			lg.waitFor(t, 0, "WARN", "closing the connection of a peer that did not authenticate", "127.0.0.1", c.serverWarn)
			recB.noBatch(t)
		})
	}
}

// TestQuorumSASLRollingUpgrade: the steps of a rolling upgrade. A member
// with enableSasl alone (no require flags) and one without quorum SASL
// talk both ways, unauthenticated; a learner that requires SASL talks to
// a server that does not require it, authenticated.
func TestQuorumSASLRollingUpgrade(t *testing.T) {
	lg := newLogs()
	addrA, addrB, addrC := zktest.LoopbackAddr(t), zktest.LoopbackAddr(t), zktest.LoopbackAddr(t)
	a, recA := start(t, addrA, Factory{QuorumAuth: quorumSASL("quorumsecret", false, false)}, lg)
	b, recB := start(t, addrB, Factory{}, lg)
	c, recC := start(t, addrC, Factory{QuorumAuth: quorumSASL("quorumsecret", true, false)}, lg)
	for _, p := range []struct {
		from *transport
		src  string
		to   string
		rec  *recorder
	}{{a, addrA, addrB, recB}, {b, addrB, addrA, recA}, {c, addrC, addrA, recA}, {a, addrA, addrC, recC}} {
		conn, err := p.from.GetConnection(context.Background(), p.to)
		if err != nil {
			t.Fatalf("%s -> %s: %v", p.src, p.to, err)
		}
		want := testBatch(p.src, 1, 10)
		if err := conn.SendMessageBatch(want); err != nil {
			t.Fatal(err)
		}
		sameBatch(t, p.rec.nextBatch(t), want)
		conn.Close()
	}
	if l := lg.snapshot(); len(l) > 0 {
		t.Fatalf("warnings in a rolling upgrade:\n%s", strings.Join(l, "\n"))
	}
}

// TestQuorumSASLAcceptorMustProve: a dialler that requires SASL sends
// nothing on a connection whose acceptor does not prove it knows the
// password (its rspauth does not check out).
func TestQuorumSASLAcceptorMustProve(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	after := make(chan []byte, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			after <- nil
			return
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(wait))
		br := bufio.NewReader(nc)
		hello := make([]byte, helloLen+1)
		if _, err := io.ReadFull(br, hello); err != nil {
			after <- nil
			return
		}
		// Any password will do for this impostor: it answers the
		// response with success and an rspauth of its own invention.
		imp := &impostor{s: sasl.NewServerFor(func(string) (string, bool) { return "guess", true }, strings.NewReader(strings.Repeat("n", 64)), sasl.QuorumService, sasl.QuorumRealm)}
		_, _ = quorumauth.Accept(&quorumauth.Config{Mechanism: imp}, br, nc, quorumauth.MechDigest)
		rest, _ := io.ReadAll(br) // until the dialler closes
		after <- rest
	}()
	lg := newLogs()
	a, _ := start(t, zktest.LoopbackAddr(t), Factory{QuorumAuth: quorumSASL("quorumsecret", true, true)}, lg)
	if _, err := a.GetConnection(context.Background(), ln.Addr().String()); !errors.Is(err, quorumauth.ErrFailed) || !strings.Contains(err.Error(), "rspauth") {
		t.Fatalf("dial: %v, want the rspauth failure", err)
	}
	if rest := <-after; len(rest) != 0 {
		t.Fatalf("the dialler sent %d bytes after the failed proof", len(rest))
	}
}

// impostor is a DIGEST-MD5 acceptor that completes on any response and
// answers it with a made-up rspauth.
type impostor struct{ s *sasl.Server }

func (i *impostor) ID() byte                              { return quorumauth.MechDigest }
func (i *impostor) Name() string                          { return "DIGEST-MD5" }
func (i *impostor) NewServer() quorumauth.ServerExchange  { return i }
func (i *impostor) NewLearner(string) quorumauth.Exchange { return nil }
func (i *impostor) Complete() bool                        { return i.s == nil }
func (i *impostor) Principal() string                     { return "learner" }
func (i *impostor) Step(in []byte) ([]byte, error) {
	if len(in) == 0 {
		return i.s.Step(in)
	}
	i.s = nil
	return []byte("rspauth=0123456789abcdef0123456789abcdef"), nil
}

// TestQuorumSASLBadAuthInput: garbage or an oversize token in the
// authentication phase closes that connection with a warning.
func TestQuorumSASLBadAuthInput(t *testing.T) {
	lg := newLogs()
	addr := zktest.LoopbackAddr(t)
	_, rec := start(t, addr, Factory{QuorumAuth: quorumSASL("quorumsecret", true, true), IOTimeout: 300 * time.Millisecond}, lg)
	hello := appendHello(nil, kindMessages, quorumauth.MechDigest)
	for name, c := range map[string]struct {
		in   []byte
		warn string
	}{
		"oversize token":    {cat(hello, []byte{0x7f, 0xff, 0xff, 0xff}), "length 2147483647"},
		"garbage":           {cat(hello, []byte("GET / HTTP/1.1\r\n\r\n")), "bad authentication frame"},
		"a success status":  {cat(hello, []byte{0, 0, 0, 1, 1}), "status 1"},
		"stalled":           {cat(hello, []byte{0, 0, 0, 9}), "i/o timeout"},
		"unknown mechanism": {cat(appendHello(nil, kindMessages, 9), []byte{0, 0, 0, 1, 0}), "mechanism 9"},
	} {
		t.Run(name, func(t *testing.T) {
			n := lg.count()
			nc := rawConn(t, addr)
			defer nc.Close()
			if _, err := nc.Write(c.in); err != nil {
				t.Fatal(err)
			}
			_ = nc.SetReadDeadline(time.Now().Add(wait))
			_, _ = io.Copy(io.Discard, nc) // until the transport closes it
			lg.waitFor(t, n, "WARN", c.warn)
			rec.noBatch(t)
		})
	}
}

// TestQuorumSASLDialEnds: the context of a dial, and the transport's
// Close, end an exchange whose acceptor never answers, long before the
// IOTimeout.
func TestQuorumSASLDialEnds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 2)
	go func() { // accepts and holds the connections, answering nothing
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			defer nc.Close()
			accepted <- struct{}{}
		}
	}()
	a, _ := start(t, zktest.LoopbackAddr(t), Factory{QuorumAuth: quorumSASL("quorumsecret", true, true), IOTimeout: time.Minute}, newLogs())
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() { _, err := a.GetConnection(ctx, ln.Addr().String()); errs <- err }()
	<-accepted // the dialler is in its hello or its exchange now
	cancel()
	select {
	case err := <-errs:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("dial: %v, want context.Canceled", err)
		}
	case <-time.After(wait):
		t.Fatal("cancelling the dial's context did not end its exchange")
	}
	go func() { _, err := a.GetConnection(context.Background(), ln.Addr().String()); errs <- err }()
	<-accepted
	a.Close()
	select {
	case err := <-errs:
		if !errors.Is(err, errClosed) {
			t.Fatalf("dial: %v, want errClosed", err)
		}
	case <-time.After(wait):
		t.Fatal("Close did not end a dial's exchange")
	}
}
