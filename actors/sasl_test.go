package actors

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
	"github.com/paddockdb/paddock/wire/sasl"
	"github.com/paddockdb/paddock/wire/zktest"
)

// The JAAS file both servers run with in the differential tests.
const testJAAS = `Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="adminsecret"
    user_bob="bobsecret"
    user_alice="alicesecret";
};
`

var testSASLUsers = map[string]string{"super": "adminsecret", "bob": "bobsecret", "alice": "alicesecret"}

// saslSetup is what the two servers of a differential SASL test run with
// besides testJAAS's users and alice as zookeeper.superUser.
type saslSetup struct {
	enforce    bool          // sessionRequireClientSASLAuth=true
	noProvider bool          // no SASLAuthenticationProvider: no sasl ACL scheme
	mod        func(*Config) // Paddock's further settings
	zkFlags    []string      // ZooKeeper's further -D flags, the same ones
}

// saslServers starts Paddock and Apache ZooKeeper 3.8 side by side with
// the same settings, given to ZooKeeper as its operators give them (the
// JAAS file in the JVM flags).
func saslServers(t *testing.T, set saslSetup) (pd, zk string) {
	type started struct {
		s   *Server
		err error
	}
	dir := t.TempDir()
	ch := make(chan started, 1)
	go func() { // ends with Start: Paddock starts while ZooKeeper's JVM does
		s, err := startTestServer(dir, func(c *Config) {
			c.SASL = &SASLConfig{Users: testSASLUsers, SuperUsers: []string{"alice"}}
			c.SASLScheme = !set.noProvider
			if set.enforce {
				c.EnforceAuth = []string{"sasl"}
			}
			if set.mod != nil {
				set.mod(c)
			}
		})
		ch <- started{s, err}
	}()
	jaas := filepath.Join(t.TempDir(), "jaas.conf")
	if err := os.WriteFile(jaas, []byte(testJAAS), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := append([]string{"-Djava.security.auth.login.config=" + jaas, "-Dzookeeper.superUser=alice"}, set.zkFlags...)
	opts := []zktest.Option{zktest.WithJVMFlags(flags...)}
	if !set.noProvider {
		opts = append(opts, zktest.WithConfig("authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider"))
	}
	if set.enforce {
		opts = append(opts, zktest.WithConfig("sessionRequireClientSASLAuth=true"))
	}
	zk = zktest.Start(t, opts...).Addr
	r := <-ch
	if r.err != nil {
		t.Fatalf("Start: %v", r.err)
	}
	t.Cleanup(func() { r.s.Close() })
	return r.s.Addr().String(), zk
}

// sameOutcome runs run against both servers and requires the same result.
func sameOutcome(t *testing.T, pd, zk string, run func(t *testing.T, addr string) string) {
	t.Helper()
	want, got := run(t, zk), run(t, pd)
	if got != want {
		t.Errorf("Paddock:\n%s\nZooKeeper:\n%s", got, want)
	} else {
		t.Logf("both:\n%s", got)
	}
}

// saslReply is one sasl reply as the tests compare it: the code, the
// zxid, and the token (nil for -1).
type saslReply struct {
	code  wire.Code
	zxid  int64
	token []byte
	null  bool
}

func (c *rawClient) sasl(xid int32, token []byte) saslReply {
	c.t.Helper()
	c.send(xid, wire.OpSASL, &wire.SASLPacket{Token: token})
	h, d := c.read()
	r := saslReply{code: h.Err, zxid: h.Zxid}
	var p wire.SASLPacket
	p.Decode(d)
	if d.Err() != nil || d.Remaining() != 0 {
		c.t.Fatalf("sasl reply body: %v, %d bytes left", d.Err(), d.Remaining())
	}
	r.token, r.null = p.Token, p.Token == nil
	return r
}

// closed reports whether the server closed the connection (after any
// frames still in flight).
func (c *rawClient) closed() bool {
	c.t.Helper()
	_, err := io.ReadAll(c.nc)
	return err == nil
}

// saslLogin runs the DIGEST-MD5 exchange as user; it returns the last reply.
func saslLogin(t *testing.T, c *rawClient, user, pass string) saslReply {
	t.Helper()
	cl := sasl.NewClient(user, pass, rand.Reader)
	tok, _ := cl.Step(nil)
	ch := c.sasl(1, tok)
	if ch.code != wire.Ok || ch.zxid != 0 || !bytes.HasPrefix(ch.token, []byte(`realm="zk-sasl-md5",nonce="`)) || !bytes.HasSuffix(ch.token, []byte(`",charset=utf-8,algorithm=md5-sess`)) {
		t.Fatalf("challenge: %+v (%q)", ch, ch.token)
	}
	resp, err := cl.Step(ch.token)
	if err != nil {
		t.Fatal(err)
	}
	r := c.sasl(2, resp)
	if r.code == wire.Ok && !r.null { // null: a failure let through (allowSaslFailedClients)
		if _, err := cl.Step(r.token); err != nil || !cl.Complete() {
			t.Fatalf("rspauth %q: %v", r.token, err)
		}
	}
	return r
}

func whoAmI(t *testing.T, c *rawClient) []string {
	t.Helper()
	c.send(10, wire.OpWhoAmI, nil)
	h, d := c.read()
	var w wire.WhoAmIResponse
	w.Decode(d)
	if h.Err != wire.Ok || d.Err() != nil {
		t.Fatalf("whoAmI: %v %v", h.Err, d.Err())
	}
	var out []string
	for _, i := range w.ClientInfo {
		if i.AuthScheme != "ip" {
			out = append(out, i.AuthScheme+":"+i.User)
		}
	}
	slices.Sort(out)
	return out
}

// saslScenario is one differential case: what it does on a fresh
// connection to addr, and what it saw (compared between the servers).
type saslScenario struct {
	name string
	run  func(t *testing.T, addr string) string
}

var saslScenarios = []saslScenario{
	{"login", func(t *testing.T, addr string) string {
		c := dialRawAddr(t, addr, 0, nil)
		r := saslLogin(t, c, "bob", "bobsecret")
		return fmt.Sprintf("%v zxid=%d rspauth=%v ids=%v", r.code, r.zxid, bytes.HasPrefix(r.token, []byte("rspauth=")), whoAmI(t, c))
	}},
	{"super user", func(t *testing.T, addr string) string {
		c := dialRawAddr(t, addr, 0, nil)
		r := saslLogin(t, c, "alice", "alicesecret")
		return fmt.Sprintf("%v ids=%v", r.code, whoAmI(t, c))
	}},
	{"token after success", func(t *testing.T, addr string) string {
		c := dialRawAddr(t, addr, 0, nil)
		saslLogin(t, c, "bob", "bobsecret")
		r := c.sasl(3, []byte{})
		return fmt.Sprintf("%v null=%v closed=%v", r.code, r.null, c.closed())
	}},
	{"wrong password", func(t *testing.T, addr string) string {
		c := dialRawAddr(t, addr, 0, nil)
		r := saslLogin(t, c, "bob", "guess")
		return fmt.Sprintf("%v zxid=%d null=%v closed=%v", r.code, r.zxid, r.null, c.closed())
	}},
	{"unknown user", func(t *testing.T, addr string) string {
		c := dialRawAddr(t, addr, 0, nil)
		r := saslLogin(t, c, "mallory", "x")
		return fmt.Sprintf("%v null=%v closed=%v", r.code, r.null, c.closed())
	}},
	{"token that does not decode", func(t *testing.T, addr string) string {
		c := dialRawAddr(t, addr, 0, nil)
		c.sasl(1, []byte{})
		r := c.sasl(2, []byte("\x00\x01 not=\"a digest"))
		return fmt.Sprintf("%v null=%v closed=%v", r.code, r.null, c.closed())
	}},
	{"mechanism PLAIN", func(t *testing.T, addr string) string {
		// The server's mechanism is DIGEST-MD5: a PLAIN token first is
		// taken as the (ignored) initial response, then fails.
		c := dialRawAddr(t, addr, 0, nil)
		r1 := c.sasl(1, []byte("\x00bob\x00bobsecret"))
		r2 := c.sasl(2, []byte("\x00bob\x00bobsecret"))
		return fmt.Sprintf("%v challenge=%v / %v closed=%v", r1.code, bytes.HasPrefix(r1.token, []byte("realm=")), r2.code, c.closed())
	}},
	{"5000-byte token", func(t *testing.T, addr string) string {
		c := dialRawAddr(t, addr, 0, nil)
		r := c.sasl(1, bytes.Repeat([]byte("a"), 5000))
		return fmt.Sprintf("%v null=%v closed=%v", r.code, r.null, c.closed())
	}},
	{"10 MB token", func(t *testing.T, addr string) string {
		c := dialRawAddr(t, addr, 0, nil)
		// Only the frame's length and header: the server refuses the
		// length before reading the rest.
		hdr := wire.AppendFrame(nil, &wire.RequestHeader{Xid: 1, Type: wire.OpSASL})[4:]
		frame := binary.BigEndian.AppendUint32(nil, 10<<20+12)
		c.nc.Write(append(frame, hdr...))
		return fmt.Sprintf("closed=%v", c.closed())
	}},
	{"sasl before the handshake", func(t *testing.T, addr string) string {
		nc, err := net.DialTimeout("tcp", addr, testTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(testTimeout))
		nc.Write(wire.AppendFrame(nil, &wire.RequestHeader{Xid: 1, Type: wire.OpSASL}, &wire.SASLPacket{Token: []byte{}}))
		b, err := io.ReadAll(nc)
		return fmt.Sprintf("answer=%d bytes closed=%v", len(b), err == nil)
	}},
	{"sasl ACL", func(t *testing.T, addr string) string {
		bob := dialRawAddr(t, addr, 0, nil)
		saslLogin(t, bob, "bob", "bobsecret")
		path := "/sasl-acl-" + strings.ReplaceAll(t.Name(), "/", "-")
		bob.send(3, wire.OpCreate, &wire.CreateRequest{Path: path, Data: []byte("x"), ACL: []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "sasl", ID: "bob"}}}})
		hc, _ := bob.read()
		bob.send(4, wire.OpCreate, &wire.CreateRequest{Path: path + "-bad", ACL: []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "sasl", ID: "a@b@c"}}}})
		hbad, _ := bob.read()
		read := func(c *rawClient) wire.Code {
			c.send(5, wire.OpGetData, &wire.PathWatchRequest{Path: path})
			h, _ := c.read()
			return h.Err
		}
		other := dialRawAddr(t, addr, 0, nil)
		super := dialRawAddr(t, addr, 0, nil)
		saslLogin(t, super, "alice", "alicesecret")
		named := dialRawAddr(t, addr, 0, nil)
		saslLogin(t, named, "super", "adminsecret")
		return fmt.Sprintf("create=%v bad=%v bob=%v anonymous=%v superUser=%v userNamedSuper=%v", hc.Err, hbad.Err, read(bob), read(other), read(super), read(named))
	}},
}

