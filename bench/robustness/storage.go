package robustness

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Storage faults (storage_test.go): the members' data on disk, the
// storage fault layer of a Paddock built with -tags faults (its control
// file, actors/faults), and processes that end by themselves.

// faultsEnv is actors/faults.EnvVar: the harness writes the control file
// as text and imports nothing of the server.
const faultsEnv = "PADDOCK_FAULTS"

// FaultsDir is the member's fault-layer state directory (control file,
// journal), beside its data.
func (m *Member) FaultsDir() string { return filepath.Join(m.Dir, "faults") }

// DataDir is the member's dataDir.
func (m *Member) DataDir() string { return filepath.Join(m.Dir, "data") }

// SetFaults replaces the member's control file (by rename, so the
// process reads it whole); a running member takes it within milliseconds.
func (m *Member) SetFaults(control string) error {
	tmp := filepath.Join(m.FaultsDir(), "control.tmp")
	if err := os.WriteFile(tmp, []byte(control), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(m.FaultsDir(), "control"))
}

// ErrStillRunning is WaitExit's error for a member that did not end.
var ErrStillRunning = errors.New("robustness: member still running")

// WaitExit waits up to d for the member's process to end by itself (a
// crash point, a fail-stop) and returns how it ended. A member still
// running after d is ErrStillRunning; it is left running.
func (m *Member) WaitExit(ctx context.Context, d time.Duration) (string, error) {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil {
		return "", fmt.Errorf("robustness: member %d is not running", m.ID)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		return "", fmt.Errorf("%s member %d, %v later: %w", m.e.Opts.Kind, m.ID, d, ErrStillRunning)
	case <-ctx.Done():
		return "", ctx.Err()
	}
	m.mu.Lock()
	if m.cmd == cmd {
		m.cmd, m.stopped = nil, false
	}
	m.mu.Unlock()
	if m.e.Net != nil {
		m.e.Net.memberDown(m.ID)
	}
	return cmd.ProcessState.String(), nil
}

// Exited reports, without waiting, whether the member's process has ended
// by itself; an ended one is reaped as WaitExit does.
func (m *Member) Exited() bool {
	m.mu.Lock()
	done := m.done
	running := m.cmd != nil
	m.mu.Unlock()
	if !running {
		return false
	}
	select {
	case <-done:
	default:
		return false
	}
	_, err := m.WaitExit(context.Background(), time.Second)
	return err == nil
}

// WipeData replaces the data directory of a stopped member with an empty
// one that holds only its myid: a member replaced by a new machine.
func (m *Member) WipeData() error { return m.emptyData("") }

// MoveDataAside is what an operator does with a member that refuses its
// data: the data directory is renamed to <dir>.aside (kept, as a failing
// history keeps its data directories) and an empty one holding only its
// myid takes its place.
func (m *Member) MoveDataAside() error { return m.emptyData(m.DataDir() + ".aside") }

