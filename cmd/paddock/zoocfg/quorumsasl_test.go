package zoocfg

import (
	"reflect"
	"strings"
	"testing"
)

const quorumJAAS = `QuorumServer {
   org.apache.zookeeper.server.auth.DigestLoginModule required
   user_learner="quorumsecret";
};
QuorumLearner {
   org.apache.zookeeper.server.auth.DigestLoginModule required
   username="learner"
   password="quorumsecret";
};
Other {
   org.apache.zookeeper.server.auth.DigestLoginModule required
   user_zk="othersecret";
};
Me {
   org.apache.zookeeper.server.auth.DigestLoginModule required
   username="zk" password="othersecret";
};
`

// ensembleCfg is a three-member zoo.cfg followed by extra lines.
func ensembleCfg(extra ...string) string {
	return "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/data\nserver.1=a:2888:3888\nserver.2=b:2888:3888\nserver.3=c:2888:3888\n" + strings.Join(extra, "\n") + "\n"
}

// TestQuorumSASLSettings: the quorum.auth.* keys and the JAAS sections
// they name take effect.
func TestQuorumSASLSettings(t *testing.T) {
	jaas := flags("java.security.auth.login.config=" + writeJAAS(t, quorumJAAS))
	for _, c := range []struct {
		lines []string
		want  *QuorumSASL
	}{
		{nil, nil},
		{[]string{"quorum.auth.enableSasl=false"}, nil},
		{[]string{"quorum.auth.enableSasl=true"},
			&QuorumSASL{Users: map[string]string{"learner": "quorumsecret"}, User: "learner", Password: "quorumsecret"}},
		{[]string{"quorum.auth.enableSasl=TRUE", "quorum.auth.learnerRequireSasl=true"},
			&QuorumSASL{LearnerRequire: true, Users: map[string]string{"learner": "quorumsecret"}, User: "learner", Password: "quorumsecret"}},
		{[]string{"quorum.auth.enableSasl=true", "quorum.auth.learnerRequireSasl=true", "quorum.auth.serverRequireSasl=true",
			"quorum.auth.server.saslLoginContext=Other", "quorum.auth.learner.saslLoginContext=Me"},
			&QuorumSASL{LearnerRequire: true, ServerRequire: true, Users: map[string]string{"zk": "othersecret"}, User: "zk", Password: "othersecret"}},
	} {
		cfg, err := parseWith(t, ensembleCfg(c.lines...), jaas)
		if err != nil {
			t.Fatalf("%q: %v", c.lines, err)
		}
		if !reflect.DeepEqual(cfg.QuorumSASL, c.want) {
			t.Errorf("%q: QuorumSASL = %+v, want %+v", c.lines, cfg.QuorumSASL, c.want)
		}
	}
	// A standalone server has nobody to authenticate: a warning.
	cfg, err := parseWith(t, "tickTime=2000\nquorum.auth.enableSasl=true\n", jaas)
	if err != nil || cfg.QuorumSASL != nil || len(cfg.Warnings) == 0 || !strings.Contains(cfg.Warnings[len(cfg.Warnings)-1].String(), "zoo.cfg:2: quorum.auth.enableSasl: no effect on a standalone server") {
		t.Errorf("standalone: %v, %+v, warnings %v", err, cfg.QuorumSASL, cfg.Warnings)
	}
}

