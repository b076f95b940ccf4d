package faults

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Point is a named crash point.
type Point string

// The crash points.
const (
	// LogSaveBefore and LogSaveAfter are the fsync of a WAL file (pebble's
	// write-ahead log, where Dragonboat saves Raft entries and state):
	// before it, the entries are written but not durable; after it,
	// durable and not yet acknowledged to anyone.
	LogSaveBefore Point = "log-save-before"
	LogSaveAfter  Point = "log-save-after"
	// SnapshotSaveBefore and SnapshotSaveAfter are around the state
	// machine's SaveSnapshot: after it the snapshot file is written and
	// Dragonboat has not yet made it the replica's snapshot.
	SnapshotSaveBefore Point = "snapshot-save-before"
	SnapshotSaveAfter  Point = "snapshot-save-after"
	// SnapshotRecoverBefore and SnapshotRecoverAfter are around
	// RecoverFromSnapshot (a restart on a snapshot, or one received from
	// the leader).
	SnapshotRecoverBefore Point = "snapshot-recover-before"
	SnapshotRecoverAfter  Point = "snapshot-recover-after"
	// ApplyBefore and ApplyAfter are around the state machine's Update (a
	// batch of committed entries).
	ApplyBefore Point = "apply-before"
	ApplyAfter  Point = "apply-after"
	// Reply is a write's result reaching its session, before the reply
	// goes to the client.
	Reply Point = "reply"
)

// Points lists every crash point.
var Points = []Point{LogSaveBefore, LogSaveAfter, SnapshotSaveBefore, SnapshotSaveAfter,
	SnapshotRecoverBefore, SnapshotRecoverAfter, ApplyBefore, ApplyAfter, Reply}

// Control is what the control file asks for.
type Control struct {
	// LoseUnsynced keeps unsynced writes in memory only: every death of
	// the process is then a power loss. Read at start only.
	LoseUnsynced bool
	// Crash, if set, kills the process the CrashAt-th time (from 1) the
	// point is reached after this control was read.
	Crash   Point
	CrashAt int
	// NoSpace fails writes and creates of these classes with ENOSPC;
	// SyncEIO fails their fsyncs with EIO.
	NoSpace, SyncEIO Class
}

// ParseControl parses a control file: one key=value a line, '#' starts a
// comment. Keys: lose-unsynced (true|false), crash (point or point:N),
// enospc and eio (a comma-separated list of wal, snapshot, logdb, all or
// none). A key may appear once.
func ParseControl(text string) (Control, error) {
	var c Control
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for line := 1; sc.Scan(); line++ {
		s := sc.Text()
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		key, val, ok := strings.Cut(s, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" {
			return Control{}, fmt.Errorf("line %d: %q: want key=value", line, s)
		}
		if seen[key] {
			return Control{}, fmt.Errorf("line %d: %s given twice", line, key)
		}
		seen[key] = true
		var err error
		switch key {
		case "lose-unsynced":
			c.LoseUnsynced, err = strconv.ParseBool(val)
		case "crash":
			c.Crash, c.CrashAt, err = parseCrash(val)
		case "enospc":
			c.NoSpace, err = parseClasses(val)
		case "eio":
			c.SyncEIO, err = parseClasses(val)
		default:
			err = fmt.Errorf("unknown key (want lose-unsynced, crash, enospc or eio)")
		}
		if err != nil {
			return Control{}, fmt.Errorf("line %d: %s: %w", line, key, err)
		}
	}
	return c, sc.Err()
}

func parseCrash(v string) (Point, int, error) {
	name, n, hasN := strings.Cut(v, ":")
	p := Point(name)
	if !slices.Contains(Points, p) {
		return "", 0, fmt.Errorf("unknown crash point %q (want one of %v)", name, Points)
	}
	at := 1
	if hasN {
		var err error
		if at, err = strconv.Atoi(n); err != nil || at < 1 {
			return "", 0, fmt.Errorf("%q: the count after ':' must be a positive integer", v)
		}
	}
	return p, at, nil
}

