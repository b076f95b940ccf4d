package actors

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/kerberos"
	"github.com/paddockdb/paddock/wire/zktest"
)

// krbSetup is a realm with the principals the Kerberos differential tests
// use, and Paddock and Apache ZooKeeper 3.8 side by side on the same
// keytab and JAAS Server section (alice is zookeeper.superUser).
type krbSetup struct {
	kdc        *zktest.KDC
	pd, zk     string
	bob, alice *kerberos.Credentials
	log        *linesHandler // Paddock's log
}

func kerberosServers(t *testing.T) *krbSetup {
	k := zktest.StartKDC(t)
	jaas, ktPath := k.ZooKeeperService()
	k.AddPrincipal("other/localhost", "")
	k.AddPrincipal("bob", "bobsecret")
	k.AddPrincipal("alice", "alicesecret")
	acc := krbAcceptor(t, ktPath, "zookeeper", "localhost")
	log := &linesHandler{}
	s, err := startTestServer(t.TempDir(), func(c *Config) {
		c.Logger = slog.New(log)
		c.SASL = &SASLConfig{Kerberos: acc, DefaultRealm: zktest.Realm, SuperUsers: []string{"alice@EXAMPLE.COM"}}
		c.SASLScheme = true
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	zk := zktest.Start(t, zktest.WithKerberos(k, jaas), zktest.WithJVMFlags("-Dzookeeper.superUser=alice@EXAMPLE.COM"))
	conf, err := kerberos.LoadConfig(k.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	creds := func(user, pw string) *kerberos.Credentials {
		c, err := kerberos.NewCredentials(conf, user, "", pw)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	return &krbSetup{kdc: k, pd: s.Addr().String(), zk: zk.Addr, bob: creds("bob", "bobsecret"), alice: creds("alice", "alicesecret"), log: log}
}

// gssClient starts an exchange of creds with service/localhost.
func gssClient(t *testing.T, creds *kerberos.Credentials, service string) *kerberos.Client {
	t.Helper()
	cl, err := creds.NewClient(service, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// gssLogin runs the GSSAPI exchange on c and describes each reply.
func gssLogin(t *testing.T, c *rawClient, cl *kerberos.Client) string {
	t.Helper()
	var out []string
	var server []byte
	for xid := int32(1); xid < 6; xid++ {
		tok, err := cl.Step(server)
		if err != nil {
			t.Fatalf("client: %v", err)
		}
		if cl.Complete() {
			return strings.Join(out, " ")
		}
		r := c.sasl(xid, tok)
		out = append(out, fmt.Sprintf("%v/zxid=%d/null=%v", r.code, r.zxid, r.null))
		if r.code != wire.Ok {
			return strings.Join(out, " ")
		}
		server = r.token
	}
	t.Fatal("no end after 5 rounds")
	return ""
}

// TestKerberosAgainstZooKeeper runs each GSSAPI scenario against both
// servers and compares what the client sees: a login, a super user, a
// sasl ACL, and bad input (guarantee 8): a token after success, a ticket
// for another service, tokens that do not decode, a DIGEST-MD5 client, a
// replayed AP-REQ, a large token, a 10 MB frame, a sasl request before
// the handshake; then a service key the servers' keytab no longer holds.
// Paddock logs a failure with the session's id. A session of each server
// must not notice any of it.
func TestKerberosAgainstZooKeeper(t *testing.T) {
	k := kerberosServers(t)
	bystanders := []*rawClient{dialRawAddr(t, k.zk, 0, nil), dialRawAddr(t, k.pd, 0, nil)}
	for _, c := range bystanders {
		gssLogin(t, c, gssClient(t, k.bob, "zookeeper"))
	}
	scenarios := []saslScenario{
		{"login", func(t *testing.T, addr string) string {
			c := dialRawAddr(t, addr, 0, nil)
			r := gssLogin(t, c, gssClient(t, k.bob, "zookeeper"))
			return fmt.Sprintf("%s ids=%v", r, whoAmI(t, c))
		}},
		{"super user", func(t *testing.T, addr string) string {
			c := dialRawAddr(t, addr, 0, nil)
			r := gssLogin(t, c, gssClient(t, k.alice, "zookeeper"))
			return fmt.Sprintf("%s ids=%v", r, whoAmI(t, c))
		}},
		{"sasl ACL", func(t *testing.T, addr string) string {
			bob := dialRawAddr(t, addr, 0, nil)
			gssLogin(t, bob, gssClient(t, k.bob, "zookeeper"))
			path := "/krb-acl-" + strings.ReplaceAll(t.Name(), "/", "-")
			bob.send(7, wire.OpCreate, &wire.CreateRequest{Path: path, Data: []byte("x"), ACL: []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "sasl", ID: "bob@EXAMPLE.COM"}}}})
			h1, _ := bob.read()
			bob.send(8, wire.OpGetData, &wire.PathWatchRequest{Path: path})
			h2, _ := bob.read()
			anon := dialRawAddr(t, addr, 0, nil)
			anon.send(9, wire.OpGetData, &wire.PathWatchRequest{Path: path})
			h3, _ := anon.read()
			alice := dialRawAddr(t, addr, 0, nil)
			gssLogin(t, alice, gssClient(t, k.alice, "zookeeper"))
			alice.send(10, wire.OpGetData, &wire.PathWatchRequest{Path: path})
			h4, _ := alice.read()
			return fmt.Sprintf("create=%v bob=%v anonymous=%v alice(super)=%v", h1.Err, h2.Err, h3.Err, h4.Err)
		}},
		{"token after success", func(t *testing.T, addr string) string {
			c := dialRawAddr(t, addr, 0, nil)
			gssLogin(t, c, gssClient(t, k.bob, "zookeeper"))
			r := c.sasl(9, []byte{})
			return fmt.Sprintf("%v null=%v closed=%v", r.code, r.null, c.closed())
		}},
		{"ticket for another service", func(t *testing.T, addr string) string {
			c := dialRawAddr(t, addr, 0, nil)
			tok, err := gssClient(t, k.bob, "other").Step(nil)
			if err != nil {
				t.Fatal(err)
			}
			r := c.sasl(1, tok)
			if addr == k.pd {
				if l := k.log.find("SASL authentication failed", "session="+sid(c.sid), "ticket for other/localhost@EXAMPLE.COM"); l == "" {
					t.Errorf("no log line names session %s and the ticket's service", sid(c.sid))
				}
			}
			return fmt.Sprintf("%v null=%v closed=%v", r.code, r.null, c.closed())
		}},
		{"token that does not decode", func(t *testing.T, addr string) string {
			c := dialRawAddr(t, addr, 0, nil)
			r := c.sasl(1, []byte("\x60\x03\x06\x01\x00 not a token"))
			return fmt.Sprintf("%v null=%v closed=%v", r.code, r.null, c.closed())
		}},
		{"truncated AP-REQ", func(t *testing.T, addr string) string {
			c := dialRawAddr(t, addr, 0, nil)
			tok, err := gssClient(t, k.bob, "zookeeper").Step(nil)
			if err != nil {
				t.Fatal(err)
			}
			r := c.sasl(1, tok[:len(tok)-10])
			return fmt.Sprintf("%v null=%v closed=%v", r.code, r.null, c.closed())
		}},
		{"DIGEST-MD5 client", func(t *testing.T, addr string) string {
			c := dialRawAddr(t, addr, 0, nil)
			r := c.sasl(1, []byte{})
			return fmt.Sprintf("%v null=%v closed=%v", r.code, r.null, c.closed())
		}},
		{"replayed AP-REQ", func(t *testing.T, addr string) string {
			tok, err := gssClient(t, k.bob, "zookeeper").Step(nil)
			if err != nil {
				t.Fatal(err)
			}
			first, second := dialRawAddr(t, addr, 0, nil), dialRawAddr(t, addr, 0, nil)
			r1 := first.sasl(1, tok)
			r2 := second.sasl(1, tok)
			return fmt.Sprintf("first=%v ap-rep=%v second=%v null=%v closed=%v", r1.code, bytes.HasPrefix(r1.token, []byte{0x60}), r2.code, r2.null, second.closed())
		}},
		{"300 KB token", func(t *testing.T, addr string) string {
			c := dialRawAddr(t, addr, 0, nil)
			r := c.sasl(1, bytes.Repeat([]byte{0x60}, 300<<10))
			return fmt.Sprintf("%v null=%v closed=%v", r.code, r.null, c.closed())
		}},
	}
	// The framing's own refusals, as with DIGEST-MD5.
	for _, sc := range saslScenarios {
		if sc.name == "10 MB token" || sc.name == "sasl before the handshake" {
			scenarios = append(scenarios, sc)
		}
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { sameOutcome(t, k.pd, k.zk, sc.run) })
	}
	// The service key changes in the KDC: the servers' keytab is stale, and
	// a ticket for the new key fails on both.
	k.kdc.AddPrincipal("carol", "carolsecret")
	conf, err := kerberos.LoadConfig(k.kdc.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	k.kdc.Rekey("zookeeper/localhost")
	t.Run("service key not in the keytab", func(t *testing.T) {
		sameOutcome(t, k.pd, k.zk, func(t *testing.T, addr string) string {
			carol, err := kerberos.NewCredentials(conf, "carol", "", "carolsecret")
			if err != nil {
				t.Fatal(err)
			}
			defer carol.Close()
			c := dialRawAddr(t, addr, 0, nil)
			tok, err := gssClient(t, carol, "zookeeper").Step(nil)
			if err != nil {
				t.Fatal(err)
			}
			r := c.sasl(1, tok)
			return fmt.Sprintf("%v null=%v closed=%v", r.code, r.null, c.closed())
		})
	})
	for _, c := range bystanders {
		if ids := whoAmI(t, c); len(ids) != 1 || ids[0] != "sasl:bob@EXAMPLE.COM" {
			t.Errorf("bystander at %s: ids %v", c.nc.RemoteAddr(), ids)
		}
	}
}
