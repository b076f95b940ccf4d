// Command searchcluster plays the search-cluster story from ZooKeeper's
// use cases: 20 index servers register ephemeral nodes under
// /search/nodes, 15 serving and 5 building an index, switching roles over
// time; a master and a backup master campaign for /search/master
// (recipes.Election); a front end watches the master's address
// (recipes.ObserveLeader) and the live node list (recipes.WatchGroup).
// Then the master crashes (cut off from the servers): the promise is that
// the backup takes over and the front end follows within one session
// timeout of the servers' expiring the master's session (at most 1.5
// timeouts after the crash, the servers expiring on their tick), the old
// master learns that it lost the mastership when it reaches the servers
// again, and the front end's final node list is the servers' own.
//
//	go run ./recipes/examples/searchcluster -server HOST:PORT[,HOST:PORT...]
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/paddockdb/paddock/recipes"
	"github.com/paddockdb/paddock/recipes/examples/internal/story"
)

const (
	nodes  = "/search/nodes"
	master = "/search/master"
)

func main() {
	story.Main("searchcluster", "Index servers, a master and a backup, a front end; the master crashes.", play)
}

func play(ctx context.Context, s *story.Story) error {
	admin, err := s.Connect(ctx, "admin")
	if err != nil {
		return err
	}
	defer admin.Close()
	if err := story.DeleteAll(ctx, admin.Conn, "/search"); err != nil {
		return err
	}
	for _, p := range []string{nodes, master} {
		if err := story.EnsurePath(ctx, admin.Conn, p); err != nil {
			return err
		}
	}

	// The front end: the master's address and the live node list.
	front, err := s.Connect(ctx, "frontend")
	if err != nil {
		return err
	}
	defer front.Close()
	fctx, stopFront := context.WithCancel(ctx)
	defer stopFront()
	leaders, err := recipes.ObserveLeader(fctx, front.Conn, master)
	if err != nil {
		return fmt.Errorf("frontend: observe %s: %w", master, err)
	}
	views, err := recipes.WatchGroup(fctx, front.Conn, nodes)
	if err != nil {
		return fmt.Errorf("frontend: watch %s: %w", nodes, err)
	}
	board := story.NewBoard()
	var current string                    // the master the front end sends queries to
	var followed = map[string]time.Time{} // when it first saw each master
	var view []recipes.GroupMember
	var fwg sync.WaitGroup
	fwg.Add(2)
	go func() { // owned by play; ends with fctx
		defer fwg.Done()
		for l := range leaders {
			board.Set(func() {
				if l != current {
					current = l
					if _, ok := followed[l]; !ok && l != "" {
						followed[l] = time.Now()
					}
					front.Say("master is now %q", l)
				}
			})
		}
	}()
	go func() { // owned by play; ends with fctx
		defer fwg.Done()
		for v := range views {
			board.Set(func() { view = v })
		}
	}()
	waitFor := func(what string, limit time.Duration, ok func() bool) error {
		return board.Wait(ctx, "frontend: "+what, limit, ok)
	}

	// The index servers.
	const servers = 20
	members := make([]*recipes.Member, servers)
	roles := make([]string, servers)
	for i := range servers {
		name := fmt.Sprintf("index-%02d", i+1)
		p, err := s.Connect(ctx, name)
		if err != nil {
			return err
		}
		defer p.Close()
		roles[i] = "serving"
		if i >= 15 {
			roles[i] = "building"
		}
		if members[i], err = recipes.JoinGroup(ctx, p.Conn, nodes, name, []byte(roles[i])); err != nil {
			return fmt.Errorf("%s: join: %w", name, err)
		}
	}
	s.Say("index", "%d index servers registered (15 serving, 5 building)", servers)

	// The masters: the first to campaign leads.
	type candidate struct {
		p    *story.Party
		e    *recipes.Election
		lead context.Context
	}
	cands := map[string]*candidate{}
	leads := make(chan *candidate, 2)
	for _, name := range []string{"master-a", "master-b"} {
		p, err := s.Connect(ctx, name)
		if err != nil {
			return err
		}
		defer p.Close()
		c := &candidate{p: p, e: recipes.NewElection(p.Conn, master, name+":7000")}
		defer c.e.Close()
		cands[name] = c
		go func() { // owned by play: Campaign ends with ctx or the session
			lead, err := c.e.Campaign(ctx)
			if err != nil {
				p.Say("campaign ended: %v", err)
				return
			}
			c.lead = lead
			p.Say("is the master")
			leads <- c
		}()
	}
	var first *candidate
	select {
	case first = <-leads:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := waitFor("the first master", s.SessionTimeout, func() bool { return current == first.p.Name+":7000" }); err != nil {
		return err
	}

	// Roles switch over time: a building server starts serving, a
	// serving one starts rebuilding.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10 {
		i, j := rng.IntN(15), 15+rng.IntN(5)
		for _, k := range []int{i, j} {
			if roles[k] == "serving" {
				roles[k] = "building"
			} else {
				roles[k] = "serving"
			}
			if err := members[k].Update(ctx, []byte(roles[k])); err != nil {
				return fmt.Errorf("index-%02d: update: %w", k+1, err)
			}
		}
		time.Sleep(20 * time.Millisecond) // the cluster's pace, not a synchronisation
	}

	// The master crashes.
	crash := time.Now()
	first.p.CutOff()
	first.p.Say("crashed (cut off from the servers)")
	var second *candidate
	select {
	case second = <-leads:
	case <-time.After(s.SessionTimeout*3/2 + time.Second):
		return fmt.Errorf("the backup did not take over within %v of the crash", s.SessionTimeout*3/2+time.Second)
	case <-ctx.Done():
		return ctx.Err()
	}
	took := time.Since(crash)
	backup := second.p.Name + ":7000"
	if err := waitFor("the backup master", s.SessionTimeout*3/2+time.Second, func() bool { return current == backup }); err != nil {
		return err
	}
	var follow time.Duration
	board.Read(func() { follow = followed[backup].Sub(crash) })
	s.Say("check", "backup took over %v after the crash; the front end followed %v after it (session timeout %v)",
		took.Round(time.Millisecond), follow.Round(time.Millisecond), s.SessionTimeout)

	// The old master reaches the servers again: it is no longer master.
	first.p.Heal()
	select {
	case <-first.lead.Done():
		first.p.Say("back: learnt it lost the mastership")
	case <-time.After(2 * s.SessionTimeout):
		return fmt.Errorf("%s still believes it is master %v after it reached the servers again", first.p.Name, 2*s.SessionTimeout)
	}
	if second.lead.Err() != nil {
		return fmt.Errorf("%s lost the mastership it took over", second.p.Name)
	}

	// The front end's node list is the servers' own.
	want := map[string]string{}
	for i, r := range roles {
		want[fmt.Sprintf("index-%02d", i+1)] = r
	}
	if err := waitFor("the final node list", s.SessionTimeout, func() bool {
		if len(view) != len(want) {
			return false
		}
		for _, m := range view {
			if want[m.Name] != string(m.Data) {
				return false
			}
		}
		return true
	}); err != nil {
		return err
	}
	serving := 0
	for _, r := range roles {
		if r == "serving" {
			serving++
		}
	}
	s.Say("check", "front end sees %d index servers, %d serving, as they are", len(want), serving)
	stopFront()
	fwg.Wait()
	return nil
}
