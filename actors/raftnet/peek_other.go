//go:build !linux

package raftnet

import "net"

// peerClosed: only the link's reader tells, off Linux.
func peerClosed(net.Conn) bool { return false }
