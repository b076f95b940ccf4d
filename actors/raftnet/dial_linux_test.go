package raftnet

import (
	"context"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire/zktest"
)

// TestDialTimeout: a dial that gets no answer fails at the DialTimeout.
// A listener with an accept queue of one (listen backlog 0) that never
// accepts drops the SYNs once the queue holds a connection.
func TestDialTimeout(t *testing.T) {
	addr := zktest.LoopbackAddr(t)
	_, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portText)
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	full := false
	for range 8 {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			full = true
			break
		}
		defer c.Close()
	}
	if !full {
		t.Fatal("the accept queue of a listener with backlog 0 never filled")
	}
	const timeout = 200 * time.Millisecond
	a, _ := start(t, zktest.LoopbackAddr(t), Factory{DialTimeout: timeout}, newLogs())
	t0 := time.Now()
	_, err = a.GetConnection(context.Background(), addr)
	d := time.Since(t0)
	if err == nil {
		t.Fatal("dial to a listener that answers no SYN succeeded")
	}
	if d > timeout+time.Second {
		t.Fatalf("dial with a %v timeout took %v: %v", timeout, d, err)
	}
	t.Logf("dial failed after %v: %v", d.Round(time.Millisecond), err)
}