// TestSASLAgainstZooKeeper runs every SASL scenario against Apache
// ZooKeeper 3.8 and Paddock, both with testJAAS, and requires the same
// outcomes (guarantee 8 for the bad ones).
func TestSASLAgainstZooKeeper(t *testing.T) {
	pd, zk := saslServers(t, saslSetup{})
	// A session of each server that must not notice the others' bad input.
	bystanders := []*rawClient{dialRawAddr(t, zk, 0, nil), dialRawAddr(t, pd, 0, nil)}
	defer func() {
		for _, c := range bystanders {
			c.send(99, wire.OpGetData, &wire.PathWatchRequest{Path: "/"})
			if h, _ := c.read(); h.Err != wire.Ok || h.Xid != 99 {
				t.Errorf("bystander at %s: %+v", c.nc.RemoteAddr(), h)
			}
		}
	}()
	for _, sc := range saslScenarios {
		t.Run(sc.name, func(t *testing.T) { sameOutcome(t, pd, zk, sc.run) })
	}
}

// TestSASLEnforcedAgainstZooKeeper: with sessionRequireClientSASLAuth, a
// session that has not authenticated is answered SessionClosedRequireSasl
// to any request (a ping too) and its connection closed; once
// authenticated it is served; a failed exchange answers
// SessionClosedRequireSasl.
func TestSASLEnforcedAgainstZooKeeper(t *testing.T) {
	run := func(t *testing.T, addr string) string {
		var out []string
		for _, op := range []struct {
			op   wire.OpCode
			body wire.Record
		}{{wire.OpGetData, &wire.PathWatchRequest{Path: "/"}}, {wire.OpPing, nil}, {wire.OpCreate, &wire.CreateRequest{Path: "/x", ACL: wire.WorldACL}}} {
			c := dialRawAddr(t, addr, 0, nil)
			c.send(1, op.op, op.body)
			h, d := c.read()
			out = append(out, fmt.Sprintf("%v: %v zxid=%d body=%d closed=%v", op.op, h.Err, h.Zxid, d.Remaining(), c.closed()))
		}
		c := dialRawAddr(t, addr, 0, nil)
		c.send(1, wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("u:p")})
		h, _ := c.read()
		r := saslLogin(t, c, "bob", "bobsecret")
		c.send(5, wire.OpGetData, &wire.PathWatchRequest{Path: "/"})
		hg, _ := c.read()
		out = append(out, fmt.Sprintf("auth %v, sasl %v, then getData %v", h.Err, r.code, hg.Err))
		c = dialRawAddr(t, addr, 0, nil)
		r = saslLogin(t, c, "bob", "wrong")
		out = append(out, fmt.Sprintf("wrong password: %v closed=%v", r.code, c.closed()))
		return strings.Join(out, "\n")
	}
	pd, zk := saslServers(t, saslSetup{enforce: true})
	sameOutcome(t, pd, zk, run)
}

