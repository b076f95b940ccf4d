package zoocfg

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const provider = "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider"

const goodJAAS = `/* the server's users */
Server {
   org.apache.zookeeper.server.auth.DigestLoginModule required
   user_super="adminsecret"   // the super user
   user_bob="bob\"secret";
};
Client {
   org.apache.zookeeper.server.auth.DigestLoginModule Required
   username="bob" password="x";
};
`

func writeJAAS(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "jaas.conf")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSASLSettings: the SASL settings take effect from -D flags and zoo.cfg.
func TestSASLSettings(t *testing.T) {
	jaas := writeJAAS(t, goodJAAS)
	c, err := parseWith(t, provider+"\nsuperUser=bob\nsuperUser.2=carol\nsessionRequireClientSASLAuth=true\nkerberos.removeHostFromPrincipal=true\n",
		flags("java.security.auth.login.config="+jaas, "zookeeper.SASLAuthenticationProvider.superPassword=pw", "zookeeper.allowSaslFailedClients=true"))
	if err != nil {
		t.Fatal(err)
	}
	want := SASL{JAASFile: jaas, Users: map[string]string{"super": "adminsecret", "bob": `bob"secret`}, Provider: true,
		SuperUsers: []string{"bob", "carol"}, SuperPassword: "pw", HasSuperPassword: true, RemoveHost: true, AllowFailed: true}
	if !reflect.DeepEqual(c.SASL, want) {
		t.Errorf("SASL = %+v\nwant %+v", c.SASL, want)
	}
	if !reflect.DeepEqual(c.EnforceAuth, []string{"sasl"}) {
		t.Errorf("EnforceAuth = %q", c.EnforceAuth)
	}
	c, err = parseWith(t, "enforce.auth.enabled=true\nenforce.auth.schemes= digest , sasl\n"+provider+"\n", flags("zookeeper.sasl.serverconfig=Client", "java.security.auth.login.config="+jaas))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.EnforceAuth, []string{"digest", "sasl"}) || len(c.SASL.Users) != 0 || c.SASL.Users == nil {
		t.Errorf("EnforceAuth = %q, users %v", c.EnforceAuth, c.SASL.Users)
	}
	// No Server section: a warning, no users.
	c, err = parseWith(t, "", flags("java.security.auth.login.config="+writeJAAS(t, "KafkaServer { a.B required; };")))
	if err != nil || c.SASL.Users != nil || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].String(), `no login entry "Server"`) {
		t.Errorf("err %v users %v warnings %v", err, c.SASL.Users, c.Warnings)
	}
	// Off values.
	c, err = parseWith(t, "sessionRequireClientSASLAuth=false\nenforce.auth.enabled=false\n", nil)
	if err != nil || c.EnforceAuth != nil {
		t.Errorf("err %v EnforceAuth %q", err, c.EnforceAuth)
	}
}

func TestSASLSettingErrors(t *testing.T) {
	for _, c := range []struct{ cfg, want string }{
		{"sessionRequireClientSASLAuth=true", "zoo.cfg:1: sessionRequireClientSASLAuth: authentication scheme sasl is not available"},
		{"sessionRequireClientSASLAuth=yes", `"yes" is not a boolean`},
		{"enforce.auth.enabled=true\nenforce.auth.schemes=sasl", "zoo.cfg:1: enforce.auth.enabled: authentication scheme sasl is not available"},
		{"enforce.auth.enabled=true\nenforce.auth.schemes=kerberos", "authentication scheme kerberos is not available"},
		{"enforce.auth.enabled=true\nenforce.auth.schemes= , ", "enforce.auth.schemes must be configured"},
		{"sasl.serverconfig=Server", "zookeeper.sasl.serverconfig is set but no JAAS file"},
		{"allowSaslFailedClients=maybe", `"maybe" is not a boolean`},
		{"kerberos.removeRealmFromPrincipal=TRUE", `"TRUE": want true or false (ZooKeeper reads only the lower-case "true" as true)`},
		{"letAnySaslUserDoX=bob", "letAnySaslUserDoX is not supported by paddock yet"},
	} {
		_, err := parseWith(t, c.cfg+"\n", nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.cfg, err, c.want)
		}
	}
	_, err := parseWith(t, "", flags("java.security.auth.login.config="+filepath.Join(t.TempDir(), "missing.conf")))
	if err == nil || !strings.Contains(err.Error(), "missing.conf: cannot read the JAAS file") {
		t.Errorf("missing JAAS file: %v", err)
	}
}

// TestJAASErrors: a JAAS file that does not parse names the file, the
// line and the reason; an unknown login module is an error.
func TestJAASErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"Server {\n  a.B required\n  user_x=\"y\"\n};", `:4: expected an option key or ';' in a.B, found "}"`},
		{"Server {\n a.B mandatory;\n};", `:2: invalid control flag "mandatory"`},
		{"Server {\n a.B required user_x=123;\n};", ":2: expected the value of option user_x, found the number 123 (quote it)"},
		{"Server {\n a.B required user_x='y';\n};", ":2: single-quoted strings are not allowed"},
		{"Server {\n a.B required user_x=\"y;\n};", ":2: unterminated quoted string"},
		{"Server {\n a.B required user_x=\"${user.home}\";\n};", ":2: option user_x: ${property} expansion is not supported"},
		{"Server {\n a.B required;\n}", ":3: expected \";\", found the end of the file"},
		{"Server\n a.B required;\n};", `:2: expected "{", found "a.B"`},
		{"/* open", ":1: unterminated /* comment"},
		{"Server { a.B required; };\nServer { a.B required; };", ":2: login entry Server is given twice"},
		{"= { };", `:1: expected a login entry name, found "="`},
	} {
		_, err := ParseJAAS("jaas.conf", c.text)
		if err == nil || !strings.HasPrefix(err.Error(), "jaas.conf") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.text, err, c.want)
		}
	}
	for _, c := range []struct{ text, want string }{
		{"Server {\n com.sun.security.auth.module.Krb5LoginModule required keyTab=\"/k\";\n};", "jaas.conf:2: section Server: com.sun.security.auth.module.Krb5LoginModule (SASL GSSAPI, Kerberos) where DIGEST-MD5 credentials are read"},
		{"Server {\n org.apache.zookeeper.server.auth.DigestLoginModule required;\n org.example.Mine optional;\n};", "jaas.conf:3: section Server: unknown login module org.example.Mine"},
	} {
		j, err := ParseJAAS("jaas.conf", c.text)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := j.DigestUsers("Server"); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
	// The same through Parse: the server does not start.
	_, err := parseWith(t, "", flags("java.security.auth.login.config="+writeJAAS(t, "Server {\n org.example.Mine required;\n};")))
	if err == nil || !strings.Contains(err.Error(), "jaas.conf:2: section Server: unknown login module org.example.Mine") {
		t.Errorf("Parse: %v", err)
	}
}

func TestJAASParses(t *testing.T) {
	j, err := ParseJAAS("j", goodJAAS)
	if err != nil {
		t.Fatal(err)
	}
	users, ok, err := j.DigestUsers("Server")
	if err != nil || !ok || !reflect.DeepEqual(users, map[string]string{"super": "adminsecret", "bob": `bob"secret`}) {
		t.Errorf("users %v ok %v err %v", users, ok, err)
	}
	if m := j.Sections["Client"]; len(m) != 1 || m[0].Flag != "REQUIRED" || m[0].Options["password"] != "x" || m[0].Line != 8 {
		t.Errorf("Client = %+v", m)
	}
	if _, ok, _ := j.DigestUsers("Nope"); ok {
		t.Error("missing section found")
	}
}
