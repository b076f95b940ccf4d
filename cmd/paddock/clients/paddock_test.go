package clients

import (
	"context"
	"testing"
	"time"

	"github.com/paddockdb/paddock/actors"
)

// TestDriversAgainstPaddock runs every real-client driver (kazoo, zkCli.sh,
// Curator, the C client) against Paddock, in parallel on one server, as
// TestDriversAgainstZooKeeper runs them against ZooKeeper: the drivers
// check exact ZooKeeper values, so a failure here is Paddock's.
func TestDriversAgainstPaddock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	srv, err := actors.Start(ctx, actors.Config{
		DataDir:         t.TempDir(),
		ClientAddr:      "127.0.0.1:0",
		FourLetterWords: []string{"*"},
		MaxClientCnxns:  0,
	})
	cancel()
	if err != nil {
		t.Fatalf("start paddock: %v", err)
	}
	// Cleanup runs after the parallel subtests have finished.
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close paddock: %v", err)
		}
	})
	addr := srv.Addr().String()
	for _, d := range All {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), Timeout+10*time.Second)
			defer cancel()
			start := time.Now()
			out, err := d.Run(ctx, addr)
			if err != nil {
				t.Fatalf("%s driver against Paddock %s: %v\n--- driver output ---\n%s", d.Name, addr, err, out)
			}
			t.Logf("%s: %v, %s", d.Name, time.Since(start).Round(10*time.Millisecond), lastLine(out))
			if testing.Verbose() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}
