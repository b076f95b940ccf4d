package zoocfg

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// flags makes -D properties as JVMFlags returns them, all from
// $SERVER_JVMFLAGS.
func flags(kv ...string) []Property {
	var out []Property
	for _, s := range kv {
		name, value, _ := strings.Cut(s, "=")
		out = append(out, Property{Name: name, Value: value, File: "$SERVER_JVMFLAGS"})
	}
	return out
}

func parseWith(t *testing.T, cfg string, props []Property) (*Config, error) {
	t.Helper()
	return Parse(strings.NewReader(cfg), "zoo.cfg", props)
}

// TestSystemPropertiesUsed: each property paddock implements takes
// effect, from a -D flag and from zoo.cfg (without "zookeeper.") alike.
func TestSystemPropertiesUsed(t *testing.T) {
	tests := []struct {
		prop  string // -D form
		check func(*Config) bool
	}{
		{"zookeeper.extendedTypesEnabled=true", func(c *Config) bool { return c.ExtendedTypes }},
		{"zookeeper.DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
			func(c *Config) bool { return c.SuperDigest == "super:D/InIHSb7yEEbrWz8b9l71RjZJU=" }},
		{"zookeeper.DigestAuthenticationProvider.digestAlg=SHA1", func(c *Config) bool { return true }},
		{"zookeeper.DigestAuthenticationProvider.enabled=true", func(c *Config) bool { return true }},
		{"zookeeper.4lw.commands.whitelist=ruok,stat", func(c *Config) bool {
			return reflect.DeepEqual(c.FourLetterWords, []string{"ruok", "stat", "srvr"})
		}},
		{"zookeeper.enforceQuota=true", func(c *Config) bool { return c.EnforceQuota }},
		{"zookeeper.maxCnxns=7", func(c *Config) bool { return c.MaxCnxns == 7 }},
		{"zookeeper.maxCnxns=-3", func(c *Config) bool { return c.MaxCnxns == 0 }},
		{"zookeeper.globalOutstandingLimit=50", func(c *Config) bool { return c.MaxOutstanding == 50 }},
		{"zookeeper.globalOutstandingLimit=0", func(c *Config) bool { return c.MaxOutstanding == 1 }},
		{"zookeeper.nio.sessionlessCnxnTimeout=2500", func(c *Config) bool { return c.SessionlessTimeout == 2500*time.Millisecond }},
		{"zookeeper.snapCount=5000", func(c *Config) bool { return c.SnapCount == 5000 }},
		{"zookeeper.commitLogCount=20", func(c *Config) bool { return c.CommitLogCount == 20 }},
		{"zookeeper.admin.serverPort=9090", func(c *Config) bool { return c.Admin.Port == 9090 }},
		{"zookeeper.sessionRequireClientSASLAuth=false", func(c *Config) bool { return true }},
		{"zookeeper.enforce.auth.enabled=false", func(c *Config) bool { return true }},
		{"zookeeper.skipACL=no", func(c *Config) bool { return true }},
		{"zookeeper.connection_throttle_tokens=0", func(c *Config) bool { return true }},
		{"zookeeper.largeRequestThreshold=-1", func(c *Config) bool { return true }},
	}
	for _, tt := range tests {
		name, value, _ := strings.Cut(tt.prop, "=")
		t.Run("flag "+name+"="+value, func(t *testing.T) {
			c, err := parseWith(t, "", flags(tt.prop))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("-D%s had no effect: %+v", tt.prop, c)
			}
		})
		t.Run("zoo.cfg "+name+"="+value, func(t *testing.T) {
			c, err := parseWith(t, strings.TrimPrefix(tt.prop, "zookeeper."), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("zoo.cfg %s had no effect: %+v", tt.prop, c)
			}
		})
	}
}

// TestSystemPropertiesOnlyAsFlags: properties ZooKeeper reads under a
// name that no zoo.cfg key becomes (no "zookeeper." prefix).
func TestSystemPropertiesOnlyAsFlags(t *testing.T) {
	c, err := parseWith(t, "", flags("jute.maxbuffer=0x200000", "readonlymode.enabled=true",
		"znode.container.checkIntervalMs=500", "znode.container.maxPerMinute=60",
		"znode.container.maxNeverUsedIntervalMs=1000"))
	if err != nil {
		t.Fatal(err)
	}
	if c.JuteMaxBuffer != 2<<20 || !reflect.DeepEqual(c.FourLetterWords, []string{"srvr", "isro"}) ||
		c.Container != (Container{500 * time.Millisecond, 60, time.Second}) {
		t.Errorf("parsed %+v", c)
	}
	// In zoo.cfg they become zookeeper.<key>, which ZooKeeper never reads.
	c, err = parseWith(t, "readonlymode.enabled=true\nznode.container.checkIntervalMs=500\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.FourLetterWords) != 1 || c.Container.CheckInterval != 0 {
		t.Errorf("zoo.cfg keys ZooKeeper ignores took effect: %+v", c)
	}
	if len(c.Warnings) != 2 || !strings.Contains(c.Warnings[0].String(), "zoo.cfg:1: readonlymode.enabled: unknown key; ignored") {
		t.Errorf("warnings %v", c.Warnings)
	}
}

