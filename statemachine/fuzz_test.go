package statemachine

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/paddockdb/paddock/wire"
)

// FuzzLoad fuzzes the snapshot reader (a member catching up loads what
// the leader streams): any input loads or fails with ErrCorrupt, and a
// tree that loads saves to bytes that load and save the same again.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"testdata/snapshot-v2.bin", "testdata/snapshot-v3.bin"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	var empty bytes.Buffer
	if err := NewTree().Save(&empty); err != nil {
		f.Fatal(err)
	}
	f.Add(empty.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		tr := NewTree()
		if err := tr.Load(bytes.NewReader(b)); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		var once, twice bytes.Buffer
		if err := tr.Save(&once); err != nil {
			t.Fatal(err)
		}
		back := NewTree()
		if err := back.Load(bytes.NewReader(once.Bytes())); err != nil {
			t.Fatalf("a saved tree does not load: %v", err)
		}
		if err := back.Save(&twice); err != nil || !bytes.Equal(once.Bytes(), twice.Bytes()) {
			t.Fatalf("save, load, save differ (%v)", err)
		}
	})
}

// FuzzValidatePath checks ValidatePath against the rules it states, and
// that Apply never creates a node at a path it refuses.
func FuzzValidatePath(f *testing.F) {
	for _, p := range []string{"/", "/a", "/a/b", "//", "/a/", "/./a", "/a/..", "/\x00", "/\u00e9", "/\U0001F600", "/\xff", "a", ""} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := ValidatePath(p)
		if p != "/" && err == nil {
			if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//") {
				t.Fatalf("%q accepted", p)
			}
			for _, c := range strings.Split(p[1:], "/") {
				if c == "." || c == ".." {
					t.Fatalf("%q accepted with component %q", p, c)
				}
			}
		}
		tr := NewTree()
		r := tr.Apply(&Txn{Type: wire.OpCreate, Path: p, ACL: wire.WorldACL, Time: 1})
		if err != nil && r.Err == wire.Ok {
			t.Fatalf("created %q, which ValidatePath refuses", p)
		}
	})
}

// A corrupt length in a snapshot stream (here the first string's, 1 GiB
// declared, 10 bytes there) fails as ErrCorrupt after reading what the
// stream holds, without reserving the declared size first: a member that
// is sent a damaged snapshot refuses it instead of running out of memory.
func TestLoadCorruptLengthAllocatesWhatArrives(t *testing.T) {
	in := append([]byte{0xdb, 0x40, 0, 0, 0}, "0123456789"...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := NewTree().Load(bytes.NewReader(in))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Load: %v, want ErrCorrupt", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Fatalf("Load of 15 bytes allocated %d MiB", got>>20)
	}
}
