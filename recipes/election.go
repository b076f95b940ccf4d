package recipes

import (
	"context"
	"errors"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// Errors the election reports. Leadership ends with one of them as the
// cause of the leader's context (context.Cause), or with an error that
// matches wire.ErrSessionExpired or wire.ErrConnectionLoss.
var (
	// ErrElectionClosed is returned by an Election's methods after Close,
	// and is the cause of a leadership that Close ended.
	ErrElectionClosed = errors.New("recipes: election closed")
	// ErrResigned is the cause of a leadership that Resign ended, and
	// what Campaign returns when Resign interrupted it.
	ErrResigned = errors.New("recipes: resigned")
	// ErrLeaderNodeGone is the cause of a leadership whose node was
	// deleted by someone else.
	ErrLeaderNodeGone = errors.New("recipes: the leader's node was deleted")
)

// elLatchName is the name Curator's LeaderLatch gives its nodes, after the
// protection prefix: <path>/_c_<guid>-latch-<10-digit sequence>.
const elLatchName = "latch-"

// Election is a candidate in a leader election on a path, with Apache
// Curator's LeaderLatch node layout, so that Go candidates and Curator
// LeaderLatch instances on the same path elect one leader among them.
//
// Layout: each candidate is an ephemeral sequential node
// <path>/_c_<guid>-latch-<10-digit sequence> whose data is the
// candidate's id. The candidate whose node has the lowest sequence leads;
// every other candidate watches only the node just before its own (no
// herd effect when the leader goes).
//
// Guarantees: while the server holds the session, at most one candidate
// (Go or Curator) holds the lowest node, and Campaign returns only to
// that one. The leader's context (what Campaign returns) ends as soon as
// leadership is lost or could be: session expired, node deleted, Resign,
// Close — and connection loss. A leader cut off from the server cannot
// know whether its session is still alive, so, like Curator's LeaderLatch
// (which gives up leadership on SUSPENDED), it gives up leadership when
// it cannot tell that its session lives. The leader holds a lease: the
// server cannot expire the session before a session timeout after the
// last request it answered was sent, and the leader keeps leadership until
// a quarter of the timeout before that. Every quarter of the negotiated
// timeout it checks that the client is connected and that its node exists,
// which extends the lease; a check that fails, finds the client
// disconnected, or is not answered before the lease runs out ends
// leadership (cause wire.ErrConnectionLoss). This is the one place a
// recipe acts on a timer, because no watch reports a lost connection.
// Leadership thus ends before the server can expire the session, so no
// other candidate can have been elected while a Go leader's context is
// live (as long as the clocks of client and server run at the same rate).
// A connection lost and regained between two checks goes unnoticed,
// rightly: the session lived. A leadership lost while the session lives has its node deleted
// once the connection is back (so that the next candidate leads); to stand
// again, call Campaign again.
//
// Failures: Campaign waits through connection loss within its ctx. A
// create whose reply was lost is recovered by finding the node carrying
// this candidacy's guid. On session expiry Campaign and Resign return an
// error matching wire.ErrSessionExpired, and a live leadership ends with
// it as cause.
//
// Campaign and Resign may be called from any goroutine; one Campaign runs
// at a time per Election.
type Election struct {
	c    *client.Conn
	path string
	id   string

	closeCtx    context.Context // cancelled when Close is done waiting
	cancelClose context.CancelFunc
	wg          sync.WaitGroup // Campaign calls and leadership monitors

	mu          sync.Mutex
	closed      bool
	campaigning bool
	stopCamp    context.CancelCauseFunc // ends the running Campaign
	lead        *elLeadership           // the current or last leadership
}

type elLeadership struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	node   string
	since  time.Time     // when the request that showed this node lowest was sent
	stop   chan struct{} // closed to end the leadership (Resign, Close)
	once   sync.Once
	done   chan struct{} // closed when the monitor is done, node deleted
}

