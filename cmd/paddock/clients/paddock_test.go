package clients

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/paddockdb/paddock/actors"
	"github.com/paddockdb/paddock/cmd/paddock/zoocfg"
	"github.com/paddockdb/paddock/wire/zktest"
)

// TestDriversAgainstPaddock runs every real-client driver (kazoo, zkCli.sh,
// Curator, the C client) against Paddock, in parallel on one server, as
// TestDriversAgainstZooKeeper runs them against ZooKeeper: the drivers
// check exact ZooKeeper values, so a failure here is Paddock's.
func TestDriversAgainstPaddock(t *testing.T) {
	addr := startPaddock(t, actors.Config{FourLetterWords: []string{"*"}})
	runDrivers(t, All, func(int) string { return addr })
}

// startPaddock starts a Paddock server with cfg (its data directory and
// client address picked here) and returns its client address.
func startPaddock(t *testing.T, cfg actors.Config) string {
	t.Helper()
	cfg.DataDir, cfg.ClientAddr = t.TempDir(), "127.0.0.1:0"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	srv, err := actors.Start(ctx, cfg)
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
	return srv.Addr().String()
}

// runDrivers runs the drivers, in parallel, the i-th against addr(i).
func runDrivers(t *testing.T, drivers []Driver, addr func(i int) string) {
	for i, d := range drivers {
		addr := addr(i)
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

// TestDriversAgainstPaddockEnsemble runs every driver against a 3-member
// Paddock ensemble, the drivers spread over the members (zkCli.sh on
// member 1, kazoo on 2, Curator on 3, the C client on 1), so that they run
// against leader and followers alike. Each driver's sessions share one
// member: a driver's checks read what its other sessions wrote, which
// another member may not have applied yet (ZooKeeper allows that; the
// failover of clients between members is the ensemble tests' subject).
func TestDriversAgainstPaddockEnsemble(t *testing.T) {
	const n = 3
	var members []actors.Member
	for i := 1; i <= n; i++ {
		members = append(members, actors.Member{ID: uint64(i), QuorumAddr: zktest.LoopbackAddr(t), ElectionAddr: zktest.LoopbackAddr(t)})
	}
	servers := make([]*actors.Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			servers[i], errs[i] = actors.Start(ctx, actors.Config{
				DataDir:         filepath.Join(t.TempDir(), fmt.Sprint(i+1)),
				ClientAddr:      "127.0.0.1:0",
				TickTime:        500 * time.Millisecond,
				FourLetterWords: []string{"*"},
				ServerID:        uint64(i + 1),
				Members:         members,
			})
		}()
	}
	wg.Wait()
	var addrs []string
	for i, s := range servers {
		if errs[i] != nil {
			t.Fatalf("start member %d: %v", i+1, errs[i])
		}
		t.Cleanup(func() { s.Close() })
		addrs = append(addrs, s.Addr().String())
	}
	runDrivers(t, All, func(i int) string { return addrs[i%len(addrs)] })
}

// TestSASLDriversAgainstPaddock runs the SASL drivers against Paddock
// configured from the same JAAS file as TestSASLDriversAgainstZooKeeper's
// ZooKeeper.
func TestSASLDriversAgainstPaddock(t *testing.T) {
	j, err := zoocfg.ParseJAAS("jaas.conf", SASLServerJAAS)
	if err != nil {
		t.Fatal(err)
	}
	users, _, err := j.DigestUsers("Server")
	if err != nil {
		t.Fatal(err)
	}
	addr := startPaddock(t, actors.Config{SASL: &actors.SASLConfig{Users: users}, SASLScheme: true})
	runDrivers(t, SASLDrivers, func(int) string { return addr })
}
