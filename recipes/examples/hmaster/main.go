// Command hmaster plays HBase's use of ZooKeeper: three masters campaign
// for /hbase/master (recipes.Election) and one is active; region servers
// register ephemerally under /hbase/rs (recipes.JoinGroup); the active
// master watches them (recipes.WatchGroup), assigns 20 regions to live
// servers and records each assignment in /hbase/assign. A region server
// crashes: the active master learns of it from its vanished node and
// moves its regions. Then the active master crashes: another becomes
// active, takes the assignments over from /hbase/assign and goes on. The
// promise: at most one master acts at a time, a dead region server's
// regions move within 1.5 session timeouts of its crash (the servers
// expire it on their tick), a new master is active within the same bound
// after the old one's crash, and at the end every region is on a live
// region server.
//
//	go run ./recipes/examples/hmaster -server HOST:PORT[,HOST:PORT...]
package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paddockdb/paddock/recipes"
	"github.com/paddockdb/paddock/recipes/examples/internal/story"
	"github.com/paddockdb/paddock/wire"
)

const (
	masterPath = "/hbase/master"
	rsPath     = "/hbase/rs"
	assignPath = "/hbase/assign"
	regions    = 20
)

func main() {
	story.Main("hmaster", "HBase-style masters and region servers; a region server and then the active master crash.", play)
}

// cluster is what the story tracks to check its promise.
type cluster struct {
	s      *story.Story
	acting atomic.Int32 // masters acting now
	twice  atomic.Bool  // two acted at once

	mu    sync.Mutex
	moved map[string]time.Time // region server -> when its regions were all moved off it
	kick  chan struct{}
}

