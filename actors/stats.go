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
// state other code owns. The watch registrations live inside the router
// and the per-path actors and are touched only on their goroutines, so
// they are read with a probe message those actors answer on their own
// goroutine: protoactor's AutoRespond calls GetAutoResponse from the
// actor's mailbox loop, after the actor's Receive has seen (and, being a
// type switch, ignored) the probe. No lock, no change to the actors'
// Receive, and the answer is consistent with every message the actor
// handled before the probe.
//
// Cost: one RequestFuture to the router plus one per watched path, only
// when an operator asks (mntr, wchs, wchc, wchp); never on the request
// path.

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
	case *session:
		return &sessionOf{id: a.id}
	}
	return nil
}

type sessionOf struct{ id int64 }

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

// watchRegs returns every watch registration, sorted by path then session.
// A registration whose session actor is already gone (its watcherGone
// is on the way to the router) is left out.
func (s *Server) watchRegs() ([]watchReg, error) {
	res, err := s.root.RequestFuture(s.router, &watchProbe{}, probeTimeout).Result()
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
	// watcher id -> session id, asked of the session actors (their conn
	// fields are not safe to read from here).
	sessions := map[uint64]int64{}
	watcherSession := func(w uint64) (int64, bool) {
		if id, ok := sessions[w]; ok {
			return id, true
		}
		v, ok := s.watchers.Load(w)
		if !ok {
			return 0, false
		}
		r, err := s.root.RequestFuture(v.(*actor.PID), &watchProbe{}, probeTimeout).Result()
		so, ok := r.(*sessionOf)
		if err != nil || !ok {
			return 0, false
		}
		sessions[w] = so.id
		return so.id, true
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
			id, ok := watcherSession(w)
			if !ok {
				continue // session actor gone; its watcherGone is on its way
			}
			out = append(out, watchReg{path: pr.path, session: id, kind: k})
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

// ZooKeeper's DataTree keeps two watch managers: dataWatches (getData,
// exists, persistent and persistent-recursive watches) and childWatches
// (getChildren and persistent watches). zk_watch_count is the sum of both
// sizes; wchs, wchc and wchp describe dataWatches only. These map our
// kinds onto them.
func inDataManager(k uint8) bool  { return k&(kData|kPersistent|kRecursive) != 0 }
func inChildManager(k uint8) bool { return k&(kChild|kPersistent) != 0 }

// watchCount is ZooKeeper's DataTree.getWatchCount.
func watchCount(regs []watchReg) int {
	n := 0
	for _, r := range regs {
		if inDataManager(r.kind) {
			n++
		}
		if inChildManager(r.kind) {
			n++
		}
	}
	return n
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