func (l *elLeadership) end() { l.once.Do(func() { close(l.stop) }) }

// NewElection returns a candidate for the election on path, identified
// by id (the node's data: what Leader and ObserveLeader report).
func NewElection(c *client.Conn, path string, id string) *Election {
	ctx, cancel := context.WithCancel(context.Background())
	return &Election{c: c, path: strings.TrimSuffix(path, "/"), id: id, closeCtx: ctx, cancelClose: cancel}
}

// Campaign stands for election and blocks until this candidate leads, or
// ctx ends (then its node is deleted and ctx's error returned), or the
// session expires. It returns a context that is cancelled when leadership
// is lost (see the type's doc; context.Cause says why); it does not
// derive from ctx. If this candidate already leads, Campaign returns the
// current leadership's context.
func (e *Election) Campaign(ctx context.Context) (context.Context, error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, ErrElectionClosed
	}
	if e.campaigning {
		e.mu.Unlock()
		return nil, errors.New("recipes: Campaign is already running on this Election")
	}
	prev := e.lead
	if prev != nil && prev.ctx.Err() == nil {
		e.mu.Unlock()
		return prev.ctx, nil
	}
	cctx, stop := context.WithCancelCause(ctx)
	e.campaigning, e.stopCamp = true, stop
	e.wg.Add(1)
	e.mu.Unlock()
	defer func() {
		stop(nil)
		e.mu.Lock()
		e.campaigning, e.stopCamp = false, nil
		e.mu.Unlock()
		e.wg.Done()
	}()

	if prev != nil { // the last leadership deletes its node first
		select {
		case <-prev.done:
		case <-cctx.Done():
			return nil, elCause(cctx)
		}
	}
	pc := newProtectedCreate(e.c, e.path, elLatchName, []byte(e.id), wire.ModeEphemeralSequential)
	node, since, err := e.elect(cctx, pc)
	if err == nil && cctx.Err() != nil {
		err = elCause(cctx) // Resign, Close or ctx came as it won
	}
	if err != nil {
		// Given up: delete the node, found by its guid if its create
		// failed (a create sent before ctx ended may have been applied),
		// so that it does not stand in the line.
		e.removeNode(pc, node)
		return nil, err
	}
	l := &elLeadership{node: node, since: since, stop: make(chan struct{}), done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancelCause(context.Background())
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		l.cancel(ErrElectionClosed)
		e.removeNode(pc, node)
		return nil, ErrElectionClosed
	}
	e.lead = l
	e.wg.Add(1)
	e.mu.Unlock()
	go e.monitor(l)
	return l.ctx, nil
}

// elCause is ctx's cause, or ctx.Err().
func elCause(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return ctx.Err()
}

// elect creates this candidacy's node with pc and waits until it is the
// lowest. It returns the node, also with an error when the node must be
// deleted, and when the request that found it lowest was sent.
func (e *Election) elect(ctx context.Context, pc *protectedCreate) (node string, since time.Time, err error) {
	node, err = pc.create(ctx)
	if err != nil {
		return node, since, elCtxErr(ctx, err)
	}
	for {
		children, err := retry1(ctx, func() ([]string, error) {
			since = time.Now()
			return e.c.Children(ctx, e.path)
		})
		if err != nil {
			return node, since, elCtxErr(ctx, err)
		}
		sorted := sortBySeq(children)
		i := indexOf(sorted, path.Base(node))
		if i < 0 {
			// Our node is gone (deleted by someone else): stand again.
			node, err = pc.create(ctx)
			if err != nil {
				return node, since, elCtxErr(ctx, err)
			}
			continue
		}
		if i == 0 {
			return node, since, nil
		}
		// Watch only the predecessor (a data watch, set only if it exists,
		// as Curator does).
		_, _, ch, err := getDataW(ctx, e.c, e.path+"/"+sorted[i-1].Name)
		switch {
		case errors.Is(err, wire.ErrNoNode):
			continue
		case err != nil:
			return node, since, elCtxErr(ctx, err)
		}
		if err := waitEvent(ctx, ch); err != nil {
			return node, since, elCtxErr(ctx, err)
		}
	}
}

