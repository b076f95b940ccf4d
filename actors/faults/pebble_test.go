package faults

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	pvfs "github.com/cockroachdb/pebble/vfs"
)

// pebbleFS adapts the layer to pebble's vfs.FS (the same methods, pebble's
// File type), as Dragonboat's LogDB does.
type pebbleFS struct{ fs *FS }

func (p pebbleFS) Create(n string) (pvfs.File, error)           { return p.fs.Create(n) }
func (p pebbleFS) Link(a, b string) error                       { return p.fs.Link(a, b) }
func (p pebbleFS) OpenDir(n string) (pvfs.File, error)          { return p.fs.OpenDir(n) }
func (p pebbleFS) Remove(n string) error                        { return p.fs.Remove(n) }
func (p pebbleFS) RemoveAll(n string) error                     { return p.fs.RemoveAll(n) }
func (p pebbleFS) Rename(a, b string) error                     { return p.fs.Rename(a, b) }
func (p pebbleFS) MkdirAll(d string, m os.FileMode) error       { return p.fs.MkdirAll(d, m) }
func (p pebbleFS) Lock(n string) (io.Closer, error)             { return p.fs.Lock(n) }
func (p pebbleFS) List(d string) ([]string, error)              { return p.fs.List(d) }
func (p pebbleFS) Stat(n string) (os.FileInfo, error)           { return p.fs.Stat(n) }
func (p pebbleFS) PathBase(s string) string                     { return p.fs.PathBase(s) }
func (p pebbleFS) PathJoin(e ...string) string                  { return p.fs.PathJoin(e...) }
func (p pebbleFS) PathDir(s string) string                      { return p.fs.PathDir(s) }
func (p pebbleFS) ReuseForWrite(a, b string) (pvfs.File, error) { return p.fs.ReuseForWrite(a, b) }
func (p pebbleFS) Open(n string, opts ...pvfs.OpenOption) (pvfs.File, error) {
	f, err := p.fs.Open(n)
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		o.Apply(f)
	}
	return f, nil
}
func (p pebbleFS) GetDiskUsage(s string) (pvfs.DiskUsage, error) {
	du, err := p.fs.GetDiskUsage(s)
	return pvfs.DiskUsage{AvailBytes: du.AvailBytes, TotalBytes: du.TotalBytes, UsedBytes: du.UsedBytes}, err
}

func init() { children["pebble"] = pebbleChild }

// pebbleChild opens pebble through the layer in $PEBBLE_ROOT (after
// Recover, as a start does), checks that keys 0 to $PEBBLE_ACKED-1 are
// there, then writes synced keys from $PEBBLE_ACKED on, printing each one
// acknowledged, until it is killed.
func pebbleChild() {
	root := os.Getenv("PEBBLE_ROOT")
	acked, _ := strconv.Atoi(os.Getenv("PEBBLE_ACKED"))
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
		os.Exit(2)
	}
	dirs := Dirs{WAL: filepath.Join(root, "wal"), NodeHost: filepath.Join(root, "nh")}
	state := filepath.Join(root, "faults")
	if undone, err := Recover(state); err != nil {
		fail("recover: %v (undone %q)", err, undone)
	}
	fs, err := NewFS(dirs, true, state, nil, Hooks{})
	if err != nil {
		fail("layer: %v", err)
	}
	db, err := pebble.Open(dirs.NodeHost, &pebble.Options{FS: pebbleFS{fs}, WALDir: dirs.WAL,
		MemTableSize: 64 << 10, L0CompactionThreshold: 2, Logger: quietLogger{}})
	if err != nil {
		fail("pebble does not open: %v", err)
	}
	for i := range acked {
		v, c, err := db.Get(key(i))
		if err != nil {
			fail("acknowledged key %d lost: %v", i, err)
		}
		if len(v) != 300 {
			fail("key %d holds %d bytes", i, len(v))
		}
		c.Close()
	}
	fmt.Println("verified", acked)
	for i := acked; ; i++ {
		if err := db.Set(key(i), make([]byte, 300), pebble.Sync); err != nil {
			fail("set %d: %v", i, err)
		}
		fmt.Println("acked", i)
	}
}

func key(i int) []byte { return []byte(fmt.Sprintf("k%08d", i)) }

type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
	os.Exit(2)
}

// TestPebblePowerLosses runs pebble (as Dragonboat's LogDB configures it:
// a WAL directory of its own, synced writes; small memtables, so that
// flushes, compactions and WAL recycling happen) through the layer in a
// child process, and SIGKILLs it at a random moment, over and over:
// pebble must open after every power loss with every write it
// acknowledged.
func TestPebblePowerLosses(t *testing.T) {
	root := t.TempDir()
	// Made durable, as Paddock and Dragonboat make theirs (pebble fsyncs
	// what it creates inside them).
	for _, d := range []string{"wal", "nh", "faults"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	acked := 0
	for round := range 12 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=pebble", "PEBBLE_ROOT="+root, fmt.Sprintf("PEBBLE_ACKED=%d", acked))
		var stderr syncBuffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		want := 100 + rng.IntN(900)
		n, last := 0, acked-1
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
				last, _ = strconv.Atoi(v)
				if n++; n == want {
					break
				}
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if n < want {
			t.Fatalf("round %d: the child ended after %d acknowledged writes: %s", round, n, stderr.String())
		}
		acked = last + 1
	}
	// A last start checks the last round's writes.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=pebble", "PEBBLE_ROOT="+root, fmt.Sprintf("PEBBLE_ACKED=%d", acked))
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), "verified") && stderr.String() == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling the child's output, bounded above
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if !strings.Contains(stdout.String(), fmt.Sprintf("verified %d", acked)) {
		t.Fatalf("after the last power loss: %s", stderr.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the exec package's copying
// goroutine and the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
