package actors

import (
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire/conform"
)

// TestConformance runs every differential script of wire/conform against
// Paddock and requires the transcript Apache ZooKeeper 3.8 produced
// (guarantees 2, 5, 6 and 8 are exercised by the scripts). The server runs
// with the settings the goldens were recorded under (wire/zktest's).
func TestConformance(t *testing.T) {
	conform.CheckAll(t, func(t *testing.T, cfg []string) string {
		s := startServer(t, t.TempDir(), func(c *Config) {
			c.TickTime = 200 * time.Millisecond
			conformConfig(t, c, cfg)
		})
		t.Cleanup(func() { s.Close() })
		return s.Addr().String()
	})
}

// conformConfig gives c the goldens' settings and a script's config lines.
func conformConfig(t *testing.T, c *Config, cfg []string) {
	c.MinSessionTimeout = 400 * time.Millisecond
	c.MaxSessionTimeout = 60 * time.Second
	for _, line := range cfg {
		switch line {
		case "extendedTypesEnabled=true":
			c.ExtendedTypes = true
		case "enforceQuota=true":
			c.EnforceQuota = true
		case "maxCnxns=2":
			c.MaxCnxns = 2
		default:
			t.Fatalf("script config %q has no translation here", line)
		}
	}
}

// TestConformanceOnFollower runs every script against a follower of a
// 3-member ensemble, one fresh ensemble per script: a session sees the
// same as on a single server, whichever member it is connected to
// (guarantee 4). The scripts run one after the other, each on an ensemble
// with the goldens' settings.
func TestConformanceOnFollower(t *testing.T) {
	for _, sc := range conform.Scripts() {
		t.Run(sc.Name, func(t *testing.T) {
			e := startEnsembleWith(t, 3, 200*time.Millisecond, func(c *Config) { conformConfig(t, c, sc.Config()) })
			leader := e.waitLeader()
			conform.Check(t, sc, e.addr((leader+1)%3))
		})
	}
}
