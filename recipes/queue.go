package recipes

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// This file holds the queues (Queue, PriorityQueue, LockingQueue) and the
// unexported q-helpers that the queues, the counter and two-phase commit
// share: ordering by name without the protection prefix, and the receipt
// that tells whether a multi whose reply was lost was applied.

// qKey is the part of a child's name that orders it: the name without
// its protection prefix, if it has one.
func qKey(name string) string {
	if strings.HasPrefix(name, protectedPrefix) && len(name) > protectedLen && name[protectedLen-1] == '-' {
		return name[protectedLen:]
	}
	return name
}

// qSorted returns the names whose key starts with prefix, ordered by key
// (then by name, for equal keys).
func qSorted(names []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(qKey(n), prefix) {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		ki, kj := qKey(out[i]), qKey(out[j])
		if ki != kj {
			return ki < kj
		}
		return out[i] < out[j]
	})
	return out
}

// qMultiFunc is the multi a recipe uses; tests replace it to lose a
// reply.
type qMultiFunc func(ctx context.Context, ops ...wire.MultiOp) ([]wire.MultiResult, error)

// qMultiReceipt runs ops as one transaction together with the create of
// receipt, an ephemeral node of this session: when the reply is lost, the
// receipt's presence says whether the transaction was applied, so that it
// is neither lost nor applied twice. The receipt is deleted afterwards
// (it is ephemeral: if that delete fails, the session's end removes it).
// A missing parent of receipt is created. The error is the failing op's
// code when the transaction was refused.
func qMultiReceipt(ctx context.Context, c *client.Conn, multi qMultiFunc, receipt string, ops ...wire.MultiOp) error {
	all := append(append([]wire.MultiOp(nil), ops...), client.CreateOp(receipt, nil, wire.ModeEphemeral, nil))
	for {
		res, err := multi(ctx, all...)
		switch {
		case err == nil:
			deleteNode(ctx, c, receipt) // best effort: ephemeral anyway
			return nil
		case isConnLoss(err):
			if err := syncPath(ctx, c, receipt); err != nil {
				return err
			}
			ok, st, err := exists(ctx, c, receipt)
			if err != nil {
				return err
			}
			if ok && st.EphemeralOwner == c.SessionID() {
				deleteNode(ctx, c, receipt)
				return nil
			}
			// Not applied: send it again.
		case errors.Is(err, wire.ErrNoNode) && len(res) == len(all) && res[len(all)-1].Err == wire.ErrNoNode:
			// Only the receipt's parent is missing.
			if err := ensurePath(ctx, c, parentOf(receipt)); err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// qCore is the queue both Queue and PriorityQueue are: items named
// prefix+... under path, taken by deletion.
type qCore struct {
	c      *client.Conn
	path   string
	prefix string

	// create and multi are the Conn's, replaced by tests.
	create createFunc
	multi  qMultiFunc
}

func newQCore(c *client.Conn, path, prefix string) qCore {
	return qCore{c: c, path: path, prefix: prefix, create: connCreate(c), multi: c.Multi}
}

// qReceipts is the child of a queue's path that holds take receipts.
const qReceipts = "receipts"

func (q *qCore) put(ctx context.Context, name string, data []byte) error {
	pc := newProtectedCreate(q.c, q.path, name, data, wire.ModePersistentSequential)
	pc.send = q.create
	_, err := pc.create(ctx)
	return err
}

func (q *qCore) take(ctx context.Context) ([]byte, error) {
	for {
		names, ch, err := childrenW(ctx, q.c, q.path)
		if err != nil {
			return nil, err
		}
		items := qSorted(names, q.prefix)
		for _, it := range items {
			p := q.path + "/" + it
			data, _, err := getData(ctx, q.c, p)
			if errors.Is(err, wire.ErrNoNode) {
				continue // taken by another consumer
			}
			if err != nil {
				return nil, err
			}
			err = qMultiReceipt(ctx, q.c, q.multi, q.path+"/"+qReceipts+"/"+it, client.DeleteOp(p, client.AnyVersion))
			if errors.Is(err, wire.ErrNoNode) {
				continue
			}
			if err != nil {
				return nil, err
			}
			return data, nil
		}
		if len(items) > 0 {
			continue // all taken by others: list again
		}
		if err := waitEvent(ctx, ch); err != nil {
			return nil, err
		}
	}
}

func (q *qCore) len(ctx context.Context) (int, error) {
	names, err := getChildren(ctx, q.c, q.path)
	if errors.Is(err, wire.ErrNoNode) {
		return 0, nil
	}
	return len(qSorted(names, q.prefix)), err
}

// Queue is a distributed FIFO queue with at-most-once delivery, on
// persistent sequential nodes.
//
// Layout: each item is a persistent sequential child of path named
// "_c_<uuid>-qn-<seq>" (Curator's protected create of the name
// Curator's SimpleDistributedQueue uses, "qn-"), its data the item. Items
// are ordered by the name without its "_c_<uuid>-" prefix, so by
// sequence number: FIFO. Take also takes unprotected "qn-<seq>" items,
// such as a Curator SimpleDistributedQueue producer writes (Curator's
// consumer skips the protected names, as foreign nodes). Take leaves a
// short-lived ephemeral receipt path/receipts/<item> (below).
//
// Guarantees: an item is taken by deleting it, and the consumer whose
// delete succeeds has it: no item is delivered twice. Taking deletes the
// item and creates the receipt in one multi; when that multi's reply is
// lost, the receipt tells whether it was applied, so that a taken item is
// returned rather than lost. An item whose taker crashes after Take
// returned is lost (at most once); LockingQueue delivers at least once.
//
// Failures: connection loss is waited through (within ctx). A Put whose
// create reply was lost is recovered by finding the item by its uuid, so
// it is neither lost nor duplicated. When the session expires, a
// blocked Take and every later call return an error matching
// wire.ErrSessionExpired.
//
// A Queue starts no goroutine; Take blocks its caller (watching path's
// children, no polling) until an item is there or ctx ends.
type Queue struct{ q qCore }

// NewQueue returns the queue at path (created when first needed).
func NewQueue(c *client.Conn, path string) *Queue {
	return &Queue{q: newQCore(c, path, "qn-")}
}

// Put appends an item.
func (q *Queue) Put(ctx context.Context, data []byte) error { return q.q.put(ctx, "qn-", data) }

// Take removes the oldest item and returns it, waiting for one.
func (q *Queue) Take(ctx context.Context) ([]byte, error) { return q.q.take(ctx) }

// Len returns the number of items in the queue.
func (q *Queue) Len(ctx context.Context) (int, error) { return q.q.len(ctx) }

// PriorityQueue is Queue with a priority per item: Take returns an item
// of the lowest priority value there is, FIFO among items of the same
// priority. Its guarantees and failure behaviour are Queue's.
//
// Layout: each item is a persistent sequential child of path named
// "_c_<uuid>-pq-<prio>-<seq>", where <prio> is the priority as 10
// decimal digits, offset by 2^31 so that negative priorities sort first
// (priority p is written as p+2147483648, zero-padded). Sorting the names
// without their "_c_<uuid>-" prefix orders items by priority, then by
// sequence number.
type PriorityQueue struct{ q qCore }

// NewPriorityQueue returns the priority queue at path.
func NewPriorityQueue(c *client.Conn, path string) *PriorityQueue {
	return &PriorityQueue{q: newQCore(c, path, "pq-")}
}

// qPriorityName is the name (before the sequence number) of an item of
// priority p.
func qPriorityName(p int) (string, error) {
	if p < -1<<31 || p > 1<<31-1 {
		return "", fmt.Errorf("paddock/recipes: priority %d out of the int32 range: %w", p, wire.ErrBadArguments)
	}
	return fmt.Sprintf("pq-%010d-", int64(p)+1<<31), nil
}

// Put adds an item of the given priority (lower is taken first), which
// must fit in an int32.
func (q *PriorityQueue) Put(ctx context.Context, data []byte, priority int) error {
	name, err := qPriorityName(priority)
	if err != nil {
		return err
	}
	return q.q.put(ctx, name, data)
}

// Take removes an item of the lowest priority and returns it, waiting for
// one.
func (q *PriorityQueue) Take(ctx context.Context) ([]byte, error) { return q.q.take(ctx) }

// Len returns the number of items in the queue.
func (q *PriorityQueue) Len(ctx context.Context) (int, error) { return q.q.len(ctx) }

// LockingQueue is a distributed queue with at-least-once delivery: an item
// stays in the queue while it is processed, claimed by an ephemeral node
// of its taker, and leaves it only when the taker acknowledges it. The
// layout is kazoo's LockingQueue's, so that kazoo producers and consumers
// share the queue with Go ones.
//
// Layout: items are persistent sequential children of path/entries named
// "_c_<uuid>-entry-<PPP>-<seq>" (kazoo's "entry-<PPP>-<seq>" behind the
// protection prefix; <PPP> is the priority, 3 digits, 100 by default),
// ordered by the name without the "_c_<uuid>-" prefix. An item is claimed
// by the ephemeral node path/taken/<item name>, whose data is a unique
// id of the claim. Take also takes kazoo's unprotected items.
//
// Guarantees: an item is claimed by at most one live session at a time.
// Ack deletes the item and its claim in one multi: an acknowledged item
// never comes back. Release deletes the claim: the item is taken again.
// When the taker's session ends (crash, expiry) before Ack, the server
// deletes the claim and the item is taken again: every item is processed
// at least once, and more than once only when a taker lost its session
// (or Released it).
//
// Failures: connection loss is waited through (within ctx). A Put whose
// reply was lost is recovered by the item's uuid, a claim whose reply was
// lost by the claim's id, an Ack whose reply was lost by the claim's
// absence. When the session expires, its claims are gone (their items are
// redelivered to others) and Take, Ack and Release return an error
// matching wire.ErrSessionExpired.
//
// A LockingQueue starts no goroutine; Take blocks its caller, watching
// the entries and the claims (no polling).
type LockingQueue struct {
	c    *client.Conn
	path string

	create createFunc
	multi  qMultiFunc
}

// NewLockingQueue returns the locking queue at path.
func NewLockingQueue(c *client.Conn, path string) *LockingQueue {
	return &LockingQueue{c: c, path: path, create: connCreate(c), multi: c.Multi}
}

func (q *LockingQueue) entries() string { return q.path + "/entries" }
func (q *LockingQueue) taken() string   { return q.path + "/taken" }

// Put appends an item of priority 100 (kazoo's default).
func (q *LockingQueue) Put(ctx context.Context, data []byte) error {
	return q.PutPriority(ctx, data, 100)
}

// PutPriority appends an item with a priority between 0 and 999: lower is
// taken first, FIFO within a priority (kazoo's convention).
func (q *LockingQueue) PutPriority(ctx context.Context, data []byte, priority int) error {
	if priority < 0 || priority > 999 {
		return fmt.Errorf("paddock/recipes: priority %d not in [0, 999]: %w", priority, wire.ErrBadArguments)
	}
	pc := newProtectedCreate(q.c, q.entries(), fmt.Sprintf("entry-%03d-", priority), data, wire.ModePersistentSequential)
	pc.send = q.create
	_, err := pc.create(ctx)
	return err
}

// Len returns the number of items in the queue, claimed ones included.
func (q *LockingQueue) Len(ctx context.Context) (int, error) {
	names, err := getChildren(ctx, q.c, q.entries())
	if errors.Is(err, wire.ErrNoNode) {
		return 0, nil
	}
	return len(qSorted(names, "entry-")), err
}

// Take claims the first unclaimed item and returns it, waiting for one.
// The caller processes it, then calls Ack (or Release).
func (q *LockingQueue) Take(ctx context.Context) (*Item, error) {
	for {
		names, ech, err := childrenW(ctx, q.c, q.entries())
		if err != nil {
			return nil, err
		}
		taken, tch, err := childrenW(ctx, q.c, q.taken())
		if err != nil {
			return nil, err
		}
		claimed := make(map[string]bool, len(taken))
		for _, n := range taken {
			claimed[n] = true
		}
		var avail []string
		for _, n := range qSorted(names, "entry-") {
			if !claimed[n] {
				avail = append(avail, n)
			}
		}
		for _, n := range avail {
			it, err := q.claim(ctx, n)
			if err != nil {
				return nil, err
			}
			if it != nil {
				return it, nil
			}
		}
		if len(avail) > 0 {
			continue
		}
		if err := waitEvent(ctx, ech, tch); err != nil {
			return nil, err
		}
	}
}

// claim claims item name: nil when another claim has it or it is gone.
func (q *LockingQueue) claim(ctx context.Context, name string) (*Item, error) {
	id := []byte(newGUID())
	claim := q.taken() + "/" + name
	for {
		_, err := q.create(ctx, claim, id, wire.ModeEphemeral)
		if isConnLoss(err) || errors.Is(err, wire.ErrNodeExists) {
			// Ours if it carries our id (a create whose reply was lost).
			var data []byte
			data, _, err = getData(ctx, q.c, claim)
			switch {
			case errors.Is(err, wire.ErrNoNode):
				continue // not created (or released since): try again
			case err != nil:
				return nil, err
			case string(data) != string(id):
				return nil, nil // another taker's
			}
		}
		if err != nil {
			return nil, err
		}
		break
	}
	data, _, err := getData(ctx, q.c, q.entries()+"/"+name)
	if errors.Is(err, wire.ErrNoNode) {
		// Acknowledged by its taker between our listing and our claim.
		return nil, deleteNode(ctx, q.c, claim)
	}
	if err != nil {
		return nil, err
	}
	return &Item{q: q, name: name, id: id, data: data}, nil
}

// Item is a LockingQueue item claimed by Take.
type Item struct {
	q    *LockingQueue
	name string
	id   []byte
	data []byte

	mu   sync.Mutex
	done bool
}

// ErrItemDone is returned by Ack and Release on an item already acked or
// released.
var ErrItemDone = errors.New("paddock/recipes: queue item already acknowledged or released")

// Data returns the item's data.
func (it *Item) Data() []byte { return it.data }

// Name returns the item's node name under the queue's entries.
func (it *Item) Name() string { return it.name }

// Ack deletes the item and its claim in one multi: it is done, and never
// delivered again.
func (it *Item) Ack(ctx context.Context) error {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.done {
		return ErrItemDone
	}
	q := it.q
	claim := q.taken() + "/" + it.name
	for {
		_, err := q.multi(ctx, client.DeleteOp(q.entries()+"/"+it.name, client.AnyVersion), client.DeleteOp(claim, client.AnyVersion))
		if isConnLoss(err) {
			// Applied if our claim is gone (only we delete it while
			// our session lives).
			var data []byte
			data, _, err = getData(ctx, q.c, claim)
			if errors.Is(err, wire.ErrNoNode) {
				err = nil
			} else if err == nil && string(data) == string(it.id) {
				continue
			} else if err == nil {
				err = fmt.Errorf("paddock/recipes: the claim on %s is not ours: %w", it.name, wire.ErrNodeExists)
			}
		}
		if err == nil {
			it.done = true
		}
		return err
	}
}

// Release gives the item back to the queue unprocessed: it is taken again
// (by anyone, this taker included).
func (it *Item) Release(ctx context.Context) error {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.done {
		return ErrItemDone
	}
	if err := deleteNode(ctx, it.q.c, it.q.taken()+"/"+it.name); err != nil {
		return err
	}
	it.done = true
	return nil
}
