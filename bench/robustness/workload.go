package robustness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"
)

// Workload sets the size of a Run.
type Workload struct {
	Keys           int           // register keys
	Registers      int           // sessions reading and writing the register keys
	Sequencers     int           // sessions making sequential creates (unique ids)
	Doomed         int           // sessions cut off by CutDoomed and left to expire
	Rate           float64       // operations per second per session
	SessionTimeout time.Duration // of every session

	// The workloads of workloads.go, each session holding an ephemeral
	// as the others do.
	Setters   int     // sessions appending to one znode with versioned setData (set)
	Counters  int     // sessions making multis of two creates (counter)
	Producers int     // sessions creating queue items
	Consumers int     // sessions taking queue items with a multi of check, setData and delete
	Watchers  int     // sessions keeping a data watch on every register key
	Readers   int     // sessions making plain reads (no sync) of the register keys
	MoreRate  float64 // operations per second per session of these (0: Rate)
}

// Root is where a Run keeps its znodes.
const Root = "/robust"

// Run is a workload running against an ensemble: register sessions doing
// sync+read and versioned writes on a few keys, sequencer sessions doing
// sequential creates, every session holding an ephemeral, and doomed
// sessions that CutDoomed leaves to expire. Sessions are spread over the
// members (session i starts on member i mod n).
type Run struct {
	E    *Ensemble
	W    Workload
	Hist *History
	Seq  *SeqLog

	Live   []*Client // register sessions, then sequencers
	Doomed []*Client

	// Excluded are members the test found stopped for good (a member that
	// refuses to start on corrupted data), with why: Verify checks the
	// others and reports each exclusion as a finding of its own check,
	// "excluded", which the test may accept.
	Excluded map[int]string

	keys   []string
	healed time.Duration // history time of MarkHealed; 0 until then
	cutAt  time.Duration // history time of CutDoomed; 0 until then
	more   *more         // the workloads of workloads.go
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (r *Run) addrs() []string { return r.E.ClientAddrs() }

// StartRun creates the znodes and the sessions and starts the load.
func StartRun(ctx context.Context, e *Ensemble, w Workload) (*Run, error) {
	r := &Run{E: e, W: w, Hist: NewHistory(), Seq: &SeqLog{}}
	setup, err := Dial(ctx, r.addrs(), 1, "setup", w.SessionTimeout)
	if err != nil {
		return nil, err
	}
	defer setup.Close()
	for _, p := range []string{Root, Root + "/reg", Root + "/seq", Root + "/eph"} {
		if err := createRetry(ctx, setup.Conn, p, nil, 0); err != nil {
			return nil, err
		}
	}
	for k := range w.Keys {
		key := fmt.Sprintf("%s/reg/k%d", Root, k)
		if err := createRetry(ctx, setup.Conn, key, nil, 0); err != nil {
			return nil, err
		}
		r.keys = append(r.keys, key)
	}
	n := len(e.Members)
	dial := func(i int, name string) (*Client, error) {
		c, err := Dial(ctx, r.addrs(), 1+i%n, name, w.SessionTimeout)
		if err != nil {
			return nil, err
		}
		if err := createRetry(ctx, c.Conn, Root+"/eph/"+name, nil, zk.FlagEphemeral); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	for i := range w.Registers + w.Sequencers {
		name := fmt.Sprintf("reg%d", i)
		if i >= w.Registers {
			name = fmt.Sprintf("seq%d", i)
		}
		c, err := dial(i, name)
		if err != nil {
			r.closeAll()
			return nil, err
		}
		r.Live = append(r.Live, c)
	}
	for i := range w.Doomed {
		c, err := dial(i, fmt.Sprintf("doomed%d", i))
		if err != nil {
			r.closeAll()
			return nil, err
		}
		r.Doomed = append(r.Doomed, c)
	}
	lctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	for i, c := range r.Live {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if i < w.Registers {
				r.registerLoop(lctx, i, c)
			} else {
				r.seqLoop(lctx, i, c)
			}
		}()
	}
	if err := r.startMore(ctx, lctx); err != nil {
		cancel()
		r.wg.Wait()
		r.closeAll()
		return nil, err
	}
	return r, nil
}

// createRetry creates p (a persistent or ephemeral node) until the server
// says it exists, riding out connection losses; an ephemeral that exists
// must be the session's own.
func createRetry(ctx context.Context, c *zk.Conn, p string, data []byte, flags int32) error {
	for {
		_, err := c.Create(p, data, flags, zk.WorldACL(zk.PermAll))
		if errors.Is(err, zk.ErrNodeExists) {
			if flags&zk.FlagEphemeral == 0 {
				return nil
			}
			_, st, gerr := c.Get(p)
			if gerr == nil && st.EphemeralOwner == c.SessionID() {
				return nil
			}
			if gerr == nil {
				return fmt.Errorf("robustness: %s exists, owned by 0x%x, not by this session 0x%x", p, st.EphemeralOwner, c.SessionID())
			}
			err = gerr
		}
		if err == nil {
			return nil
		}
		if OutcomeOf(err) == Fail {
			return fmt.Errorf("robustness: create %s: %w", p, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("robustness: create %s: %w (last error %v)", p, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *Run) pace() *time.Ticker {
	return time.NewTicker(time.Duration(float64(time.Second) / r.W.Rate))
}

func (r *Run) registerLoop(ctx context.Context, i int, c *Client) {
	known := map[string]int32{}
	tick := r.pace()
	defer tick.Stop()
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		key := r.keys[rng.IntN(len(r.keys))]
		op := Op{Client: i, Server: c.Conn.Server(), Key: key}
		if rng.IntN(2) == 0 {
			op.Kind = Read
			op.Call = r.Hist.Now()
			_, err := c.Conn.Sync(key)
			var data []byte
			var st *zk.Stat
			if err == nil {
				data, st, err = c.Conn.Get(key)
			}
			op.Return = r.Hist.Now()
			switch {
			case err == nil:
				op.Outcome, op.Value, op.Version, op.Zxid = OK, string(data), st.Version, st.Mzxid
				known[key] = st.Version
			case errors.Is(err, zk.ErrNoNode):
				op.Outcome, op.Missing = OK, true
			default:
				op.Outcome, op.Err = Unknown, err.Error()
			}
		} else {
			op.Kind = CAS
			op.Value = fmt.Sprintf("c%d-%d", i, n)
			op.Expect = known[key]
			op.Call = r.Hist.Now()
			st, err := c.Conn.Set(key, []byte(op.Value), op.Expect)
			op.Return = r.Hist.Now()
			op.Outcome = OutcomeOf(err)
			if err != nil {
				op.Err = err.Error()
				op.Missing = errors.Is(err, zk.ErrNoNode)
			} else {
				op.Version, op.Zxid = st.Version, st.Mzxid
				known[key] = st.Version
			}
		}
		r.Hist.Add(op)
	}
}

func (r *Run) seqLoop(ctx context.Context, i int, c *Client) {
	tick := r.pace()
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		op := SeqOp{Client: i, ID: fmt.Sprintf("c%d-%d", i, n), Call: r.Hist.Now()}
		name, err := c.Conn.Create(Root+"/seq/n-", []byte(op.ID), zk.FlagSequence, zk.WorldACL(zk.PermAll))
		op.Return = r.Hist.Now()
		op.Outcome = OutcomeOf(err)
		if err != nil {
			op.Err = err.Error()
		} else {
			op.Name = path.Base(name)
		}
		r.Seq.Add(op)
	}
}

// CutDoomed cuts the doomed sessions off: their ephemerals must go when
// the ensemble expires them.
func (r *Run) CutDoomed() {
	r.cutAt = r.Hist.Now()
	for _, c := range r.Doomed {
		c.Cut()
	}
}

// MarkHealed records that the fault is over (for "writes served again").
func (r *Run) MarkHealed() { r.healed = r.Hist.Now() }

// Stop stops the load and waits (bounded) for every session's last
// operation.
func (r *Run) Stop(timeout time.Duration) error {
	r.cancel()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("robustness: the workload's sessions did not stop within %v", timeout)
	}
}

// Close closes every session.
func (r *Run) Close() { r.closeAll() }

func (r *Run) closeAll() {
	var wg sync.WaitGroup
	for _, c := range slices.Concat(r.Live, r.Doomed) {
		wg.Add(1)
		go func() { defer wg.Done(); c.Close() }()
	}
	wg.Wait()
}

// Finding is one failed check, with its evidence.
type Finding struct {
	Check    string // "linearizable", "lost writes", …
	Evidence string
}

func (f Finding) String() string { return f.Check + ": " + f.Evidence }

// Verify runs every check after the load has stopped and the faults have
// healed: final sync+reads of every key from every member (added to the
// history), the doomed sessions' ephemerals gone everywhere, the history
// linearizable, no acknowledged write lost, the unique ids, no live
// session expired and each still holding its ephemeral, no ephemeral of
// an expired session left, and the same tree on every member.
func (r *Run) Verify(ctx context.Context, checkTimeout time.Duration) (findings []Finding, dumps []Dump) {
	add := func(check, format string, a ...any) {
		findings = append(findings, Finding{Check: check, Evidence: fmt.Sprintf(format, a...)})
	}
	var members []*Member
	for _, m := range r.E.Members {
		if why, ok := r.Excluded[m.ID]; ok {
			add("excluded", "member %d is not checked: %s", m.ID, why)
			continue
		}
		members = append(members, m)
	}
	checkers := make([]*Client, len(members))
	defer func() {
		for _, c := range checkers {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i, m := range members {
		c, err := Dial(ctx, []string{m.ClientAddr}, 1, fmt.Sprintf("check%d", m.ID), r.W.SessionTimeout)
		if err != nil {
			add("members serve", "member %d: %v", m.ID, err)
			return findings, nil
		}
		checkers[i] = c
	}

	// Final reads, from every member, after everything else.
	for i, c := range checkers {
		for _, key := range r.keys {
			op := Op{Client: 1000 + i, Server: c.Conn.Server(), Kind: Read, Key: key, Call: r.Hist.Now()}
			_, err := c.Conn.Sync(key)
			var data []byte
			var st *zk.Stat
			if err == nil {
				data, st, err = c.Conn.Get(key)
			}
			op.Return = r.Hist.Now()
			switch {
			case err == nil:
				op.Outcome, op.Value, op.Version, op.Zxid = OK, string(data), st.Version, st.Mzxid
			case errors.Is(err, zk.ErrNoNode):
				op.Outcome, op.Missing = OK, true
			default:
				add("final reads", "member %d: %s: %v", members[i].ID, key, err)
				continue
			}
			r.Hist.Add(op)
		}
	}

	// Sessions that must be gone: every doomed one, and every earlier
	// session of a live client (there should be none).
	gone := map[int64]string{}
	for _, c := range r.Doomed {
		for _, s := range c.Sessions() {
			gone[s] = c.Name
		}
	}
	live := map[int64]*Client{}
	for _, c := range r.Live {
		ss := c.Sessions()
		for _, s := range ss[:len(ss)-1] {
			gone[s] = c.Name
		}
		live[ss[len(ss)-1]] = c
	}
	// Wait until no member holds an ephemeral of a session that must be
	// gone: the doomed ones expire a session timeout after they were
	// cut, or after a new leader took over.
	bound := 2*r.W.SessionTimeout + 20*time.Second
	deadline := time.Now().Add(bound)
	for {
		var left []string
		for i, c := range checkers {
			owners, err := ephemeralOwners(c.Conn)
			if err != nil {
				left = append(left, fmt.Sprintf("member %d: %v", members[i].ID, err))
				continue
			}
			for name, owner := range owners {
				if who, ok := gone[owner]; ok {
					left = append(left, fmt.Sprintf("member %d: %s/eph/%s of %s's session 0x%x", members[i].ID, Root, name, who, owner))
				}
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			sort.Strings(left)
			add("ephemerals of expired sessions gone", "%v after the checks began, still there: %s", bound, strings.Join(left, "; "))
			break
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Identical state on every member.
	for i, c := range checkers {
		d, err := DumpMember(ctx, c.Conn)
		if err != nil {
			add("identical state", "dump of member %d: %v", members[i].ID, err)
			return findings, dumps
		}
		dumps = append(dumps, d)
	}
	for i := 1; i < len(dumps); i++ {
		if diff := Diff(dumps[0], dumps[i], fmt.Sprintf("member %d", members[0].ID), fmt.Sprintf("member %d", members[i].ID), 20); len(diff) > 0 {
			add("identical state", "member %d and member %d differ (%d znodes and %d):\n  %s",
				members[0].ID, members[i].ID, len(dumps[0]), len(dumps[i]), strings.Join(diff, "\n  "))
		}
	}

	// Sessions: no live one expired; each holds its ephemeral; nothing
	// is owned by a session that should be gone.
	for _, c := range r.Live {
		if ex := c.Expired(); len(ex) > 0 {
			var when []string
			for _, e := range ex {
				when = append(when, fmt.Sprintf("0x%x at %.3fs", e.Session, e.At.Seconds()))
			}
			add("no live session expired", "client %s was told its session expired: %s; sessions %s; transcript:\n%s",
				c.Name, strings.Join(when, ", "), hexIDs(c.Sessions()), tail(c.Transcript(), 25))
		}
	}
	for mi, d := range dumps {
		for _, c := range r.Live {
			ss := c.Sessions()
			cur := ss[len(ss)-1]
			z, ok := d[Root+"/eph/"+c.Name]
			switch {
			case !ok:
				add("live sessions keep their ephemerals", "member %d: %s/eph/%s of live session 0x%x is gone", members[mi].ID, Root, c.Name, cur)
			case z.EphemeralOwner != cur:
				add("live sessions keep their ephemerals", "member %d: %s/eph/%s is owned by 0x%x, the client's session is 0x%x", members[mi].ID, Root, c.Name, z.EphemeralOwner, cur)
			}
		}
		for p, z := range d {
			if z.EphemeralOwner == 0 {
				continue
			}
			if _, ok := live[z.EphemeralOwner]; !ok {
				add("no ephemeral of an expired session", "member %d: %s is owned by 0x%x, not a live session", members[mi].ID, p, z.EphemeralOwner)
			}
		}
	}

	// The register: linearizable, and no acknowledged write lost.
	ops := r.Hist.Ops()
	acked := map[string]Op{}
	for _, op := range ops {
		if op.Kind == CAS && op.Outcome == OK && op.Version > acked[op.Key].Version {
			acked[op.Key] = op
		}
	}
	for _, op := range ops {
		if op.Client >= 1000 && op.Kind == Read && op.Outcome == OK {
			if a, ok := acked[op.Key]; ok && (op.Missing || op.Version < a.Version) {
				add("no acknowledged write lost", "final read on %s saw v%d %q; acknowledged earlier: %v", op.Server, op.Version, op.Value, a)
			}
		}
	}
	lin := CheckLinearizable(ops, checkTimeout)
	switch lin.Result {
	case porcupine.Illegal:
		var b strings.Builder
		lin.Describe(&b)
		add("linearizable", "the register history (%d operations) is not linearizable:\n%s", len(ops), b.String())
	case porcupine.Unknown:
		add("linearizable", "the checker gave up after %v on %d operations", checkTimeout, len(ops))
	}

	// Unique ids, against member 1's children (all members are compared above).
	if len(dumps) > 0 {
		for _, bad := range CheckUniqueIDs(r.Seq.Ops(), dumps[0].Children(Root+"/seq")) {
			add("unique ids", "%s", bad)
		}
	}

	findings = append(findings, r.verifyMore(ctx)...)

	// Writes served again after healing.
	if r.healed > 0 {
		if d := r.FirstWriteAfterHeal(); d < 0 || d > 10*time.Second {
			add("writes served again within 10 s of healing", "healed at %.3fs; first write answered %s after it", r.healed.Seconds(), seconds(d))
		}
	}
	return findings, dumps
}

// FirstWriteAfterHeal is how long after MarkHealed the first write (a
// register write or a sequential create) was answered (-1: none).
func (r *Run) FirstWriteAfterHeal() time.Duration {
	first := time.Duration(-1)
	for _, op := range r.Seq.Ops() {
		if op.Outcome == OK && op.Return >= r.healed && (first < 0 || op.Return < first) {
			first = op.Return
		}
	}
	for _, op := range r.Hist.Ops() {
		if op.Client < 1000 && op.Kind == CAS && op.Outcome != Unknown && op.Return >= r.healed && (first < 0 || op.Return < first) {
			first = op.Return
		}
	}
	if first < 0 {
		return -1
	}
	return first - r.healed
}

func seconds(d time.Duration) string {
	if d < 0 {
		return "none"
	}
	return fmt.Sprintf("%.3fs", d.Seconds())
}

func ephemeralOwners(c *zk.Conn) (map[string]int64, error) {
	if _, err := c.Sync(Root + "/eph"); err != nil {
		return nil, err
	}
	kids, _, err := c.Children(Root + "/eph")
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, k := range kids {
		_, st, err := c.Get(Root + "/eph/" + k)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[k] = st.EphemeralOwner
	}
	return out, nil
}

func hexIDs(ids []int64) string {
	var s []string
	for _, id := range ids {
		s = append(s, fmt.Sprintf("0x%x", id))
	}
	return strings.Join(s, ",")
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