// elCtxErr prefers ctx's cause to err once ctx has ended.
func elCtxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, wire.ErrSessionExpired) {
		return elCause(ctx)
	}
	return err
}

// monitor owns a leadership: it watches the node and checks the
// connection, and when leadership ends cancels its context and deletes
// the node (unless the session or the node is already gone).
func (e *Election) monitor(l *elLeadership) {
	defer e.wg.Done()
	defer close(l.done)
	cause := e.watchLeadership(l)
	l.cancel(cause)
	if !errors.Is(cause, wire.ErrSessionExpired) && !errors.Is(cause, ErrLeaderNodeGone) {
		deleteNode(e.closeCtx, e.c, l.node)
	}
}

func (e *Election) watchLeadership(l *elLeadership) error {
	// The lease: the server heard this session no earlier than when the
	// last successful request about the node was sent, so it cannot
	// expire the session before that plus the timeout. Leadership is kept
	// until a quarter of the timeout before that moment; a check every
	// quarter extends it.
	quarter := e.c.SessionTimeout() / 4
	leaseEnd := l.since.Add(3 * quarter)
	ctx, cancel := context.WithCancel(e.closeCtx)
	defer cancel()
	go func() {
		select {
		case <-l.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	resigned := func() error {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.closed {
			return ErrElectionClosed
		}
		return ErrResigned
	}
	// check asks whether the node exists, with a watch or not, within the
	// lease, and extends the lease when it does.
	check := func(watch bool) (<-chan client.Event, error) {
		sent := time.Now()
		cctx, ccancel := context.WithDeadline(ctx, leaseEnd)
		defer ccancel()
		var ok bool
		var ch <-chan client.Event
		var err error
		if watch {
			ok, _, ch, err = e.c.ExistsW(cctx, l.node)
		} else {
			ok, _, err = e.c.Exists(cctx, l.node)
		}
		switch {
		case ctx.Err() != nil:
			return nil, resigned()
		case errors.Is(err, context.DeadlineExceeded):
			return nil, wire.ErrConnectionLoss // the lease ran out
		case err != nil:
			return nil, err
		case !ok:
			return nil, ErrLeaderNodeGone
		}
		leaseEnd = sent.Add(3 * quarter)
		return ch, nil
	}
	tick := time.NewTicker(quarter)
	defer tick.Stop()
	var watch <-chan client.Event
	for {
		if watch == nil {
			ch, err := check(true)
			if err != nil {
				return err
			}
			watch = ch
		}
		select {
		case ev := <-watch:
			if ev.Err != nil {
				return ev.Err
			}
			if ev.Type == wire.EventNodeDeleted {
				return ErrLeaderNodeGone
			}
			watch = nil // data changed: watch again
		case <-tick.C:
			if e.c.State() != wire.StateSyncConnected {
				return wire.ErrConnectionLoss
			}
			if _, err := check(false); err != nil {
				return err
			}
		case <-l.stop:
			return resigned()
		}
	}
}

// removeNode deletes pc's node (node, or the one found by its guid when
// node is ""), waiting through connection loss until it is done, the
// session is gone, or Close gives up. It runs on a goroutine owned by the
// Election; called by a goroutine that holds a count of e.wg.
func (e *Election) removeNode(pc *protectedCreate, node string) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		pc.remove(e.closeCtx, node)
	}()
}

