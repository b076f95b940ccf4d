package raftnet

import (
	"net"
	"syscall"
)

// peerClosed asks the kernel, without blocking and without taking any
// byte, whether the peer's FIN or a reset has arrived on nc. The link's
// reader learns the same a moment later; a send that comes first must not
// write into the dead socket.
func peerClosed(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	err = rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EINTR:
		case err != nil: // a reset, most likely
			closed = true
		case n == 0: // the FIN
			closed = true
		default: // a byte on a one-way connection: the reader will close it
			closed = true
		}
	})
	return closed || err != nil
}
