// Command clustermonitor plays ZooKeeper's cluster-monitor story:
// machines register ephemeral nodes under /clusterServers as they come up;
// a monitor with a child watch (recipes.WatchGroup) sees every arrival and
// departure without polling. Some machines shut down cleanly, some crash
// (cut off from the servers, their sessions expire). The promise: the
// monitor sees every arrival and every departure, arrivals and clean
// departures within one session timeout, crashes within one session
// timeout of the servers' expiring them (at most 1.5 timeouts after the
// crash: the servers expire sessions on their tick), and its final view
// is the machines still up.
//
//	go run ./recipes/examples/clustermonitor -server HOST:PORT[,HOST:PORT...]
package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/paddockdb/paddock/recipes"
	"github.com/paddockdb/paddock/recipes/examples/internal/story"
)

const root = "/clusterServers"

func main() {
	story.Main("clustermonitor", "Machines register under "+root+"; a monitor sees every arrival and departure.", play)
}

// seen is what the monitor observed of one machine.
type seen struct{ arrived, departed time.Time }

func play(ctx context.Context, s *story.Story) error {
	admin, err := s.Connect(ctx, "admin")
	if err != nil {
		return err
	}
	defer admin.Close()
	if err := story.DeleteAll(ctx, admin.Conn, root); err != nil {
		return err
	}
	if err := story.EnsurePath(ctx, admin.Conn, root); err != nil {
		return err
	}

	monitor, err := s.Connect(ctx, "monitor")
	if err != nil {
		return err
	}
	defer monitor.Close()
	mctx, stopMonitor := context.WithCancel(ctx)
	defer stopMonitor()
	views, err := recipes.WatchGroup(mctx, monitor.Conn, root)
	if err != nil {
		return fmt.Errorf("monitor: watch %s: %w", root, err)
	}
	board := story.NewBoard()
	obs := map[string]*seen{}
	var last []string
	monitorDone := make(chan struct{})
	go func() { // the monitor; ends when mctx ends or the session does
		defer close(monitorDone)
		for view := range views {
			names := make([]string, 0, len(view))
			for _, m := range view {
				names = append(names, m.Name)
			}
			now := time.Now()
			board.Set(func() {
				for _, n := range names {
					if obs[n] == nil {
						obs[n] = &seen{arrived: now}
						monitor.Say("arrival: %s (%d up)", n, len(names))
					}
				}
				for _, n := range last {
					if !slices.Contains(names, n) && obs[n].departed.IsZero() {
						obs[n].departed = now
						monitor.Say("departure: %s (%d up)", n, len(names))
					}
				}
				last = names
			})
		}
	}()
	waitFor := func(what string, limit time.Duration, ok func() bool) error {
		return board.Wait(ctx, "monitor: "+what, limit, ok)
	}

	const n = 8
	machines := make([]*story.Party, n)
	members := make([]*recipes.Member, n)
	joined := make([]time.Time, n)
	for i := range n {
		name := fmt.Sprintf("machine-%02d", i+1)
		p, err := s.Connect(ctx, name)
		if err != nil {
			return err
		}
		defer p.Close()
		machines[i] = p
		joined[i] = time.Now()
		if members[i], err = recipes.JoinGroup(ctx, p.Conn, root, name, []byte(fmt.Sprintf("10.0.0.%d:9000", i+1))); err != nil {
			return fmt.Errorf("%s: join: %w", name, err)
		}
		p.Say("up, registered %s/%s", root, name)
	}
	if err := waitFor("every arrival", s.SessionTimeout, func() bool { return len(obs) == n }); err != nil {
		return err
	}

	// Three machines shut down cleanly, two crash.
	left := map[int]time.Time{}
	for _, i := range []int{1, 4, 6} {
		left[i] = time.Now()
		if err := members[i].Leave(ctx); err != nil {
			return fmt.Errorf("%s: leave: %w", machines[i].Name, err)
		}
		machines[i].Close()
		machines[i].Say("shut down cleanly")
	}
	crashed := map[int]time.Time{}
	for _, i := range []int{0, 5} {
		crashed[i] = time.Now()
		machines[i].CutOff()
		machines[i].Say("crashed (cut off from the servers)")
	}
	gone := func(i int) bool { o := obs[machines[i].Name]; return o != nil && !o.departed.IsZero() }
	if err := waitFor("the clean departures", s.SessionTimeout, func() bool { return gone(1) && gone(4) && gone(6) }); err != nil {
		return err
	}
	if err := waitFor("the crashes", s.SessionTimeout*3/2+time.Second, func() bool { return gone(0) && gone(5) }); err != nil {
		return err
	}
	stopMonitor()
	<-monitorDone

	// The promise, in figures (the monitor has stopped: no lock needed).
	for i, p := range machines {
		o := obs[p.Name]
		if o == nil {
			return fmt.Errorf("%s's arrival was never seen", p.Name)
		}
		s.Say("check", "%s: arrival seen after %v", p.Name, o.arrived.Sub(joined[i]).Round(time.Millisecond))
		if d := o.arrived.Sub(joined[i]); d > s.SessionTimeout {
			return fmt.Errorf("%s's arrival seen %v after it joined (more than the session timeout)", p.Name, d)
		}
		if t, ok := left[i]; ok {
			s.Say("check", "%s: clean departure seen after %v", p.Name, o.departed.Sub(t).Round(time.Millisecond))
		}
		if t, ok := crashed[i]; ok {
			s.Say("check", "%s: crash seen after %v (session timeout %v)", p.Name, o.departed.Sub(t).Round(time.Millisecond), s.SessionTimeout)
		}
		_, down := left[i]
		_, crash := crashed[i]
		if !down && !crash && !o.departed.IsZero() {
			return fmt.Errorf("%s is up but the monitor saw it depart", p.Name)
		}
	}
	want := []string{}
	for i, p := range machines {
		if _, ok := left[i]; ok {
			continue
		}
		if _, ok := crashed[i]; ok {
			continue
		}
		want = append(want, p.Name)
	}
	if !slices.Equal(last, want) {
		return fmt.Errorf("the monitor's final view is %v, the machines up are %v", last, want)
	}
	s.Say("check", "final view %v: the machines up", last)
	return nil
}
