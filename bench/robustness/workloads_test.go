package robustness

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Tests of the checkers of workloads.go and of the proxies' loss model:
// each checker passes a good history and names what is wrong in a bad one.

func wantLine(t *testing.T, name string, bad []string, want string) {
	t.Helper()
	if !strings.Contains(strings.Join(bad, "\n"), want) {
		t.Errorf("%s: got %q, want a line with %q", name, bad, want)
	}
}

func TestCheckSet(t *testing.T) {
	op := func(elem string, out Outcome) SetOp { return SetOp{Elem: elem, Outcome: out} }
	ops := []SetOp{op("a", OK), op("b", Unknown), op("c", Fail), op("d", Unknown), op("e", OK)}
	n, bad := CheckSet(ops, "a,b,e,")
	if len(bad) > 0 || n != (SetCount{Acked: 2, Recovered: 1, Unknown: 2, Failed: 1}) {
		t.Fatalf("good history: %+v %q", n, bad)
	}
	n, bad = CheckSet(ops, "a,")
	wantLine(t, "lost", bad, "lost: acknowledged append e")
	if n.Lost != 1 {
		t.Errorf("lost %d, want 1", n.Lost)
	}
	_, bad = CheckSet(ops, "a,e,c,")
	wantLine(t, "failed there", bad, "failed append c")
	_, bad = CheckSet(ops, "a,e,a,")
	wantLine(t, "twice", bad, "a is there 2 times")
	_, bad = CheckSet(ops, "a,e,zz,")
	wantLine(t, "stranger", bad, "zz is there, and no append")
}

func TestCheckCounter(t *testing.T) {
	op := func(id string, out Outcome) MultiOp { return MultiOp{ID: id, Outcome: out} }
	ops := []MultiOp{op("m1", OK), op("m2", Unknown), op("m3", Fail), op("m4", Unknown)}
	kids := map[string]string{"m1-a": "", "m1-b": "", "m2-a": "", "m2-b": ""}
	if n, bad := CheckCounter(ops, kids); len(bad) > 0 || n != 2 {
		t.Fatalf("good history: %d %q", n, bad)
	}
	for _, tc := range []struct {
		name string
		kids map[string]string
		want string
	}{
		{"partial", map[string]string{"m1-a": "", "m1-b": "", "m4-b": ""}, "partial multi: m4"},
		{"lost", map[string]string{"m1-a": ""}, "partial multi: m1"},
		{"lost whole", map[string]string{}, "lost: acknowledged multi m1"},
		{"failed there", map[string]string{"m1-a": "", "m1-b": "", "m3-a": "", "m3-b": ""}, "failed multi m3"},
		{"stranger", map[string]string{"m1-a": "", "m1-b": "", "x-a": "", "x-b": ""}, "children of x"},
		{"not a part", map[string]string{"m1-a": "", "m1-b": "", "junk": ""}, "child junk is no part"},
	} {
		_, bad := CheckCounter(ops, tc.kids)
		wantLine(t, tc.name, bad, tc.want)
	}
}

func TestCheckQueue(t *testing.T) {
	prod := func(id, name string, out Outcome) ProduceOp { return ProduceOp{ID: id, Name: name, Outcome: out} }
	take := func(c int, name, id string, out Outcome) ConsumeOp {
		return ConsumeOp{Client: c, Name: name, ID: id, Outcome: out}
	}
	produced := []ProduceOp{prod("p1", "item-1", OK), prod("p2", "item-2", OK), prod("p3", "item-3", OK), prod("p4", "", Unknown)}
	consumed := []ConsumeOp{take(1, "item-1", "p1", OK), take(2, "item-1", "p1", Fail), take(2, "item-2", "p2", Unknown)}
	items := map[string]string{"item-3": "p3", "item-4": "p4"}
	if n, bad := CheckQueue(produced, consumed, items); len(bad) > 0 || n != (QueueCount{Produced: 3, Taken: 1, Left: 2}) {
		t.Fatalf("good history: %+v %q", n, bad)
	}
	_, bad := CheckQueue(produced, append(consumed, take(3, "item-1", "p1", OK)), items)
	wantLine(t, "twice", bad, "taken twice: item-1")
	_, bad = CheckQueue(produced, consumed, map[string]string{"item-4": "p4"})
	wantLine(t, "lost", bad, "lost: acknowledged item item-3")
	_, bad = CheckQueue(produced, consumed, map[string]string{"item-1": "p1", "item-3": "p3"})
	wantLine(t, "taken and there", bad, "item-1 was taken by client 1")
	_, bad = CheckQueue(produced, append(consumed, take(3, "item-9", "zz", Fail)), items)
	wantLine(t, "stranger", bad, `item-9 held "zz"`)
	_, bad = CheckQueue(produced, consumed, map[string]string{"item-3": "p3", "item-7": "qq"})
	wantLine(t, "stranger item", bad, `item item-7 holds "qq"`)
}