// TestSASLUnknownUserDivergence pins down a deliberate difference: ZooKeeper
// 3.8's SaslServerCallbackHandler keeps the last known user name across
// connections, so an unknown user who sends the password of the user
// that last tried authenticates (under the unknown name). Paddock refuses
// an unknown user whatever the password.
func TestSASLUnknownUserDivergence(t *testing.T) {
	run := func(t *testing.T, addr string) wire.Code {
		saslLogin(t, dialRawAddr(t, addr, 0, nil), "bob", "bobsecret")
		return saslLogin(t, dialRawAddr(t, addr, 0, nil), "eve", "bobsecret").code
	}
	pd, zk := saslServers(t, saslSetup{})
	if code := run(t, zk); code != wire.Ok {
		t.Logf("ZooKeeper no longer lets eve in (%v): the divergence is gone", code)
	}
	if code := run(t, pd); code != wire.ErrAuthFailed {
		t.Errorf("Paddock: unknown user with the last user's password: %v, want AuthFailed", code)
	}
}

// TestSASLWithoutProviderAgainstZooKeeper: with a JAAS file but no
// SASLAuthenticationProvider a session still authenticates and holds its
// sasl id, but the sasl scheme does not exist for ACLs: a sasl ACL is
// InvalidACL, an auth ACL does not expand to the sasl id, and a
// zookeeper.superUser still passes every ACL.
func TestSASLWithoutProviderAgainstZooKeeper(t *testing.T) {
	pd, zk := saslServers(t, saslSetup{noProvider: true})
	sameOutcome(t, pd, zk, func(t *testing.T, addr string) string {
		path := "/noprovider-" + strings.ReplaceAll(t.Name(), "/", "-")
		create := func(c *rawClient, p string, acl wire.ACL) wire.Code {
			c.send(3, wire.OpCreate, &wire.CreateRequest{Path: p, ACL: []wire.ACL{acl}})
			h, _ := c.read()
			return h.Err
		}
		bob := dialRawAddr(t, addr, 0, nil)
		r := saslLogin(t, bob, "bob", "bobsecret")
		saslACL := create(bob, path+"-sasl", wire.ACL{Perms: wire.PermAll, ID: wire.ID{Scheme: "sasl", ID: "bob"}})
		authACL := create(bob, path+"-auth", wire.ACL{Perms: wire.PermAll, ID: wire.ID{Scheme: "auth", ID: ""}})
		bob.send(4, wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("d:pw")})
		bob.read()
		authDigest := create(bob, path+"-auth2", wire.ACL{Perms: wire.PermAll, ID: wire.ID{Scheme: "auth", ID: ""}})
		bob.send(5, wire.OpGetACL, &wire.PathRequest{Path: path + "-auth2"})
		h, d := bob.read()
		var acl wire.GetACLResponse
		acl.Decode(d)
		alice := dialRawAddr(t, addr, 0, nil)
		saslLogin(t, alice, "alice", "alicesecret")
		alice.send(6, wire.OpGetData, &wire.PathWatchRequest{Path: path + "-auth2"})
		ha, _ := alice.read()
		return fmt.Sprintf("login %v ids %v; sasl ACL %v; auth ACL %v; with a digest id too %v, getACL %v %v; superUser reads %v",
			r.code, whoAmI(t, bob), saslACL, authACL, authDigest, h.Err, acl.ACL, ha.Err)
	})
}

