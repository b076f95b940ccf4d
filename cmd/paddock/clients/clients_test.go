package clients

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire/zktest"
)

// TestDriversAgainstZooKeeper proves every driver against the reference,
// Apache ZooKeeper: a driver that fails here is wrong, not the server. The
// drivers share one server (each works under its own root znode) and run in
// parallel.
func TestDriversAgainstZooKeeper(t *testing.T) {
	runDriversOn(t, All, zktest.Start(t))
}

// runDriversOn runs the drivers against zk, in parallel.
func runDriversOn(t *testing.T, drivers []Driver, zk *zktest.Server) {
	for _, d := range drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), Timeout+10*time.Second)
			defer cancel()
			start := time.Now()
			out, err := d.Run(ctx, zk.Addr)
			if err != nil {
				t.Fatalf("%s driver against ZooKeeper %s: %v\n--- driver output ---\n%s--- ZooKeeper log tail ---\n%s",
					d.Name, zk.Addr, err, out, zk.LogTail())
			}
			t.Logf("%s: %v, %s", d.Name, time.Since(start).Round(10*time.Millisecond), lastLine(out))
			if testing.Verbose() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}

// TestDriversFailWithoutServer checks the other side: with nothing
// listening every driver reports failure (quickly and with output), rather
// than passing or hanging.
func TestDriversFailWithoutServer(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: each driver waits for its connect timeout")
	}
	addr := deadAddr(t)
	for _, d := range All {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), Timeout+10*time.Second)
			defer cancel()
			out, err := d.Run(ctx, addr)
			if err == nil {
				t.Fatalf("%s driver passed with no server at %s:\n%s", d.Name, addr, out)
			}
			if !strings.Contains(out, "FAIL") {
				t.Fatalf("%s driver failed without a FAIL line: %v\n%s", d.Name, err, out)
			}
			t.Logf("%s: %v", d.Name, err)
		})
	}
}

func lastLine(s string) string {
	m := summary.FindAllString(s, -1)
	if len(m) == 0 {
		return "(no summary)"
	}
	return m[len(m)-1]
}

// deadAddr returns a local address with nothing listening on it.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// saslZooKeeper starts ZooKeeper with SASLServerJAAS as its operators
// give it: in the JVM flags.
func saslZooKeeper(t *testing.T) *zktest.Server {
	jaas := filepath.Join(t.TempDir(), "jaas.conf")
	if err := os.WriteFile(jaas, []byte(SASLServerJAAS), 0o600); err != nil {
		t.Fatal(err)
	}
	return zktest.Start(t, zktest.WithJVMFlags("-Djava.security.auth.login.config="+jaas),
		zktest.WithConfig("authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider"))
}

// TestSASLDriversAgainstZooKeeper proves the SASL drivers against the
// reference.
func TestSASLDriversAgainstZooKeeper(t *testing.T) {
	runDriversOn(t, SASLDrivers, saslZooKeeper(t))
}
