package actors

import (
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkSlowWatcherRSS is issue 14's slow-watcher load, run for its
// memory: b.N setData of 1 KiB values on 64 znodes from 4 sessions with 128
// requests in flight each, as fast as the server takes them, while a
// client with a persistent recursive watch on / and a 4 KiB receive
// buffer never reads; each time the server closes it, it comes back (a new
// session) and stalls again. It reports the process's peak RSS during the
// load (VmHWM after resetting it; server, writers and watchers are one
// process), the RSS before it, the slow watchers closed and the write
// rate. BenchmarkWriteLoadRSS is the same load without the watcher, the
// baseline. Run each alone, in its own process (bench/README.md, "A client
// that takes no events"):
//
//	go test ./actors -run '^$' -bench '^BenchmarkSlowWatcherRSS$' -benchtime 2000000x
//	go test ./actors -run '^$' -bench '^BenchmarkWriteLoadRSS$' -benchtime 2000000x
func BenchmarkSlowWatcherRSS(b *testing.B) { writeLoadRSS(b, true) }

// BenchmarkWriteLoadRSS: see BenchmarkSlowWatcherRSS.
func BenchmarkWriteLoadRSS(b *testing.B) { writeLoadRSS(b, false) }

func writeLoadRSS(b *testing.B, slow bool) {
	s := startServer(b, b.TempDir(), func(c *Config) {
		c.TickTime = 2 * time.Second                                                                      // ZooKeeper's: a writer stalled by the shared machine does not expire
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})) // not a warning per close
	})
	b.Cleanup(func() { s.Close() })
	addr := s.Addr().String()
	paths := slowWatcherPaths(b, addr, 64)
	before := procStatusKB(b, "VmRSS")
	// Writing 5 to clear_refs resets VmHWM to the current RSS (Linux).
	peakReset := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil

	stop := make(chan struct{})
	var watchers sync.WaitGroup
	if slow {
		watchers.Add(1)
		go slowWatchers(b, s, stop, watchers.Done)
	}

	var budget atomic.Int64
	budget.Store(int64(b.N))
	errs := make([]error, 4)
	var writers sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	var reconnects atomic.Int64
	for i := range errs {
		writers.Add(1)
		go func() {
			defer writers.Done()
			// A writer whose connection the server closes reconnects, as
			// a client would (under this load dragonboat may refuse a
			// proposal as too busy, which closes the connection).
			for budget.Load() > 0 {
				if _, err := writeLoad(addr, paths, 128, stop, &budget); err != nil {
					if reconnects.Add(1) > 100 {
						errs[i] = err
						return
					}
				}
			}
		}()
	}
	writers.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(stop)
	watchers.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	if !peakReset {
		b.Log("could not reset VmHWM: the peak includes the set-up")
	}
	b.ReportMetric(float64(procStatusKB(b, "VmHWM"))/1024, "peak-rss-MB")
	b.ReportMetric(float64(before)/1024, "rss-before-MB")
	b.ReportMetric(float64(s.stats.slowClosed.Load()), "slow-closed")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
	b.ReportMetric(float64(reconnects.Load()), "writer-reconnects")
}

// slowWatchers keeps a slow watcher connected until stop: each one the
// server closes is replaced by a new session that stalls again.
func slowWatchers(b *testing.B, s *Server, stop <-chan struct{}, done func()) {
	defer done()
	for {
		w, err := slowWatcher(s.Addr().String(), 30000)
		if err != nil {
			b.Error(err)
			return
		}
		// Published before the handshake was answered.
		v, ok := s.sessionConns.Load(w.sid)
		if !ok {
			w.nc.Close()
			b.Error("slow watcher's connection not found")
			return
		}
		select {
		case <-v.(*conn).done:
			w.nc.Close()
		case <-stop:
			w.nc.Close()
			return
		}
	}
}

// procStatusKB reads a "kB" field of /proc/self/status.
func procStatusKB(b *testing.B, field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
