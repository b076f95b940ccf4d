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
		})
		t.Cleanup(func() { s.Close() })
		return s.Addr().String()
	})
}