func parseClasses(v string) (Class, error) {
	var c Class
	for _, w := range strings.Split(v, ",") {
		switch strings.TrimSpace(w) {
		case "none", "":
		case "wal":
			c |= ClassWAL
		case "snapshot":
			c |= ClassSnapshot
		case "logdb":
			c |= ClassLogDB
		case "all":
			c |= classAll
		default:
			return 0, fmt.Errorf("unknown class %q (want wal, snapshot, logdb, all or none)", w)
		}
	}
	return c, nil
}

// armed is a Control as read, with its crash point's hit count.
type armed struct {
	Control
	hits atomic.Int64
}

// controlFile is the control file, re-read when it changes (checked at
// most every recheck).
type controlFile struct {
	path string
	cur  atomic.Pointer[armed]
	next atomic.Int64 // unix nanos of the next check

	mu   sync.Mutex
	last os.FileInfo // of the version read; nil: the file did not exist
	warn func(format string, args ...any)
}

const recheck = 5 * time.Millisecond

// openControl reads the control file at path (absent: no faults).
func openControl(path string, warn func(string, ...any)) (*controlFile, error) {
	cf := &controlFile{path: path, warn: warn}
	c, fi, err := readControl(path)
	if err != nil {
		return nil, err
	}
	cf.last = fi
	cf.cur.Store(&armed{Control: c})
	cf.next.Store(time.Now().Add(recheck).UnixNano())
	return cf, nil
}

func readControl(path string) (Control, os.FileInfo, error) {
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return Control{}, nil, nil
	}
	if err != nil {
		return Control{}, nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Control{}, nil, err
	}
	c, err := ParseControl(string(b))
	if err != nil {
		return Control{}, nil, fmt.Errorf("paddock/faults: %s: %w", path, err)
	}
	return c, fi, nil
}

// current returns the control in force, re-reading the file if it
// changed. A file that no longer parses is reported and ignored.
func (cf *controlFile) current() *armed {
	now := time.Now().UnixNano()
	if next := cf.next.Load(); now < next || !cf.next.CompareAndSwap(next, now+int64(recheck)) {
		return cf.cur.Load()
	}
	cf.mu.Lock()
	defer cf.mu.Unlock()
	fi, err := os.Stat(cf.path)
	if err != nil && !os.IsNotExist(err) {
		return cf.cur.Load()
	}
	if same(fi, cf.last) {
		return cf.cur.Load()
	}
	c, fi, err := readControl(cf.path)
	if err != nil {
		cf.warn("paddock/faults: control file ignored: %v", err)
		cf.last = fi
		return cf.cur.Load()
	}
	lose := cf.cur.Load().LoseUnsynced
	c.LoseUnsynced = lose // read at start only
	a := &armed{Control: c}
	cf.cur.Store(a)
	cf.last = fi
	cf.warn("paddock/faults: control file read: %s", a.Control)
	return a
}

func same(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

func (c Control) String() string {
	var parts []string
	if c.LoseUnsynced {
		parts = append(parts, "lose-unsynced=true")
	}
	if c.Crash != "" {
		parts = append(parts, fmt.Sprintf("crash=%s:%d", c.Crash, c.CrashAt))
	}
	if c.NoSpace != 0 {
		parts = append(parts, "enospc="+c.NoSpace.String())
	}
	if c.SyncEIO != 0 {
		parts = append(parts, "eio="+c.SyncEIO.String())
	}
	if len(parts) == 0 {
		return "no faults"
	}
	return strings.Join(parts, " ")
}

func (c Class) String() string {
	if c&classAll == classAll {
		return "all"
	}
	var w []string
	for _, x := range []struct {
		c    Class
		name string
	}{{ClassWAL, "wal"}, {ClassSnapshot, "snapshot"}, {ClassLogDB, "logdb"}} {
		if c&x.c != 0 {
			w = append(w, x.name)
		}
	}
	if len(w) == 0 {
		return "none"
	}
	return strings.Join(w, ",")
}