// TestSystemPropertyPrecedence: zoo.cfg overrides a -D flag of the same
// property (QuorumPeerConfig's System.setProperty, checked against
// ZooKeeper 3.8.0: a zoo.cfg 4lw.commands.whitelist wins over the flag);
// a later flag overrides an earlier one; -Djute.maxbuffer beats zoo.cfg's
// jute.maxbuffer, the only one of the two that ZooKeeper reads.
func TestSystemPropertyPrecedence(t *testing.T) {
	props := append(flags("zookeeper.4lw.commands.whitelist=ruok,stat", "zookeeper.snapCount=10", "zookeeper.snapCount=20"),
		Property{Name: "jute.maxbuffer", Value: "4194304", File: "/conf/java.env", Line: 3})
	c, err := parseWith(t, "4lw.commands.whitelist=mntr\njute.maxbuffer=2097152\n", props)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.FourLetterWords, []string{"mntr", "srvr"}) || c.SnapCount != 20 || c.JuteMaxBuffer != 4<<20 {
		t.Errorf("whitelist %v snapCount %d maxbuffer %d", c.FourLetterWords, c.SnapCount, c.JuteMaxBuffer)
	}
	want := []string{
		"zoo.cfg:1: 4lw.commands.whitelist: overrides -Dzookeeper.4lw.commands.whitelist=ruok,stat from $SERVER_JVMFLAGS",
		"zoo.cfg:2: jute.maxbuffer: overridden by -Djute.maxbuffer=4194304 from /conf/java.env",
	}
	if len(c.Warnings) != len(want) {
		t.Fatalf("warnings %v", c.Warnings)
	}
	for i, w := range want {
		if !strings.HasPrefix(c.Warnings[i].String(), w) {
			t.Errorf("warning %d = %q, want prefix %q", i, c.Warnings[i], w)
		}
	}
}

// TestSecuritySettingsRefused: every setting that asks for
// authentication, authorisation, encryption or a limit paddock does not
// have stops the start, with a message naming it, from zoo.cfg and from
// -D flags alike.
func TestSecuritySettingsRefused(t *testing.T) {
	props := []string{
		"zookeeper.authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider",
		"zookeeper.authProvider.2=com.example.MyAuth",
		"zookeeper.security.auth_to_local=RULE:[1:$1]",
		"zookeeper.kerberos.canonicalizeHostNames=true",
		"zookeeper.letAnySaslUserDoX=x",
		"zookeeper.ensembleAuthName=zk1",
		"zookeeper.X509AuthenticationProvider.superUser=CN=admin",
		"zookeeper.ssl.keyStore.location=/k.jks",
		"zookeeper.ssl.clientAuth=need",
		"zookeeper.ssl.quorum.trustStore.location=/t.jks",
		"zookeeper.client.portUnification=true",
		"zookeeper.admin.portUnification=true",
		"zookeeper.admin.forceHttps=true",
		"zookeeper.serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
		"zookeeper.serverCnxnFactory=com.example.Factory",
		"zookeeper.skipACL=yes",
		"zookeeper.enableEagerACLCheck=true",
		"zookeeper.audit.enable=true",
		"zookeeper.emulate353TTLNodes=true",
		"zookeeper.DigestAuthenticationProvider.digestAlg=SHA-256",
		"zookeeper.DigestAuthenticationProvider.enabled=false",
		"zookeeper.request_throttle_max_requests=100",
		"zookeeper.throttled_op_wait_time=5",
		"zookeeper.connection_throttle_tokens=10",
		"zookeeper.largeRequestThreshold=1000",
	}
	for _, prop := range props {
		name, _, _ := strings.Cut(prop, "=")
		t.Run("flag "+prop, func(t *testing.T) {
			_, err := parseWith(t, "", flags(prop))
			wantRefused(t, err, "$SERVER_JVMFLAGS: -D"+name+": ")
		})
		key := strings.TrimPrefix(prop, "zookeeper.")
		t.Run("zoo.cfg "+key, func(t *testing.T) {
			_, err := parseWith(t, "tickTime=2000\n"+key+"\n", nil)
			k, _, _ := strings.Cut(key, "=")
			wantRefused(t, err, "zoo.cfg:2: "+k+": ")
		})
	}
	// QuorumPeerConfig's own keys, zoo.cfg only.
	for _, line := range []string{
		"secureClientPort=2281", "secureClientPortAddress=0.0.0.0", "sslQuorum=true",
		"sslQuorumReloadCertFiles=true", "portUnification=true",
	} {
		t.Run("zoo.cfg "+line, func(t *testing.T) {
			_, err := parseWith(t, "clientPort=2181\n"+line+"\n", nil)
			k, _, _ := strings.Cut(line, "=")
			wantRefused(t, err, "zoo.cfg:2: "+k+": ")
		})
	}
}

