//go:build faults

package faults

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"

	"github.com/lni/dragonboat/v4/config"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Built reports whether the binary carries the fault layer (the faults
// build tag).
const Built = true

// active is the layer Setup started; nil while the harness asked for none.
var active atomic.Pointer[controlFile]

// Setup starts the fault layer if $PADDOCK_FAULTS names a state directory:
// it reads the control file there, undoes (with lose-unsynced) what the
// last death of the process took, and puts the file layer under nhc's
// LogDB and snapshots. Without $PADDOCK_FAULTS it changes nothing and
// returns false.
func Setup(nhc *config.NodeHostConfig) (bool, error) {
	stateDir := os.Getenv(EnvVar)
	if stateDir == "" {
		return false, nil
	}
	fs, err := openLayer(stateDir, Dirs{WAL: nhc.WALDir, NodeHost: nhc.NodeHostDir})
	if err != nil {
		return false, err
	}
	nhc.Expert.FS = fs
	nhc.Expert.LogDBFactory = logDBFactory{fs}
	return true, nil
}

func openLayer(stateDir string, dirs Dirs) (*FS, error) {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, err
	}
	ctl, err := openControl(filepath.Join(stateDir, ControlName), warn)
	if err != nil {
		return nil, err
	}
	c := ctl.cur.Load()
	if c.LoseUnsynced {
		undone, err := Recover(stateDir)
		for _, u := range undone {
			warn("paddock/faults: power loss: undone %s (its directory was never synced)", u)
		}
		if err != nil {
			return nil, err
		}
	}
	fs, err := NewFS(dirs, c.LoseUnsynced, stateDir, ctl, Hooks{
		LogSaveBefore: func() { Hit(LogSaveBefore) },
		LogSaveAfter:  func() { Hit(LogSaveAfter) },
	})
	if err != nil {
		return nil, err
	}
	active.Store(ctl)
	warn("paddock/faults: fault layer active (state %s): %s", stateDir, c.Control)
	return fs, nil
}

func warn(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// Hit marks that the process reached crash point p: if the control file
// arms p and this is its CrashAt-th hit, the process kills itself.
func Hit(p Point) {
	ctl := active.Load()
	if ctl == nil {
		return
	}
	a := ctl.current()
	if a.Crash != p {
		return
	}
	if n := a.hits.Add(1); n == int64(a.CrashAt) {
		warn("paddock/faults: crash point %s reached (hit %d): SIGKILL", p, n)
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}

// WrapStateMachine puts the state machine's crash points around a
// replica.
func WrapStateMachine(r sm.IConcurrentStateMachine) sm.IConcurrentStateMachine {
	return hooked{r}
}

type hooked struct{ sm.IConcurrentStateMachine }

func (h hooked) Update(entries []sm.Entry) ([]sm.Entry, error) {
	Hit(ApplyBefore)
	out, err := h.IConcurrentStateMachine.Update(entries)
	Hit(ApplyAfter)
	return out, err
}

func (h hooked) SaveSnapshot(ctx any, w io.Writer, fc sm.ISnapshotFileCollection, done <-chan struct{}) error {
	Hit(SnapshotSaveBefore)
	err := h.IConcurrentStateMachine.SaveSnapshot(ctx, w, fc, done)
	Hit(SnapshotSaveAfter)
	return err
}

func (h hooked) RecoverFromSnapshot(r io.Reader, files []sm.SnapshotFile, done <-chan struct{}) error {
	Hit(SnapshotRecoverBefore)
	err := h.IConcurrentStateMachine.RecoverFromSnapshot(r, files, done)
	Hit(SnapshotRecoverAfter)
	return err
}