// Resign gives up leadership (its context is cancelled, its node
// deleted) and returns when the node is gone or ctx ends; or it
// interrupts a running Campaign, which deletes its node and returns
// ErrResigned. Resigning when neither leading nor campaigning does
// nothing.
func (e *Election) Resign(ctx context.Context) error {
	e.mu.Lock()
	if e.stopCamp != nil {
		e.stopCamp(ErrResigned)
	}
	l := e.lead
	e.mu.Unlock()
	if l == nil {
		return nil
	}
	l.end()
	select {
	case <-l.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := context.Cause(l.ctx); errors.Is(err, wire.ErrSessionExpired) {
		return err
	}
	return nil
}

// Close resigns, ends every goroutine of the Election and waits for them
// (at most about a session timeout, for the node's deletion). Later calls
// return ErrElectionClosed.
func (e *Election) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	if e.stopCamp != nil {
		e.stopCamp(ErrElectionClosed)
	}
	l := e.lead
	e.mu.Unlock()
	if l != nil {
		l.end()
	}
	t := time.AfterFunc(e.c.SessionTimeout(), e.cancelClose)
	e.wg.Wait()
	t.Stop()
	e.cancelClose()
}

// Leader returns the id of the current leader ("" when there is no
// candidate), waiting through connection loss within ctx.
func (e *Election) Leader(ctx context.Context) (string, error) {
	return elLeader(ctx, e.c, e.path)
}

func elLeader(ctx context.Context, c *client.Conn, path string) (string, error) {
	return retry1(ctx, func() (string, error) { return elLeaderOnce(ctx, c, path) })
}

func elLeaderOnce(ctx context.Context, c *client.Conn, path string) (string, error) {
	children, err := c.Children(ctx, path)
	if errors.Is(err, wire.ErrNoNode) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return elLeaderOf(ctx, c, path, children)
}

// elLeaderOf is the id of the lowest of children that still exists.
func elLeaderOf(ctx context.Context, c *client.Conn, path string, children []string) (string, error) {
	for _, n := range sortBySeq(children) {
		data, _, err := c.Get(ctx, path+"/"+n.Name)
		if errors.Is(err, wire.ErrNoNode) {
			continue // just gone: the next one is the leader
		}
		if err != nil {
			return "", err
		}
		return string(data), nil
	}
	return "", nil
}

// ObserveLeader follows the election on path without standing in it: the
// channel receives the current leader's id ("" when there is none) at
// once, then a new value each time it changes; it is closed when ctx
// ends or the session does. Each change fires a watch (on the path's
// children, or on the path's creation) that makes it read the election
// again, so the last value sent is always the current leader; a leader
// that came and went between two reads may not be seen. Sends wait for
// the reader (within ctx): read the channel.
func ObserveLeader(ctx context.Context, c *client.Conn, path string) (<-chan string, error) {
	path = strings.TrimSuffix(path, "/")
	out := make(chan string)
	first := make(chan error, 1)
	go func() {
		defer close(out)
		last, sent := "", false
		for {
			leader, watch, err := retry2(ctx, func() (string, <-chan client.Event, error) { return elObserveOnce(ctx, c, path) })
			if err != nil {
				if !sent {
					first <- err
				}
				return
			}
			if !sent || leader != last {
				if !sent {
					first <- nil
					sent = true
				}
				select {
				case out <- leader:
					last = leader
				case <-ctx.Done():
					return
				}
			}
			if waitEvent(ctx, watch) != nil {
				return
			}
		}
	}()
	if err := <-first; err != nil {
		return nil, err
	}
	return out, nil
}

// elObserveOnce reads the election's leader and watches for a change:
// the path's children, or its creation when it does not exist.
func elObserveOnce(ctx context.Context, c *client.Conn, path string) (string, <-chan client.Event, error) {
	for {
		children, _, ch, err := c.ChildrenW(ctx, path)
		if errors.Is(err, wire.ErrNoNode) {
			var ok bool
			ok, _, ch, err = c.ExistsW(ctx, path)
			if err == nil && ok {
				continue // created meanwhile
			}
			children = nil
		}
		if err != nil {
			return "", nil, err
		}
		leader, err := elLeaderOf(ctx, c, path, children)
		return leader, ch, err
	}
}
