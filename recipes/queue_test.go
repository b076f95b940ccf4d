package recipes

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// qTaker is what the contention test drives: Queue and LockingQueue.
type qTaker func(ctx context.Context) ([]byte, error)

// qRunQueue runs producers and consumers over several sessions: each of
// producers puts perProducer items (one session each), consumers take
// until every item is in (one session each), and midway, if restart is
// set, the server restarts. It returns how often each item was taken.
func qRunQueue(t *testing.T, s *server, producers, consumers, perProducer int, restart bool,
	put func(c *client.Conn) func(ctx context.Context, data []byte) error,
	take func(c *client.Conn) qTaker) map[string]int {
	t.Helper()
	ctx := testCtx(t)
	total := producers * perProducer
	var (
		mu      sync.Mutex
		got     = map[string]int{}
		taken   atomic.Int64
		half    = make(chan struct{})
		once    sync.Once
		errs    = make(chan error, producers+consumers)
		wg      sync.WaitGroup
		allDone = make(chan struct{})
	)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for p := range producers {
		putf := put(s.Connect(t))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perProducer {
				if err := putf(ctx, fmt.Appendf(nil, "p%d-%03d", p, i)); err != nil {
					errs <- fmt.Errorf("producer %d put %d: %w", p, i, err)
					return
				}
			}
		}()
	}
	for range consumers {
		takef := take(s.Connect(t))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				data, err := takef(cctx)
				if err != nil {
					if cctx.Err() == nil {
						errs <- fmt.Errorf("take: %w", err)
					}
					return
				}
				mu.Lock()
				got[string(data)]++
				mu.Unlock()
				n := taken.Add(1)
				if n == int64(total/2) {
					once.Do(func() { close(half) })
				}
				if n == int64(total) {
					close(allDone)
				}
			}
		}()
	}
	if restart {
		select {
		case <-half:
		case <-ctx.Done():
			t.Fatal("half the items were not taken in time")
		}
		s.Restart()
	}
	select {
	case <-allDone:
	case err := <-errs:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatalf("only %d of %d items taken in time", taken.Load(), total)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for p := range producers {
		for i := range perProducer {
			if k := fmt.Sprintf("p%d-%03d", p, i); got[k] != 1 {
				t.Errorf("item %s taken %d times", k, got[k])
			}
		}
	}
	if len(got) != total {
		t.Errorf("%d distinct items taken, want %d", len(got), total)
	}
	return got
}

