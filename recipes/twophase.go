package recipes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// Two-phase commit: a Coordinator proposes a transaction to a fixed set
// of named participants, each votes yes or no, and the outcome is commit
// if every one voted yes, abort otherwise.
//
// Layout, under the path both sides are given:
//
//	path/members/<name>          ephemeral: participant <name> is alive
//	                             (created by its Register or first Next)
//	path/coordinators/<uuid>     ephemeral: the coordinator of the
//	                             transaction <uuid> is alive (created
//	                             first, deleted once the outcome is written)
//	path/_c_<uuid>-tx-<seq>      persistent sequential: one transaction,
//	                             its data the proposal (a protected name)
//	path/<tx>/vote-<name>        persistent, one per participant, created
//	                             empty (version 0) by the coordinator in
//	                             one multi; the participant votes by
//	                             setting it to "yes" or "no" on condition
//	                             of version 0
//	path/<tx>/outcome            persistent, "commit" or "abort": the
//	                             decision, created once
//
// Guarantees: the outcome node is created once (a create fails on an
// existing node), and everyone reads the outcome from it, so every
// participant sees the same outcome. Only the coordinator writes
// "commit", and only after it has read a "yes" in every participant's
// vote node: commit happens only if all voted yes. The coordinator
// writes "abort" on a "no", on a participant that is not alive (its
// members node absent: not registered, or its session ended) before it
// voted, and when Run's ctx ends first. A participant waiting for the
// outcome writes "abort" itself if the coordinator's session ends first
// (its coordinators node gone, no outcome): a dead coordinator does not
// block the participants, and since the outcome is created once, a
// coordinator that was about to commit then reads the abort. Votes cannot
// change: a vote is a set on condition of version 0.
//
// Failures: connection loss is waited through (within ctx). Creates
// whose reply was lost are recovered: the transaction by its uuid, the
// votes and coordinator node by finding them, a member node by its owner, the
// outcome and a vote by reading them back. When a session expires, its
// methods return an error matching wire.ErrSessionExpired; a participant's
// expiry before it voted aborts the transaction, a coordinator's
// expiry before the outcome lets the participants abort it. Neither side
// starts a goroutine: Run, Next and Outcome block their caller on
// watches (no polling).
//
// Transaction nodes are not deleted by the recipe; whoever owns path may
// delete decided transactions (those with an outcome) once every
// participant has read it.

const (
	qOutcome    = "outcome"
	qVotePrefix = "vote-"
	qYes        = "yes"
	qNo         = "no"
	qCommit     = "commit"
	qAbort      = "abort"
)

// ErrNotParticipant is returned by NewCoordinator's Run for an invalid
// participant list, and by a Participant with an invalid name.
var ErrNotParticipant = errors.New("paddock/recipes: invalid two-phase commit participant name")

// ErrAlreadyVoted is returned by Vote when the participant's vote was
// already cast, differently.
var ErrAlreadyVoted = errors.New("paddock/recipes: participant already voted otherwise")

func qValidName(name string) bool {
	return name != "" && !strings.ContainsAny(name, "/\x00") && name != "." && name != ".."
}

// Coordinator runs two-phase commit transactions under a path.
type Coordinator struct {
	c            *client.Conn
	path         string
	participants []string

	create createFunc
}

// NewCoordinator returns a coordinator of transactions under path among
// the named participants.
func NewCoordinator(c *client.Conn, path string, participants []string) *Coordinator {
	return &Coordinator{c: c, path: path, participants: append([]string(nil), participants...), create: connCreate(c)}
}

// Run proposes data to the participants, waits for every vote (or for a
// "no", a dead participant, or the end of ctx), writes the outcome and
// returns it: committed is true iff it is commit. When ctx ended first
// the outcome is abort (written with a short grace after ctx) and err is
// ctx's error.
func (co *Coordinator) Run(ctx context.Context, data []byte) (committed bool, err error) {
	seen := map[string]bool{}
	for _, p := range co.participants {
		if !qValidName(p) || seen[p] {
			return false, fmt.Errorf("%w: %q", ErrNotParticipant, p)
		}
		seen[p] = true
	}
	if len(co.participants) == 0 {
		return false, fmt.Errorf("%w: no participants", ErrNotParticipant)
	}
	id := newGUID()
	if err := createOwnEphemeral(ctx, co.c, co.path+"/coordinators/"+id, nil); err != nil {
		return false, err
	}
	pc := newProtectedCreate(co.c, co.path, "tx-", data, wire.ModePersistentSequential)
	pc.guid, pc.send = id, co.create
	tx, err := pc.create(ctx)
	if err != nil {
		return co.finish(ctx, id, "", false, err)
	}
	ops := make([]wire.MultiOp, 0, len(co.participants))
	for _, p := range co.participants {
		ops = append(ops, client.CreateOp(tx+"/"+qVotePrefix+p, nil, wire.ModePersistent, nil))
	}
	for {
		_, err := co.c.Multi(ctx, ops...)
		if isConnLoss(err) {
			// Applied if the first vote node is there: the tx is ours.
			var ok bool
			ok, _, err = exists(ctx, co.c, tx+"/"+qVotePrefix+co.participants[0])
			if err == nil && !ok {
				continue
			}
		}
		if err != nil {
			return co.finish(ctx, id, tx, false, err)
		}
		break
	}
	watched := map[string]bool{}
	yes, err := co.collect(ctx, tx, watched)
	committed, err = co.finish(ctx, id, tx, yes, err)
	co.unwatch(ctx, watched)
	return committed, err
}

