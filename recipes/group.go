package recipes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// Member is this session's membership of a group (service discovery):
// the ephemeral node <path>/<name>, whose data is the member's (its
// address, its role, ...). It lives as long as the session, or until
// Leave.
//
// Failures: JoinGroup and Update wait through connection loss within
// their ctx. A create whose reply was lost is recovered: the node's name
// is given, so a create sent again that finds the node existing checks
// its ephemeral owner, and adopts it when it is this session. When the
// session expires the node is gone: Lost is closed and Update and Leave
// return an error matching wire.ErrSessionExpired.
type Member struct {
	c    *client.Conn
	node string

	lost   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// GroupMember is one member of a group as WatchGroup reports it.
type GroupMember struct {
	Name string
	Data []byte
}

// JoinGroup makes this session a member of the group at path, under
// name, with data. It fails with an error matching wire.ErrNodeExists if
// another session holds that name.
func JoinGroup(ctx context.Context, c *client.Conn, path, name string, data []byte) (*Member, error) {
	if name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("recipes: bad member name %q: %w", name, wire.ErrBadArguments)
	}
	path = strings.TrimSuffix(path, "/")
	node := path + "/" + name
	if err := createOwnEphemeral(ctx, c, node, data); err != nil {
		if ctx.Err() != nil {
			deleteIfOwn(ctx, c, node)
		}
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	m := &Member{c: c, node: node, lost: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	go m.watch(wctx)
	return m, nil
}

// createOwnEphemeral creates the ephemeral node (and its parents),
// recovering a create whose reply was lost by the node's ephemeral owner:
// a NodeExists on a node of this session is success. A node of another
// session is an error matching wire.ErrNodeExists.
func createOwnEphemeral(ctx context.Context, c *client.Conn, node string, data []byte) error {
	for {
		_, err := retry1(ctx, func() (string, error) { return c.Create(ctx, node, data, wire.ModeEphemeral, nil) })
		switch {
		case err == nil:
			return nil
		case errors.Is(err, wire.ErrNoNode):
			if err := ensurePath(ctx, c, parentOf(node)); err != nil {
				return err
			}
		case errors.Is(err, wire.ErrNodeExists):
			ok, st, serr := exists(ctx, c, node)
			switch {
			case serr != nil:
				return serr
			case !ok:
				continue // gone meanwhile: create again
			case st.EphemeralOwner == c.SessionID():
				return nil // ours: an earlier create whose reply was lost
			}
			return fmt.Errorf("paddock/recipes: %s is held by another session: %w", node, err)
		default:
			return err
		}
	}
}

// deleteIfOwn deletes node if this session made it: after a create
// whose ctx ended, which may have been applied. Bounded by a session
// timeout.
func deleteIfOwn(ctx context.Context, c *client.Conn, node string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.SessionTimeout())
	defer cancel()
	// A delete whose reply was lost is looked at again.
	retry(ctx, func() error {
		ok, st, err := exists(ctx, c, node)
		if err != nil || !ok || st.EphemeralOwner != c.SessionID() {
			return nil
		}
		return c.Delete(ctx, node, st.Version)
	})
}

// watch closes lost when the node goes without Leave.
func (m *Member) watch(ctx context.Context) {
	defer close(m.done)
	for {
		ok, _, ch, err := existsW(ctx, m.c, m.node)
		if err != nil {
			if ctx.Err() == nil {
				close(m.lost)
			}
			return
		}
		if !ok {
			close(m.lost)
			return
		}
		select {
		case ev := <-ch:
			if ev.Err != nil || ev.Type == wire.EventNodeDeleted {
				close(m.lost)
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// Path is the member's node.
func (m *Member) Path() string { return m.node }

// Lost is closed when the membership ends without Leave: the session
// ended or the node was deleted by someone else.
func (m *Member) Lost() <-chan struct{} { return m.lost }

// Update sets the member's data (watchers see the change). It fails with
// wire.ErrNoNode if the membership was lost.
func (m *Member) Update(ctx context.Context, data []byte) error {
	_, err := retry1(ctx, func() (wire.Stat, error) { return m.c.Set(ctx, m.node, data, client.AnyVersion) })
	return err
}

// Leave deletes the member's node and stops watching it. Leaving twice,
// or after the node is gone, returns nil (or the session's error).
func (m *Member) Leave(ctx context.Context) error {
	m.cancel()
	<-m.done
	return deleteNode(ctx, m.c, m.node)
}

// WatchGroup follows the group at path: the channel receives the full
// member list, sorted by name, at once and then after every arrival,
// departure or data change; it is closed when ctx ends or the session
// does. Every member's node and the group's children carry a watch, and
// each watch that fires makes it read the group again (re-arming only the
// watches that fired), so no change goes unseen: changes that land
// between two reads show in one list, never in none. A list equal to the
// last one sent is not sent again. Sends wait for the reader (within
// ctx): read the channel. A missing path is an empty group (and a watch
// waits for its creation).
func WatchGroup(ctx context.Context, c *client.Conn, path string) (<-chan []GroupMember, error) {
	path = strings.TrimSuffix(path, "/")
	g := &elGroupWatch{c: c, path: path, armed: map[string]bool{}, events: make(chan elKeyed)}
	ctx, cancel := context.WithCancel(ctx)
	first, err := g.read(ctx)
	if err != nil {
		cancel()
		g.fwd.Wait()
		return nil, err
	}
	out := make(chan []GroupMember)
	go func() {
		defer close(out)
		defer g.fwd.Wait()
		defer cancel()
		g.run(ctx, out, first)
	}()
	return out, nil
}

// elRereadKey marks a watch that only makes the group read again.
const elRereadKey = "\x00"

type elKeyed struct {
	key string // "" for the group's children or existence, else a member
	ev  client.Event
}

type elGroupWatch struct {
	c      *client.Conn
	path   string
	group  bool            // a watch on the group's children or existence is armed
	armed  map[string]bool // members whose data watch is armed
	events chan elKeyed
	fwd    sync.WaitGroup // forwarders of one-shot watches to events
}

// forward hands one one-shot watch's event to the run loop.
func (g *elGroupWatch) forward(ctx context.Context, key string, ch <-chan client.Event) {
	g.fwd.Add(1)
	go func() {
		defer g.fwd.Done()
		select {
		case ev, ok := <-ch:
			if !ok {
				return
			}
			select {
			case g.events <- elKeyed{key, ev}:
			case <-ctx.Done():
			}
		case <-ctx.Done():
		}
	}()
}

func (g *elGroupWatch) run(ctx context.Context, out chan<- []GroupMember, list []GroupMember) {
	var last []GroupMember
	sent := false
	for {
		if !sent || !elSameMembers(list, last) {
			select {
			case out <- list:
				last, sent = list, true
			case <-ctx.Done():
				return
			}
		}
		select {
		case k := <-g.events:
			if k.ev.Err != nil {
				return // the session ended
			}
			switch k.key {
			case "":
				g.group = false
			case elRereadKey:
			default:
				delete(g.armed, k.key)
			}
		case <-ctx.Done():
			return
		}
		var err error
		if list, err = retry1(ctx, func() ([]GroupMember, error) { return g.read(ctx) }); err != nil {
			return
		}
	}
}

// read reads the group, arming the watches that are not armed.
func (g *elGroupWatch) read(ctx context.Context) ([]GroupMember, error) {
	var children []string
	var err error
	if g.group {
		children, err = g.c.Children(ctx, g.path)
	} else {
		var ch <-chan client.Event
		children, _, ch, err = g.c.ChildrenW(ctx, g.path)
		if err == nil {
			g.group = true
			g.forward(ctx, "", ch)
		}
	}
	if errors.Is(err, wire.ErrNoNode) {
		if g.group {
			// the armed child watch fires NodeDeleted: wait for it
			return []GroupMember{}, nil
		}
		ok, _, ch, err := g.c.ExistsW(ctx, g.path)
		if err != nil {
			return nil, err
		}
		if ok {
			// Created meanwhile (the watch is a data watch: it only makes
			// the group read again): read its children now.
			g.forward(ctx, elRereadKey, ch)
			return g.read(ctx)
		}
		g.group = true // the exist watch fires on its creation
		g.forward(ctx, "", ch)
		return []GroupMember{}, nil
	}
	if err != nil {
		return nil, err
	}
	sort.Strings(children)
	list := make([]GroupMember, 0, len(children))
	for _, name := range children {
		p := g.path + "/" + name
		var data []byte
		if g.armed[name] {
			data, _, err = g.c.Get(ctx, p)
		} else {
			var ch <-chan client.Event
			data, _, ch, err = g.c.GetW(ctx, p)
			if err == nil {
				g.armed[name] = true
				g.forward(ctx, name, ch)
			}
		}
		if errors.Is(err, wire.ErrNoNode) {
			continue // left meanwhile: the child watch fires
		}
		if err != nil {
			return nil, err
		}
		if data == nil {
			data = []byte{}
		}
		list = append(list, GroupMember{Name: name, Data: data})
	}
	return list, nil
}

func elSameMembers(a, b []GroupMember) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}