func wantRefused(t *testing.T, err error, prefix string) {
	t.Helper()
	var e *Error
	if err == nil || !errors.As(err, &e) {
		t.Fatalf("error %v, want a refusal starting %q", err, prefix)
	}
	if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), "is not supported by paddock yet") {
		t.Errorf("error %q, want it to start %q and say paddock does not support it yet", err, prefix)
	}
}

// TestTLSOnlyConfigRefused is issue 17's zoo.cfg: TLS only, no clientPort.
// ZooKeeper would listen on the TLS port alone; paddock must not start,
// and never on a plain port the file did not ask for.
func TestTLSOnlyConfigRefused(t *testing.T) {
	_, err := parseWith(t, `dataDir=/d
secureClientPort=2281
ssl.keyStore.location=/k.jks
ssl.clientAuth=need
`, nil)
	for _, want := range []string{"zoo.cfg:2: secureClientPort: TLS", "zoo.cfg:3: ssl.keyStore.location: TLS", "zoo.cfg:4: ssl.clientAuth: TLS"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	}
}

// TestSystemPropertiesAccepted: the default or harmless values of the
// guarded settings, and settings without effect, start with at most a
// warning.
func TestSystemPropertiesAccepted(t *testing.T) {
	c, err := parseWith(t, "", flags(
		"zookeeper.authProvider.1=org.apache.zookeeper.server.auth.DigestAuthenticationProvider",
		"zookeeper.serverCnxnFactory=org.apache.zookeeper.server.NIOServerCnxnFactory",
		"zookeeper.forceSync=no",
		"zookeeper.nio.numWorkerThreads=8",
		"zookeeper.connection_throttle_fill_time=5",
		"zookeeper.leaderServes=yes",
		"zookeeper.sasl.client=false",
		"zookeeper.log.dir=/var/log/zk",
		"zookeeper.flurb=1",
		"log4j.configuration=file:/conf/log4j.properties",
		"zookeeper.sslQuorum=true", // not a property ZooKeeper reads: unknown, not TLS
	))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"$SERVER_JVMFLAGS: -Dzookeeper.authProvider.1: built into paddock; no effect",
		"$SERVER_JVMFLAGS: -Dzookeeper.serverCnxnFactory: paddock has its own transport; no effect",
		"$SERVER_JVMFLAGS: -Dzookeeper.forceSync: ZooKeeper setting has no effect in paddock (paddock always fsyncs its log)",
		"$SERVER_JVMFLAGS: -Dzookeeper.nio.numWorkerThreads: ZooKeeper setting has no effect",
		"$SERVER_JVMFLAGS: -Dzookeeper.connection_throttle_fill_time: ZooKeeper setting has no effect",
		"$SERVER_JVMFLAGS: -Dzookeeper.leaderServes: ZooKeeper setting has no effect in paddock (single node)",
		"$SERVER_JVMFLAGS: -Dzookeeper.sasl.client: ZooKeeper setting has no effect in paddock (a client setting)",
		"$SERVER_JVMFLAGS: -Dzookeeper.log.dir: ZooKeeper setting has no effect in paddock (paddock logs to standard error",
		"$SERVER_JVMFLAGS: -Dzookeeper.flurb: unknown system property; ignored",
		"$SERVER_JVMFLAGS: -Dlog4j.configuration: unknown system property; ignored",
		"$SERVER_JVMFLAGS: -Dzookeeper.sslQuorum: unknown system property; ignored",
	}
	if len(c.Warnings) != len(want) {
		t.Fatalf("warnings:\n%v", c.Warnings)
	}
	for i, w := range want {
		if !strings.HasPrefix(c.Warnings[i].String(), w) {
			t.Errorf("warning %d = %q, want prefix %q", i, c.Warnings[i], w)
		}
	}
}

