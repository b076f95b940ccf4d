package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paddockdb/paddock/actors"
	"github.com/paddockdb/paddock/cmd/paddock/zoocfg"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func writeCfg(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "zoo.cfg")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAdminServerConfig: zoo.cfg's admin.* keys make the AdminServer's
// listener, on by default as in ZooKeeper; without a zoo.cfg it is on
// only when a -D flag says so.
func TestAdminServerConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts serveOptions
		env  map[string]string
		want *actors.AdminConfig
	}{
		{"zoo.cfg without admin keys", serveOptions{configPath: writeCfg(t, "dataDir=/d\nclientPort=2181\n")}, nil,
			&actors.AdminConfig{Addr: "0.0.0.0:8080", CommandURL: "/commands"}},
		{"zoo.cfg admin keys", serveOptions{configPath: writeCfg(t, "dataDir=/d\nclientPort=2181\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=0\nadmin.commandURL=/cmds\n")}, nil,
			&actors.AdminConfig{Addr: "127.0.0.1:0", CommandURL: "/cmds"}},
		{"zoo.cfg IPv6 address", serveOptions{configPath: writeCfg(t, "dataDir=/d\nclientPort=2181\nadmin.serverAddress=::1\nadmin.serverPort=9090\n")}, nil,
			&actors.AdminConfig{Addr: "[::1]:9090", CommandURL: "/commands"}},
		{"zoo.cfg turns it off", serveOptions{configPath: writeCfg(t, "dataDir=/d\nclientPort=2181\nadmin.enableServer=false\n")}, nil, nil},
		{"JVM flag turns it off", serveOptions{configPath: writeCfg(t, "dataDir=/d\nclientPort=2181\n")},
			map[string]string{"JVMFLAGS": "-Dzookeeper.admin.enableServer=false"}, nil},
		{"no zoo.cfg", serveOptions{}, nil, nil},
		{"no zoo.cfg, JVM flag on", serveOptions{}, map[string]string{"SERVER_JVMFLAGS": "-Dzookeeper.admin.enableServer=true -Dzookeeper.admin.serverPort=9191"},
			&actors.AdminConfig{Addr: "0.0.0.0:9191", CommandURL: "/commands"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := resolveConfig(tt.opts, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			c, err := toActorsConfig(r.zk, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Admin, tt.want) {
				t.Errorf("Admin = %+v, want %+v", c.Admin, tt.want)
			}
		})
	}
}

