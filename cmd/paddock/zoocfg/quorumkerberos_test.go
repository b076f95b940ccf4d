package zoocfg

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// quorumKrbFiles writes a keytab with zkquorum/a@EXAMPLE.COM and
// learner/a@EXAMPLE.COM, and a krb5.conf naming EXAMPLE.COM's KDC.
func quorumKrbFiles(t *testing.T) (kt, conf string) {
	return krbFiles(t, "[libdefaults]\n default_realm = EXAMPLE.COM\n[realms]\n EXAMPLE.COM = {\n  kdc = 127.0.0.1:88\n }\n", "zkquorum/a", "learner/a")
}

// quorumKrbJAAS is a JAAS file whose QuorumServer and QuorumLearner
// sections are Krb5LoginModules with these options.
func quorumKrbJAAS(t *testing.T, server, learner string) string {
	t.Helper()
	return writeJAAS(t, "QuorumServer {\n com.sun.security.auth.module.Krb5LoginModule required\n "+server+";\n};\n"+
		"QuorumLearner {\n com.sun.security.auth.module.Krb5LoginModule required\n "+learner+";\n};\n")
}

// TestQuorumKerberosSettings: Krb5LoginModules in both quorum sections
// make quorum SASL GSSAPI: the server section's acceptor, the learner
// section's principal (realm added) and keytab, krb5.conf, and
// quorum.auth.kerberos.servicePrincipal (default zkquorum/localhost).
func TestQuorumKerberosSettings(t *testing.T) {
	kt, conf := quorumKrbFiles(t)
	server := `useKeyTab=true keyTab="` + kt + `" storeKey=true useTicketCache=false principal="zkquorum/a@EXAMPLE.COM"`
	for _, c := range []struct {
		learner, spnLine, wantSPN string
	}{
		{`useKeyTab=true keyTab="` + kt + `" storeKey=true useTicketCache=false principal="learner/a@EXAMPLE.COM"`, "", "zkquorum/localhost"},
		{`useKeyTab=true keyTab="` + kt + `" principal="learner/a"`, "quorum.auth.kerberos.servicePrincipal=zkquorum/_HOST", "zkquorum/_HOST"},
	} {
		props := flags("java.security.auth.login.config="+quorumKrbJAAS(t, server, c.learner), "java.security.krb5.conf="+conf)
		lines := []string{"quorum.auth.enableSasl=true", "quorum.auth.learnerRequireSasl=true", "quorum.auth.serverRequireSasl=true"}
		if c.spnLine != "" {
			lines = append(lines, c.spnLine)
		}
		cfg, err := parseWith(t, ensembleCfg(lines...), props)
		if err != nil {
			t.Fatalf("%s: %v", c.learner, err)
		}
		q := cfg.QuorumSASL
		if q == nil || q.Kerberos == nil || q.Users != nil || q.User != "" || !q.LearnerRequire || !q.ServerRequire {
			t.Fatalf("%s: QuorumSASL %+v", c.learner, q)
		}
		k := q.Kerberos
		if k.ServicePrincipal != c.wantSPN || k.Principal != "learner/a@EXAMPLE.COM" || k.Keytab != kt || k.Krb5 == nil ||
			k.Acceptor == nil || k.Acceptor.Principal().String() != "zkquorum/a@EXAMPLE.COM" {
			t.Errorf("%s: Kerberos %+v", c.learner, k)
		}
		if creds, err := k.Login(); err != nil || creds.Principal().String() != "learner/a@EXAMPLE.COM" {
			t.Errorf("%s: Login: %v", c.learner, err)
		} else {
			creds.Close()
		}
		for _, w := range cfg.Warnings {
			if strings.Contains(w.String(), "Krb5LoginModule") || strings.Contains(w.String(), "servicePrincipal") {
				t.Errorf("%s: warning %v", c.learner, w)
			}
		}
	}
}