func TestQueue(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		t.Run("contention", func(t *testing.T) {
			qRunQueue(t, s, 3, 3, 40, false,
				func(c *client.Conn) func(context.Context, []byte) error { return NewQueue(c, "/q/contention").Put },
				func(c *client.Conn) qTaker { return NewQueue(c, "/q/contention").Take })
			if n, err := NewQueue(s.Connect(t), "/q/contention").Len(testCtx(t)); err != nil || n != 0 {
				t.Fatalf("Len after all taken: %d, %v", n, err)
			}
		})
		t.Run("restart", func(t *testing.T) {
			qRunQueue(t, s, 2, 2, 60, true,
				func(c *client.Conn) func(context.Context, []byte) error { return NewQueue(c, "/q/restart").Put },
				func(c *client.Conn) qTaker { return NewQueue(c, "/q/restart").Take })
		})
		t.Run("fifo", func(t *testing.T) {
			ctx := testCtx(t)
			c := s.Connect(t)
			q := NewQueue(c, "/q/fifo/deep")
			for i := range 5 {
				if err := q.Put(ctx, []byte{byte('a' + i)}); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := q.Len(ctx); err != nil || n != 5 {
				t.Fatalf("Len: %d, %v", n, err)
			}
			// An item of Curator's SimpleDistributedQueue ("qn-<seq>",
			// unprotected) is taken in its turn.
			if _, err := c.Create(ctx, "/q/fifo/deep/qn-", []byte("f"), wire.ModePersistentSequential, nil); err != nil {
				t.Fatal(err)
			}
			var order []byte
			for range 6 {
				data, err := q.Take(ctx)
				if err != nil {
					t.Fatal(err)
				}
				order = append(order, data...)
			}
			if string(order) != "abcdef" {
				t.Fatalf("taken in order %q, want abcdef", order)
			}
		})
		t.Run("blocked take", func(t *testing.T) {
			ctx := testCtx(t)
			q := NewQueue(s.Connect(t), "/q/block")
			res := make(chan string, 1)
			go func() {
				data, err := q.Take(ctx)
				if err != nil {
					res <- "error: " + err.Error()
					return
				}
				res <- string(data)
			}()
			if err := NewQueue(s.Connect(t), "/q/block").Put(ctx, []byte("late")); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-res:
				if got != "late" {
					t.Fatalf("blocked Take got %q", got)
				}
			case <-ctx.Done():
				t.Fatal("a blocked Take did not see the Put")
			}
		})
		t.Run("lost replies", func(t *testing.T) {
			ctx := testCtx(t)
			c := s.Connect(t)
			q := NewQueue(c, "/q/lost")
			// The create is applied, its reply lost: Put finds its node
			// and does not put it twice.
			var lost atomic.Int32
			q.q.create = func(ctx context.Context, path string, data []byte, mode wire.CreateMode) (string, error) {
				p, err := c.Create(ctx, path, data, mode, nil)
				if err == nil && lost.Add(1) == 1 {
					return "", wire.ErrConnectionLoss
				}
				return p, err
			}
			if err := q.Put(ctx, []byte("once")); err != nil {
				t.Fatal(err)
			}
			if n, err := q.Len(ctx); err != nil || n != 1 {
				t.Fatalf("after a Put whose reply was lost: Len %d, %v; want 1", n, err)
			}
			// The take's multi is applied, its reply lost: the receipt
			// says it was ours; the item is returned, not lost.
			var mlost atomic.Int32
			q.q.multi = func(ctx context.Context, ops ...wire.MultiOp) ([]wire.MultiResult, error) {
				res, err := c.Multi(ctx, ops...)
				if err == nil && mlost.Add(1) == 1 {
					return nil, wire.ErrConnectionLoss
				}
				return res, err
			}
			data, err := q.Take(ctx)
			if err != nil || string(data) != "once" {
				t.Fatalf("Take after a lost reply: %q, %v", data, err)
			}
			if n, err := q.Len(ctx); err != nil || n != 0 {
				t.Fatalf("after the Take: Len %d, %v; want 0", n, err)
			}
			if kids, err := c.Children(ctx, "/q/lost/receipts"); err != nil || len(kids) != 0 {
				t.Fatalf("receipts left: %v, %v", kids, err)
			}
			// The take's multi is not applied, its reply lost: it is
			// sent again.
			if err := q.Put(ctx, []byte("twice")); err != nil {
				t.Fatal(err)
			}
			var dropped atomic.Int32
			q.q.multi = func(ctx context.Context, ops ...wire.MultiOp) ([]wire.MultiResult, error) {
				if dropped.Add(1) == 1 {
					return nil, wire.ErrConnectionLoss
				}
				return c.Multi(ctx, ops...)
			}
			data, err = q.Take(ctx)
			if err != nil || string(data) != "twice" || dropped.Load() != 2 {
				t.Fatalf("Take after a lost request: %q, %v (%d multis)", data, err, dropped.Load())
			}
		})
		t.Run("expired", func(t *testing.T) {
			ctx := testCtx(t)
			k := s.ConnectCuttable(t)
			q := NewQueue(k.Conn, "/q/expired")
			res := make(chan error, 1)
			go func() { _, err := q.Take(ctx); res <- err }()
			// Whether the Take is blocked yet or not, it must fail.
			k.Expire(t, s.Connect(t))
			select {
			case err := <-res:
				if !errors.Is(err, wire.ErrSessionExpired) {
					t.Fatalf("blocked Take on an expired session: %v", err)
				}
			case <-ctx.Done():
				t.Fatal("a blocked Take did not return on expiry")
			}
			if err := q.Put(ctx, nil); !errors.Is(err, wire.ErrSessionExpired) {
				t.Fatalf("Put on an expired session: %v", err)
			}
		})
	})
}