// TestSASLEmptyUserIsNoSuperUser: a JAAS user with an empty name
// authenticates, but an empty zookeeper.superUser never makes it super
// (ZooKeeper's isSaslSuperUser refuses the empty id).
func TestSASLEmptyUserIsNoSuperUser(t *testing.T) {
	s := startServer(t, t.TempDir(), func(c *Config) {
		c.SASL = &SASLConfig{Users: map[string]string{"": "pw"}, SuperUsers: []string{""}}
		c.SASLScheme = true
	})
	defer s.Close()
	c := dialRaw(t, s, 0, nil)
	if r := saslLogin(t, c, "", "pw"); r.code != wire.Ok {
		t.Fatalf("login: %v", r.code)
	}
	if ids := whoAmI(t, c); !slices.Equal(ids, []string{"sasl:"}) {
		t.Fatalf("ids %v, want only sasl:", ids)
	}
}

// TestSASLNoServerSection: without SASL users ZooKeeper has no SASL
// server and answers a sasl request OK with no token.
func TestSASLNoServerSection(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	defer s.Close()
	c := dialRaw(t, s, 0, nil)
	if r := c.sasl(1, []byte{}); r.code != wire.Ok || !r.null {
		t.Fatalf("sasl without users: %+v", r)
	}
	// The sasl ACL scheme is not registered: InvalidACL.
	c.send(2, wire.OpCreate, &wire.CreateRequest{Path: "/s", ACL: []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "sasl", ID: "bob"}}}})
	if h, _ := c.read(); h.Err != wire.ErrInvalidACL {
		t.Fatalf("sasl ACL without the provider: %v", h.Err)
	}
}