func TestCheckPlainReads(t *testing.T) {
	rd := func(key string, v int32) PlainRead { return PlainRead{Key: key, Version: v} }
	good := map[int][]PlainRead{1: {rd("a", 1), rd("b", 5), rd("a", 1), rd("a", 3)}, 2: {rd("a", 0)}}
	if bad := CheckPlainReads(good); len(bad) > 0 {
		t.Fatalf("good history: %q", bad)
	}
	bad := CheckPlainReads(map[int][]PlainRead{1: {rd("a", 3), rd("b", 1), rd("a", 2)}})
	wantLine(t, "back in time", bad, "went back in time")
}

func TestCheckWatchOrder(t *testing.T) {
	ev := func(key string, at int, epoch int, armed int32) WatchEvent {
		return WatchEvent{Key: key, At: ms(at), Epoch: epoch, Armed: armed}
	}
	zxid := map[keyVersion]int64{{"a", 1}: 10, {"b", 1}: 11, {"a", 2}: 12, {"b", 2}: 13}
	// Every write began 2 s into the run, the connections at 0 and 5 s.
	written := map[keyVersion]time.Duration{}
	for kv := range zxid {
		written[kv] = 2 * time.Second
	}
	epochs := []time.Duration{0, 5 * time.Second}
	good := []WatchEvent{ev("a", 2100, 1, 0), ev("b", 2200, 1, 0), ev("a", 2300, 1, 1), ev("b", 2400, 1, 1)}
	if bad := CheckWatchOrder(good, epochs, zxid, written); len(bad) > 0 {
		t.Fatalf("good events: %q", bad)
	}
	bad := CheckWatchOrder([]WatchEvent{ev("b", 2100, 1, 0), ev("a", 2200, 1, 0)}, epochs, zxid, written)
	wantLine(t, "out of order", bad, "event for a v1 (zxid 0xa)")
	// In a new connection, changes made before it (setWatches' answer)
	// may come in any order.
	if bad := CheckWatchOrder([]WatchEvent{ev("b", 5100, 2, 0), ev("a", 5200, 2, 0)}, epochs, zxid, written); len(bad) > 0 {
		t.Fatalf("setWatches' events: %q", bad)
	}
}

// TestNetworkLoss: the loss model holds chunks back a retransmission
// timeout and keeps the order; a reset closes the connection.
func TestNetworkLoss(t *testing.T) {
	e := echoEnsemble(t, Paddock)
	addr := net.JoinHostPort(e.proxyIP(1, 2), fmt.Sprint(e.Member(2).quorumPort))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	e.Net.Set(1, 2, Fault{Loss: 1, Retransmit: 50 * time.Millisecond}) // raised to MinRetransmit
	if took, err := echo(t, c, r, "lost", 5*time.Second); err != nil || took < MinRetransmit {
		t.Fatalf("a lost chunk came back after %v (%v), want at least %v", took, err, MinRetransmit)
	}
	// Jitter and loss keep the order of the bytes.
	e.Net.SetBoth(1, 2, Fault{Jitter: 30 * time.Millisecond, Loss: 0.3})
	var sent strings.Builder
	for i := range 50 {
		line := fmt.Sprintf("line %d\n", i)
		sent.WriteString(line)
		if _, err := c.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, sent.Len())
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(r, got); err != nil || string(got) != sent.String() {
		t.Fatalf("through jitter and loss: %v, got\n%s", err, got)
	}
	// A reset closes the connection.
	e.Net.Set(1, 2, Fault{Reset: 1})
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("reset\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadString('\n'); err == nil || isTimeout(err) {
		t.Fatalf("after a reset: %v, want the connection closed", err)
	} else if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
		t.Logf("after a reset: %v", err)
	}
	e.Net.Heal()

	// Network.Reset under a black hole: what was held is lost, not
	// delivered on healing, and the connection is closed.
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	r2 := bufio.NewReader(c2)
	if _, err := echo(t, c2, r2, "before", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	e.Net.Isolate(2)
	if _, err := c2.Write([]byte("held\n")); err != nil {
		t.Fatal(err)
	}
	e.Net.Reset(2)
	e.Net.Heal()
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := r2.ReadString('\n'); err == nil || isTimeout(err) {
		t.Fatalf("after Reset and Heal: %q, %v; want the connection closed and nothing delivered", got, err)
	}
}

func TestRacesSetWatches(t *testing.T) {
	w := &watcher{epochs: []time.Duration{0, 5 * time.Second}}
	read := func(call, ret int) PlainRead { return PlainRead{Call: ms(call), Return: ms(ret)} }
	for _, tc := range []struct {
		armed int
		p     PlainRead
		want  bool
	}{
		{1000, read(2000, 2010), false}, // no reconnection since the watch was set
		{1000, read(5100, 5110), true},  // just after the reconnection
		{1000, read(6500, 6510), false}, // setWatches long answered
		{5200, read(5300, 5310), false}, // the watch was set on the new connection
	} {
		if got := w.racesSetWatches(ms(tc.armed), tc.p); got != tc.want {
			t.Errorf("watch set at %dms, read %v: %v, want %v", tc.armed, tc.p, got, tc.want)
		}
	}
}
