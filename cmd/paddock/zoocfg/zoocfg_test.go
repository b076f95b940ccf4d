package zoocfg

import (
	_ "embed"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire"
)

func parse(t *testing.T, in string) (*Config, error) {
	t.Helper()
	return Parse(strings.NewReader(in), "zoo.cfg", nil)
}

func mustParse(t *testing.T, in string) *Config {
	t.Helper()
	c, err := parse(t, in)
	if err != nil {
		t.Fatalf("Parse(%q): %v", in, err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, "")
	if c.TickTime != 2*time.Second || c.MinSessionTimeout != 4*time.Second || c.MaxSessionTimeout != 40*time.Second {
		t.Errorf("timeouts = %v %v %v", c.TickTime, c.MinSessionTimeout, c.MaxSessionTimeout)
	}
	if c.ClientAddr() != "" || c.MaxClientCnxns != 60 || c.DataDir != "" {
		t.Errorf("client %q cnxns %d dataDir %q", c.ClientAddr(), c.MaxClientCnxns, c.DataDir)
	}
	if !reflect.DeepEqual(c.FourLetterWords, []string{"srvr"}) || c.JuteMaxBuffer != wire.DefaultMaxPacket {
		t.Errorf("4lw %v maxbuffer %d", c.FourLetterWords, c.JuteMaxBuffer)
	}
	if !c.StandaloneEnabled || c.ReconfigEnabled || !c.Admin.Enabled || c.Admin.Port != 8080 ||
		c.Metrics.HTTPPort != 7000 || c.Autopurge.SnapRetainCount != 3 || c.SnapCount != 100000 {
		t.Errorf("defaults: %+v", c)
	}
	if len(c.Warnings) != 0 || c.Distributed() {
		t.Errorf("warnings %v distributed %v", c.Warnings, c.Distributed())
	}
}

func TestParseKeys(t *testing.T) {
	c := mustParse(t, `
tickTime=500
dataDir=/var/lib/zk
dataLogDir : /var/log/zk
clientPort=2281
clientPortAddress=[::1]
maxClientCnxns=0
4lw.commands.whitelist=ruok, mntr ,srvr,ruok
jute.maxbuffer=0x400000
extendedTypesEnabled=TRUE
DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=
snapCount=5000
initLimit=10
syncLimit=5
reconfigEnabled=true
standaloneEnabled=false
admin.enableServer=false
admin.serverAddress=127.0.0.1
admin.serverPort=9090
admin.commandURL=/cmds
metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
metricsProvider.httpPort=7001
metricsProvider.exportJvmInfo=true
autopurge.snapRetainCount=5
autopurge.purgeInterval=24
server.3=zk3:2888:3888:observer;2181
server.1=zk1:2888:3888
server.2=[fe80::1]:2888:3888:participant;10.0.0.2:2182
`)
	if c.TickTime != 500*time.Millisecond || c.MinSessionTimeout != time.Second || c.MaxSessionTimeout != 10*time.Second {
		t.Errorf("timeouts = %v %v %v", c.TickTime, c.MinSessionTimeout, c.MaxSessionTimeout)
	}
	if c.DataDir != "/var/lib/zk" || c.DataLogDir != "/var/log/zk" {
		t.Errorf("dirs %q %q", c.DataDir, c.DataLogDir)
	}
	if c.ClientAddr() != "[::1]:2281" || c.MaxClientCnxns != 0 {
		t.Errorf("client %q cnxns %d", c.ClientAddr(), c.MaxClientCnxns)
	}
	if !reflect.DeepEqual(c.FourLetterWords, []string{"ruok", "mntr", "srvr"}) {
		t.Errorf("4lw %q", c.FourLetterWords)
	}
	if c.JuteMaxBuffer != 4<<20 || !c.ExtendedTypes || c.SuperDigest != "super:D/InIHSb7yEEbrWz8b9l71RjZJU=" || c.SnapCount != 5000 {
		t.Errorf("maxbuffer %d ext %v digest %q snap %d", c.JuteMaxBuffer, c.ExtendedTypes, c.SuperDigest, c.SnapCount)
	}
	if c.InitLimit != 10 || c.SyncLimit != 5 || !c.ReconfigEnabled || c.StandaloneEnabled {
		t.Errorf("quorum %+v", c)
	}
	if want := (Admin{false, "127.0.0.1", 9090, "/cmds"}); c.Admin != want {
		t.Errorf("admin %+v", c.Admin)
	}
	if c.Metrics.ClassName == "" || c.Metrics.HTTPPort != 7001 || c.Metrics.HTTPHost != "0.0.0.0" ||
		c.Metrics.Props["exportJvmInfo"] != "true" {
		t.Errorf("metrics %+v", c.Metrics)
	}
	if c.Autopurge != (Autopurge{5, 24}) {
		t.Errorf("autopurge %+v", c.Autopurge)
	}
	want := []Server{
		{ID: 1, Host: "zk1", QuorumPort: 2888, ElectionPort: 3888, Line: 27},
		{ID: 2, Host: "fe80::1", QuorumPort: 2888, ElectionPort: 3888, ClientAddr: "10.0.0.2:2182", Line: 28},
		{ID: 3, Host: "zk3", QuorumPort: 2888, ElectionPort: 3888, Role: Observer, ClientAddr: "0.0.0.0:2181", Line: 26},
	}
	if !reflect.DeepEqual(c.Servers, want) {
		t.Errorf("servers\n got %+v\nwant %+v", c.Servers, want)
	}
	if c.Servers[1].QuorumAddr() != "[fe80::1]:2888" || c.Servers[0].ElectionAddr() != "zk1:3888" {
		t.Errorf("addrs %s %s", c.Servers[1].QuorumAddr(), c.Servers[0].ElectionAddr())
	}
	if !c.Distributed() {
		t.Error("not distributed")
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %v", c.Warnings)
	}
}

func TestParseSpecialValues(t *testing.T) {
	tests := []struct {
		name, in string
		check    func(*Config) bool
	}{
		{"4lw star", "4lw.commands.whitelist=srvr, *", func(c *Config) bool { return reflect.DeepEqual(c.FourLetterWords, []string{"*"}) }},
		{"4lw empty is srvr", "4lw.commands.whitelist=", func(c *Config) bool { return reflect.DeepEqual(c.FourLetterWords, []string{"srvr"}) }},
		{"4lw srvr always", "4lw.commands.whitelist=ruok", func(c *Config) bool { return reflect.DeepEqual(c.FourLetterWords, []string{"ruok", "srvr"}) }},
		{"session timeout -1 is default", "tickTime=100\nminSessionTimeout=-1\nmaxSessionTimeout=-1",
			func(c *Config) bool {
				return c.MinSessionTimeout == 200*time.Millisecond && c.MaxSessionTimeout == 2*time.Second
			}},
		{"explicit timeouts", "minSessionTimeout=1000\nmaxSessionTimeout=1000",
			func(c *Config) bool { return c.MinSessionTimeout == time.Second && c.MaxSessionTimeout == time.Second }},
		{"clientPort 0 is no client port", "clientPort=0", func(c *Config) bool { return c.ClientAddr() == "" }},
		{"clientPort alone", "clientPort=2181", func(c *Config) bool { return c.ClientAddr() == ":2181" }},
		{"jute decimal", "jute.maxbuffer=4194304", func(c *Config) bool { return c.JuteMaxBuffer == 4<<20 }},
		{"one participant is standalone", "server.1=localhost:2888:3888", func(c *Config) bool { return !c.Distributed() && len(c.Servers) == 1 }},
		{"purgeInterval negative disables", "autopurge.purgeInterval=-3", func(c *Config) bool { return c.Autopurge.PurgeInterval == 0 }},
		{"duplicate key last wins", "tickTime=100\ntickTime=300", func(c *Config) bool { return c.TickTime == 300*time.Millisecond }},
		{"duplicate server last wins", "server.1=a:1:2\nserver.1=b:1:2", func(c *Config) bool { return len(c.Servers) == 1 && c.Servers[0].Host == "b" }},
		{"enforce auth off", "enforce.auth.enabled=false", func(c *Config) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c := mustParse(t, tt.in); !tt.check(c) {
				t.Errorf("Parse(%q) = %+v", tt.in, c)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // each must appear in the error
	}{
		{"bad integer", "tickTime=2s", []string{"zoo.cfg:1: tickTime:", `"2s" is not an integer`}},
		{"int overflow", "clientPort=99999999999", []string{"zoo.cfg:1: clientPort:"}},
		{"zero tickTime", "\ntickTime=0", []string{"zoo.cfg:2: tickTime: must be positive"}},
		{"negative tickTime", "tickTime=-5", []string{"zoo.cfg:1: tickTime: must be positive"}},
		{"min > max", "minSessionTimeout=5000\nmaxSessionTimeout=4000", []string{"zoo.cfg:2:", "must not be larger than maxSessionTimeout"}},
		{"min > default max", "tickTime=100\nminSessionTimeout=5000", []string{"zoo.cfg:2:", "must not be larger"}},
		{"negative timeout", "maxSessionTimeout=-2", []string{"zoo.cfg:1: maxSessionTimeout: must not be negative"}},
		{"negative cnxns", "maxClientCnxns=-1", []string{"maxClientCnxns: must not be negative"}},
		{"port range", "clientPort=70000", []string{"clientPort: port 70000 out of range"}},
		{"bad bool", "standaloneEnabled=yes", []string{"standaloneEnabled:", "not a boolean"}},
		{"empty dataDir", "dataDir=", []string{"zoo.cfg:1: dataDir: empty path"}},
		{"bad jute", "jute.maxbuffer=0", []string{"jute.maxbuffer:"}},
		{"bad superDigest", "DigestAuthenticationProvider.superDigest=nocolon", []string{"superDigest: want user:base64digest"}},
		{"bad commandURL", "admin.commandURL=commands", []string{"must start with /"}},
		{"enforce auth", "enforce.auth.enabled=true", []string{"zoo.cfg:1: enforce.auth.enabled: zookeeper.enforce.auth.enabled is true: zookeeper.enforce.auth.schemes must be configured"}},
		{"clientPortAddress alone", "clientPortAddress=127.0.0.1", []string{"zoo.cfg:1: clientPortAddress: clientPortAddress is set but clientPort is not set"}},
		{"clientPortAddress with clientPort 0", "clientPort=0\nclientPortAddress=::1", []string{"zoo.cfg:2: clientPortAddress: clientPortAddress is set but clientPort is not set"}},
		{"server id", "server.x=a:1:2", []string{`zoo.cfg:1: server.x: server id "x"`}},
		{"server id zero", "server.0=a:1:2", []string{"server.0: server id"}},
		{"server id above 255", "server.256=a:1:2", []string{`server.256: server id "256" must be an integer from 1 to 255`}},
		{"server id huge", "server.4294967297=a:1:2", []string{`server id "4294967297"`}},
		{"server too few parts", "server.1=a:2888", []string{"server.1:", "want host:quorumPort:electionPort"}},
		{"server too many parts", "server.1=a:1:2:observer:x", []string{"want host:quorumPort"}},
		{"server bad port", "server.1=a:x:3888", []string{`port "x" must be an integer`}},
		{"server port zero", "server.1=a:0:3888", []string{`port "0"`}},
		{"server same ports", "server.1=a:2888:2888", []string{"quorum and election ports must differ"}},
		{"server role", "server.1=a:1:2:leader", []string{`unknown role "leader"`}},
		{"server empty host", "server.1=:1:2", []string{"empty host"}},
		{"server client", "server.1=a:1:2;x:y:z", []string{"client address"}},
		{"server client port", "server.1=a:1:2;h:x", []string{`port "x"`}},
		{"server two semicolons", "server.1=a:1:2;1;2", []string{"want host:quorumPort"}},
		{"server bracket", "server.1=[::1:1:2", []string{"want host:quorumPort"}},
		{"server multi address", "server.1=a:1:2|b:1:2", []string{"multiple addresses"}},
		{"server same id", "server.1=a:1:2\nserver.01=b:1:2", []string{"zoo.cfg:2: server.01: server id 1 is already given on line 1"}},
		{"observers only", "server.1=a:1:2:observer", []string{"observers without participants"}},
		{"standalone off without servers", "standaloneEnabled=false", []string{"standaloneEnabled: false needs"}},
		{"ensemble without limits", "server.1=a:1:2\nserver.2=b:1:2", []string{"initLimit: not set", "syncLimit: not set"}},
		{"bad escape", "a=1\nb=\\u12", []string{`zoo.cfg:2: b: malformed \uxxxx`}},
		{"no key", "=1", []string{"zoo.cfg:1: line has no key"}},
		{"all errors at once", "tickTime=x\nclientPort=y", []string{"zoo.cfg:1: tickTime", "zoo.cfg:2: clientPort"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(t, tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.in, c)
			}
			var e *Error
			if !errors.As(err, &e) || e.File != "zoo.cfg" {
				t.Errorf("error %v is not a *Error naming the file", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse(%q) error\n%v\nwant it to contain %q", tt.in, err, w)
				}
			}
		})
	}
}

func TestParseWarnings(t *testing.T) {
	c := mustParse(t, `dataDir=relative/dir
tickTime=100
tickTime=200
flurb=1
localSessionsEnabled=true
forceSync=no
group.1=1:2:3
4lw.commands.whitelist=srvr,nope
autopurge.snapRetainCount=1
snapCount=1
server.1=localhost:2888:3888
`)
	want := []string{
		`zoo.cfg:1: dataDir: relative path "relative/dir"`,
		"zoo.cfg:3: tickTime: duplicate key: this line overrides line 2",
		"zoo.cfg:4: flurb: unknown key; ignored",
		"zoo.cfg:5: localSessionsEnabled: ZooKeeper setting has no effect in paddock; ignored",
		"zoo.cfg:6: forceSync: ZooKeeper setting has no effect in paddock (paddock always fsyncs its log); ignored",
		"zoo.cfg:7: group.1: hierarchical quorums are not supported",
		`zoo.cfg:8: 4lw.commands.whitelist: unknown four-letter word "nope"`,
		"zoo.cfg:9: autopurge.snapRetainCount: 1 is below 3, using 3",
		"zoo.cfg:10: snapCount: 1 is below 2, using 2",
		"zoo.cfg:11: only one participant",
	}
	var got []string
	for _, w := range c.Warnings {
		got = append(got, w.String())
	}
	if len(got) != len(want) {
		t.Fatalf("warnings:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("warning %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
	if c.Autopurge.SnapRetainCount != 3 || c.SnapCount != 2 || !reflect.DeepEqual(c.FourLetterWords, []string{"srvr"}) {
		t.Errorf("clamped values: %+v", c)
	}
}

//go:embed testdata/zoo_sample.cfg
var sampleCfg string

// TestZooKeeperSample parses the zoo.cfg that ZooKeeper's packaging ships
// (Debian's /etc/zookeeper/conf/zoo.cfg when installed) and our own copy
// of the same shape.
func TestZooKeeperSample(t *testing.T) {
	check := func(t *testing.T, c *Config) {
		if c.TickTime != 2*time.Second || c.InitLimit != 10 || c.SyncLimit != 5 || c.ClientPort != 2181 || c.DataDir == "" {
			t.Errorf("parsed %+v", c)
		}
		for _, w := range c.Warnings {
			t.Errorf("unexpected warning: %s", w)
		}
	}
	t.Run("embedded", func(t *testing.T) {
		c := mustParse(t, sampleCfg)
		check(t, c)
		if c.DataDir != "/tmp/zookeeper" || c.MaxClientCnxns != 60 {
			t.Errorf("parsed %+v", c)
		}
	})
	t.Run("system", func(t *testing.T) {
		const path = "/etc/zookeeper/conf/zoo.cfg"
		if _, err := os.Stat(path); err != nil {
			t.Skipf("%s: %v", path, err)
		}
		c, err := ParseFile(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		check(t, c)
	})
}

func TestParseFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(path, []byte("tickTime=1000\nclientPort=x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ParseFile(path, nil)
	if err == nil || !strings.Contains(err.Error(), path+":2: clientPort:") {
		t.Errorf("ParseFile error %v, want it to name %s:2", err, path)
	}
	if _, err := ParseFile(filepath.Join(dir, "missing.cfg"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestReadMyID(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := ReadMyID(dir); ok || err != nil {
		t.Fatalf("no myid: ok=%v err=%v", ok, err)
	}
	for in, want := range map[string]uint64{"3": 3, "7\n": 7, " 12 \nextra": 12, "255": 255} {
		if err := os.WriteFile(filepath.Join(dir, "myid"), []byte(in), 0o644); err != nil {
			t.Fatal(err)
		}
		id, ok, err := ReadMyID(dir)
		if id != want || !ok || err != nil {
			t.Errorf("myid %q: %d %v %v", in, id, ok, err)
		}
	}
	for _, in := range []string{"", "x", "0", "-1", "256", "257", "1000", "4294967297", "1e3", "0x10", "3 4"} {
		if err := os.WriteFile(filepath.Join(dir, "myid"), []byte(in), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ReadMyID(dir); err == nil || !strings.Contains(err.Error(), "must be an integer from 1 to 255") {
			t.Errorf("myid %q: error %v", in, err)
		}
	}
}
