package robustness

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Outcome is what a client learnt of an operation.
type Outcome int8

const (
	// OK: the server said it was done.
	OK Outcome = iota
	// Fail: the server said it was not done (a ZooKeeper error code such
	// as BadVersion).
	Fail
	// Unknown: no answer (connection lost, session moved or expired, a
	// timeout): it may or may not have taken effect.
	Unknown
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Fail:
		return "fail"
	}
	return "unknown"
}

// OutcomeOf classifies a go-zookeeper error: nil is OK, a ZooKeeper
// result code is Fail, anything else (the request may have reached the
// server) is Unknown.
func OutcomeOf(err error) Outcome {
	switch {
	case err == nil:
		return OK
	case errors.Is(err, zk.ErrBadVersion), errors.Is(err, zk.ErrNoNode), errors.Is(err, zk.ErrNodeExists),
		errors.Is(err, zk.ErrNotEmpty), errors.Is(err, zk.ErrNoChildrenForEphemerals), errors.Is(err, zk.ErrBadArguments):
		return Fail
	}
	return Unknown
}

// OpKind names a register operation.
type OpKind int8

const (
	// Read is sync(key) then getData(key): it must see every write
	// completed before it began.
	Read OpKind = iota
	// CAS is setData(key, Value, Expect): it succeeds only if the key's
	// version is Expect, and makes it Expect+1.
	CAS
)

// Op is one register operation in a history.
type Op struct {
	Client  int    // the recording client's index
	Server  string // the member the client was connected to at the call
	Kind    OpKind
	Key     string
	Expect  int32  // CAS: the version it requires
	Value   string // CAS: written; Read: read
	Version int32  // Read: read; CAS ok: the new version
	Zxid    int64  // Read: the mzxid read; CAS ok: the write's (0: unknown)
	Missing bool   // the server said the key does not exist
	Outcome Outcome
	Err     string
	Call    time.Duration // since the history's start
	Return  time.Duration // since the history's start (Unknown: when the client gave up)
}

func (op Op) String() string {
	s := fmt.Sprintf("[%9.3fs %9.3fs] c%-3d %-22s ", op.Call.Seconds(), op.Return.Seconds(), op.Client, op.Server)
	switch op.Kind {
	case Read:
		s += fmt.Sprintf("read  %s", op.Key)
		if op.Outcome == OK {
			s += fmt.Sprintf(" -> %q v%d", op.Value, op.Version)
		}
	case CAS:
		s += fmt.Sprintf("cas   %s v%d := %q", op.Key, op.Expect, op.Value)
		if op.Outcome == OK {
			s += fmt.Sprintf(" -> v%d", op.Version)
		}
	}
	if op.Missing {
		s += " -> no node"
	}
	s += " " + op.Outcome.String()
	if op.Err != "" {
		s += " (" + op.Err + ")"
	}
	return s
}

// History records operations from many goroutines, with times on one
// monotonic clock.
type History struct {
	start time.Time

	mu  sync.Mutex
	ops []Op
}

// NewHistory starts a history now.
func NewHistory() *History { return &History{start: time.Now()} }

// Now is the time since the history started.
func (h *History) Now() time.Duration { return time.Since(h.start) }

// Add records a completed (or abandoned) operation.
func (h *History) Add(op Op) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// Ops returns the operations in call order.
func (h *History) Ops() []Op {
	h.mu.Lock()
	out := append([]Op(nil), h.ops...)
	h.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Call < out[j].Call })
	return out
}

// Write writes every operation, one a line, in call order.
func (h *History) Write(w io.Writer) error {
	var b strings.Builder
	for _, op := range h.Ops() {
		b.WriteString(op.String())
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Count returns how many operations had each kind and outcome.
func (h *History) Count() map[string]int {
	out := map[string]int{}
	for _, op := range h.Ops() {
		k := "read"
		if op.Kind == CAS {
			k = "cas"
		}
		out[k+" "+op.Outcome.String()]++
	}
	return out
}

// Latency returns the median and the 99th percentile of the completed
// operations of a kind.
func (h *History) Latency(kind OpKind) (p50, p99 time.Duration) {
	var ds []time.Duration
	for _, op := range h.Ops() {
		if op.Kind == kind && op.Outcome != Unknown {
			ds = append(ds, op.Return-op.Call)
		}
	}
	if len(ds) == 0 {
		return 0, 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], ds[len(ds)*99/100]
}
