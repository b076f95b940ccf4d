package recipes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// Barrier holds processes back until it is removed (Curator's
// DistributedBarrier layout: the barrier is the persistent node at path,
// up while it exists).
//
// Guarantees: Wait returns only once the node is gone (seen by this
// session); Set and Remove are idempotent.
//
// Failures: every method waits through connection loss within its ctx. A
// Set or Remove whose reply was lost is simply sent again (the node's
// existence is the whole state, so NodeExists or NoNode on the retry is
// success). On session expiry the methods return an error matching
// wire.ErrSessionExpired; the barrier node itself is persistent and
// stays.
type Barrier struct {
	c    *client.Conn
	path string
}

// NewBarrier returns the barrier at path.
func NewBarrier(c *client.Conn, path string) *Barrier {
	return &Barrier{c: c, path: strings.TrimSuffix(path, "/")}
}

// Set raises the barrier (creates its node and missing parents).
func (b *Barrier) Set(ctx context.Context) error {
	return ensurePath(ctx, b.c, b.path)
}

// Remove lowers the barrier: every Wait returns.
func (b *Barrier) Remove(ctx context.Context) error {
	return deleteNode(ctx, b.c, b.path)
}

// Wait returns when the barrier is down (at once if it is not set), or
// when ctx ends.
func (b *Barrier) Wait(ctx context.Context) error {
	for {
		ok, _, ch, err := existsW(ctx, b.c, b.path)
		if err != nil || !ok {
			return err
		}
		if err := waitEvent(ctx, ch); err != nil {
			return err
		}
	}
}

// elReadyNode is the node Curator's DistributedDoubleBarrier creates when
// enough participants have entered.
const elReadyNode = "ready"

// DoubleBarrier makes count participants start together and finish
// together, with Curator's DistributedDoubleBarrier layout: each
// participant is the ephemeral node <path>/<name>, and the last one to
// enter creates the persistent <path>/ready, which releases the others
// (they wait on an exist watch on it). To leave, each participant deletes
// its node and waits until every node is gone: the lowest (by name) waits
// for the highest, the others delete theirs and wait for the lowest; the
// last one out deletes ready. Go and Curator participants can share a
// barrier.
//
// Guarantees: Enter returns only once count participants' nodes existed
// together (ready is created by one that saw them all); Leave returns only
// once every participant's node is gone. A participant whose session
// expires before the barrier fills no longer counts (its node is gone), so
// the barrier does not release early; one that expires inside lets the
// others leave.
//
// Failures: Enter and Leave wait through connection loss within ctx. The
// participant's create is recovered when its reply was lost: the node's
// name is given, and a NodeExists on a retry is ours when the node's
// ephemeral owner is this session. On session expiry Enter and Leave
// return an error matching wire.ErrSessionExpired. A Leave whose ctx ends
// may have deleted the participant's node already.
type DoubleBarrier struct {
	c     *client.Conn
	path  string
	name  string
	count int
}

// NewDoubleBarrier returns participant name of the double barrier at path
// for count participants.
func NewDoubleBarrier(c *client.Conn, path, name string, count int) *DoubleBarrier {
	return &DoubleBarrier{c: c, path: strings.TrimSuffix(path, "/"), name: name, count: count}
}

func (d *DoubleBarrier) node() string  { return d.path + "/" + d.name }
func (d *DoubleBarrier) ready() string { return d.path + "/" + elReadyNode }

// Enter joins the barrier and returns when count participants have
// entered. If ctx ends first, its node is deleted and ctx's error
// returned.
func (d *DoubleBarrier) Enter(ctx context.Context) error {
	if d.name == "" || d.name == elReadyNode || strings.Contains(d.name, "/") {
		return fmt.Errorf("recipes: bad participant name %q: %w", d.name, wire.ErrBadArguments)
	}
	ready, _, watch, err := existsW(ctx, d.c, d.ready())
	if err != nil {
		return err
	}
	if err := createOwnEphemeral(ctx, d.c, d.node(), nil); err != nil {
		if ctx.Err() != nil {
			deleteIfOwn(ctx, d.c, d.node())
		}
		return err
	}
	err = d.enter(ctx, ready, watch)
	if err != nil && !errors.Is(err, wire.ErrSessionExpired) {
		deleteIfOwn(ctx, d.c, d.node())
	}
	return err
}

func (d *DoubleBarrier) enter(ctx context.Context, ready bool, watch <-chan client.Event) error {
	for !ready {
		children, err := getChildren(ctx, d.c, d.path)
		if err != nil {
			return err
		}
		n := 0
		for _, c := range children {
			if c != elReadyNode {
				n++
			}
		}
		if n >= d.count {
			// A lost reply is sent again: NodeExists then.
			_, err := retry1(ctx, func() (string, error) { return d.c.Create(ctx, d.ready(), nil, wire.ModePersistent, nil) })
			if errors.Is(err, wire.ErrNodeExists) {
				return nil
			}
			return err
		}
		if err := waitEvent(ctx, watch); err != nil {
			return err
		}
		if ready, _, watch, err = existsW(ctx, d.c, d.ready()); err != nil {
			return err
		}
	}
	return nil
}

// Leave leaves the barrier and returns when every participant has left.
func (d *DoubleBarrier) Leave(ctx context.Context) error {
	ourShouldExist := true
	for {
		children, err := getChildren(ctx, d.c, d.path)
		if errors.Is(err, wire.ErrNoNode) {
			children, err = nil, nil
		}
		if err != nil {
			return err
		}
		names := children[:0]
		for _, c := range children {
			if c != elReadyNode {
				names = append(names, c)
			}
		}
		sort.Strings(names)
		if len(names) == 0 {
			break
		}
		i := slices.Index(names, d.name)
		if i < 0 && ourShouldExist {
			return fmt.Errorf("recipes: double barrier %s: our node %s is gone: %w", d.path, d.name, wire.ErrNoNode)
		}
		if len(names) == 1 {
			if ourShouldExist {
				if err := deleteNode(ctx, d.c, d.node()); err != nil {
					return err
				}
			}
			break
		}
		var other string
		if i == 0 {
			other = names[len(names)-1] // the lowest waits for the highest
		} else {
			other = names[0] // the others leave and wait for the lowest
			if ourShouldExist {
				if err := deleteNode(ctx, d.c, d.node()); err != nil {
					return err
				}
				ourShouldExist = false
			}
		}
		ok, _, ch, err := existsW(ctx, d.c, d.path+"/"+other)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := waitEvent(ctx, ch); err != nil {
			return err
		}
	}
	return deleteNode(ctx, d.c, d.ready())
}
