package robustness

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// Tests of the harness itself: the checkers find what they must find, and
// the proxies do what they say.

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func read(c int, key string, call, ret int, value string, version int32) Op {
	return Op{Client: c, Kind: Read, Key: key, Call: ms(call), Return: ms(ret), Value: value, Version: version, Outcome: OK}
}

func cas(c int, key string, call, ret int, expect int32, value string, out Outcome) Op {
	op := Op{Client: c, Kind: CAS, Key: key, Call: ms(call), Return: ms(ret), Expect: expect, Value: value, Outcome: out}
	if out == OK {
		op.Version = expect + 1
	}
	return op
}

func TestRegisterModel(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  []Op
		want porcupine.CheckResult
	}{
		{"sequential", []Op{
			cas(0, "a", 0, 10, 0, "x", OK), read(1, "a", 20, 30, "x", 1), cas(1, "a", 40, 50, 1, "y", OK), read(0, "a", 60, 70, "y", 2),
		}, porcupine.Ok},
		{"stale read after an acknowledged write", []Op{
			cas(0, "a", 0, 10, 0, "x", OK), read(1, "a", 20, 30, "", 0),
		}, porcupine.Illegal},
		{"concurrent read may see either", []Op{
			cas(0, "a", 0, 50, 0, "x", OK), read(1, "a", 10, 20, "", 0), read(2, "a", 30, 40, "x", 1),
		}, porcupine.Ok},
		{"acknowledged write lost", []Op{
			cas(0, "a", 0, 10, 0, "x", OK), cas(0, "a", 20, 30, 1, "y", OK), read(1, "a", 40, 50, "x", 1),
		}, porcupine.Illegal},
		{"unknown write seen later", []Op{
			cas(0, "a", 0, 10, 0, "x", Unknown), read(1, "a", 100, 110, "x", 1),
		}, porcupine.Ok},
		{"unknown write never taken", []Op{
			cas(0, "a", 0, 10, 0, "x", Unknown), read(1, "a", 100, 110, "", 0),
		}, porcupine.Ok},
		{"two writes from one version", []Op{
			cas(0, "a", 0, 10, 0, "x", OK), cas(1, "a", 20, 30, 0, "y", OK),
		}, porcupine.Illegal},
		{"bad version although it matched", []Op{
			cas(0, "a", 0, 10, 0, "x", Fail),
		}, porcupine.Illegal},
		{"keys are independent", []Op{
			cas(0, "a", 0, 10, 0, "x", OK), read(1, "b", 20, 30, "", 0), read(1, "a", 40, 50, "x", 1),
		}, porcupine.Ok},
		{"missing key", []Op{
			{Client: 0, Kind: Read, Key: "a", Call: 0, Return: ms(1), Outcome: OK, Missing: true},
		}, porcupine.Illegal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := CheckLinearizable(tc.ops, 10*time.Second)
			if r.Result != tc.want {
				t.Fatalf("got %s, want %s", r.Result, tc.want)
			}
			if tc.want == porcupine.Illegal && len(r.Failed) == 0 {
				t.Fatal("no excerpt for the failing key")
			}
		})
	}
}

func TestNotTaken(t *testing.T) {
	ops := []Op{
		cas(0, "a", 0, 10, 0, "x", OK),          // 0: 0 → 1
		cas(1, "a", 0, 10, 0, "u1", Unknown),    // 1: another write took version 0: dropped
		cas(1, "a", 20, 30, 1, "u2", Unknown),   // 2: version 2 seen holding "y": dropped
		read(2, "a", 40, 50, "y", 2),            // 3
		cas(1, "a", 60, 70, 2, "u3", Unknown),   // 4: version 3 seen holding u3: kept
		read(2, "a", 80, 90, "u3", 3),           // 5
		cas(1, "a", 100, 110, 5, "u4", Unknown), // 6: nothing above 3 ever seen: dropped
		cas(1, "b", 0, 10, 0, "u5", Unknown),    // 7: b never seen at all: dropped
		cas(1, "a", 120, 130, 3, "u6", Unknown), // 8: nothing above 3 seen: dropped
		cas(1, "a", 120, 130, 2, "u7", Unknown), // 9: version 3 was made by u3, not by u7: dropped
		read(2, "a", 140, 150, "u3", 3),         // 10
	}
	got := notTaken(ops)
	for i, want := range map[int]bool{1: true, 2: true, 4: false, 6: true, 7: true, 8: true, 9: true} {
		if got[i] != want {
			t.Errorf("op %d (%v): dropped %v, want %v", i, ops[i], got[i], want)
		}
	}
}

