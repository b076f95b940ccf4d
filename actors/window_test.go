package actors

import (
	"fmt"
	"math/bits"
	"slices"
	"testing"

	"github.com/paddockdb/paddock/wire"
)

// entriesNewer is the reference: the entries of all (oldest first) with
// zxid > z, and of path when path is not "".
func entriesNewer(all []winEntry, path string, z int64) []winEntry {
	var out []winEntry
	for _, e := range all {
		if e.zxid > z && (path == "" || e.path == path) {
			out = append(out, e)
		}
	}
	return out
}

// The window finds the triggers newer than a registration's zxid, for one
// path and for all, across the ring's wrap-around, with several triggers
// per zxid (one transaction's), and keeps the highest evicted zxid.
func TestWindowLookups(t *testing.T) {
	const size = 8
	w := newWindow(size)
	var all []winEntry
	for z := int64(1); z <= 13; z++ {
		for i := range 1 + int(z%2) { // odd zxids fire two triggers
			e := winEntry{path: fmt.Sprintf("/p%d", z%3), zxid: z, ord: int32(i), typ: wire.EventNodeDataChanged}
			w.add(e)
			all = append(all, e)
		}
		held := all[max(0, len(all)-size):]
		if len(all) > size {
			if want := all[len(all)-size-1].zxid; w.floor != want {
				t.Fatalf("after zxid %d: floor %d, want %d (the newest evicted)", z, w.floor, want)
			}
		}
		for q := int64(0); q <= z+1; q++ {
			var got []winEntry
			w.since(q, func(e *winEntry) { got = append(got, *e) })
			if want := entriesNewer(held, "", q); !slices.Equal(got, want) {
				t.Fatalf("after zxid %d, since(%d) = %v, want %v", z, q, got, want)
			}
			for _, p := range []string{"/p0", "/p1", "/p2", "/none"} {
				if got, want := w.pathSince(p, q), entriesNewer(held, p, q); !slices.Equal(got, want) {
					t.Fatalf("after zxid %d, pathSince(%s, %d) = %v, want %v", z, p, q, got, want)
				}
			}
		}
	}
}

// A registration costs O(log window) plus the triggers it may fire, not a
// scan of the 65536-trigger window: with the window full, a recursive
// registration read a few triggers ago, and a one-shot one on a path that
// holds half the window, look at a handful of entries.
func TestWindowLookupsDoNotScan(t *testing.T) {
	w := newWindow(windowSize)
	for z := int64(1); z <= 2*windowSize; z++ { // a full window, wrapped
		path := fmt.Sprintf("/cold/%d", z)
		if z%2 == 0 {
			path = "/hot"
		}
		w.add(winEntry{path: path, zxid: z, typ: wire.EventNodeDataChanged})
	}
	logN := bits.Len(uint(windowSize)) + 1 // comparisons of a binary search
	last := int64(2 * windowSize)

	w.examined = 0
	visited := 0
	w.since(last-10, func(*winEntry) { visited++ })
	if visited != 10 || w.examined > visited+logN {
		t.Errorf("since: %d entries newer, %d examined; want 10 newer and at most %d examined", visited, w.examined, 10+logN)
	}

	w.examined = 0
	if got := w.pathSince("/hot", last-10); len(got) != 5 || w.examined > logN {
		t.Errorf("pathSince(/hot): %d entries, %d examined; want 5 and at most %d examined (the path holds %d)",
			len(got), w.examined, logN, len(w.byPath["/hot"]))
	}
}
