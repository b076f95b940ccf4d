package client

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/zktest"
)

// TestKerberosAgainstZooKeeper: WithKerberos authenticates with
// ZooKeeper 3.8's GSSAPI server (the JDK's) from a keytab or a password,
// again after a reconnection; the session's id is the principal; a wrong
// password fails Connect with AuthFailed.
func TestKerberosAgainstZooKeeper(t *testing.T) {
	k := zktest.StartKDC(t)
	jaas, _ := k.ZooKeeperService()
	k.AddPrincipal("bob", "bobsecret")
	s := zktest.Start(t, zktest.WithKerberos(k, jaas), zktest.WithConfig("sessionRequireClientSASLAuth=true"))
	ctx := testCtx(t)
	bobKeytab := Kerberos{Principal: "bob@" + zktest.Realm, Keytab: k.Keytab("bob.keytab", "bob"), Krb5Conf: k.Krb5Conf}
	bobPassword := Kerberos{Principal: "bob", Password: "bobsecret", Krb5Conf: k.Krb5Conf}
	wrong := Kerberos{Principal: "bob", Password: "wrong", Krb5Conf: k.Krb5Conf}
	if _, err := Connect(ctx, s.Addr, WithKerberos(wrong)); !isAuthFailed(err) {
		t.Fatalf("wrong password: %v, want AuthFailed", err)
	}
	if _, err := Connect(ctx, s.Addr, WithKerberos(Kerberos{Principal: "bob", Password: "bobsecret", Krb5Conf: k.Krb5Conf, Service: "other"})); !isAuthFailed(err) {
		t.Fatalf("no such service principal: %v, want AuthFailed", err)
	}
	for i, kc := range []Kerberos{bobPassword, bobKeytab} {
		p := newProxy(t, s.Addr)
		c := connect(t, p.Addr(), WithKerberos(kc), WithSessionTimeout(10*time.Second), WithConnectTimeout(2*time.Second))
		ids, err := c.WhoAmI(ctx)
		must(t, err)
		if !slices.Contains(ids, wire.ClientInfo{AuthScheme: "sasl", User: "bob@EXAMPLE.COM"}) {
			t.Fatalf("ids %v", ids)
		}
		path := testPath(t) + fmt.Sprint(i)
		_, err = c.Create(ctx, path, []byte("x"), wire.ModePersistent, []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "sasl", ID: "bob@EXAMPLE.COM"}}})
		must(t, err)
		p.Cut()
		waitState(t, c, wire.StateDisconnected)
		p.Restore()
		waitState(t, c, wire.StateSyncConnected)
		if data, _, err := c.Get(ctx, path); err != nil || string(data) != "x" {
			t.Fatalf("get after reconnecting (SASL enforced): %q, %v", data, err)
		}
	}
}

func TestKerberosBadConfig(t *testing.T) {
	ctx := testCtx(t)
	if _, err := Connect(ctx, "127.0.0.1:1", WithKerberos(Kerberos{Principal: "bob", Krb5Conf: "/nonexistent/krb5.conf"})); err == nil {
		t.Error("a missing krb5.conf was accepted")
	}
}