// TestQuorumSASLErrors: the combinations ZooKeeper refuses, a missing
// JAAS file or section, incomplete credentials, Kerberos in one section
// only and malformed values stop the server with the file, the line and
// the reason.
func TestQuorumSASLErrors(t *testing.T) {
	jaas := func(text string) []Property { return flags("java.security.auth.login.config=" + writeJAAS(t, text)) }
	good := jaas(quorumJAAS)
	for _, c := range []struct {
		lines []string
		props []Property
		want  string
	}{
		{[]string{"quorum.auth.serverRequireSasl=true", "quorum.auth.learnerRequireSasl=true"}, good,
			"zoo.cfg:8: quorum.auth.serverRequireSasl: quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.serverRequireSasl"},
		{[]string{"quorum.auth.learnerRequireSasl=true"}, good,
			"zoo.cfg:8: quorum.auth.learnerRequireSasl: quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.learnerRequireSasl"},
		{[]string{"quorum.auth.enableSasl=true", "quorum.auth.serverRequireSasl=true"}, good,
			"zoo.cfg:9: quorum.auth.serverRequireSasl: quorum.auth.learnerRequireSasl is disabled, so cannot enable quorum.auth.serverRequireSasl"},
		{[]string{"quorum.auth.enableSasl=yes"}, good, `zoo.cfg:8: quorum.auth.enableSasl: "yes" is not a boolean`},
		{[]string{"quorum.auth.enableSasl=true", "quorum.auth.server.saslLoginContext="}, good, "zoo.cfg:9: quorum.auth.server.saslLoginContext: empty JAAS section name"},
		{[]string{"quorum.auth.enablesasl=true"}, good, "zoo.cfg:8: quorum.auth.enablesasl: unknown quorum SASL key"},
		{[]string{"quorum.auth.enableSasl=true"}, nil, "zoo.cfg:8: quorum.auth.enableSasl: quorum SASL needs a JAAS file with the QuorumServer and QuorumLearner sections"},
		{[]string{"quorum.auth.enableSasl=true", "quorum.auth.learner.saslLoginContext=Nope"}, good,
			"jaas.conf: the JAAS configuration section 'Nope' could not be found, and zoo.cfg:8 sets quorum.auth.enableSasl=true"},
		{[]string{"quorum.auth.enableSasl=true"}, jaas("QuorumLearner { org.apache.zookeeper.server.auth.DigestLoginModule required username=\"a\" password=\"b\"; };"),
			"the JAAS configuration section 'QuorumServer' could not be found"},
		{[]string{"quorum.auth.enableSasl=true"}, jaas("QuorumServer { org.apache.zookeeper.server.auth.DigestLoginModule required; };\nQuorumLearner { org.apache.zookeeper.server.auth.DigestLoginModule required username=\"a\" password=\"b\"; };"),
			"section QuorumServer has no user_NAME=\"password\" option"},
		{[]string{"quorum.auth.enableSasl=true"}, jaas("QuorumServer { org.apache.zookeeper.server.auth.DigestLoginModule required user_a=\"b\"; };\nQuorumLearner {\n org.apache.zookeeper.server.auth.DigestLoginModule required\n username=\"a\";\n};"),
			"jaas.conf:3: section QuorumLearner: org.apache.zookeeper.server.auth.DigestLoginModule needs a username and a password option"},
		{[]string{"quorum.auth.enableSasl=true"}, jaas("QuorumServer {\n com.sun.security.auth.module.Krb5LoginModule required keyTab=\"/k\" principal=\"zkquorum/a@R\";\n};\nQuorumLearner { org.apache.zookeeper.server.auth.DigestLoginModule required username=\"a\" password=\"b\"; };"),
			"jaas.conf:2: section QuorumServer: com.sun.security.auth.module.Krb5LoginModule: section QuorumLearner has no com.sun.security.auth.module.Krb5LoginModule: a member's learner speaks GSSAPI or DIGEST-MD5 as its own section says"},
		{[]string{"quorum.auth.enableSasl=true"}, jaas("QuorumServer { org.apache.zookeeper.server.auth.DigestLoginModule required user_a=\"b\"; };\nQuorumLearner {\n com.sun.security.auth.module.Krb5LoginModule required;\n};"),
			"jaas.conf:3: section QuorumLearner: com.sun.security.auth.module.Krb5LoginModule: section QuorumServer has no com.sun.security.auth.module.Krb5LoginModule"},
		{nil, flags("quorum.auth.enableSasl=true"),
			"$SERVER_JVMFLAGS: -Dquorum.auth.enableSasl: ZooKeeper reads quorum.auth.enableSasl from zoo.cfg only, never as a system property"},
		{nil, flags("quorum.auth.kerberos.servicePrincipal=zk/_HOST"), "-Dquorum.auth.kerberos.servicePrincipal: ZooKeeper reads"},
	} {
		_, err := parseWith(t, ensembleCfg(c.lines...), c.props)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %v:\nerror %v\nwant  %q", c.lines, c.props, err, c.want)
		}
	}
	// A service principal beside DIGEST-MD5 sections has no effect: said.
	cfg, err := parseWith(t, ensembleCfg("quorum.auth.enableSasl=true", "quorum.auth.kerberos.servicePrincipal=zkquorum/_HOST"), good)
	if err != nil || cfg.QuorumSASL == nil || cfg.QuorumSASL.Kerberos != nil || len(cfg.Warnings) == 0 ||
		!strings.Contains(cfg.Warnings[len(cfg.Warnings)-1].String(), "zoo.cfg:9: quorum.auth.kerberos.servicePrincipal: no effect: the QuorumServer and QuorumLearner sections use DIGEST-MD5") {
		t.Errorf("service principal with DIGEST-MD5: %v, warnings %v", err, cfg.Warnings)
	}
	// A flag that asks for nothing is ignored with a warning.
	cfg, err = parseWith(t, ensembleCfg(), flags("quorum.auth.learner.saslLoginContext=X"))
	if err != nil || len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].String(), "ZooKeeper reads quorum.auth.learner.saslLoginContext from zoo.cfg only; ignored") {
		t.Errorf("harmless flag: %v, warnings %v", err, cfg.Warnings)
	}
}
