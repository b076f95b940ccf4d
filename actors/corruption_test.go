package actors

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddockdb/paddock/wire"
)

// TestStartRefusesACorruptedRaftLog: one byte flipped near the start of the
// newest Raft log, whose replay would stop there and drop the writes after
// it. The server refuses to start, says which file, changes nothing, and
// starts with every write once the byte is put back.
func TestStartRefusesACorruptedRaftLog(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, nil)
	c := dialRaw(t, s, 0, nil)
	const n = 50
	for i := range n {
		c.send(int32(i+1), wire.OpCreate, &wire.CreateRequest{Path: fmt.Sprintf("/z%02d", i), Data: []byte("v"), ACL: wire.WorldACL})
		if h, _ := c.read(); h.Err != wire.Ok {
			t.Fatalf("create %d: %v", i, h.Err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	log := largestNewestLog(t, filepath.Join(dir, "wal"))
	const off = 20 // in the first chunk's payload
	flip(t, log, off)
	before := treeSum(t, dir)
	_, err := startTestServer(dir, nil)
	if err == nil {
		t.Fatal("started on a corrupted Raft log")
	}
	t.Log(err)
	for _, want := range []string{"refusing to start", log, "is corrupt", "Restore the data directory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q", want)
		}
	}
	if treeSum(t, dir) != before {
		t.Fatal("the refused start changed the data directory")
	}

	flip(t, log, off)
	s = startServer(t, dir, nil)
	defer s.Close()
	c = dialRaw(t, s, 0, nil)
	c.send(1, wire.OpExists, &wire.PathWatchRequest{Path: fmt.Sprintf("/z%02d", n-1)})
	if h, _ := c.read(); h.Err != wire.Ok {
		t.Fatalf("last write after the byte was put back: %v", h.Err)
	}
}

// largestNewestLog is the largest of the newest WAL files of the pebble
// databases under dir: the one the writes went to.
func largestNewestLog(t *testing.T, dir string) string {
	t.Helper()
	newest := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".log") && filepath.Base(p) > filepath.Base(newest[filepath.Dir(p)]) {
			newest[filepath.Dir(p)] = p
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	best, size := "", int64(-1)
	for _, p := range newest {
		if fi, err := os.Stat(p); err == nil && fi.Size() > size {
			best, size = p, fi.Size()
		}
	}
	if best == "" {
		t.Fatalf("no WAL under %s", dir)
	}
	return best
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// treeSum hashes every file's path and content, and every link's target,
// under dir.
func treeSum(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 { // hostdir.go's link named after the hostname
			target, err := os.Readlink(p)
			fmt.Fprintf(h, "%s -> %s\n", p, target)
			return err
		}
		b, err := os.ReadFile(p)
		fmt.Fprintf(h, "%s %d\n", p, len(b))
		h.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