// TestSystemPropertiesMalformed: a value that does not parse is an error
// naming where it was given.
func TestSystemPropertiesMalformed(t *testing.T) {
	tests := []struct{ prop, want string }{
		{"zookeeper.extendedTypesEnabled=yes", `-Dzookeeper.extendedTypesEnabled: "yes" is not a boolean`},
		{"zookeeper.enforceQuota=", `-Dzookeeper.enforceQuota: "" is not a boolean`},
		{"zookeeper.maxCnxns=many", `-Dzookeeper.maxCnxns: "many" is not an integer`},
		{"zookeeper.globalOutstandingLimit=1e3", `"1e3" is not an integer`},
		{"zookeeper.nio.sessionlessCnxnTimeout=0", "must be positive"},
		{"zookeeper.snapCount=x", `"x" is not an integer`},
		{"zookeeper.commitLogCount=x", `"x" is not an integer`},
		{"zookeeper.commitLogCount=0", "must be positive, got 0"},
		{"zookeeper.commitLogCount=-5", "must be positive, got -5"},
		{"zookeeper.commitLogCount=99999999999", `is not an integer`},
		{"jute.maxbuffer=-1", `-Djute.maxbuffer: "-1" is not a positive integer`},
		{"zookeeper.DigestAuthenticationProvider.superDigest=nocolon", "want user:base64digest"},
		{"zookeeper.skipACL=true", `"true": want yes or no`},
		{"zookeeper.sessionRequireClientSASLAuth=maybe", "not a boolean"},
		{"zookeeper.connection_throttle_tokens=lots", "not an integer"},
		{"readonlymode.enabled=1", "not a boolean"},
		{"znode.container.checkIntervalMs=-5", "must be positive"},
		{"znode.container.maxPerMinute=0", "must be positive"},
		{"znode.container.maxNeverUsedIntervalMs=soon", "not a non-negative integer"},
		{"zookeeper.admin.serverPort=70000", "out of range"},
		{"zookeeper.admin.commandURL=cmds", "must start with /"},
	}
	for _, tt := range tests {
		t.Run(tt.prop, func(t *testing.T) {
			p := flags(tt.prop)
			p[0].File, p[0].Line = "/conf/java.env", 4
			_, err := parseWith(t, "", p)
			if err == nil || !strings.HasPrefix(err.Error(), "/conf/java.env:4: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want /conf/java.env:4: ... %q", err, tt.want)
			}
		})
	}
}

// TestFromProperties: without a zoo.cfg the flags still apply, and
// still refuse.
func TestFromProperties(t *testing.T) {
	c, err := FromProperties(flags("zookeeper.extendedTypesEnabled=true"))
	if err != nil || !c.ExtendedTypes || c.ClientAddr() != "" {
		t.Errorf("FromProperties: %+v, %v", c, err)
	}
	if _, err := FromProperties(flags("zookeeper.enforce.auth.enabled=true")); err == nil {
		t.Error("enforce.auth.enabled accepted without a zoo.cfg")
	}
}

func TestLookupProperty(t *testing.T) {
	for name, want := range map[string]string{
		"zookeeper.ssl.quorum.keyStore.location":      "zookeeper.ssl.",
		"zookeeper.request_throttle_max_requests":     "zookeeper.request_throttle_max_requests",
		"zookeeper.request_throttle_stall_time":       "zookeeper.request_throttle_*",
		"zookeeper.request_throttler.shutdownTimeout": "zookeeper.request_throttler.",
		"zookeeper.jute.maxbuffer.extrasize":          "zookeeper.jute.maxbuffer.extrasize",
		"zookeeper.sasl.clientconfig":                 "zookeeper.sasl.client*",
		"zookeeper.sasl.serverconfig":                 "zookeeper.sasl.serverconfig",
		"zookeeper.nio.sessionlessCnxnTimeout":        "zookeeper.nio.sessionlessCnxnTimeout",
		"zookeeper.nio.numSelectorThreads":            "zookeeper.nio.",
	} {
		sp := lookupProperty(name)
		if sp == nil || sp.Name != want {
			t.Errorf("lookupProperty(%q) = %v, want %q", name, sp, want)
		}
	}
	for _, name := range []string{"zookeeper.nonsense", "zookeeper", "zookeeper.ssl", "java.home"} {
		if sp := lookupProperty(name); sp != nil {
			t.Errorf("lookupProperty(%q) = %q, want none", name, sp.Name)
		}
	}
}