func TestCheckUniqueIDs(t *testing.T) {
	seq := func(c int, id, name string, call, ret int, out Outcome) SeqOp {
		return SeqOp{Client: c, ID: id, Name: name, Call: ms(call), Return: ms(ret), Outcome: out}
	}
	good := []SeqOp{
		seq(0, "c0-1", "n-0000000000", 0, 10, OK),
		seq(1, "c1-1", "n-0000000002", 5, 30, OK),
		seq(0, "c0-2", "n-0000000001", 12, 20, OK),
		seq(1, "c1-2", "", 40, 50, Unknown),
	}
	children := map[string]string{"n-0000000000": "c0-1", "n-0000000001": "c0-2", "n-0000000002": "c1-1", "n-0000000003": "c1-2"}
	if bad := CheckUniqueIDs(good, children); len(bad) > 0 {
		t.Fatalf("a good history fails: %v", bad)
	}
	for _, tc := range []struct {
		name     string
		ops      []SeqOp
		children map[string]string
		want     string
	}{
		{"duplicate", []SeqOp{seq(0, "c0-1", "n-0000000000", 0, 10, OK), seq(1, "c1-1", "n-0000000000", 20, 30, OK)},
			map[string]string{"n-0000000000": "c0-1"}, "duplicate name"},
		{"out of order", []SeqOp{seq(0, "c0-1", "n-0000000005", 0, 10, OK), seq(1, "c1-1", "n-0000000004", 20, 30, OK)},
			map[string]string{"n-0000000005": "c0-1", "n-0000000004": "c1-1"}, "out of order"},
		{"lost", []SeqOp{seq(0, "c0-1", "n-0000000000", 0, 10, OK)}, map[string]string{}, "lost acknowledged create"},
		{"twice", []SeqOp{seq(0, "c0-1", "", 0, 10, Unknown)},
			map[string]string{"n-0000000000": "c0-1", "n-0000000001": "c0-1"}, "took effect twice"},
		{"stranger", nil, map[string]string{"n-0000000000": "zz"}, "no create of the history wrote"},
	} {
		bad := CheckUniqueIDs(tc.ops, tc.children)
		if !strings.Contains(strings.Join(bad, "\n"), tc.want) {
			t.Errorf("%s: got %q, want a line with %q", tc.name, bad, tc.want)
		}
	}
}

// echoEnsemble is an Ensemble whose members are echo servers, for the
// proxies' tests.
func echoEnsemble(t *testing.T, kind Kind) *Ensemble {
	t.Helper()
	e := &Ensemble{Opts: Options{Kind: kind, Size: 2}, base: pickBase()}
	for id := 1; id <= 2; id++ {
		m := &Member{ID: id, e: e, ip: e.memberIP(id)}
		for i := range 2 {
			ln, err := net.Listen("tcp", net.JoinHostPort(m.ip, "0"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() { io.Copy(c, c); c.Close() }()
				}
			}()
			if i == 0 {
				m.quorumPort = ln.Addr().(*net.TCPAddr).Port
			} else {
				m.electionPort = ln.Addr().(*net.TCPAddr).Port
			}
		}
		e.Members = append(e.Members, m)
	}
	n, err := newNetwork(e)
	if err != nil {
		t.Fatal(err)
	}
	e.Net = n
	t.Cleanup(n.Close)
	return e
}

// echo writes a line through c and waits up to d for it to come back.
func echo(t *testing.T, c net.Conn, r *bufio.Reader, line string, d time.Duration) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return 0, err
	}
	_ = c.SetReadDeadline(time.Now().Add(d))
	got, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	if got != line+"\n" {
		return 0, fmt.Errorf("echo %q, got %q", line, got)
	}
	return time.Since(start), nil
}

func TestNetwork(t *testing.T) {
	e := echoEnsemble(t, Paddock)
	addr := net.JoinHostPort(e.proxyIP(1, 2), fmt.Sprint(e.Member(2).quorumPort))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := echo(t, c, r, "pass", 5*time.Second); err != nil {
		t.Fatalf("pass: %v", err)
	}

	// A black hole one way holds the bytes; healing delivers them.
	e.Net.Set(2, 1, Fault{Blackhole: true})
	if _, err := echo(t, c, r, "held", 300*time.Millisecond); !errors.Is(err, syscall.ETIMEDOUT) && !isTimeout(err) {
		t.Fatalf("through a black hole 2→1: %v, want a timeout", err)
	}
	e.Net.Heal()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "held\n" {
		t.Fatalf("after healing: %q, %v; want the held line", got, err)
	}

	// Delay, each way.
	e.Net.SetBoth(1, 2, Fault{Delay: 150 * time.Millisecond})
	if took, err := echo(t, c, r, "slow", 5*time.Second); err != nil || took < 300*time.Millisecond {
		t.Fatalf("delayed echo took %v (%v), want at least 300ms", took, err)
	}
	e.Net.Heal()

	// A new connection under a black hole reaches nothing until healed.
	e.Net.Isolate(2)
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	r2 := bufio.NewReader(c2)
	if _, err := echo(t, c2, r2, "isolated", 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("to an isolated member: %v, want a timeout", err)
	}
	e.Net.Heal()
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := r2.ReadString('\n'); err != nil || got != "isolated\n" {
		t.Fatalf("after healing: %q, %v", got, err)
	}

	// A member down: its links refuse.
	e.Net.memberDown(2)
	if c3, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c3.Close()
		t.Fatal("dial to a down member's link succeeded")
	}
	if err := e.Net.memberUp(2); err != nil {
		t.Fatal(err)
	}
	c4, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("after memberUp: %v", err)
	}
	defer c4.Close()
	if _, err := echo(t, c4, bufio.NewReader(c4), "up", 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestRewriteInitial(t *testing.T) {
	e := echoEnsemble(t, ZooKeeper)
	c, err := net.Dial("tcp", net.JoinHostPort(e.proxyIP(1, 2), fmt.Sprint(e.Member(2).electionPort)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	self := net.JoinHostPort(e.Member(1).ip, "3888")
	var msg []byte
	msg = binary.BigEndian.AppendUint64(msg, uint64(0xffffffffffff0000)) // -65536
	msg = binary.BigEndian.AppendUint64(msg, 1)
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(self)))
	msg = append(msg, self...)
	msg = append(msg, "rest"...)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	want := net.JoinHostPort(e.proxyIP(2, 1), "3888")
	got := make([]byte, 20+len(want)+4)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if n := binary.BigEndian.Uint32(got[16:]); int(n) != len(want) || string(got[20:20+n]) != want || string(got[20+n:]) != "rest" {
		t.Fatalf("member 2 got %q, want its address for member 1 to be %q, then the rest", got[16:], want)
	}
}
