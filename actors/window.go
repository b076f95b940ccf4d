package actors

import (
	"sort"

	"github.com/paddockdb/paddock/wire"
)

// window is the router's recent-trigger window (design.md, "Registration
// atomic with the read"): the last windowSize triggers in a ring, in
// apply order, and the same entries per path in the same order. Apply
// order is zxid order (zxids never go back along the log), so both are
// sorted by zxid and the triggers a registration read at z missed are
// found by binary search: those of its path (newer), and for a recursive
// registration those of every path newer than z (since), in O(log n) plus
// what they return, never by a scan of the window. A registration is read
// moments before the router sees it, so few triggers are newer than its z.
// Indexing the window by every ancestor of each path would find a
// subtree's triggers without the unrelated newer ones, but at the cost of
// one map entry per ancestor for every trigger applied, on the write path.
type window struct {
	ring   []winEntry
	head   int // position of the oldest entry
	n      int // entries held
	byPath map[string][]winEntry
	floor  int64 // highest zxid evicted
	// examined counts the entries looked at by lookups (newer, since,
	// pathSince): what a registration costs, for the tests.
	examined int
}

type winEntry struct {
	path string
	zxid int64
	ord  int32
	typ  wire.EventType
}

func newWindow(size int) *window {
	return &window{ring: make([]winEntry, size), byPath: map[string][]winEntry{}}
}

func (w *window) at(i int) *winEntry { return &w.ring[(w.head+i)%len(w.ring)] }

// add appends e, whose zxid is no lower than any entry's, evicting the
// oldest entry when the window is full.
func (w *window) add(e winEntry) {
	if w.n == len(w.ring) {
		old := w.ring[w.head]
		if q := w.byPath[old.path]; len(q) > 1 {
			w.byPath[old.path] = q[1:]
		} else {
			delete(w.byPath, old.path)
		}
		if old.zxid > w.floor {
			w.floor = old.zxid
		}
		w.ring[w.head] = e
		w.head = (w.head + 1) % len(w.ring)
	} else {
		w.ring[(w.head+w.n)%len(w.ring)] = e
		w.n++
	}
	w.byPath[e.path] = append(w.byPath[e.path], e)
}

// newer returns the position (0 = oldest) of the first entry with zxid >
// z, or n if there is none.
func (w *window) newer(z int64) int {
	return sort.Search(w.n, func(i int) bool {
		w.examined++
		return w.at(i).zxid > z
	})
}

// since calls fn for every entry with zxid > z, oldest first.
func (w *window) since(z int64, fn func(*winEntry)) {
	for i := w.newer(z); i < w.n; i++ {
		w.examined++
		fn(w.at(i))
	}
}

// pathSince returns path's entries with zxid > z, oldest first; the caller
// must not keep or change the slice.
func (w *window) pathSince(path string, z int64) []winEntry {
	q := w.byPath[path]
	i := sort.Search(len(q), func(i int) bool {
		w.examined++
		return q[i].zxid > z
	})
	return q[i:]
}
