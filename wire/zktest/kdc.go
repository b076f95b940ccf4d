package zktest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Realm is the Kerberos realm StartKDC creates.
const Realm = "EXAMPLE.COM"

// KDC is a running MIT Kerberos KDC (Debian's krb5-kdc) with its own
// realm, database, krb5.conf and kdc.conf in the test's temporary
// directory, on a port picked at run time. It is stopped when the test
// ends.
type KDC struct {
	Dir      string // krb5.conf, kdc.conf, the database, keytabs, kdc.log
	Krb5Conf string // a krb5.conf naming this KDC and Realm as default_realm
	Addr     string // host:port the KDC serves (TCP and UDP)

	t   testing.TB
	env []string
}

// StartKDC creates Realm with kdb5_util, starts krb5kdc in the
// foreground and waits until it accepts connections. A test that needs
// it fails when krb5-kdc is not installed (run `make deps`).
func StartKDC(t testing.TB) *KDC {
	t.Helper()
	for _, tool := range []string{"/usr/sbin/krb5kdc", "/usr/sbin/kdb5_util", "/usr/sbin/kadmin.local"} {
		if _, err := os.Stat(tool); err != nil {
			t.Fatalf("zktest: %s is not installed (krb5-kdc, krb5-admin-server; run `make deps`): %v", tool, err)
		}
	}
	k := &KDC{Dir: t.TempDir(), t: t}
	k.Addr = kdcAddr(t)
	_, port, _ := net.SplitHostPort(k.Addr)
	k.Krb5Conf = filepath.Join(k.Dir, "krb5.conf")
	kdcConf := filepath.Join(k.Dir, "kdc.conf")
	krb5 := fmt.Sprintf(`[libdefaults]
  default_realm = %[1]s
  dns_lookup_kdc = false
  dns_lookup_realm = false
  udp_preference_limit = 1
[realms]
  %[1]s = {
    kdc = %[2]s
  }
[domain_realm]
  localhost = %[1]s
`, Realm, k.Addr)
	kdc := fmt.Sprintf(`[kdcdefaults]
  kdc_ports = %[2]s
  kdc_tcp_ports = %[2]s
[realms]
  %[1]s = {
    database_name = %[3]s/principal
    key_stash_file = %[3]s/stash
    acl_file = %[3]s/kadm5.acl
    max_life = 1h
    max_renewable_life = 2h
    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
  }
[logging]
  kdc = FILE:%[3]s/kdc.log
`, Realm, port, k.Dir)
	for name, text := range map[string]string{k.Krb5Conf: krb5, kdcConf: kdc, filepath.Join(k.Dir, "kadm5.acl"): ""} {
		if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
			t.Fatalf("zktest: %v", err)
		}
	}
	k.env = append(os.Environ(), "KRB5_CONFIG="+k.Krb5Conf, "KRB5_KDC_PROFILE="+kdcConf)
	k.run("/usr/sbin/kdb5_util", "create", "-s", "-r", Realm, "-P", "master-secret")
	cmd := exec.Command("/usr/sbin/krb5kdc", "-n", "-r", Realm, "-P", filepath.Join(k.Dir, "krb5kdc.pid"))
	cmd.Env = k.env
	out, err := os.Create(filepath.Join(k.Dir, "krb5kdc.out"))
	if err != nil {
		t.Fatalf("zktest: %v", err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("zktest: start krb5kdc: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); out.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(StartTimeout)
	for {
		c, err := net.DialTimeout("tcp", k.Addr, time.Second)
		if err == nil {
			c.Close()
			return k
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("zktest: krb5kdc exited: %v\n%s", err, k.log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("zktest: krb5kdc does not accept connections on %s after %v\n%s", k.Addr, StartTimeout, k.log())
		}
	}
}

// kdcAddr is a loopback port free for TCP and UDP both.
func kdcAddr(t testing.TB) string {
	t.Helper()
	for range 100 {
		addr := LoopbackAddr(t)
		if pc, err := net.ListenPacket("udp", addr); err == nil {
			pc.Close()
			return addr
		}
	}
	t.Fatal("zktest: no port free for TCP and UDP")
	return ""
}

func (k *KDC) log() string {
	var b strings.Builder
	for _, f := range []string{"krb5kdc.out", "kdc.log"} {
		data, _ := os.ReadFile(filepath.Join(k.Dir, f))
		b.Write(data)
	}
	return b.String()
}

// Env is the environment for a Kerberos client program of this realm
// (KRB5_CONFIG), plus extra "KEY=value" entries.
func (k *KDC) Env(extra ...string) []string {
	return append(append([]string{}, k.env...), extra...)
}

func (k *KDC) run(name string, args ...string) {
	k.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = k.env
	if out, err := cmd.CombinedOutput(); err != nil {
		k.t.Fatalf("zktest: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// AddPrincipal creates principal (without the realm, e.g. "bob" or
// "zookeeper/localhost") with password, or a random key when password
// is "".
func (k *KDC) AddPrincipal(principal, password string) {
	k.t.Helper()
	q := "addprinc -randkey " + principal
	if password != "" {
		q = "addprinc -pw " + password + " " + principal
	}
	k.run("/usr/sbin/kadmin.local", "-r", Realm, "-q", q)
}

// Keytab exports the current keys of principals (without the realm) to a
// new keytab file, keeping them (-norandkey), and returns its path.
func (k *KDC) Keytab(name string, principals ...string) string {
	k.t.Helper()
	path := filepath.Join(k.Dir, name)
	for _, p := range principals {
		k.run("/usr/sbin/kadmin.local", "-r", Realm, "-q", "ktadd -k "+path+" -norandkey "+p)
	}
	return path
}

// Kinit gets principal's tickets from keytab into a new credential cache
// and returns its KRB5CCNAME value.
func (k *KDC) Kinit(principal, keytab string) string {
	k.t.Helper()
	cc := "FILE:" + filepath.Join(k.t.TempDir(), "ccache")
	cmd := exec.Command("kinit", "-k", "-t", keytab, principal+"@"+Realm)
	cmd.Env = k.Env("KRB5CCNAME=" + cc)
	if out, err := cmd.CombinedOutput(); err != nil {
		k.t.Fatalf("zktest: kinit %s: %v\n%s", principal, err, out)
	}
	return cc
}

// ServerJAAS writes a JAAS file whose Server section logs principal
// (without the realm) in from keytab, as ZooKeeper's documentation has
// it, and returns its path.
func (k *KDC) ServerJAAS(keytab, principal string) string {
	k.t.Helper()
	return k.writeJAAS("Server", keytab, principal, "isInitiator=false")
}

// ClientJAAS writes a JAAS file whose Client section logs principal in
// from keytab, as the Java client and zkCli.sh read it, and returns its
// path.
func (k *KDC) ClientJAAS(keytab, principal string) string {
	k.t.Helper()
	return k.writeJAAS("Client", keytab, principal, "doNotPrompt=true")
}

// Krb5Section is a JAAS section that logs principal (without the realm)
// in from keytab with the JDK's Krb5LoginModule, as ZooKeeper's
// documentation writes it, with the options extra.
func Krb5Section(section, keytab, principal, extra string) string {
	return fmt.Sprintf("%s {\n  com.sun.security.auth.module.Krb5LoginModule required\n  useKeyTab=true\n  keyTab=%q\n  storeKey=true\n  useTicketCache=false\n  %s\n  principal=%q;\n};\n",
		section, keytab, extra, principal+"@"+Realm)
}

func (k *KDC) writeJAAS(section, keytab, principal, extra string) string {
	k.t.Helper()
	text := Krb5Section(section, keytab, principal, extra)
	f, err := os.CreateTemp(k.Dir, strings.ToLower(section)+"-*.jaas")
	if err == nil {
		_, err = f.WriteString(text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		k.t.Fatalf("zktest: %v", err)
	}
	return f.Name()
}

// WithKerberos runs the server as a Kerberos-secured ZooKeeper: the JAAS
// file jaas (see KDC.ServerJAAS), k's krb5.conf, the SASL provider.
func WithKerberos(k *KDC, jaas string) Option {
	return func(s *Server) {
		s.flags = append(s.flags, "-Djava.security.auth.login.config="+jaas, "-Djava.security.krb5.conf="+k.Krb5Conf)
		s.extra = append(s.extra, "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider")
	}
}

// Rekey gives principal a new random key (a new key version): keytabs
// exported before no longer hold its current key.
func (k *KDC) Rekey(principal string) {
	k.t.Helper()
	k.run("/usr/sbin/kadmin.local", "-r", Realm, "-q", "cpw -randkey "+principal)
}

// ZooKeeperService creates zookeeper/localhost with a random key (the
// principal a server on 127.0.0.1 needs: the clients canonicalize the
// address to localhost), exports it to a keytab and writes a JAAS file
// whose Server section logs it in (ServerJAAS). It returns both paths.
func (k *KDC) ZooKeeperService() (jaas, keytab string) {
	k.t.Helper()
	k.AddPrincipal("zookeeper/localhost", "")
	keytab = k.Keytab("zk.keytab", "zookeeper/localhost")
	return k.ServerJAAS(keytab, "zookeeper/localhost"), keytab
}

// QuorumPrincipals makes what quorum SASL with Kerberos needs on host:
// zkquorum/host (the members' service principal), learner/host (their
// own) and stale/host, all with random keys exported to one keytab,
// whose path it returns; stale/host then gets a new key, so the keytab
// holds an old one (a member that logs in as stale/host cannot).
func (k *KDC) QuorumPrincipals(host string) (keytab string) {
	k.t.Helper()
	ps := []string{"zkquorum/" + host, "learner/" + host, "stale/" + host}
	for _, p := range ps {
		k.AddPrincipal(p, "")
	}
	keytab = k.Keytab("quorum.keytab", ps...)
	k.Rekey("stale/" + host)
	return keytab
}
