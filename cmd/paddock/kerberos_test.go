package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddockdb/paddock/wire/client"
	"github.com/paddockdb/paddock/wire/zktest"
)

// TestServeWithKerberos starts paddock as an operator starts a
// Kerberos-secured ZooKeeper (zoo.cfg with the SASL provider; java.env's
// SERVER_JVMFLAGS with the JAAS file, krb5.conf, a super user and
// kerberos.removeHostFromPrincipal), and ZooKeeper 3.8 with the same
// flags: the Go client's sessions get the same ids on both.
func TestServeWithKerberos(t *testing.T) {
	k := zktest.StartKDC(t)
	jaas, _ := k.ZooKeeperService()
	k.AddPrincipal("bob", "bobsecret")
	k.AddPrincipal("svc/localhost", "svcsecret")
	flags := []string{"-Djava.security.auth.login.config=" + jaas, "-Djava.security.krb5.conf=" + k.Krb5Conf,
		"-Dzookeeper.superUser=svc@EXAMPLE.COM", "-Dzookeeper.kerberos.removeHostFromPrincipal=true"}

	dir := t.TempDir()
	conf := filepath.Join(dir, "conf")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(conf, "zoo.cfg")
	zooCfg := "tickTime=200\ndataDir=" + filepath.Join(dir, "data") + "\nclientPort=2181\nadmin.enableServer=false\n" +
		"authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n"
	if err := os.WriteFile(cfg, []byte(zooCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "java.env"), []byte(`SERVER_JVMFLAGS="`+strings.Join(flags, " ")+`"`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pd, _ := startServe(t, serveOptions{configPath: cfg, clientAddr: "127.0.0.1:0", logLevel: "warn"}, env(nil))
	zk := zktest.Start(t, zktest.WithKerberos(k, jaas), zktest.WithJVMFlags(flags[2:]...)).Addr

	ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
	defer cancel()
	ids := func(addr string, kc client.Kerberos) string {
		kc.Krb5Conf = k.Krb5Conf
		c, err := client.Connect(ctx, addr, client.WithKerberos(kc))
		if err != nil {
			return fmt.Sprintf("connect: %v", err)
		}
		defer c.Close()
		infos, err := c.WhoAmI(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, i := range infos {
			if i.AuthScheme != "ip" {
				out = append(out, i.AuthScheme+":"+i.User)
			}
		}
		return strings.Join(out, ",")
	}
	for _, kc := range []client.Kerberos{
		{Principal: "bob", Password: "bobsecret"},
		{Principal: "svc/localhost@EXAMPLE.COM", Password: "svcsecret"},
		{Principal: "bob", Password: "wrong"},
	} {
		got, want := ids(pd, kc), ids(zk, kc)
		if got != want {
			t.Errorf("%s: Paddock %q, ZooKeeper %q", kc.Principal, got, want)
		} else {
			t.Logf("%s: both %q", kc.Principal, got)
		}
	}
}

// TestServeRefusesBadKerberos: what a Kerberos server cannot work with
// stops serve with the JAAS file, the line and the reason, before the
// data directory is touched.
func TestServeRefusesBadKerberos(t *testing.T) {
	k := zktest.StartKDC(t)
	k.AddPrincipal("zookeeper/localhost", "")
	k.AddPrincipal("zookeeper/otherhost", "")
	dir := t.TempDir()
	other := k.Keytab("other.keytab", "zookeeper/otherhost")
	for _, c := range []struct{ keytab, want string }{
		{filepath.Join(dir, "missing.keytab"), "cannot read the keytab " + filepath.Join(dir, "missing.keytab")},
		{other, "the keytab has no key for zookeeper/localhost@EXAMPLE.COM (it has zookeeper/otherhost@EXAMPLE.COM)"},
	} {
		jaas := k.ServerJAAS(c.keytab, "zookeeper/localhost")
		t.Setenv("SERVER_JVMFLAGS", "-Djava.security.krb5.conf="+k.Krb5Conf)
		code, _, stderr := runCLI("serve", "--data-dir", filepath.Join(dir, "data"), "--client-addr", "127.0.0.1:0", "--jaas", jaas)
		want := jaas + ":2: section Server: com.sun.security.auth.module.Krb5LoginModule: "
		if code != exitUsage || !strings.Contains(stderr, want) || !strings.Contains(stderr, c.want) {
			t.Errorf("exit %d, want %d and %q…%q:\n%s", code, exitUsage, want, c.want, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("a refused start touched the data directory: %v", err)
	}
}
