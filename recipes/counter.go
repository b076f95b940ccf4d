package recipes

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// Counter is a distributed 64-bit counter, changed by compare-and-set on
// the node's version.
//
// Layout: the value is the data of the node path, 8 bytes, big-endian,
// two's complement: Curator's DistributedAtomicLong encoding, so that a
// Curator DistributedAtomicLong on the same path reads and changes the
// same value (an absent node or empty data reads as 0). While an Add is
// in flight, path also has an ephemeral child "_c_<uuid>-add", its
// receipt (below); Curator ignores children.
//
// Guarantees: Add is atomic: it reads the value and its version, and
// writes value+delta on condition that the version is unchanged
// (a set with that version), retried from the read on BadVersion. So
// concurrent Adds from any number of sessions never lose an update: K
// adders that each add 1 n times leave K*n.
//
// Failures: connection loss is waited through (within ctx). The write
// is a multi that also creates the receipt, an ephemeral node of this
// session: when the reply is lost, the receipt's presence (after a sync)
// says whether the add was applied, so that a lost reply neither drops
// the add nor applies it twice (a plain retry on BadVersion would). When
// the session expires, Add and Get return an error matching
// wire.ErrSessionExpired; an add whose reply was lost with the session
// may or may not have been applied. A Counter starts no goroutine.
type Counter struct {
	c     *client.Conn
	path  string
	multi qMultiFunc
}

// NewCounter returns the counter at path (created, with the parent, by
// the first Add).
func NewCounter(c *client.Conn, path string) *Counter {
	return &Counter{c: c, path: path, multi: c.Multi}
}

// ErrCounterEncoding is returned when the counter's node holds data that
// is not an 8-byte value.
var ErrCounterEncoding = errors.New("paddock/recipes: counter data is not 8 bytes")

func qDecodeCounter(data []byte) (int64, error) {
	switch len(data) {
	case 0:
		return 0, nil
	case 8:
		return int64(binary.BigEndian.Uint64(data)), nil
	}
	return 0, fmt.Errorf("%w (%d bytes)", ErrCounterEncoding, len(data))
}

func qEncodeCounter(v int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(v))
}

// Get returns the counter's value (0 when it does not exist).
func (k *Counter) Get(ctx context.Context) (int64, error) {
	data, _, err := getData(ctx, k.c, k.path)
	if errors.Is(err, wire.ErrNoNode) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return qDecodeCounter(data)
}

// Add adds delta to the counter (wrapping around on overflow, like
// Java's long) and returns the new value.
func (k *Counter) Add(ctx context.Context, delta int64) (int64, error) {
	receipt := k.path + "/" + protectedPrefix + newGUID() + "-add"
	for {
		data, st, err := getData(ctx, k.c, k.path)
		if errors.Is(err, wire.ErrNoNode) {
			// The first add creates the node.
			if i := strings.LastIndexByte(k.path, '/'); i > 0 {
				if err := ensurePath(ctx, k.c, k.path[:i]); err != nil {
					return 0, err
				}
			}
			err := qMultiReceipt(ctx, k.c, k.multi, receipt, client.CreateOp(k.path, qEncodeCounter(delta), wire.ModePersistent, nil))
			if errors.Is(err, wire.ErrNodeExists) {
				continue // created by another: add to it
			}
			if err != nil {
				return 0, err
			}
			return delta, nil
		}
		if err != nil {
			return 0, err
		}
		v, err := qDecodeCounter(data)
		if err != nil {
			return 0, err
		}
		nv := v + delta
		err = qMultiReceipt(ctx, k.c, k.multi, receipt, client.SetDataOp(k.path, qEncodeCounter(nv), st.Version))
		if errors.Is(err, wire.ErrBadVersion) || errors.Is(err, wire.ErrNoNode) {
			continue // changed (or deleted) since our read: read again
		}
		if err != nil {
			return 0, err
		}
		return nv, nil
	}
}