// TestGoClientSASL: our client authenticates with WithSASL, again after a
// reconnection, and a wrong password fails Connect with AuthFailed.
func TestGoClientSASL(t *testing.T) {
	s := startServer(t, t.TempDir(), func(c *Config) {
		c.SASL = &SASLConfig{Users: testSASLUsers}
		c.SASLScheme = true
		c.EnforceAuth = []string{"sasl"}
	})
	t.Cleanup(func() { s.Close() })
	addr := s.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if _, err := client.Connect(ctx, addr, client.WithSASL("bob", "wrong")); !errors.Is(err, wire.ErrAuthFailed) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := client.Connect(ctx, addr, client.WithSASL("eve", "bobsecret")); !errors.Is(err, wire.ErrAuthFailed) {
		t.Fatalf("unknown user: %v", err)
	}
	var mu sync.Mutex
	var last net.Conn
	dial := func(ctx context.Context, network, a string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, a)
		mu.Lock()
		last = nc
		mu.Unlock()
		return nc, err
	}
	c, err := client.Connect(ctx, addr, client.WithSASL("bob", "bobsecret"), client.WithDialer(dial))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	check := func() {
		t.Helper()
		ids, err := c.WhoAmI(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(ids, wire.ClientInfo{AuthScheme: "sasl", User: "bob"}) {
			t.Fatalf("ids %v", ids)
		}
	}
	check()
	// Break the connection: the client reconnects, resumes the session
	// and must authenticate again (enforced SASL would close it otherwise).
	mu.Lock()
	first := last
	mu.Unlock()
	first.Close()
	waitFor(t, "a new connection", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return last != first
	})
	if _, err := c.Create(ctx, "/after-reconnect", nil, 0, wire.WorldACL); err != nil {
		t.Fatal(err)
	}
	check()
}