// TestQuorumKerberosErrors: what cannot work stops the start with the
// file, the line and the reason; a _HOST that ZooKeeper would not replace
// is warned about.
func TestQuorumKerberosErrors(t *testing.T) {
	kt, conf := quorumKrbFiles(t)
	noKDC := filepath.Join(t.TempDir(), "krb5.conf")
	if err := os.WriteFile(noKDC, []byte("[libdefaults]\n default_realm = EXAMPLE.COM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	server := `useKeyTab=true keyTab="` + kt + `" storeKey=true principal="zkquorum/a@EXAMPLE.COM"`
	learner := `useKeyTab=true keyTab="` + kt + `" principal="learner/a@EXAMPLE.COM"`
	for _, c := range []struct {
		server, learner, conf, spnLine, want string
	}{
		{server, `useKeyTab=true keyTab="/nonexistent/learner.keytab" principal="learner/a@EXAMPLE.COM"`, conf, "",
			"jaas.conf:6: section QuorumLearner: com.sun.security.auth.module.Krb5LoginModule: cannot read the keytab /nonexistent/learner.keytab"},
		{server, `useKeyTab=true keyTab="` + kt + `" principal="learner/b@EXAMPLE.COM"`, conf, "",
			"jaas.conf:6: section QuorumLearner: com.sun.security.auth.module.Krb5LoginModule: keytab " + kt + ": paddock/wire/kerberos: the keytab has no key for learner/b@EXAMPLE.COM (it has zkquorum/a@EXAMPLE.COM, learner/a@EXAMPLE.COM)"},
		{`useKeyTab=true keyTab="` + kt + `" storeKey=true principal="zkquorum/b@EXAMPLE.COM"`, learner, conf, "",
			"jaas.conf:2: section QuorumServer: com.sun.security.auth.module.Krb5LoginModule: keytab " + kt + ": paddock/wire/kerberos: the keytab has no key for zkquorum/b@EXAMPLE.COM"},
		{`useKeyTab=true keyTab="` + kt + `" principal="zkquorum/a@EXAMPLE.COM"`, learner, conf, "", "section QuorumServer: com.sun.security.auth.module.Krb5LoginModule: storeKey=true is needed"},
		{server, `keyTab="` + kt + `" principal="learner/a@EXAMPLE.COM"`, conf, "", "section QuorumLearner: com.sun.security.auth.module.Krb5LoginModule: useKeyTab=true is needed: a member logs in with the keys of its keytab"},
		{server, `useKeyTab=true keyTab="` + kt + `"`, conf, "", `section QuorumLearner: com.sun.security.auth.module.Krb5LoginModule: principal="learner/host@REALM" is needed`},
		{server, learner, noKDC, "", "section QuorumLearner: com.sun.security.auth.module.Krb5LoginModule: krb5.conf " + noKDC + " names no kdc for realm EXAMPLE.COM"},
		{server, learner, conf, "quorum.auth.kerberos.servicePrincipal=zkquorum", `zoo.cfg:9: quorum.auth.kerberos.servicePrincipal: paddock/quorumauth: service principal "zkquorum" is not of the form service/host[@REALM]`},
		{server, learner, conf, "quorum.auth.kerberos.servicePrincipal=", `zoo.cfg:9: quorum.auth.kerberos.servicePrincipal: paddock/wire/kerberos: invalid principal ""`},
		{server, learner, conf, "quorum.auth.kerberos.servicePrincipal=a/b/c", `service principal "a/b/c" is not of the form service/host[@REALM]`},
	} {
		props := flags("java.security.auth.login.config="+quorumKrbJAAS(t, c.server, c.learner), "java.security.krb5.conf="+c.conf)
		_, err := parseWith(t, ensembleCfg("quorum.auth.enableSasl=true", c.spnLine), props)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s | %s | %s:\nerror %v\nwant  %q", c.server, c.learner, c.spnLine, err, c.want)
		}
	}
	// No krb5.conf anywhere: a learner cannot find its KDC.
	t.Setenv("KRB5_CONFIG", filepath.Join(t.TempDir(), "absent.conf"))
	_, err := parseWith(t, ensembleCfg("quorum.auth.enableSasl=true"), flags("java.security.auth.login.config="+quorumKrbJAAS(t, server, learner)))
	if err == nil || !strings.Contains(err.Error(), "there is no krb5.conf to say where it is") {
		t.Errorf("no krb5.conf: %v", err)
	}
	// _HOST with a realm is not replaced, as in ZooKeeper: said.
	props := flags("java.security.auth.login.config="+quorumKrbJAAS(t, server, learner), "java.security.krb5.conf="+conf)
	cfg, err := parseWith(t, ensembleCfg("quorum.auth.enableSasl=true", "quorum.auth.kerberos.servicePrincipal=zkquorum/_HOST@EXAMPLE.COM"), props)
	if err != nil || cfg.QuorumSASL.Kerberos == nil || len(cfg.Warnings) == 0 ||
		!strings.Contains(cfg.Warnings[len(cfg.Warnings)-1].String(), "zoo.cfg:9: quorum.auth.kerberos.servicePrincipal: _HOST is replaced by the member's host only in service/_HOST, without a realm") {
		t.Errorf("_HOST with a realm: %v, warnings %v", err, cfg.Warnings)
	}
}
