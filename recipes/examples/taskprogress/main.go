// Command taskprogress plays the task-progress story: a scheduler puts
// tasks in a locking queue (recipes.LockingQueue: a task taken is claimed
// by an ephemeral node until it is acknowledged); workers register
// (recipes.JoinGroup) and write their progress into their own ephemeral
// node; the scheduler watches the workers (recipes.WatchGroup) and sees
// progress live. One worker crashes in the middle of a task (cut off from
// the servers): its session expires, its claim goes with it, and the task
// is handed to another worker. The promise: every task finishes exactly
// once (one done marker each, the crashed worker's task finished by
// another), and the scheduler saw the crashed worker go.
//
//	go run ./recipes/examples/taskprogress -server HOST:PORT[,HOST:PORT...]
package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/paddockdb/paddock/recipes"
	"github.com/paddockdb/paddock/recipes/examples/internal/story"
	"github.com/paddockdb/paddock/wire"
)

const (
	root    = "/taskprogress"
	queue   = root + "/queue"
	workers = root + "/workers"
	done    = root + "/done"
)

func main() {
	story.Main("taskprogress", "A scheduler hands out tasks; a worker dies mid-task; every task finishes exactly once.", play)
}

func play(ctx context.Context, s *story.Story) error {
	sched, err := s.Connect(ctx, "scheduler")
	if err != nil {
		return err
	}
	defer sched.Close()
	if err := story.DeleteAll(ctx, sched.Conn, root); err != nil {
		return err
	}
	for _, p := range []string{queue, workers, done} {
		if err := story.EnsurePath(ctx, sched.Conn, p); err != nil {
			return err
		}
	}
	const tasks = 24
	q := recipes.NewLockingQueue(sched.Conn, queue)
	for i := range tasks {
		if err := q.Put(ctx, []byte(fmt.Sprintf("task-%02d", i+1))); err != nil {
			return fmt.Errorf("scheduler: put: %w", err)
		}
	}
	sched.Say("queued %d tasks", tasks)

	// The scheduler watches the workers' progress.
	sctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	views, err := recipes.WatchGroup(sctx, sched.Conn, workers)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	alive := map[string]string{}
	departed := map[string]string{} // worker -> its last progress
	crashedSeen := make(chan string, 4)
	go func() { // owned by play; ends with sctx
		for v := range views {
			now := map[string]string{}
			for _, m := range v {
				now[m.Name] = string(m.Data)
			}
			mu.Lock()
			for name, last := range alive {
				// A worker leaves between tasks; one gone in the middle of
				// a task died. (A watch may show the departure without
				// the last progress written just before it.)
				_, up := now[name]
				switch {
				case up:
				case last == "finished" || strings.HasSuffix(last, " 100%"):
					sched.Say("%s left: no task left for it", name)
				default:
					departed[name] = last
					sched.Say("%s is gone (last progress %q): its task goes back to the queue", name, last)
					select {
					case crashedSeen <- name:
					default:
					}
				}
			}
			alive = now
			mu.Unlock()
		}
	}()

	const fleet = 4
	victim := 1 // worker-2 crashes in its third task, at 60%
	var wg sync.WaitGroup
	errs := make([]error, fleet)
	parties := make([]*story.Party, fleet)
	for i := range fleet {
		name := fmt.Sprintf("worker-%d", i+1)
		p, err := s.Connect(ctx, name)
		if err != nil {
			return err
		}
		defer p.Close()
		parties[i] = p
		wg.Add(1)
		go func() { // owned by play; ends when the queue is drained or the session ends
			defer wg.Done()
			errs[i] = work(ctx, s, p, i == victim)
		}()
	}

	// Wait for the crash to be seen, then for every task to be done.
	var crashed string
	select {
	case crashed = <-crashedSeen:
	case <-ctx.Done():
		return fmt.Errorf("the scheduler never saw the crashed worker go: %w", ctx.Err())
	}
	parties[victim].Heal() // it learns its session expired, and stops
	doneCh := make(chan struct{})
	go func() { wg.Wait(); close(doneCh) }()
	select {
	case <-doneCh:
	case <-ctx.Done():
		return ctx.Err()
	}
	stopWatch()

	for i, err := range errs {
		if i == victim {
			if !story.Expired(err) {
				return fmt.Errorf("the crashed worker ended with %v, not with its session expired", err)
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	markers, err := sched.Children(ctx, done)
	if err != nil {
		return err
	}
	if len(markers) != tasks {
		return fmt.Errorf("%d tasks finished, %d were queued", len(markers), tasks)
	}
	if n, err := q.Len(ctx); err != nil || n != 0 {
		return fmt.Errorf("the queue holds %d items after the run (%v)", n, err)
	}
	mu.Lock()
	last := departed[crashed]
	mu.Unlock()
	task, _, _ := strings.Cut(last, " ")
	by, _, err := sched.Get(ctx, done+"/"+task)
	if err != nil {
		return fmt.Errorf("the crashed worker's %s: %w", task, err)
	}
	if string(by) == crashed {
		return fmt.Errorf("%s, which %s crashed in, is marked done by it", task, crashed)
	}
	s.Say("check", "all %d tasks finished exactly once; %s, which %s crashed in at %q, was finished by %s", tasks, task, crashed, last, by)
	return nil
}

// work takes tasks until the queue is empty, reporting progress in its
// group node. The victim is cut off in its third task at 60%.
func work(ctx context.Context, s *story.Story, p *story.Party, victim bool) error {
	m, err := recipes.JoinGroup(ctx, p.Conn, workers, p.Name, []byte("idle"))
	if err != nil {
		return err
	}
	q := recipes.NewLockingQueue(p.Conn, queue)
	for n := 1; ; n++ {
		if left, err := q.Len(ctx); err != nil {
			return err
		} else if left == 0 {
			if err := m.Update(ctx, []byte("finished")); err != nil {
				return err
			}
			return m.Leave(ctx)
		}
		tctx, cancel := context.WithTimeout(ctx, s.SessionTimeout)
		item, err := q.Take(tctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			continue // another worker took the last ones; look again
		}
		if err != nil {
			return err
		}
		task := string(item.Data())
		if ok, _, err := p.Exists(ctx, done+"/"+task); err != nil {
			return err
		} else if ok {
			// Finished by a worker that died before it acknowledged
			// it: processing is at least once, finishing is once.
			p.Say("%s was finished already; acknowledging it", task)
			if err := item.Ack(ctx); err != nil {
				return err
			}
			continue
		}
		for pct := 20; pct <= 100; pct += 20 {
			if err := m.Update(ctx, []byte(fmt.Sprintf("%s %d%%", task, pct))); err != nil {
				return err
			}
			if victim && n == 3 && pct == 60 {
				p.CutOff()
				p.Say("crashed in %s at %d%%", task, pct)
			}
			time.Sleep(10 * time.Millisecond) // the work itself
		}
		_, err = p.Create(ctx, done+"/"+task, []byte(p.Name), wire.ModePersistent, nil)
		if errors.Is(err, wire.ErrNodeExists) {
			by, _, _ := p.Get(ctx, done+"/"+task)
			return fmt.Errorf("%s finished %s, already finished by %s", p.Name, task, strings.TrimSpace(string(by)))
		}
		if err != nil {
			return err
		}
		if err := item.Ack(ctx); err != nil {
			return err
		}
	}
}