// TestSASLAllowFailedAndSuperPasswordAgainstZooKeeper: with
// allowSaslFailedClients=true a failed exchange is answered OK with no
// token and the connection stays (without a sasl id); superPassword
// replaces the JAAS password of the user "super".
func TestSASLAllowFailedAndSuperPasswordAgainstZooKeeper(t *testing.T) {
	run := func(t *testing.T, addr string) string {
		var out []string
		for _, u := range []struct{ user, pass string }{{"bob", "wrong"}, {"super", "override"}, {"super", "adminsecret"}} {
			c := dialRawAddr(t, addr, 0, nil)
			r := saslLogin(t, c, u.user, u.pass)
			c.send(7, wire.OpGetData, &wire.PathWatchRequest{Path: "/"})
			h, _ := c.read()
			out = append(out, fmt.Sprintf("%s/%s: %v null=%v, then getData %v, ids %v", u.user, u.pass, r.code, r.null, h.Err, whoAmI(t, c)))
		}
		return strings.Join(out, "\n")
	}
	pd, zk := saslServers(t, saslSetup{
		mod: func(c *Config) {
			c.SASL.AllowFailed, c.SASL.SuperPassword, c.SASL.HasSuperPassword = true, "override", true
		},
		zkFlags: []string{"-Dzookeeper.allowSaslFailedClients=true", "-Dzookeeper.SASLAuthenticationProvider.superPassword=override"},
	})
	sameOutcome(t, pd, zk, run)
}

func TestSASLPrincipal(t *testing.T) {
	for _, c := range []struct {
		user              string
		removeHost, realm bool
		want              string
		ok                bool
	}{
		{"bob", false, false, "bob", true},
		{"bob/host", true, true, "bob/host", true},                   // no '@': a simple name
		{"bob@EXAMPLE.COM", true, true, "bob@EXAMPLE.COM", true},     // no rule maps another realm
		{"bob/h@EXAMPLE.COM", true, true, "bob/h@EXAMPLE.COM", true}, // as above
		{"bob/h@", false, false, "bob/h@", true},                     // the default realm, ""
		{"bob/h@", true, false, "bob@", true},
		{"bob/h@", false, true, "bob/h", true},
		{"bob/h@", true, true, "bob", true},
		{"a@b@c", false, false, "", false},
		{"a/b/c@R", false, false, "", false},
	} {
		got, ok := saslPrincipal(c.user, "", c.removeHost, c.realm)
		if got != c.want || ok != c.ok {
			t.Errorf("saslPrincipal(%q, host %v, realm %v) = %q, %v; want %q, %v", c.user, c.removeHost, c.realm, got, ok, c.want, c.ok)
		}
	}
	for id, valid := range map[string]bool{"bob": true, "bob/h": true, "bob/h@R": true, "bob@R": true, "a@b@c": false, "a/b/c@R": false, "": true} {
		if saslIDValid(id) != valid {
			t.Errorf("saslIDValid(%q) = %v", id, !valid)
		}
	}
}
