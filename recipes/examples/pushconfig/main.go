// Command pushconfig plays ZooKeeper's configuration-push story: a
// console changes configuration nodes under /pushconfig/config; a fleet of
// push workers reacts to every change, in order, with none missed, and the
// story reports the delay from each write to each worker's reaction.
//
// A watch fires once for any number of changes made before it is set
// again, so a worker that only watched the configuration nodes could miss
// intermediate values. The console therefore makes each change and
// appends it to a change log (/pushconfig/log, persistent sequential
// nodes) in one multi; workers follow the log with a child watch and apply
// each entry in sequence order. One worker is cut off from the servers
// for less than its session timeout while the console goes on: its
// session survives, and when it reconnects it catches up on what it
// missed, in order. The promise: every worker applied every change,
// exactly once, in the order written, and ends with the console's
// configuration.
//
//	go run ./recipes/examples/pushconfig -server HOST:PORT[,HOST:PORT...]
package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paddockdb/paddock/recipes/examples/internal/story"
	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

const (
	root    = "/pushconfig"
	config  = root + "/config"
	logPath = root + "/log"
)

func main() {
	story.Main("pushconfig", "A console pushes configuration changes; every worker applies each one, in order.", play)
}

// change is one log entry: key=value, and when the console wrote it.
type change struct {
	seq        int
	key, value string
	written    time.Time
}

func parseChange(name string, data []byte) (change, error) {
	seq, err := strconv.Atoi(strings.TrimPrefix(name, "c-"))
	if err != nil {
		return change{}, fmt.Errorf("log entry %q: %w", name, err)
	}
	kv, at, ok := strings.Cut(string(data), "@")
	key, value, ok2 := strings.Cut(kv, "=")
	nanos, err := strconv.ParseInt(at, 10, 64)
	if !ok || !ok2 || err != nil {
		return change{}, fmt.Errorf("log entry %q: bad data %q", name, data)
	}
	return change{seq: seq, key: key, value: value, written: time.Unix(0, nanos)}, nil
}

// worker follows the log from the start and applies each entry once.
type worker struct {
	p       *story.Party
	mu      sync.Mutex
	applied []change
	delays  []time.Duration
	conf    map[string]string
	next    int // the next sequence number it expects
	err     error
}

func (w *worker) follow(ctx context.Context, progress chan<- struct{}) {
	for ctx.Err() == nil {
		kids, _, ev, err := w.p.ChildrenW(ctx, logPath)
		if err != nil {
			if errors.Is(err, wire.ErrConnectionLoss) {
				continue // the client reconnects; the log is read again then
			}
			if ctx.Err() == nil {
				w.fail(fmt.Errorf("%s: read the log: %w", w.p.Name, err))
			}
			return
		}
		slices.Sort(kids) // c-<10 digits>: sorted by name is sorted by sequence
		again := false
		for _, k := range kids {
			seq, err := strconv.Atoi(strings.TrimPrefix(k, "c-"))
			if err != nil || seq < w.next {
				continue
			}
			data, _, err := w.p.Get(ctx, logPath+"/"+k)
			if err != nil {
				again = true // connection lost: read the log again once reconnected
				break
			}
			c, err := parseChange(k, data)
			if err != nil {
				w.fail(err)
				return
			}
			w.mu.Lock()
			w.applied = append(w.applied, c)
			w.delays = append(w.delays, time.Since(c.written))
			w.conf[c.key] = c.value
			w.next = seq + 1
			w.mu.Unlock()
		}
		select {
		case progress <- struct{}{}:
		default:
		}
		if again {
			continue
		}
		select {
		case <-ev:
		case <-ctx.Done():
			return
		}
	}
}

func (w *worker) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

