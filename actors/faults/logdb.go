//go:build faults

package faults

import (
	_ "unsafe" // go:linkname

	"github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/raftio"
	"github.com/lni/vfs"
)

// Dragonboat's default LogDB (sharded pebble) takes no file layer but its
// own test ones: newDefaultKVStore panics ("invalid fs") on any other FS
// than vfs.Default, its MemFS or its *ErrorFS. And a NodeHost whose
// Expert.FS is an *ErrorFS runs in "error injection mode", where a step
// worker's panic is recovered and swallowed: a LogDB write that fails
// would stall the replica instead of crashing the process, as it does in
// production. So the fault layer gives the NodeHost the plain layer
// (production's panics) and pebble the same layer behind an ErrorFS that
// injects nothing (its check passes), through a LogDB factory that builds
// Dragonboat's own default LogDB: the same code and on-disk format as
// production, reached by linkname because Dragonboat does not export it.

//go:linkname newDefaultLogDB github.com/lni/dragonboat/v4/internal/logdb.NewDefaultLogDB
func newDefaultLogDB(config.NodeHostConfig, config.LogDBCallback, []string, []string) (raftio.ILogDB, error)

// logDBFactory is Dragonboat's default LogDB over the file layer.
type logDBFactory struct{ fs vfs.FS }

func (f logDBFactory) Create(cfg config.NodeHostConfig, cb config.LogDBCallback, dirs, wals []string) (raftio.ILogDB, error) {
	cfg.Expert.FS = vfs.Wrap(f.fs, noInjection{})
	return newDefaultLogDB(cfg, cb, dirs, wals)
}

// Name is the default factory's: a data directory written by either
// binary opens with the other (Dragonboat records the LogDB type).
func (logDBFactory) Name() string { return "sharded-pebble" }

type noInjection struct{}

func (noInjection) MaybeError(vfs.Op) error { return nil }
