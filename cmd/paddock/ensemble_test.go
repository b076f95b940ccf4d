package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/paddockdb/paddock/wire/zktest"
)

// TestServeEnsemble runs a 3-member ensemble of the real binary from a
// stock zoo.cfg with server.N lines and dataDir/myid, kills the leader
// with SIGKILL under a client given every member, and checks that the
// session and its ephemeral survive, writes go on, and the killed member
// comes back with the same data.
func TestServeEnsemble(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three of it")
	}
	bin := buildPaddock(t)
	root := t.TempDir()
	port := func() int {
		_, p, _ := net.SplitHostPort(zktest.LoopbackAddr(t))
		n, _ := strconv.Atoi(p)
		return n
	}
	var servers, addrs []string
	clientPorts := make([]int, 3)
	for i := range 3 {
		servers = append(servers, fmt.Sprintf("server.%d=127.0.0.1:%d:%d", i+1, port(), port()))
		clientPorts[i] = port()
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", clientPorts[i]))
	}
	cfgs := make([]string, 3)
	for i := range 3 {
		dir := filepath.Join(root, fmt.Sprint(i+1))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := strings.Join(append([]string{
			"tickTime=500", "initLimit=10", "syncLimit=5", "dataDir=" + dir,
			fmt.Sprintf("clientPort=%d", clientPorts[i]), "clientPortAddress=127.0.0.1", "4lw.commands.whitelist=*",
			"admin.enableServer=false", // three members on one machine
		}, servers...), "\n") + "\n"
		cfgs[i] = filepath.Join(dir, "zoo.cfg")
		if err := os.WriteFile(cfgs[i], []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	procs := make([]*crashProcess, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); procs[i] = startServeProcess(t, bin, "--config", cfgs[i]) }()
	}
	wg.Wait()
	leader := func() int {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			for i, a := range addrs {
				if procs[i] == nil {
					continue
				}
				if out, err := askFourLetter(a, "srvr"); err == nil && strings.Contains(out, "Mode: leader") {
					return i
				}
			}
			time.Sleep(50 * time.Millisecond) // polling srvr of three processes
		}
		t.Fatal("no member says Mode: leader")
		return -1
	}
	l := leader()
	// ZooKeeper's own status tool reads each member's role from srvr.
	for i := range 3 {
		want := "Mode: follower"
		if i == l {
			want = "Mode: leader"
		}
		out, err := exec.Command("/usr/share/zookeeper/bin/zkServer.sh", "status", cfgs[i]).CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("zkServer.sh status of member %d (leader %d): %v, want %q in\n%s", i+1, l+1, err, want, out)
		}
	}
	c := crashDial(t, strings.Join(addrs, ","))
	defer c.Close()
	if _, err := c.Create("/e", []byte("e"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	sid := c.SessionID()
	procs[l].kill()
	procs[l] = nil
	for i := 0; ; i++ {
		_, err := c.Create(fmt.Sprintf("/w%d", i), nil, 0, zk.WorldACL(zk.PermAll))
		if err == nil && i >= 20 {
			break
		}
		if errors.Is(err, zk.ErrSessionExpired) {
			t.Fatal("session expired in the failover")
		}
		if err != nil {
			i--
			time.Sleep(20 * time.Millisecond) // the client reconnects to another member
		}
	}
	if _, st, err := c.Get("/e"); err != nil || st.EphemeralOwner != sid || c.SessionID() != sid {
		t.Fatalf("after the failover: %v, owner %x, session %x want %x", err, st.EphemeralOwner, c.SessionID(), sid)
	}
	procs[l] = startServeProcess(t, bin, "--config", cfgs[l])
	back := crashDial(t, addrs[l])
	defer back.Close()
	if _, err := back.Sync("/"); err != nil {
		t.Fatal(err)
	}
	kids, _, err := back.Children("/")
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != 1+1+21 { // zookeeper, e, w0..w20
		t.Fatalf("the restarted member has %d children of /: %v", len(kids), kids)
	}
}

// askFourLetter sends a four-letter word to addr and returns the answer.
func askFourLetter(addr, w string) (string, error) {
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write([]byte(w)); err != nil {
		return "", err
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := nc.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String(), nil
		}
	}
}
