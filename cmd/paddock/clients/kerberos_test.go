package clients

import (
	"strings"
	"testing"

	"github.com/paddockdb/paddock/actors"
	"github.com/paddockdb/paddock/cmd/paddock/zoocfg"
	"github.com/paddockdb/paddock/wire/zktest"
)

// TestKerberosDrivers runs kazoo (MIT Kerberos through python3-kerberos)
// and zkCli.sh (the JDK's Kerberos) with SASL GSSAPI against Apache
// ZooKeeper 3.8 and against Paddock, both configured from the same JAAS
// Server section, keytab and krb5.conf, on a KDC of the test's own.
func TestKerberosDrivers(t *testing.T) {
	k := zktest.StartKDC(t)
	jaas, _ := k.ZooKeeperService()
	k.AddPrincipal("other/localhost", "")
	k.AddPrincipal("bob", "bobsecret")
	bobKeytab := k.Keytab("bob.keytab", "bob")
	c, err := zoocfg.Parse(strings.NewReader(""), "zoo.cfg", []zoocfg.Property{
		{Name: "java.security.auth.login.config", Value: jaas, File: "$SERVER_JVMFLAGS"},
		{Name: "java.security.krb5.conf", Value: k.Krb5Conf, File: "$SERVER_JVMFLAGS"},
	})
	if err != nil || c.SASL.Kerberos == nil {
		t.Fatalf("zoocfg: %v, %+v", err, c.SASL)
	}
	pd := startPaddock(t, actors.Config{SASL: &actors.SASLConfig{Kerberos: c.SASL.Kerberos.Acceptor, DefaultRealm: c.SASL.DefaultRealm}, SASLScheme: true})
	zk := zktest.Start(t, zktest.WithKerberos(k, jaas))
	drivers := KerberosDrivers(KerberosClient{
		Realm: zktest.Realm, Krb5Conf: k.Krb5Conf, CCache: k.Kinit("bob", bobKeytab), Keytab: bobKeytab,
		ClientJAAS: k.ClientJAAS(bobKeytab, "bob"),
	})
	t.Run("zookeeper", func(t *testing.T) { runDriversOn(t, drivers, zk) })
	t.Run("paddock", func(t *testing.T) { runDrivers(t, drivers, func(int) string { return pd }) })
}
