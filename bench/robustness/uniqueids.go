package robustness

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SeqOp is one sequential create of the unique-ids workload: a persistent
// sequential znode under a parent, its data an id no other create uses.
type SeqOp struct {
	Client  int
	ID      string // the data written, unique per operation
	Name    string // the created name (OK only)
	Outcome Outcome
	Err     string
	Call    time.Duration
	Return  time.Duration
}

func (o SeqOp) String() string {
	return fmt.Sprintf("[%9.3fs %9.3fs] c%-3d create-seq %s -> %q %s %s", o.Call.Seconds(), o.Return.Seconds(),
		o.Client, o.ID, o.Name, o.Outcome, o.Err)
}

// SeqLog records the unique-ids workload.
type SeqLog struct {
	mu  sync.Mutex
	ops []SeqOp
}

// Add records an operation.
func (l *SeqLog) Add(o SeqOp) {
	l.mu.Lock()
	l.ops = append(l.ops, o)
	l.mu.Unlock()
}

// Ops returns the operations in call order.
func (l *SeqLog) Ops() []SeqOp {
	l.mu.Lock()
	out := append([]SeqOp(nil), l.ops...)
	l.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Call < out[j].Call })
	return out
}

// seqNumber is the counter ZooKeeper appends to a sequential name: its
// last ten digits.
func seqNumber(name string) (int64, error) {
	if len(name) < 10 {
		return 0, fmt.Errorf("%q has no sequence number", name)
	}
	return strconv.ParseInt(name[len(name)-10:], 10, 64)
}

// CheckUniqueIDs checks the unique-ids workload against the parent's
// children at the end (child name → data): no two acknowledged creates got
// the same name; a create that completed before another began got a
// smaller number; every acknowledged create is there with its data; every
// child is the work of one create of the history (acknowledged or
// unknown), and no create took effect twice. It returns one line per
// violation.
func CheckUniqueIDs(ops []SeqOp, children map[string]string) []string {
	var bad []string
	byName := map[string]SeqOp{}
	ids := map[string]SeqOp{}
	var acked []SeqOp
	for _, o := range ops {
		ids[o.ID] = o
		if o.Outcome != OK {
			continue
		}
		if prev, ok := byName[o.Name]; ok {
			bad = append(bad, fmt.Sprintf("duplicate name %s: %v and %v", o.Name, prev, o))
			continue
		}
		byName[o.Name] = o
		acked = append(acked, o)
	}
	// Real-time order: sweep the calls in order, with the largest number
	// of the creates that had returned before each call.
	byReturn := append([]SeqOp(nil), acked...)
	sort.Slice(byReturn, func(i, j int) bool { return byReturn[i].Return < byReturn[j].Return })
	var maxSeq int64 = -1
	var maxOp SeqOp
	j := 0
	for _, o := range acked { // acked is in call order
		for j < len(byReturn) && byReturn[j].Return < o.Call {
			if n, err := seqNumber(byReturn[j].Name); err == nil && n > maxSeq {
				maxSeq, maxOp = n, byReturn[j]
			}
			j++
		}
		n, err := seqNumber(o.Name)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%v: %v", o, err))
			continue
		}
		if n <= maxSeq {
			bad = append(bad, fmt.Sprintf("out of order: %v got %d, after %v had completed with %d", o, n, maxOp, maxSeq))
		}
	}
	for name, o := range byName {
		data, ok := children[name]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("lost acknowledged create: %v is not there at the end", o))
		case data != o.ID:
			bad = append(bad, fmt.Sprintf("%v: at the end %s holds %q", o, name, data))
		}
	}
	seen := map[string]string{}
	for name, data := range children {
		if prev, ok := seen[data]; ok {
			bad = append(bad, fmt.Sprintf("create %s took effect twice: %s and %s", data, prev, name))
		}
		seen[data] = name
		if _, ok := ids[data]; !ok {
			bad = append(bad, fmt.Sprintf("child %s holds %q, which no create of the history wrote", name, data))
		}
	}
	sort.Strings(bad)
	return bad
}

// CountSeq counts the outcomes.
func CountSeq(ops []SeqOp) string {
	n := map[Outcome]int{}
	for _, o := range ops {
		n[o.Outcome]++
	}
	return strings.TrimSpace(fmt.Sprintf("%d ok, %d unknown, %d failed", n[OK], n[Unknown], n[Fail]))
}
