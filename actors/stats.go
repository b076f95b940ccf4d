package actors

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// This file holds the read-only accessors the four-letter words need from
// state other code owns.
//
// Watches. mntr's zk_watch_count and wchs read counters the path actors
// keep as they change registrations (Server.watchStats, pathActor.set,
// watcherRef): a few atomic loads, whatever the number of watches. wchc
// and wchp list every registration, so they ask for it: the watch
// registrations live inside the router and the per-path actors and are
// touched only on their goroutines, so they are read with a probe message
// those actors answer on their own goroutine: protoactor's AutoRespond
// calls GetAutoResponse from the actor's mailbox loop, after the actor's
// Receive has seen (and, being a type switch, ignored) the probe. No lock,
// no change to the actors' Receive, and the answer is consistent with
// every message the actor handled before the probe. That costs one
// RequestFuture to the router plus one per watched path, only when an
// operator asks for wchc or wchp (ZooKeeper's guide warns that these two
// may be expensive too); never on the request path.

// watchProbe asks the router for its path actors, or a path actor for its
// registrations.
type watchProbe struct{}

// GetAutoResponse runs on the probed actor's goroutine.
func (*watchProbe) GetAutoResponse(ctx actor.Context) any {
	switch a := ctx.Actor().(type) {
	case *router:
		out := make(map[string]*actor.PID, len(a.paths))
		for p, e := range a.paths {
			out[p] = e.pid
		}
		return &routerPaths{paths: out}
	case *pathActor:
		regs := make(map[uint64]uint8, len(a.regs))
		for w, k := range a.regs {
			regs[w] = k
		}
		return &pathRegs{path: a.path, regs: regs}
	}
	return nil
}

type routerPaths struct{ paths map[string]*actor.PID }

type pathRegs struct {
	path string
	regs map[uint64]uint8
}

// watchReg is one registration: a watcher (session actor) on a path with
// the kinds it holds there.
type watchReg struct {
	path    string
	session int64
	kind    uint8
}

// probeTimeout bounds one probe; an actor that stops meanwhile answers at
// once through the dead-letter process.
const probeTimeout = 5 * time.Second

// watchRegs returns every watch registration, sorted by path then session
// (wchc, wchp). A registration whose session actor is already gone (its
// watcherGone is on the way to the router) is left out.
func (s *Server) watchRegs() ([]watchReg, error) {
	res, err := s.root.RequestFuture(s.meta.router, &watchProbe{}, probeTimeout).Result()
	if err != nil {
		return nil, err
	}
	rp, ok := res.(*routerPaths)
	if !ok {
		return nil, errors.New("paddock/actors: unexpected router probe answer")
	}
	futures := make([]*actor.Future, 0, len(rp.paths))
	for _, pid := range rp.paths {
		futures = append(futures, s.root.RequestFuture(pid, &watchProbe{}, probeTimeout))
	}
	var out []watchReg
	for _, f := range futures {
		r, err := f.Result()
		if err != nil {
			continue // the path actor stopped: its last registration went
		}
		pr, ok := r.(*pathRegs)
		if !ok {
			continue
		}
		for w, k := range pr.regs {
			if k == 0 {
				continue
			}
			v, ok := s.watchers.Load(w)
			if !ok {
				continue // session actor gone; its watcherGone is on its way
			}
			out = append(out, watchReg{path: pr.path, session: v.(*watcherRef).session, kind: k})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].path != out[j].path {
			return out[i].path < out[j].path
		}
		return out[i].session < out[j].session
	})
	return out, nil
}

// watchSummary is wchs's three numbers and zk_watch_count, from the
// counters (never negative: a session's uncounting may run a moment
// before a path actor's counting of the same registration).
func (s *Server) watchSummary() (sessions, paths, dataWatches, count int64) {
	st := &s.watchStats
	return max(st.sessions.Load(), 0), max(st.dataPaths.Load(), 0), max(st.dataRegs.Load(), 0), max(st.count.Load(), 0)
}

// openFDs counts this process's open file descriptors.
func openFDs() int {
	e, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(e) - 1 // ReadDir's own descriptor on the directory
}

// maxFDs is RLIMIT_NOFILE's soft limit (Go raises it to the hard limit at
// start-up, as the JVM does with -XX:+MaxFDLimit).
func maxFDs() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return r.Cur
}

// dirSize is the total size of the regular files under dir, as ZooKeeper's
// getDirSize (recursive).
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// javaDouble formats v as ZooKeeper prints its rounded averages: Java's
// Double.toString of a value rounded to 4 decimals ("0.0", "3.75",
// "18.7143").
func javaDouble(v float64) string {
	v = math.Round(v*1e4) / 1e4
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// memTotalMB reads MemTotal from /proc/meminfo in MiB, 0 if unknown.
func memTotalMB() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb / 1024
		}
	}
	return 0
}
