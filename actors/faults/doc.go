// Package faults is the storage fault layer of the fault suite
// (bench/robustness): crash points and a fault-injecting file layer under
// Dragonboat's Raft log and snapshots. It is compiled into the server only
// with the faults build tag (`go build -tags faults ./cmd/paddock`), and
// is active only when that binary is started with $PADDOCK_FAULTS set.
// Without the tag, Setup returns nil, Hit and WrapStateMachine are empty
// (they inline to nothing) and the environment is never read.
//
// # Arming
//
// $PADDOCK_FAULTS names a state directory (the harness uses the member's
// directory/faults, beside its data). In it, the file "control" is what
// the harness asks for, one key=value a line ('#' comments):
//
//	lose-unsynced=true      # power loss model (read at start only)
//	crash=apply-after:3     # SIGKILL itself at the 3rd hit of the point
//	enospc=wal              # writes and creates fail with ENOSPC
//	eio=wal,snapshot        # fsyncs fail with EIO
//
// Classes: wal (files under the WAL directory: pebble's write-ahead logs,
// where Dragonboat's Raft entries and state land), snapshot (under
// Dragonboat's snapshot-<shard>-<replica> directories), logdb (every other
// file of the NodeHost directory: pebble's tables, MANIFEST, CURRENT,
// Dragonboat's flag files), all, none. The process re-reads the file
// within a few milliseconds of a change (write it by rename) and logs what
// it read to standard error; a control file that does not parse stops the
// start with its line number, and is ignored (with a warning) while
// running. A crash point counts its hits from the moment the control that
// arms it was read. Points: log-save-before and log-save-after (the fsync
// of a WAL file), snapshot-save-before and -after (the state machine's
// SaveSnapshot), snapshot-recover-before and -after (RecoverFromSnapshot,
// at a restart on a snapshot or one sent by the leader), apply-before and
// -after (Update), reply (a write's result reaching its session, before
// the client is answered). A crash is a SIGKILL of the process by itself,
// after one line on standard error naming the point.
//
// # What the file layer models
//
// The layer is NodeHostConfig.Expert.FS: pebble (Dragonboat's LogDB: the
// WAL directory and the NodeHost directory) and Dragonboat's snapshot
// files (written, received from a leader, read at recovery) all go through
// it. Paddock keeps no snapshot files of its own: the state machine is
// Dragonboat's in-memory kind, whose snapshot streams are Dragonboat's
// files. Paddock's own small files (paddock-identity, raft-address, the
// host directory flags) do not go through it.
//
// With lose-unsynced, data written and not fsynced stays in the process's
// memory (reads, Stat and sizes through the layer see it) and reaches the
// real file at the file's Sync; a Create of an existing file truncates it
// only then. A death of the process (SIGKILL, a crash point) therefore
// loses it, as a power loss loses the page cache. Directory entries are
// modelled as POSIX promises them: a create, mkdir, link, rename or remove
// is done on the real files at once but is durable only once the
// directory holding the new name is fsynced; until then it is recorded in
// the state directory's journal, with what it replaced or removed moved
// aside, and the next start (Setup calls Recover) undoes what the journal
// still holds, newest first, logging each. Limits of the model: a rename
// across directories is durable with the fsync of the new name's directory
// alone; a hard link shares data on disk, so Link writes the source's
// pending data first; metadata other than names and sizes (modes, times)
// is not modelled; files outside the layer are always durable.
//
// ENOSPC fails Create, Link and every write of an armed class without
// writing anything. EIO fails the fsync of a file or directory of an armed
// class; with lose-unsynced it also drops that file's pending data, as
// Linux does after a failed writeback: a later fsync succeeds with the
// data gone.
//
// # Why a LogDB factory too
//
// Dragonboat's default LogDB refuses a file layer that is not one of its
// own test types, and treats a NodeHost whose layer is its *ErrorFS as a
// test that swallows LogDB failures instead of crashing. Setup therefore
// gives the NodeHost the plain layer and pebble the same layer behind an
// ErrorFS that injects nothing, through a LogDB factory that builds
// Dragonboat's own default LogDB (reached by go:linkname, logdb.go): the
// same code and on-disk format as production, and production's reaction
// to a failing disk.
package faults

// EnvVar names the state directory; unset, the layer is off.
const EnvVar = "PADDOCK_FAULTS"

// ControlName is the control file in the state directory.
const ControlName = "control"
