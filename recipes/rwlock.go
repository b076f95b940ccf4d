package recipes

import (
	"strings"

	"github.com/paddockdb/paddock/wire/client"
)

// Node names of Curator's InterProcessReadWriteLock.
const (
	readLockName  = "__READ__"
	writeLockName = "__WRIT__"
)

// RWLock is a distributed read/write lock, the layout and protocol of
// Curator's InterProcessReadWriteLock: any number of readers hold it
// together, a writer holds it alone.
//
// # Guarantees
//
// A writer holds the lock only when no other contender (reader or writer)
// is before it; a reader holds it when no writer is before it. Contenders
// are served in the order they asked, so a reader that arrives after a
// waiting writer waits for that writer (writers are not starved).
//
// # Layout
//
// Readers create <path>/_c_<guid>-__READ__<seq>, writers
// <path>/_c_<guid>-__WRIT__<seq>, ephemeral sequential, all sorted by
// their sequence. A waiting writer watches the node just before its own;
// a waiting reader watches the last writer before its own node. Neither
// is woken by nodes it does not wait for.
//
// # Failures and revocation
//
// As for Mutex: the handles ReadLock and WriteLock return are Mutex
// values with the same connection-loss, lost-reply, expiry and Revoked
// behaviour, and the same absence of reentrancy (no upgrade from read to
// write, no downgrade).
type RWLock struct {
	c    *client.Conn
	path string
}

// NewRWLock returns the read/write lock at path.
func NewRWLock(c *client.Conn, path string) *RWLock { return &RWLock{c: c, path: path} }

// ReadLock returns a new handle on the read side: each holds one read
// lock, so goroutines reading at the same time each take their own.
func (rw *RWLock) ReadLock() *Mutex { return newMutex(rw.c, rw.path, readLockName, readerPolicy) }

// WriteLock returns a new handle on the write side.
func (rw *RWLock) WriteLock() *Mutex { return newMutex(rw.c, rw.path, writeLockName, exclusive) }

// readerPolicy holds when no writer is before self, else waits for the
// last writer before it (as Curator's readLockPredicate, which waits for
// the first; either is woken once per writer ahead and looks again).
func readerPolicy(nodes []seqNode, self int) string {
	for i := self - 1; i >= 0; i-- {
		if strings.Contains(nodes[i].Name, writeLockName) {
			return nodes[i].Name
		}
	}
	return ""
}
