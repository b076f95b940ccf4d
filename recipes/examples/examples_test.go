// Package examples holds the recipe examples, one command each (see each
// command's doc); this test plays every story against Paddock and against
// Apache ZooKeeper and requires each to keep its promise (exit 0).
package examples

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/paddockdb/paddock/actors"
	"github.com/paddockdb/paddock/wire/zktest"
)

var stories = []string{"clustermonitor", "pushconfig", "searchcluster", "taskprogress", "hmaster"}

func TestStories(t *testing.T) {
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./...")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build the examples: %v\n%s", err, out)
	}
	servers := map[string]func(t *testing.T) string{
		"paddock": func(t *testing.T) string {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			srv, err := actors.Start(ctx, actors.Config{
				DataDir: t.TempDir(), ClientAddr: "127.0.0.1:0", TickTime: 100 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			return srv.Addr().String()
		},
		"zookeeper": func(t *testing.T) string { return zktest.Start(t).Addr },
	}
	for _, kind := range []string{"paddock", "zookeeper"} {
		t.Run(kind, func(t *testing.T) {
			addr := servers[kind](t)
			for _, name := range stories {
				t.Run(name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
					defer cancel()
					cmd := exec.CommandContext(ctx, filepath.Join(bin, name), "-server", addr, "-session-timeout", "2s", "-deadline", "90s")
					var out bytes.Buffer
					cmd.Stdout, cmd.Stderr = &out, &out
					err := cmd.Run()
					if err != nil {
						t.Fatalf("%s against %s: %v\n%s", name, kind, err, out.String())
					}
					t.Logf("%s against %s:\n%s", name, kind, out.String())
				})
			}
		})
	}
}

// TestBadCommandLine: a missing or malformed flag is refused with the
// usage and exit status 2, before any connection.
func TestBadCommandLine(t *testing.T) {
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", bin+"/", "./clustermonitor").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, args := range [][]string{{}, {"-server"}, {"-server", "127.0.0.1:1", "-session-timeout", "soon"}, {"-server", "127.0.0.1:1", "extra"}, {"-server", "127.0.0.1:1", "-deadline", "-1s"}} {
		out, err := exec.Command(filepath.Join(bin, "clustermonitor"), args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !bytes.Contains(out, []byte("usage: clustermonitor")) {
			t.Errorf("args %q: %v\n%s", args, err, out)
		}
	}
}

// TestUnreachableServer: a story that cannot reach its servers fails with
// exit status 1 and says why.
func TestUnreachableServer(t *testing.T) {
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", bin+"/", "./pushconfig").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	out, err := exec.Command(filepath.Join(bin, "pushconfig"), "-server", addr, "-connect-timeout", "1s").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !bytes.Contains(out, []byte("FAIL: console: connect")) {
		t.Fatalf("%v\n%s", err, out)
	}
}
