//go:build !faults

package faults

import (
	"github.com/lni/dragonboat/v4/config"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Built reports whether the binary carries the fault layer (the faults
// build tag).
const Built = false

// Setup changes nothing and returns false: without the faults build tag
// there are no faults, whatever the environment says.
func Setup(*config.NodeHostConfig) (bool, error) { return false, nil }

// Hit does nothing without the faults build tag.
func Hit(Point) {}

// WrapStateMachine returns r unchanged without the faults build tag.
func WrapStateMachine(r sm.IConcurrentStateMachine) sm.IConcurrentStateMachine { return r }