func TestPriorityQueue(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := testCtx(t)
		prios := []int{5, -3, 100, 0, 5, -3, 1 << 30, -1 << 31, 0, 5}
		type item struct {
			prio, seq int
		}
		var want []item
		// Two producer sessions put alternately, in order.
		pa := NewPriorityQueue(s.Connect(t), "/pq")
		pb := NewPriorityQueue(s.Connect(t), "/pq")
		for i, p := range prios {
			q := pa
			if i%2 == 1 {
				q = pb
			}
			if err := q.Put(ctx, fmt.Appendf(nil, "%d/%d", p, i), p); err != nil {
				t.Fatal(err)
			}
			want = append(want, item{p, i})
		}
		if err := pa.Put(ctx, nil, 1<<31); !errors.Is(err, wire.ErrBadArguments) {
			t.Fatalf("priority 2^31: %v", err)
		}
		sort.SliceStable(want, func(i, j int) bool { return want[i].prio < want[j].prio })
		c := NewPriorityQueue(s.Connect(t), "/pq")
		if n, err := c.Len(ctx); err != nil || n != len(prios) {
			t.Fatalf("Len %d, %v", n, err)
		}
		for _, w := range want {
			data, err := c.Take(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%d/%d", w.prio, w.seq); string(data) != got {
				t.Fatalf("took %s, want %s", data, got)
			}
		}
		// Under contention: every item taken once, none lost.
		qRunQueue(t, s, 2, 3, 30, false,
			func(c *client.Conn) func(context.Context, []byte) error {
				q := NewPriorityQueue(c, "/pq/contention")
				return func(ctx context.Context, data []byte) error {
					return q.Put(ctx, data, int(data[len(data)-1]%3))
				}
			},
			func(c *client.Conn) qTaker { return NewPriorityQueue(c, "/pq/contention").Take })
	})
}

