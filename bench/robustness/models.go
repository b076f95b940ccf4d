package robustness

import (
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Register is a znode's data and version: the state of one key of the
// register model. Every key starts as "" at version 0 (created before the
// history begins).
type Register struct {
	Value   string
	Version int32
}

// RegisterModel is the porcupine model of a set of keys, each a register
// read with sync+getData and written with a versioned setData (a
// compare-and-set on the version). Histories are split by key.
//
// An Unknown CAS is given an infinite return time (the caller's
// porcupineOps does it), so the checker may place it anywhere after its
// call, including after everything else, which is the same as never: the
// step may therefore apply it whenever its version matches.
var RegisterModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, o := range history {
			k := o.Input.(Op).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], o)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return Register{} },
	Step: func(state, input, _ any) (bool, any) {
		s, op := state.(Register), input.(Op)
		if op.Missing {
			return false, s
		}
		switch op.Kind {
		case Read:
			return op.Value == s.Value && op.Version == s.Version, s
		case CAS:
			switch op.Outcome {
			case OK:
				if s.Version != op.Expect || op.Version != op.Expect+1 {
					return false, s
				}
				return true, Register{Value: op.Value, Version: op.Expect + 1}
			case Fail:
				return s.Version != op.Expect, s
			default: // Unknown
				if s.Version == op.Expect {
					return true, Register{Value: op.Value, Version: op.Expect + 1}
				}
				return true, s
			}
		}
		return false, s
	},
	Hash: func(state any) uint64 {
		s := state.(Register)
		h := fnv.New64a()
		fmt.Fprintf(h, "%d/%s", s.Version, s.Value)
		return h.Sum64()
	},
	DescribeOperation: func(input, _ any) string {
		op := input.(Op)
		switch op.Kind {
		case Read:
			if op.Missing {
				return fmt.Sprintf("read(%s) -> no node", op.Key)
			}
			return fmt.Sprintf("read(%s) -> %q v%d", op.Key, op.Value, op.Version)
		default:
			return fmt.Sprintf("cas(%s, v%d, %q) %s", op.Key, op.Expect, op.Value, op.Outcome)
		}
	},
	DescribeState: func(state any) string {
		s := state.(Register)
		return fmt.Sprintf("%q v%d", s.Value, s.Version)
	},
}

// porcupineOps turns a history into porcupine operations: reads that did
// not complete are left out (they changed nothing), unknown writes that
// cannot have taken effect too (notTaken), the other unknown writes get a
// return time after everything else.
func porcupineOps(ops []Op) []porcupine.Operation {
	var end time.Duration
	for _, op := range ops {
		end = max(end, op.Return)
	}
	skip := notTaken(ops)
	out := make([]porcupine.Operation, 0, len(ops))
	for i, op := range ops {
		if (op.Kind == Read && op.Outcome != OK) || skip[i] {
			continue
		}
		ret := op.Return
		if op.Outcome == Unknown {
			ret = end + time.Second
		}
		out = append(out, porcupine.Operation{ClientId: op.Client, Input: op, Output: op,
			Call: int64(op.Call), Return: int64(ret)})
	}
	return out
}

// notTaken marks the unknown writes that no linearization can apply, so
// that the checker need not try them (each unknown write is concurrent
// with everything after its call, and a few dozen make the search slow).
// Versions make it exact: version e+1 of a key is made by exactly one
// write, the one that found version e. An unknown write expecting e
// cannot be that write when an acknowledged write expected e too, when
// version e+1 was seen holding another value, or when no version above e
// was ever seen (then it could only come after everything, which is the
// same as never). Dropping such a write changes no verdict.
func notTaken(ops []Op) map[int]bool {
	type key struct {
		k string
		v int32
	}
	ackedFrom := map[key]bool{}   // an OK CAS moved the key from version v
	valueAt := map[key]string{}   // the value seen at version v
	maxSeen := map[string]int32{} // the highest version seen
	for _, op := range ops {
		if op.Outcome != OK || op.Missing {
			continue
		}
		v := op.Version
		if op.Kind == CAS {
			ackedFrom[key{op.Key, op.Expect}] = true
		}
		valueAt[key{op.Key, v}] = op.Value
		maxSeen[op.Key] = max(maxSeen[op.Key], v)
	}
	out := map[int]bool{}
	for i, op := range ops {
		if op.Kind != CAS || op.Outcome != Unknown {
			continue
		}
		next, seen := valueAt[key{op.Key, op.Expect + 1}]
		if ackedFrom[key{op.Key, op.Expect}] || (seen && next != op.Value) || maxSeen[op.Key] <= op.Expect {
			out[i] = true
		}
	}
	return out
}

// LinearizabilityReport is the result of checking a register history.
type LinearizabilityReport struct {
	Result porcupine.CheckResult
	Info   porcupine.LinearizationInfo
	// Failed holds, per key that is not linearizable, the operations
	// around the first one the checker could not place.
	Failed map[string][]Op
}

// CheckLinearizable checks a register history key by key, with timeout
// for the whole check.
func CheckLinearizable(ops []Op, timeout time.Duration) LinearizabilityReport {
	pops := porcupineOps(ops)
	res, info := porcupine.CheckOperationsVerbose(RegisterModel, pops, timeout)
	r := LinearizabilityReport{Result: res, Info: info, Failed: map[string][]Op{}}
	if res != porcupine.Illegal {
		return r
	}
	// Find, per failing key, the first operation outside the longest
	// linearizable prefix.
	for _, part := range RegisterModel.Partition(pops) {
		if porcupine.CheckOperations(RegisterModel, part) {
			continue
		}
		_, pinfo := porcupine.CheckOperationsVerbose(RegisterModel, part, timeout)
		placed := map[int64]bool{} // by call time, unique enough with the client id
		best := 0
		for _, lin := range pinfo.PartialLinearizationsOperations() {
			for _, seq := range lin {
				if len(seq) > best {
					best = len(seq)
					placed = map[int64]bool{}
					for _, o := range seq {
						placed[o.Call*1000+int64(o.ClientId)] = true
					}
				}
			}
		}
		sorted := slices.Clone(part)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i].Call < sorted[j].Call })
		var first porcupine.Operation
		for _, o := range sorted {
			if !placed[o.Call*1000+int64(o.ClientId)] {
				first = o
				break
			}
		}
		key := first.Input.(Op).Key
		from, to := first.Call-int64(2*time.Second), first.Call+int64(time.Second)
		for _, o := range sorted {
			op := o.Input.(Op)
			if (o.Call >= from && o.Call <= to) || (o.Return >= from && o.Call <= to) {
				r.Failed[key] = append(r.Failed[key], op)
			}
		}
	}
	return r
}

// Describe writes the failing keys' excerpts.
func (r LinearizabilityReport) Describe(w io.Writer) {
	keys := make([]string, 0, len(r.Failed))
	for k := range r.Failed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "key %s: operations around the first that no linearization can place:\n", k)
		var b strings.Builder
		for _, op := range r.Failed[k] {
			b.WriteString("  " + op.String() + "\n")
		}
		io.WriteString(w, b.String())
	}
}