func play(ctx context.Context, s *story.Story) error {
	console, err := s.Connect(ctx, "console")
	if err != nil {
		return err
	}
	defer console.Close()
	if err := story.DeleteAll(ctx, console.Conn, root); err != nil {
		return err
	}
	for _, p := range []string{config, logPath} {
		if err := story.EnsurePath(ctx, console.Conn, p); err != nil {
			return err
		}
	}
	keys := []string{"db.url", "cache.ttl", "feature.search", "rate.limit"}
	for _, k := range keys {
		if _, err := console.Create(ctx, config+"/"+k, []byte("initial"), wire.ModePersistent, nil); err != nil {
			return err
		}
	}

	const fleet = 6
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	progress := make(chan struct{}, 1)
	workers := make([]*worker, fleet)
	var wg sync.WaitGroup
	for i := range fleet {
		p, err := s.Connect(ctx, fmt.Sprintf("worker-%d", i+1))
		if err != nil {
			return err
		}
		defer p.Close()
		workers[i] = &worker{p: p, conf: map[string]string{}, next: 0}
		wg.Add(1)
		go func() { defer wg.Done(); workers[i].follow(wctx, progress) }()
	}

	// The console: 120 changes, a few milliseconds apart; worker-3 is cut
	// off for a third of its session timeout in the middle.
	const changes = 120
	var written []change
	final := map[string]string{}
	for i := range changes {
		key := keys[i%len(keys)]
		value := fmt.Sprintf("v%d", i)
		now := time.Now()
		data := fmt.Sprintf("%s=%s@%d", key, value, now.UnixNano())
		res, err := console.Multi(ctx,
			client.SetDataOp(config+"/"+key, []byte(value), -1),
			client.CreateOp(logPath+"/c-", []byte(data), wire.ModePersistentSequential, nil))
		if err != nil {
			return fmt.Errorf("console: change %d: %w", i, err)
		}
		name := res[1].Path[strings.LastIndexByte(res[1].Path, '/')+1:]
		c, err := parseChange(name, []byte(data))
		if err != nil {
			return err
		}
		written = append(written, c)
		final[key] = value
		switch i {
		case 40:
			workers[2].p.CutOff()
			workers[2].p.Say("cut off from the servers (for %v)", s.SessionTimeout/3)
			time.AfterFunc(s.SessionTimeout/3, func() {
				workers[2].p.Heal()
				workers[2].p.Say("reachable again")
			})
		}
		time.Sleep(5 * time.Millisecond) // the console's pace, not a synchronisation
	}
	console.Say("wrote %d changes", changes)

	// Wait until every worker has applied every change.
	deadline := time.After(2 * s.SessionTimeout)
	for {
		done := 0
		for _, w := range workers {
			w.mu.Lock()
			if len(w.applied) == changes || w.err != nil {
				done++
			}
			w.mu.Unlock()
		}
		if done == fleet {
			break
		}
		select {
		case <-progress:
		case <-deadline:
			return fmt.Errorf("not every worker applied the %d changes within %v", changes, 2*s.SessionTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	stop()
	wg.Wait()

	for _, w := range workers {
		if w.err != nil {
			return w.err
		}
		if len(w.applied) != len(written) {
			return fmt.Errorf("%s applied %d changes of %d", w.p.Name, len(w.applied), len(written))
		}
		for i, c := range w.applied {
			if c.seq != written[i].seq || c.key != written[i].key || c.value != written[i].value {
				return fmt.Errorf("%s: change %d is %s=%s (#%d), the console wrote %s=%s (#%d)", w.p.Name, i, c.key, c.value, c.seq, written[i].key, written[i].value, written[i].seq)
			}
		}
		for k, v := range final {
			if w.conf[k] != v {
				return fmt.Errorf("%s ends with %s=%s, the console's is %s", w.p.Name, k, w.conf[k], v)
			}
		}
		d := slices.Clone(w.delays)
		slices.Sort(d)
		w.p.Say("applied all %d changes in order; delay from write: median %v, p99 %v, max %v",
			len(d), d[len(d)/2].Round(time.Microsecond), d[len(d)*99/100].Round(time.Microsecond), d[len(d)-1].Round(time.Microsecond))
	}
	return nil
}
