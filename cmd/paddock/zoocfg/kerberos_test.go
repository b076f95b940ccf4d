package zoocfg

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"
)

// kerberosFiles writes a keytab holding zookeeper/localhost@EXAMPLE.COM
// and a krb5.conf naming EXAMPLE.COM the default realm.
func kerberosFiles(t *testing.T) (kt, conf string) {
	return krbFiles(t, "[libdefaults]\n default_realm = EXAMPLE.COM\n", "zookeeper/localhost")
}

// krbFiles writes a keytab with a key for each principal (in EXAMPLE.COM)
// and a krb5.conf of text.
func krbFiles(t *testing.T, text string, principals ...string) (kt, conf string) {
	t.Helper()
	dir := t.TempDir()
	k := keytab.New()
	for _, p := range principals {
		if err := k.AddEntry(p, "EXAMPLE.COM", "secret", time.Now(), 1, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
			t.Fatal(err)
		}
	}
	b, err := k.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	kt, conf = filepath.Join(dir, "krb5.keytab"), filepath.Join(dir, "krb5.conf")
	if err := os.WriteFile(kt, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return kt, conf
}

func krb5Section(opts string) string {
	return "Server {\n  com.sun.security.auth.module.Krb5LoginModule required\n  " + opts + ";\n};\n"
}

// TestKerberosServer: a Krb5LoginModule server section makes the
// mechanism GSSAPI with the keytab's key for the principal; the realm
// comes from krb5.conf when the principal has none.
func TestKerberosServer(t *testing.T) {
	kt, conf := kerberosFiles(t)
	for _, principal := range []string{"zookeeper/localhost@EXAMPLE.COM", "zookeeper/localhost"} {
		jaas := writeJAAS(t, krb5Section(`useKeyTab=true keyTab="`+kt+`" storeKey=true useTicketCache=false isInitiator=false doNotPrompt=true debug=true principal="`+principal+`"`)+
			"Client { org.apache.zookeeper.server.auth.DigestLoginModule required username=\"bob\" password=\"x\"; };\n")
		c, err := parseWith(t, provider+"\n", flags("java.security.auth.login.config="+jaas, "java.security.krb5.conf="+conf))
		if err != nil {
			t.Fatalf("%s: %v", principal, err)
		}
		k := c.SASL.Kerberos
		if k == nil || k.Principal != "zookeeper/localhost@EXAMPLE.COM" || k.Keytab != kt || k.Acceptor == nil || c.SASL.Users != nil || c.SASL.DefaultRealm != "EXAMPLE.COM" {
			t.Errorf("%s: SASL = %+v", principal, c.SASL)
		}
		if len(c.Warnings) != 0 {
			t.Errorf("%s: warnings %v", principal, c.Warnings)
		}
	}
	// DigestLoginModule beside it is not used, and an unknown option is
	// ignored: both said.
	jaas := writeJAAS(t, "Server {\n org.apache.zookeeper.server.auth.DigestLoginModule required user_bob=\"b\";\n"+
		" com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab=\""+kt+"\" storeKey=true principal=\"zookeeper/localhost@EXAMPLE.COM\" flavour=\"x\";\n};\n")
	c, err := parseWith(t, "", flags("java.security.auth.login.config="+jaas, "java.security.krb5.conf="+conf))
	if err != nil {
		t.Fatal(err)
	}
	var ws []string
	for _, w := range c.Warnings {
		ws = append(ws, w.String())
	}
	if c.SASL.Kerberos == nil || len(ws) != 2 || !strings.Contains(ws[0], ":2: section Server: org.apache.zookeeper.server.auth.DigestLoginModule is not used") ||
		!strings.Contains(ws[1], ":3: section Server: com.sun.security.auth.module.Krb5LoginModule option flavour is unknown; ignored") {
		t.Errorf("kerberos %v, warnings %q", c.SASL.Kerberos, ws)
	}
}

// TestKerberosServerErrors: what cannot work stops the start with the
// JAAS file, the line and the reason.
func TestKerberosServerErrors(t *testing.T) {
	kt, conf := kerberosFiles(t)
	noRealm := filepath.Join(t.TempDir(), "krb5.conf")
	if err := os.WriteFile(noRealm, []byte("[libdefaults]\n dns_lookup_kdc = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := `useKeyTab=true keyTab="` + kt + `" storeKey=true principal="zookeeper/localhost@EXAMPLE.COM"`
	for _, c := range []struct{ opts, conf, want string }{
		{`keyTab="` + kt + `" storeKey=true principal="zookeeper/localhost@EXAMPLE.COM"`, conf, ":2: section Server: com.sun.security.auth.module.Krb5LoginModule: useKeyTab=true is needed"},
		{`useKeyTab=true storeKey=true principal="zookeeper/localhost@EXAMPLE.COM"`, conf, `keyTab="/path/to/zookeeper.keytab" is needed`},
		{`useKeyTab=true keyTab="` + kt + `" principal="zookeeper/localhost@EXAMPLE.COM"`, conf, "storeKey=true is needed"},
		{`useKeyTab=true keyTab="` + kt + `" storeKey=true`, conf, `principal="zookeeper/host@REALM" is needed`},
		{`useKeyTab=true keyTab="` + kt + `" storeKey=true principal="*"`, conf, `principal="zookeeper/host@REALM" is needed`},
		{`useKeyTab=true keyTab="/nonexistent/zk.keytab" storeKey=true principal="zookeeper/localhost@EXAMPLE.COM"`, conf, "cannot read the keytab /nonexistent/zk.keytab"},
		{`useKeyTab=true keyTab="` + conf + `" storeKey=true principal="zookeeper/localhost@EXAMPLE.COM"`, conf, "cannot read the keytab " + conf},
		{`useKeyTab=true keyTab="` + kt + `" storeKey=true principal="zookeeper/otherhost@EXAMPLE.COM"`, conf, "the keytab has no key for zookeeper/otherhost@EXAMPLE.COM (it has zookeeper/localhost@EXAMPLE.COM)"},
		{`useKeyTab=true keyTab="` + kt + `" storeKey=true principal="zookeeper@EXAMPLE.COM"`, conf, "is not of the form service/host@REALM"},
		{`useKeyTab=true keyTab="` + kt + `" storeKey=true principal="zookeeper/localhost"`, noRealm, "has no realm"},
		{good, filepath.Join(t.TempDir(), "missing.conf"), "missing.conf: cannot read krb5.conf"},
	} {
		jaas := writeJAAS(t, krb5Section(c.opts))
		_, err := parseWith(t, "", flags("java.security.auth.login.config="+jaas, "java.security.krb5.conf="+c.conf))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.opts, err, c.want)
		}
	}
	jaas := writeJAAS(t, "Server {\n com.sun.security.auth.module.Krb5LoginModule required "+good+";\n org.example.Mine optional;\n};\n")
	if _, err := parseWith(t, "", flags("java.security.auth.login.config="+jaas, "java.security.krb5.conf="+conf)); err == nil || !strings.Contains(err.Error(), "unknown login module org.example.Mine beside it") {
		t.Errorf("unknown module: %v", err)
	}
}

// TestKrb5PropertiesRefused: the JDK's realm and KDC properties are
// refused as -D flags: krb5.conf says both.
func TestKrb5PropertiesRefused(t *testing.T) {
	for _, prop := range []string{"java.security.krb5.realm=EXAMPLE.COM", "java.security.krb5.kdc=kdc.example.com"} {
		name, _, _ := strings.Cut(prop, "=")
		_, err := parseWith(t, "", flags(prop))
		wantRefused(t, err, "$SERVER_JVMFLAGS: -D"+name+": ")
	}
}