func TestToActorsConfig(t *testing.T) {
	zk, err := zoocfg.Parse(strings.NewReader(`
tickTime=1000
dataDir=/d
dataLogDir=/l
clientPort=2281
clientPortAddress=10.0.0.1
maxClientCnxns=0
minSessionTimeout=3000
4lw.commands.whitelist=ruok,mntr
jute.maxbuffer=2097152
extendedTypesEnabled=true
DigestAuthenticationProvider.superDigest=super:abc=
snapCount=5000
commitLogCount=50
`), "zoo.cfg", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := toActorsConfig(zk, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := actors.Config{
		DataDir:               "/d",
		DataLogDir:            "/l",
		ClientAddr:            "10.0.0.1:2281",
		TickTime:              time.Second,
		MinSessionTimeout:     3 * time.Second,
		MaxSessionTimeout:     20 * time.Second,
		MaxClientCnxns:        0,
		MaxOutstanding:        1000,
		SessionlessTimeout:    10 * time.Second,
		MaxPacket:             2 << 20,
		FourLetterWords:       []string{"ruok", "mntr", "srvr"},
		Admin:                 &actors.AdminConfig{Addr: "0.0.0.0:8080", CommandURL: "/commands"}, // ZooKeeper's default
		ExtendedTypes:         true,
		SuperDigest:           "super:abc=",
		ContainerMaxPerMinute: 10000,
		SnapCount:             5000,
		LogRetention:          50,
		ServerID:              7,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("toActorsConfig\n got %+v\nwant %+v", got, want)
	}
}

func TestToActorsConfigEdges(t *testing.T) {
	zk := zoocfg.Default()
	zk.DataDir = "/d"
	zk.FourLetterWords = []string{}
	got, err := toActorsConfig(zk, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.DataLogDir != "/d" {
		t.Errorf("DataLogDir = %q, want the data dir", got.DataLogDir)
	}
	if got.FourLetterWords == nil || len(got.FourLetterWords) != 0 {
		t.Errorf("an empty whitelist must stay empty and non-nil, got %#v", got.FourLetterWords)
	}
	zk.ExtendedTypes = true
	if _, err := toActorsConfig(zk, 255, nil); err == nil || !strings.Contains(err.Error(), "at most 254") {
		t.Errorf("server id 255 with extended types: %v", err)
	}
	if _, err := toActorsConfig(zk, 0, nil); err == nil {
		t.Error("server id 0 accepted")
	}
	zk.DataDir = ""
	if _, err := toActorsConfig(zk, 1, nil); err == nil {
		t.Error("empty data dir accepted")
	}
}

func TestResolveConfig(t *testing.T) {
	cfgWithDir := writeCfg(t, "dataDir=/from/cfg\nclientPort=3000\n")
	cfgNoDir := writeCfg(t, "clientPort=3000\n")
	tests := []struct {
		name       string
		opts       serveOptions
		env        map[string]string
		dir, src   string
		clientAddr string
	}{
		{"defaults", serveOptions{}, nil, "paddock-data", "default", "127.0.0.1:2181"},
		{"env", serveOptions{}, map[string]string{dataDirEnv: "/env"}, "/env", "$PADDOCK_DATA_DIR", "127.0.0.1:2181"},
		{"flag beats env", serveOptions{dataDir: "/flag"}, map[string]string{dataDirEnv: "/env"}, "/flag", "--data-dir", "127.0.0.1:2181"},
		{"zoo.cfg", serveOptions{configPath: cfgWithDir}, nil, "/from/cfg", "zoo.cfg dataDir", ":3000"},
		{"env beats zoo.cfg", serveOptions{configPath: cfgWithDir}, map[string]string{dataDirEnv: "/env"}, "/env", "$PADDOCK_DATA_DIR", ":3000"},
		{"zoo.cfg without dataDir", serveOptions{configPath: cfgNoDir}, nil, "paddock-data", "default", ":3000"},
		{"client-addr beats zoo.cfg", serveOptions{configPath: cfgWithDir, clientAddr: "127.0.0.1:0"}, nil, "/from/cfg", "zoo.cfg dataDir", "127.0.0.1:0"},
		{"client-addr ipv6", serveOptions{clientAddr: "[::1]:2182"}, nil, "paddock-data", "default", "[::1]:2182"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := resolveConfig(tt.opts, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if r.zk.DataDir != tt.dir || r.dataDirSource != tt.src || r.zk.ClientAddr() != tt.clientAddr {
				t.Errorf("got dir %q (%s) addr %q, want %q (%s) %q",
					r.zk.DataDir, r.dataDirSource, r.zk.ClientAddr(), tt.dir, tt.src, tt.clientAddr)
			}
		})
	}
}

func TestResolveConfigErrors(t *testing.T) {
	bad := writeCfg(t, "tickTime=soon\n")
	tests := []struct {
		name string
		opts serveOptions
		want string
	}{
		{"bad client-addr", serveOptions{clientAddr: "localhost"}, "--client-addr"},
		{"bad client port", serveOptions{clientAddr: "localhost:http"}, "--client-addr"},
		{"bad file", serveOptions{configPath: bad}, bad + ":1: tickTime"},
		{"missing file", serveOptions{configPath: filepath.Join(t.TempDir(), "nope.cfg")}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolveConfig(tt.opts, env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestServerID(t *testing.T) {
	dir := t.TempDir()
	if id, err := serverID(dir, false); id != defaultServerID || err != nil {
		t.Errorf("no myid: %d %v", id, err)
	}
	if _, err := serverID(dir, true); err == nil || !strings.Contains(err.Error(), "myid is missing") {
		t.Errorf("ensemble member without myid: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if id, err := serverID(dir, true); id != 5 || err != nil {
		t.Errorf("myid 5: %d %v", id, err)
	}
}

// A zoo.cfg with server.N participants maps onto the ensemble's members;
// this server's client address comes from its own line when it has one.
func TestEnsembleConfig(t *testing.T) {
	zk, err := zoocfg.ParseFile(writeCfg(t, "dataDir=/d\nclientPort=2181\ninitLimit=5\nsyncLimit=2\ntickTime=500\n"+
		"server.1=a:2888:3888\nserver.2=b:2889:3889;127.0.0.1:2182\nserver.3=c:2890:3890\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := toActorsConfig(zk, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []actors.Member{{ID: 1, QuorumAddr: "a:2888", ElectionAddr: "a:3888"}, {ID: 2, QuorumAddr: "b:2889", ElectionAddr: "b:3889"}, {ID: 3, QuorumAddr: "c:2890", ElectionAddr: "c:3890"}}
	if !reflect.DeepEqual(cfg.Members, want) || cfg.ClientAddr != "127.0.0.1:2182" || cfg.InitLimit != 5 || cfg.SyncLimit != 2 {
		t.Errorf("members %+v client %q limits %d %d", cfg.Members, cfg.ClientAddr, cfg.InitLimit, cfg.SyncLimit)
	}
	if cfg, _ := toActorsConfig(zk, 1, nil); cfg.ClientAddr != ":2181" {
		t.Errorf("server.1's client address %q, want clientPort's", cfg.ClientAddr)
	}
	if _, err := toActorsConfig(zk, 4, nil); err == nil || !strings.Contains(err.Error(), "no server.4 line") {
		t.Errorf("myid not in the ensemble: %v", err)
	}
	obs, err := zoocfg.ParseFile(writeCfg(t, "dataDir=/d\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n"+
		"server.1=a:2888:3888\nserver.2=b:2888:3888\nserver.3=c:2888:3888:observer\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := toActorsConfig(obs, 1, nil); err == nil || !strings.Contains(err.Error(), "observer") {
		t.Errorf("observer: %v", err)
	}
}

// A myid ZooKeeper's admin guide does not allow (1..255: the server id is
// a session id's top byte) stops serve before anything starts, saying why.
func TestServeRefusesServerIDOutOfRange(t *testing.T) {
	for _, myid := range []string{"256", "1000", "0", "-5", "seven", ""} {
		t.Run(myid, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "myid"), []byte(myid+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr syncBuffer
			done := make(chan int, 1)
			go func() {
				done <- serve(ctx, serveOptions{dataDir: dir, clientAddr: "127.0.0.1:0", logLevel: "info"}, func(string) string { return "" },
					&stdout, &stderr, func(net.Addr) { cancel() })
			}()
			select {
			case code := <-done:
				if code != exitUsage || !strings.Contains(stderr.String(), "must be an integer from 1 to 255") {
					t.Errorf("serve with myid %q = %d, stderr:\n%s", myid, code, stderr.String())
				}
				if ctx.Err() != nil {
					t.Errorf("serve with myid %q started serving", myid)
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("serve with myid %q neither refused nor stopped:\n%s", myid, stderr.String())
			}
		})
	}
}

// TestResolveConfigClientPort: paddock listens only where the
// configuration asks, as ZooKeeper: clientPort, else the client address
// of this server's server.N line (with dataDir/myid), else nowhere, which
// paddock refuses rather than serve no one.
func TestResolveConfigClientPort(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := []struct{ name, cfg, want string }{
		{"server line", "dataDir=" + dir + "\nserver.2=localhost:2888:3888;127.0.0.1:2500\n", "127.0.0.1:2500"},
		{"server line bare port", "dataDir=" + dir + "\nserver.2=localhost:2888:3888;2500\n", "0.0.0.0:2500"},
		{"server line agrees", "dataDir=" + dir + "\nclientPort=2500\nserver.2=localhost:2888:3888;127.0.0.1:2500\n", ":2500"},
		{"other server's line", "dataDir=" + dir + "\nclientPort=2181\nserver.1=localhost:2888:3888;127.0.0.1:2500\n", ":2181"},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			r, err := resolveConfig(serveOptions{configPath: writeCfg(t, tt.cfg)}, env(nil))
			if err != nil {
				t.Fatal(err)
			}
			if got := r.zk.ClientAddr(); got != tt.want {
				t.Errorf("client address %q, want %q", got, tt.want)
			}
		})
	}
	bad := []struct{ name, cfg, want string }{
		{"no clientPort", "dataDir=/d\n", "no clientPort: ZooKeeper would start serving no one"},
		{"clientPort 0", "dataDir=/d\nclientPort=0\n", "no clientPort"},
		{"server line without myid", "dataDir=/nonexistent\nserver.2=localhost:2888:3888;2500\n", "no clientPort"},
		{"server line disagrees", "dataDir=" + dir + "\nclientPort=2181\nserver.2=localhost:2888:3888;2500\n",
			"the client address for this server (id = 2) is :2181, different from server.2's 0.0.0.0:2500"},
		{"TLS only", "dataDir=/d\nsecureClientPort=2281\nssl.keyStore.location=/k.jks\nssl.clientAuth=need\n",
			"secureClientPort: TLS (a TLS client port) is not supported by paddock yet"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolveConfig(serveOptions{configPath: writeCfg(t, tt.cfg)}, env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
	// --client-addr is an explicit ask.
	r, err := resolveConfig(serveOptions{configPath: writeCfg(t, "dataDir=/d\n"), clientAddr: "127.0.0.1:0"}, env(nil))
	if err != nil || r.zk.ClientAddr() != "127.0.0.1:0" {
		t.Errorf("--client-addr without clientPort: %v, %v", r.zk, err)
	}
}

// TestResolveConfigJVMFlags: the JVM flags are read from the environment
// and from java.env in $ZOOCFGDIR or the zoo.cfg's directory, with or
// without a zoo.cfg; what they refuse stops the start.
func TestResolveConfigJVMFlags(t *testing.T) {
	cfg := writeCfg(t, "dataDir=/d\nclientPort=2181\n")
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "java.env"), []byte("SERVER_JVMFLAGS=-Dzookeeper.snapCount=77\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "java.env"), []byte("SERVER_JVMFLAGS=-Dzookeeper.snapCount=88\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		opts serveOptions
		env  map[string]string
		snap int
	}{
		{"java.env beside zoo.cfg", serveOptions{configPath: cfg}, nil, 77},
		{"ZOOCFGDIR", serveOptions{configPath: cfg}, map[string]string{"ZOOCFGDIR": other}, 88},
		{"ZOOCFGDIR without zoo.cfg", serveOptions{}, map[string]string{"ZOOCFGDIR": other}, 88},
		{"environment", serveOptions{}, map[string]string{"JVMFLAGS": "-Dzookeeper.snapCount=99"}, 99},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := resolveConfig(tt.opts, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if r.zk.SnapCount != tt.snap {
				t.Errorf("snapCount %d, want %d", r.zk.SnapCount, tt.snap)
			}
		})
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "java.env"), []byte("export SERVER_JVMFLAGS=\"-Da=$(id -u)\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		opts serveOptions
		env  map[string]string
		want string
	}{
		{"SASL required in SERVER_JVMFLAGS", serveOptions{}, map[string]string{"SERVER_JVMFLAGS": "-Dzookeeper.sessionRequireClientSASLAuth=true"},
			"$SERVER_JVMFLAGS: -Dzookeeper.sessionRequireClientSASLAuth: authentication scheme sasl is not available"},
		{"enforce.auth in JVMFLAGS", serveOptions{configPath: cfg}, map[string]string{"JVMFLAGS": "-Dzookeeper.enforce.auth.enabled=true"},
			"$JVMFLAGS: -Dzookeeper.enforce.auth.enabled: zookeeper.enforce.auth.enabled is true: zookeeper.enforce.auth.schemes must be configured"},
		{"malformed flag value", serveOptions{}, map[string]string{"SERVER_JVMFLAGS": "-Dzookeeper.maxCnxns=lots"},
			`$SERVER_JVMFLAGS: -Dzookeeper.maxCnxns: "lots" is not an integer`},
		{"malformed java.env", serveOptions{}, map[string]string{"ZOOCFGDIR": bad},
			filepath.Join(bad, "java.env") + ":1: command substitution"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolveConfig(tt.opts, env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
