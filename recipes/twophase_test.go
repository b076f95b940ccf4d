package recipes

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// qRunResult is what Run returned.
type qRunResult struct {
	committed bool
	err       error
}

func qRun(ctx context.Context, co *Coordinator, data []byte) <-chan qRunResult {
	res := make(chan qRunResult, 1)
	go func() {
		ok, err := co.Run(ctx, data)
		res <- qRunResult{ok, err}
	}()
	return res
}

func qRunWait(t *testing.T, res <-chan qRunResult) qRunResult {
	t.Helper()
	select {
	case r := <-res:
		return r
	case <-testCtx(t).Done():
		t.Fatal("Run did not return in time")
		return qRunResult{}
	}
}

// qRegistered returns a registered participant.
func qRegistered(t *testing.T, c *client.Conn, path, name string) *Participant {
	t.Helper()
	p := NewParticipant(c, path, name)
	if err := p.Register(testCtx(t)); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	return p
}

func qNext(t *testing.T, p *Participant) *Proposal {
	t.Helper()
	pr, err := p.Next(testCtx(t))
	if err != nil {
		t.Fatalf("Next of %s: %v", p.name, err)
	}
	return pr
}

func TestTwoPhaseCommit(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		t.Run("votes", func(t *testing.T) {
			// Three participants on three sessions take part in four
			// transactions in turn; c votes no on the third.
			ctx := testCtx(t)
			const path = "/2pc/votes"
			names := []string{"a", "b", "c"}
			var parts []*Participant
			for _, n := range names {
				parts = append(parts, qRegistered(t, s.Connect(t), path, n))
			}
			const txs = 4
			type seen struct {
				data      string
				committed bool
			}
			var mu sync.Mutex
			got := map[string][]seen{}
			var wg sync.WaitGroup
			errs := make(chan error, len(parts))
			for _, p := range parts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range txs {
						pr, err := p.Next(ctx)
						if err != nil {
							errs <- err
							return
						}
						yes := !(p.name == "c" && i == 2)
						if err := pr.Vote(ctx, yes); err != nil {
							errs <- err
							return
						}
						if err := pr.Vote(ctx, !yes); !errors.Is(err, ErrAlreadyVoted) {
							errs <- fmt.Errorf("%s changed its vote: %v", p.name, err)
							return
						}
						ok, err := pr.Outcome(ctx)
						if err != nil {
							errs <- err
							return
						}
						mu.Lock()
						got[p.name] = append(got[p.name], seen{string(pr.Data()), ok})
						mu.Unlock()
					}
				}()
			}
			co := NewCoordinator(s.Connect(t), path, names)
			for i := range txs {
				r := qRunWait(t, qRun(ctx, co, fmt.Appendf(nil, "tx%d", i)))
				if r.err != nil {
					t.Fatalf("Run %d: %v", i, r.err)
				}
				if r.committed != (i != 2) {
					t.Fatalf("Run %d committed=%v", i, r.committed)
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			for _, n := range names {
				if len(got[n]) != txs {
					t.Fatalf("%s saw %d transactions", n, len(got[n]))
				}
				for i, g := range got[n] {
					if g.data != fmt.Sprintf("tx%d", i) || g.committed != (i != 2) {
						t.Fatalf("%s saw transaction %d as %+v", n, i, g)
					}
				}
			}
		})
		t.Run("participant expired", func(t *testing.T) {
			ctx := testCtx(t)
			const path = "/2pc/pexpired"
			other := s.Connect(t)
			k := s.ConnectCuttable(t)
			pa := qRegistered(t, k.Conn, path, "a")
			pb := qRegistered(t, s.Connect(t), path, "b")
			res := qRun(ctx, NewCoordinator(other, path, []string{"a", "b"}), []byte("x"))
			pra := qNext(t, pa)
			prb := qNext(t, pb)
			if err := prb.Vote(ctx, true); err != nil {
				t.Fatal(err)
			}
			// a dies before it votes: abort.
			k.Expire(t, other)
			if r := qRunWait(t, res); r.err != nil || r.committed {
				t.Fatalf("Run with a dead participant: %+v", r)
			}
			if ok, err := prb.Outcome(ctx); err != nil || ok {
				t.Fatalf("b's outcome: %v, %v; want abort", ok, err)
			}
			if err := pra.Vote(ctx, true); !errors.Is(err, wire.ErrSessionExpired) {
				t.Fatalf("a's vote after its expiry: %v", err)
			}
			// A participant never registered counts as dead.
			r := qRunWait(t, qRun(ctx, NewCoordinator(other, path, []string{"b", "ghost"}), nil))
			if r.err != nil || r.committed {
				t.Fatalf("Run with an unregistered participant: %+v", r)
			}
		})
		t.Run("coordinator expired", func(t *testing.T) {
			ctx := testCtx(t)
			const path = "/2pc/cexpired"
			k := s.ConnectCuttable(t)
			pa := qRegistered(t, s.Connect(t), path, "a")
			pb := qRegistered(t, s.Connect(t), path, "b")
			res := qRun(ctx, NewCoordinator(k.Conn, path, []string{"a", "b"}), []byte("x"))
			pra := qNext(t, pa)
			prb := qNext(t, pb)
			if err := pra.Vote(ctx, true); err != nil {
				t.Fatal(err)
			}
			k.Expire(t, s.Connect(t))
			if r := qRunWait(t, res); !errors.Is(r.err, wire.ErrSessionExpired) || r.committed {
				t.Fatalf("Run on an expired session: %+v", r)
			}
			// The coordinator is gone: the participants abort, and agree.
			if err := prb.Vote(ctx, true); err != nil {
				t.Fatal(err)
			}
			for _, pr := range []*Proposal{pra, prb} {
				if ok, err := pr.Outcome(ctx); err != nil || ok {
					t.Fatalf("outcome without a coordinator: %v, %v; want abort", ok, err)
				}
			}
		})
		t.Run("ctx end", func(t *testing.T) {
			ctx := testCtx(t)
			const path = "/2pc/ctx"
			pa := qRegistered(t, s.Connect(t), path, "a")
			rctx, cancel := context.WithCancel(ctx)
			defer cancel()
			res := qRun(rctx, NewCoordinator(s.Connect(t), path, []string{"a"}), []byte("x"))
			pra := qNext(t, pa)
			cancel() // a has not voted
			if r := qRunWait(t, res); !errors.Is(r.err, context.Canceled) || r.committed {
				t.Fatalf("Run whose ctx ended: %+v", r)
			}
			if err := pra.Vote(ctx, true); err != nil {
				t.Fatal(err)
			}
			if ok, err := pra.Outcome(ctx); err != nil || ok {
				t.Fatalf("outcome after the coordinator's ctx ended: %v, %v; want abort", ok, err)
			}
		})
		t.Run("lost reply", func(t *testing.T) {
			ctx := testCtx(t)
			const path = "/2pc/lost"
			c := s.Connect(t)
			pa := qRegistered(t, s.Connect(t), path, "a")
			co := NewCoordinator(c, path, []string{"a"})
			var lost atomic.Int32
			co.create = func(ctx context.Context, path string, data []byte, mode wire.CreateMode) (string, error) {
				p, err := c.Create(ctx, path, data, mode, nil)
				if err == nil && lost.Add(1) == 1 {
					return "", wire.ErrConnectionLoss
				}
				return p, err
			}
			res := qRun(ctx, co, []byte("once"))
			pr := qNext(t, pa)
			if err := pr.Vote(ctx, true); err != nil {
				t.Fatal(err)
			}
			if r := qRunWait(t, res); r.err != nil || !r.committed {
				t.Fatalf("Run: %+v", r)
			}
			kids, err := c.Children(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(qSorted(kids, "tx-")); n != 1 {
				t.Fatalf("%d transactions after a create whose reply was lost: %v", n, kids)
			}
			if ok, err := pr.Outcome(ctx); err != nil || !ok {
				t.Fatalf("outcome: %v, %v", ok, err)
			}
		})
	})
}