func (c *cluster) notify() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func play(ctx context.Context, s *story.Story) error {
	admin, err := s.Connect(ctx, "admin")
	if err != nil {
		return err
	}
	defer admin.Close()
	if err := story.DeleteAll(ctx, admin.Conn, "/hbase"); err != nil {
		return err
	}
	for _, p := range []string{masterPath, rsPath, assignPath} {
		if err := story.EnsurePath(ctx, admin.Conn, p); err != nil {
			return err
		}
	}
	c := &cluster{s: s, moved: map[string]time.Time{}, kick: make(chan struct{}, 1)}

	// Region servers.
	rs := make([]*story.Party, 5)
	for i := range rs {
		p, err := s.Connect(ctx, fmt.Sprintf("rs-%d", i+1))
		if err != nil {
			return err
		}
		defer p.Close()
		if _, err := recipes.JoinGroup(ctx, p.Conn, rsPath, p.Name, []byte(p.Name+":16020")); err != nil {
			return fmt.Errorf("%s: join: %w", p.Name, err)
		}
		rs[i] = p
	}

	// Masters.
	type master struct {
		p       *story.Party
		e       *recipes.Election
		lead    context.Context
		crashed chan struct{}
	}
	becameActive := make(chan *master, 3)
	for i := range 3 {
		p, err := s.Connect(ctx, fmt.Sprintf("master-%d", i+1))
		if err != nil {
			return err
		}
		defer p.Close()
		m := &master{p: p, e: recipes.NewElection(p.Conn, masterPath, p.Name), crashed: make(chan struct{})}
		defer m.e.Close()
		go func() { // owned by play; ends with ctx, the session, or the crash
			lead, err := m.e.Campaign(ctx)
			if err != nil {
				m.p.Say("campaign ended: %v", err)
				return
			}
			m.lead = lead
			becameActive <- m
			if err := c.act(lead, m.p, m.crashed); err != nil {
				m.p.Say("stopped acting: %v", err)
			}
		}()
	}
	activeOne := func(limit time.Duration) (*master, error) {
		select {
		case m := <-becameActive:
			return m, nil
		case <-time.After(limit):
			return nil, fmt.Errorf("no master became active within %v", limit)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	first, err := activeOne(s.SessionTimeout)
	if err != nil {
		return err
	}
	if err := c.waitAssigned(ctx, admin.Conn, names(rs), s.SessionTimeout); err != nil {
		return err
	}

	// A region server crashes.
	victim := rs[2]
	crash := time.Now()
	victim.CutOff()
	victim.Say("crashed (cut off from the servers)")
	live := names(slices.Delete(slices.Clone(rs), 2, 3))
	if err := c.waitAssigned(ctx, admin.Conn, live, s.SessionTimeout*3/2+time.Second); err != nil {
		return err
	}
	s.Say("check", "%s's regions moved %v after its crash (session timeout %v)", victim.Name, time.Since(crash).Round(time.Millisecond), s.SessionTimeout)

	// The active master crashes.
	crash = time.Now()
	close(first.crashed)
	first.p.CutOff()
	first.p.Say("crashed (cut off from the servers)")
	second, err := activeOne(s.SessionTimeout*3/2 + time.Second)
	if err != nil {
		return err
	}
	s.Say("check", "%s active %v after %s's crash", second.p.Name, time.Since(crash).Round(time.Millisecond), first.p.Name)
	if err := c.waitAssigned(ctx, admin.Conn, live, s.SessionTimeout); err != nil {
		return err
	}
	first.p.Heal()
	select {
	case <-first.lead.Done():
		first.p.Say("back: learnt it is no longer the active master")
	case <-time.After(2 * s.SessionTimeout):
		return fmt.Errorf("%s still holds the mastership %v after it reached the servers again", first.p.Name, 2*s.SessionTimeout)
	}
	if c.twice.Load() {
		return errors.New("two masters acted at once")
	}
	s.Say("check", "every region on a live region server; one master acted at a time")
	return nil
}

func names(ps []*story.Party) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

// act is the active master's work, while lead lives and it has not
// crashed: keep every region assigned to a live region server.
func (c *cluster) act(lead context.Context, p *story.Party, crashed <-chan struct{}) error {
	if c.acting.Add(1) > 1 {
		c.twice.Store(true)
	}
	defer c.acting.Add(-1)
	p.Say("active master")
	ctx, cancel := context.WithCancel(lead)
	defer cancel()
	go func() { // ends with ctx
		select {
		case <-crashed:
			cancel()
		case <-ctx.Done():
		}
	}()
	views, err := recipes.WatchGroup(ctx, p.Conn, rsPath)
	if err != nil {
		return err
	}
	for view := range views {
		var live []string
		for _, m := range view {
			live = append(live, m.Name)
		}
		if len(live) == 0 {
			continue
		}
		for r := range regions {
			path := fmt.Sprintf("%s/region-%02d", assignPath, r+1)
			on, st, err := p.Get(ctx, path)
			switch {
			case errors.Is(err, wire.ErrNoNode):
				to := live[r%len(live)]
				if _, err := p.Create(ctx, path, []byte(to), wire.ModePersistent, nil); err != nil && !errors.Is(err, wire.ErrNodeExists) {
					return err
				}
			case err != nil:
				return err
			case !slices.Contains(live, string(on)):
				to := live[r%len(live)]
				if _, err := p.Set(ctx, path, []byte(to), st.Version); err != nil && !errors.Is(err, wire.ErrBadVersion) {
					return err
				}
				p.Say("region-%02d: %s is gone, moved to %s", r+1, on, to)
			}
		}
		c.notify()
	}
	return nil
}

// waitAssigned waits until every region is assigned to one of live.
func (c *cluster) waitAssigned(ctx context.Context, conn interface {
	Get(context.Context, string) ([]byte, wire.Stat, error)
}, live []string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		ok := true
		for r := range regions {
			on, _, err := conn.Get(ctx, fmt.Sprintf("%s/region-%02d", assignPath, r+1))
			if err != nil && !errors.Is(err, wire.ErrNoNode) {
				return err
			}
			if err != nil || !slices.Contains(live, string(on)) {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the regions are not all on live region servers %v within %v", live, limit)
		}
		select {
		case <-c.kick: // the active master went through a view of the region servers
		case <-time.After(time.Until(deadline)):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