// unwatch removes the data watches collect left on vote and member nodes
// that did not change (a live participant's members node never does), so
// that they do not pile up in the Conn over many transactions. Another
// Run of this session watching the same node sees its watch removed, and
// watches again.
func (co *Coordinator) unwatch(ctx context.Context, watched map[string]bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), co.c.SessionTimeout())
	defer cancel()
	for p := range watched {
		co.c.RemoveWatches(ctx, p, wire.WatcherData) // ErrNoWatcher: fired already
	}
}

// collect waits for the votes: true when all are yes, false on a no or a
// dead participant; an error when ctx ended or the session did.
// Every node it watches is recorded in watched.
func (co *Coordinator) collect(ctx context.Context, tx string, watched map[string]bool) (bool, error) {
	pending := append([]string(nil), co.participants...)
	for {
		var watches []<-chan client.Event
		var still []string
		for _, p := range pending {
			data, st, ch, err := getDataW(ctx, co.c, tx+"/"+qVotePrefix+p)
			if err != nil {
				return false, err
			}
			if st.Version > 0 {
				if string(data) != qYes {
					return false, nil
				}
				continue
			}
			alive, _, mch, err := existsW(ctx, co.c, co.path+"/members/"+p)
			if err != nil {
				return false, err
			}
			if !alive {
				return false, nil
			}
			still = append(still, p)
			watches = append(watches, ch, mch)
			watched[tx+"/"+qVotePrefix+p] = true
			watched[co.path+"/members/"+p] = true
		}
		if len(still) == 0 {
			return true, nil
		}
		pending = still
		if err := waitEvent(ctx, watches...); err != nil {
			return false, err
		}
	}
}

// finish writes the outcome (abort unless yes and no error) and returns
// the outcome that stands, then deletes the coordinator's node.
func (co *Coordinator) finish(ctx context.Context, id, tx string, yes bool, err error) (bool, error) {
	if errors.Is(err, wire.ErrSessionExpired) {
		return false, err // the participants abort once our node is gone
	}
	wctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 2*co.c.SessionTimeout()+time.Second)
		defer cancel()
	}
	out := qAbort
	if yes && err == nil {
		out = qCommit
	}
	var committed bool
	var werr error
	if tx != "" {
		committed, werr = qDecide(wctx, co.c, tx, out)
	}
	deleteNode(wctx, co.c, co.path+"/coordinators/"+id)
	if werr != nil {
		return false, werr
	}
	if err != nil {
		return committed, err
	}
	return committed, nil
}

// qDecide creates tx's outcome as out unless it exists, and returns the
// outcome that stands.
func qDecide(ctx context.Context, c *client.Conn, tx, out string) (bool, error) {
	for {
		_, err := retry1(ctx, func() (string, error) {
			return c.Create(ctx, tx+"/"+qOutcome, []byte(out), wire.ModePersistent, nil)
		})
		if err == nil {
			return out == qCommit, nil
		}
		if !errors.Is(err, wire.ErrNodeExists) {
			return false, err
		}
		data, _, err := getData(ctx, c, tx+"/"+qOutcome)
		if errors.Is(err, wire.ErrNoNode) {
			continue
		}
		if err != nil {
			return false, err
		}
		return string(data) == qCommit, nil
	}
}

// qTxID is the uuid in a transaction's name.
func qTxID(name string) string {
	if len(name) < protectedLen {
		return ""
	}
	return name[len(protectedPrefix) : protectedLen-1]
}

// Participant takes part in the transactions under a path, as name.
type Participant struct {
	c    *client.Conn
	path string
	name string

	last string // key of the last transaction Next looked at
}

// NewParticipant returns participant name of the transactions under path.
func NewParticipant(c *client.Conn, path, name string) *Participant {
	return &Participant{c: c, path: path, name: name}
}