func TestLockingQueue(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		t.Run("contention", func(t *testing.T) {
			ackTake := func(c *client.Conn) qTaker {
				q := NewLockingQueue(c, "/lq/contention")
				return func(ctx context.Context) ([]byte, error) {
					it, err := q.Take(ctx)
					if err != nil {
						return nil, err
					}
					return it.Data(), it.Ack(ctx)
				}
			}
			qRunQueue(t, s, 3, 3, 30, false,
				func(c *client.Conn) func(context.Context, []byte) error {
					return NewLockingQueue(c, "/lq/contention").Put
				},
				ackTake)
			q := NewLockingQueue(s.Connect(t), "/lq/contention")
			if n, err := q.Len(testCtx(t)); err != nil || n != 0 {
				t.Fatalf("Len after every Ack: %d, %v", n, err)
			}
		})
		t.Run("restart", func(t *testing.T) {
			qRunQueue(t, s, 2, 2, 40, true,
				func(c *client.Conn) func(context.Context, []byte) error { return NewLockingQueue(c, "/lq/restart").Put },
				func(c *client.Conn) qTaker {
					q := NewLockingQueue(c, "/lq/restart")
					return func(ctx context.Context) ([]byte, error) {
						it, err := q.Take(ctx)
						if err != nil {
							return nil, err
						}
						return it.Data(), it.Ack(ctx)
					}
				})
		})
		t.Run("redelivery", func(t *testing.T) {
			ctx := testCtx(t)
			other := s.Connect(t)
			k := s.ConnectCuttable(t)
			lk := NewLockingQueue(k.Conn, "/lq/redeliver")
			lo := NewLockingQueue(other, "/lq/redeliver")
			for _, d := range []string{"one", "two"} {
				if err := lo.Put(ctx, []byte(d)); err != nil {
					t.Fatal(err)
				}
			}
			// The cuttable session claims "one", the other "two" and
			// waits for more.
			it1, err := lk.Take(ctx)
			if err != nil || string(it1.Data()) != "one" {
				t.Fatalf("first Take: %v", err)
			}
			it2, err := lo.Take(ctx)
			if err != nil || string(it2.Data()) != "two" {
				t.Fatalf("second Take: %v", err)
			}
			if err := it2.Ack(ctx); err != nil {
				t.Fatal(err)
			}
			res := make(chan *Item, 1)
			errc := make(chan error, 1)
			go func() {
				it, err := lo.Take(ctx)
				if err != nil {
					errc <- err
					return
				}
				res <- it
			}()
			// The taker of "one" dies: its claim goes, "one" comes back.
			k.Expire(t, other)
			var again *Item
			select {
			case again = <-res:
			case err := <-errc:
				t.Fatal(err)
			case <-ctx.Done():
				t.Fatal("the expired taker's item was not redelivered")
			}
			if string(again.Data()) != "one" {
				t.Fatalf("redelivered %q, want one (an acked item came back?)", again.Data())
			}
			if err := it1.Ack(ctx); !errors.Is(err, wire.ErrSessionExpired) {
				t.Fatalf("Ack on the expired session: %v", err)
			}
			if err := again.Ack(ctx); err != nil {
				t.Fatal(err)
			}
			if err := again.Ack(ctx); !errors.Is(err, ErrItemDone) {
				t.Fatalf("a second Ack: %v", err)
			}
			if n, err := lo.Len(ctx); err != nil || n != 0 {
				t.Fatalf("Len after both acked: %d, %v", n, err)
			}
			// Acked items never come back: the next Take gets a new one.
			if err := lo.Put(ctx, []byte("three")); err != nil {
				t.Fatal(err)
			}
			it3, err := lo.Take(ctx)
			if err != nil || string(it3.Data()) != "three" {
				t.Fatalf("Take after the acks: %v", err)
			}
			// Release gives it back; it is taken again.
			if err := it3.Release(ctx); err != nil {
				t.Fatal(err)
			}
			it4, err := lo.Take(ctx)
			if err != nil || string(it4.Data()) != "three" || it4.Name() != it3.Name() {
				t.Fatalf("Take after Release: %v", err)
			}
			if err := it4.Ack(ctx); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("lost replies", func(t *testing.T) {
			ctx := testCtx(t)
			c := s.Connect(t)
			q := NewLockingQueue(c, "/lq/lost")
			if err := q.PutPriority(ctx, []byte("low"), 500); err != nil {
				t.Fatal(err)
			}
			if err := q.PutPriority(ctx, []byte("high"), 7); err != nil {
				t.Fatal(err)
			}
			if err := q.PutPriority(ctx, nil, 1000); !errors.Is(err, wire.ErrBadArguments) {
				t.Fatalf("priority 1000: %v", err)
			}
			// Every create's reply is lost once: the put is not doubled,
			// the claim is recognised by its id.
			lost := map[string]bool{}
			var mu sync.Mutex
			q.create = func(ctx context.Context, path string, data []byte, mode wire.CreateMode) (string, error) {
				p, err := c.Create(ctx, path, data, mode, nil)
				mu.Lock()
				defer mu.Unlock()
				if err == nil && !lost[path] {
					lost[path] = true
					return "", wire.ErrConnectionLoss
				}
				return p, err
			}
			if err := q.Put(ctx, []byte("mid")); err != nil {
				t.Fatal(err)
			}
			if n, err := q.Len(ctx); err != nil || n != 3 {
				t.Fatalf("Len %d, %v; want 3", n, err)
			}
			var mlost atomic.Int32
			q.multi = func(ctx context.Context, ops ...wire.MultiOp) ([]wire.MultiResult, error) {
				res, err := c.Multi(ctx, ops...)
				if err == nil && mlost.Add(1) == 1 {
					return nil, wire.ErrConnectionLoss
				}
				return res, err
			}
			for _, want := range []string{"high", "mid", "low"} {
				it, err := q.Take(ctx)
				if err != nil || string(it.Data()) != want {
					t.Fatalf("Take: %v; want %s", err, want)
				}
				if err := it.Ack(ctx); err != nil {
					t.Fatalf("Ack of %s: %v", want, err)
				}
			}
			for _, dir := range []string{"/lq/lost/entries", "/lq/lost/taken"} {
				if kids, err := c.Children(ctx, dir); err != nil || len(kids) != 0 {
					t.Fatalf("%s left: %v, %v", dir, kids, err)
				}
			}
			if !strings.HasPrefix(qKey("_c_0123456789abcdef0123456789abcdef0123-entry-100-0000000001"), "entry-") {
				t.Fatal("qKey does not strip the protection prefix")
			}
		})
	})
}