func (m *Member) emptyData(aside string) error {
	if m.Running() {
		return fmt.Errorf("robustness: member %d is running", m.ID)
	}
	myid, err := os.ReadFile(filepath.Join(m.DataDir(), "myid"))
	if err != nil {
		return err
	}
	if aside == "" {
		err = os.RemoveAll(m.DataDir())
	} else {
		if err := os.RemoveAll(aside); err != nil {
			return err
		}
		err = os.Rename(m.DataDir(), aside)
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(m.DataDir(), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(m.DataDir(), "myid"), myid, 0o644)
}

// NewestLog is the member's newest Raft/transaction log file: for Paddock
// the most recently written non-empty pebble WAL file (Dragonboat's Raft
// entries and state), for ZooKeeper the version-2/log.<zxid> of the
// highest zxid.
func (m *Member) NewestLog() (string, error) {
	if m.e.Opts.Kind == ZooKeeper {
		return newestZK(m.DataDir(), "log.")
	}
	return newestFile(filepath.Join(m.DataDir(), "wal"), func(p string) bool { return strings.HasSuffix(p, ".log") })
}

// NewestSnapshot is the member's newest snapshot file: for Paddock the
// Dragonboat snapshot file (.gbsnap) of the highest index, for ZooKeeper
// version-2/snapshot.<zxid> of the highest zxid.
func (m *Member) NewestSnapshot() (string, error) {
	if m.e.Opts.Kind == ZooKeeper {
		return newestZK(m.DataDir(), "snapshot.")
	}
	var snaps []string
	err := filepath.WalkDir(filepath.Join(m.DataDir(), "nodehost"), func(p string, d fs.DirEntry, err error) error {
		// Not one being written (.generating) or received (.receiving).
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".gbsnap") && !strings.Contains(p, ".generating") && !strings.Contains(p, ".receiving") {
			snaps = append(snaps, p)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if len(snaps) == 0 {
		return "", errors.New("robustness: no snapshot file")
	}
	// snapshot-<16 hex digits of the index>.gbsnap: the names sort by index.
	slices.SortFunc(snaps, func(a, b string) int { return strings.Compare(filepath.Base(a), filepath.Base(b)) })
	return snaps[len(snaps)-1], nil
}

func newestZK(dataDir, prefix string) (string, error) {
	dir := filepath.Join(dataDir, "version-2")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	best, bestZxid := "", int64(-1)
	for _, e := range ents {
		hex, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		var z int64
		if _, err := fmt.Sscanf(hex, "%x", &z); err == nil && z > bestZxid {
			best, bestZxid = filepath.Join(dir, e.Name()), z
		}
	}
	if best == "" {
		return "", fmt.Errorf("robustness: no %s* file in %s", prefix, dir)
	}
	return best, nil
}

func newestFile(root string, match func(string) bool) (string, error) {
	best, bestTime := "", time.Time{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !match(p) {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Size() > 0 && fi.ModTime().After(bestTime) {
			best, bestTime = p, fi.ModTime()
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if best == "" {
		return "", fmt.Errorf("robustness: no log file under %s", root)
	}
	return best, nil
}

// CorruptByte flips every bit of one byte of the file, at a random offset
// among its written bytes (before the trailing zeros of a preallocated
// log), and returns the offset.
func CorruptByte(path string, rng *rand.Rand) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	end := len(b)
	for end > 0 && b[end-1] == 0 {
		end--
	}
	if end == 0 {
		return 0, fmt.Errorf("robustness: %s holds no data", path)
	}
	off := rng.IntN(end)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte{b[off] ^ 0xff}, int64(off)); err != nil {
		return 0, err
	}
	return int64(off), f.Sync()
}

// StartOrStop starts the member and watches it for watch: it either keeps
// running (stopped "") or ends, during start-up or within watch, and then
// stopped is the reason its log gives (FailureLine).
func (m *Member) StartOrStop(ctx context.Context, watch time.Duration) (stopped string, err error) {
	if err := m.Start(ctx); err != nil {
		if m.Running() {
			return "", err // did not answer in time: not a refusal
		}
		return m.FailureLine(), nil
	}
	if _, err := m.WaitExit(ctx, watch); errors.Is(err, ErrStillRunning) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	return m.FailureLine(), nil
}

// FailureLine is the line of the member's log since its last start that
// says why it stopped: Paddock's first "panic: " line (Go's, Dragonboat's
// fail-stops) or else its first ERROR record; ZooKeeper's first exception
// line or else its first ERROR; "" without one.
func (m *Member) FailureLine() string {
	b, _ := os.ReadFile(m.logPath())
	log := string(b)
	if i := strings.LastIndex(log, "==== robustness: start "); i >= 0 {
		log = log[i:]
	}
	first, errLine := "", ""
	for _, line := range strings.Split(log, "\n") {
		cause := strings.HasPrefix(line, "panic: ")
		if m.e.Opts.Kind == ZooKeeper {
			cause = strings.HasPrefix(line, "java.") && strings.Contains(line, "Exception")
		}
		if cause && first == "" {
			first = line
		}
		if errLine == "" && (strings.Contains(line, "level=ERROR") || strings.Contains(line, "] ERROR ")) {
			errLine = line
		}
	}
	if first != "" {
		return first
	}
	return errLine
}