// Register makes the participant alive: its ephemeral members node
// exists until its session ends. Next registers too; call Register before
// a coordinator's Run that must count this participant as alive. An
// existing members node of another session (an earlier incarnation whose
// session has not expired yet) is waited out, within ctx.
func (p *Participant) Register(ctx context.Context) error {
	if !qValidName(p.name) {
		return fmt.Errorf("%w: %q", ErrNotParticipant, p.name)
	}
	member := p.path + "/members/" + p.name
	for {
		_, err := retry1(ctx, func() (string, error) { return p.c.Create(ctx, member, nil, wire.ModeEphemeral, nil) })
		switch {
		case err == nil:
			return nil
		case errors.Is(err, wire.ErrNoNode):
			if err := ensurePath(ctx, p.c, parentOf(member)); err != nil {
				return err
			}
		case errors.Is(err, wire.ErrNodeExists):
			ok, st, ch, err := existsW(ctx, p.c, member)
			if err != nil {
				return err
			}
			if ok && st.EphemeralOwner == p.c.SessionID() {
				return nil // ours (a create whose reply was lost, or an earlier call)
			}
			if ok {
				if err := waitEvent(ctx, ch); err != nil {
					return err
				}
			}
		default:
			return err
		}
	}
}

// Next registers the participant and waits for the next transaction that
// names it (after the last one Next returned or skipped), and returns it.
// Transactions already decided are skipped, as are ones that do not name
// this participant.
func (p *Participant) Next(ctx context.Context) (*Proposal, error) {
	if err := p.Register(ctx); err != nil {
		return nil, err
	}
	for {
		names, pch, err := childrenW(ctx, p.c, p.path)
		if err != nil {
			return nil, err
		}
		var txs []string
		for _, n := range qSorted(names, "tx-") {
			if qKey(n) > p.last {
				txs = append(txs, n)
			}
		}
		var wait []<-chan client.Event
		for _, n := range txs {
			tx := p.path + "/" + n
			kids, err := getChildren(ctx, p.c, tx)
			var tch <-chan client.Event
			if err == nil && len(kids) == 0 {
				kids, _, tch, err = retry3(ctx, func() ([]string, wire.Stat, <-chan client.Event, error) { return p.c.ChildrenW(ctx, tx) }) // watch only what we may wait on
			}
			if errors.Is(err, wire.ErrNoNode) {
				p.last = qKey(n) // deleted
				continue
			}
			if err != nil {
				return nil, err
			}
			if len(kids) == 0 {
				// Its votes are not created yet: wait for them while
				// its coordinator lives; skip it once it is dead.
				alive, _, cch, err := existsW(ctx, p.c, p.path+"/coordinators/"+qTxID(n))
				if err != nil {
					return nil, err
				}
				if alive {
					wait = []<-chan client.Event{tch, cch}
					break
				}
			}
			p.last = qKey(n)
			has := map[string]bool{}
			for _, k := range kids {
				has[k] = true
			}
			if has[qOutcome] || !has[qVotePrefix+p.name] {
				continue // decided already, not ours, or abandoned
			}
			data, _, err := getData(ctx, p.c, tx)
			if err != nil {
				return nil, err
			}
			return &Proposal{p: p, tx: tx, id: qTxID(n), data: data}, nil
		}
		if err := waitEvent(ctx, append(wait, pch)...); err != nil {
			return nil, err
		}
	}
}

// Proposal is one transaction as a participant sees it.
type Proposal struct {
	p    *Participant
	tx   string
	id   string
	data []byte
}

// Data returns the proposal's data.
func (pr *Proposal) Data() []byte { return pr.data }

// Path returns the transaction's node.
func (pr *Proposal) Path() string { return pr.tx }

// Vote casts the participant's vote, once: a second different vote fails
// with ErrAlreadyVoted.
func (pr *Proposal) Vote(ctx context.Context, yes bool) error {
	v := qNo
	if yes {
		v = qYes
	}
	node := pr.tx + "/" + qVotePrefix + pr.p.name
	_, err := retry1(ctx, func() (wire.Stat, error) { return pr.p.c.Set(ctx, node, []byte(v), 0) })
	if !errors.Is(err, wire.ErrBadVersion) {
		return err
	}
	data, _, err := getData(ctx, pr.p.c, node)
	if err != nil {
		return err
	}
	if string(data) != v {
		return ErrAlreadyVoted
	}
	return nil // our own vote, whose reply was lost
}

// Outcome waits for the transaction's outcome: true for commit. If the
// coordinator's session ends before it decided, Outcome decides abort.
func (pr *Proposal) Outcome(ctx context.Context) (bool, error) {
	c := pr.p.c
	for {
		ok, _, och, err := existsW(ctx, c, pr.tx+"/"+qOutcome)
		if err != nil {
			return false, err
		}
		if ok {
			data, _, err := getData(ctx, c, pr.tx+"/"+qOutcome)
			if errors.Is(err, wire.ErrNoNode) {
				continue
			}
			if err != nil {
				return false, err
			}
			return string(data) == qCommit, nil
		}
		alive, _, cch, err := existsW(ctx, c, pr.p.path+"/coordinators/"+pr.id)
		if err != nil {
			return false, err
		}
		if !alive {
			return qDecide(ctx, c, pr.tx, qAbort)
		}
		if err := waitEvent(ctx, och, cch); err != nil {
			return false, err
		}
	}
}
