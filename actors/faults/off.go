//go:build !faults

package faults

import (
	sm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/lni/vfs"
)

// Built reports whether the binary carries the fault layer (the faults
// build tag).
const Built = false

// Setup returns nil: without the faults build tag there are no faults,
// whatever the environment says.
func Setup(Dirs) (vfs.FS, error) { return nil, nil }

// Hit does nothing without the faults build tag.
func Hit(Point) {}

// WrapStateMachine returns r unchanged without the faults build tag.
func WrapStateMachine(r sm.IConcurrentStateMachine) sm.IConcurrentStateMachine { return r }
