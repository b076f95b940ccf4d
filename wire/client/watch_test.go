package client

import (
	"fmt"
	"testing"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/zktest"
)

// TestWatches checks every watch kind and event type against a real
// Apache ZooKeeper (DESIGN.md guarantee 5, client side).
func TestWatches(t *testing.T) {
	s := zktest.Start(t)
	c := connect(t, s.Addr)
	w := connect(t, s.Addr) // the writer that fires the watches
	ctx := testCtx(t)

	t.Run("ExistsMissing", func(t *testing.T) {
		p := testPath(t)
		ok, _, ch, err := c.ExistsW(ctx, p)
		must(t, err)
		if ok || ch == nil {
			t.Fatalf("ExistsW(missing) = %v, %v", ok, ch)
		}
		_, err = w.Create(ctx, p, nil, wire.ModePersistent, nil)
		must(t, err)
		expectEvent(t, ch, wire.EventNodeCreated, p)
		if _, ok := <-ch; ok {
			t.Fatal("one-shot channel not closed after firing")
		}
		// Exists on the now existing node: data changed, then deleted.
		_, _, ch, err = c.ExistsW(ctx, p)
		must(t, err)
		_, err = w.Set(ctx, p, []byte("x"), AnyVersion)
		must(t, err)
		expectEvent(t, ch, wire.EventNodeDataChanged, p)
		_, _, ch, err = c.ExistsW(ctx, p)
		must(t, err)
		must(t, w.Delete(ctx, p, AnyVersion))
		expectEvent(t, ch, wire.EventNodeDeleted, p)
	})

	t.Run("GetW", func(t *testing.T) {
		p := testPath(t)
		_, err := w.Create(ctx, p, nil, wire.ModePersistent, nil)
		must(t, err)
		_, _, ch, err := c.GetW(ctx, p)
		must(t, err)
		_, err = w.Set(ctx, p, []byte("1"), AnyVersion)
		must(t, err)
		expectEvent(t, ch, wire.EventNodeDataChanged, p)
		_, _, ch, err = c.GetW(ctx, p)
		must(t, err)
		must(t, w.Delete(ctx, p, AnyVersion))
		expectEvent(t, ch, wire.EventNodeDeleted, p)
		// GetW on a missing node fails and registers nothing.
		n := c.WatchCount()
		_, _, ch, err = c.GetW(ctx, p)
		isCode(t, err, wire.ErrNoNode)
		if ch != nil || c.WatchCount() != n {
			t.Fatalf("failed GetW registered a watch (%d -> %d)", n, c.WatchCount())
		}
	})

	t.Run("ChildrenW", func(t *testing.T) {
		p := testPath(t)
		_, err := w.Create(ctx, p, nil, wire.ModePersistent, nil)
		must(t, err)
		_, _, ch, err := c.ChildrenW(ctx, p)
		must(t, err)
		_, err = w.Set(ctx, p, []byte("data changes do not fire child watches"), AnyVersion)
		must(t, err)
		_, err = w.Create(ctx, p+"/k", nil, wire.ModePersistent, nil)
		must(t, err)
		expectEvent(t, ch, wire.EventNodeChildrenChanged, p)
		must(t, w.Delete(ctx, p+"/k", AnyVersion))
		_, _, ch, err = c.ChildrenW(ctx, p)
		must(t, err)
		must(t, w.Delete(ctx, p, AnyVersion))
		expectEvent(t, ch, wire.EventNodeDeleted, p)
	})

	t.Run("Persistent", func(t *testing.T) {
		p := testPath(t)
		ch, err := c.AddWatch(ctx, p, wire.WatchPersistent)
		must(t, err)
		_, err = w.Create(ctx, p, nil, wire.ModePersistent, nil)
		must(t, err)
		expectEvent(t, ch, wire.EventNodeCreated, p)
		_, err = w.Set(ctx, p, []byte("1"), AnyVersion)
		must(t, err)
		expectEvent(t, ch, wire.EventNodeDataChanged, p)
		_, err = w.Create(ctx, p+"/k", nil, wire.ModePersistent, nil)
		must(t, err)
		expectEvent(t, ch, wire.EventNodeChildrenChanged, p)
		_, err = w.Set(ctx, p+"/k", []byte("grandchild data: not watched"), AnyVersion)
		must(t, err)
		must(t, w.Delete(ctx, p+"/k", AnyVersion))
		expectEvent(t, ch, wire.EventNodeChildrenChanged, p)
		must(t, w.Delete(ctx, p, AnyVersion))
		expectEvent(t, ch, wire.EventNodeDeleted, p)
		must(t, c.CheckWatches(ctx, p, wire.WatcherAny))
		// ZooKeeper 3.8 knows only watcher types Children, Data and Any
		// (Persistent and PersistentRecursive came in 3.9): it refuses
		// the others, and removes persistent watches with Any.
		isCode(t, c.RemoveWatches(ctx, p, wire.WatcherPersistent), wire.ErrMarshallingError)
		must(t, c.RemoveWatches(ctx, p, wire.WatcherAny))
		ev := expectEvent(t, ch, wire.EventPersistentWatchRemoved, p)
		if ev.Err != nil {
			t.Fatalf("removed event err = %v", ev.Err)
		}
		if _, ok := <-ch; ok {
			t.Fatal("persistent channel not closed after removal")
		}
		isCode(t, c.CheckWatches(ctx, p, wire.WatcherAny), wire.ErrNoWatcher)
	})

	t.Run("Recursive", func(t *testing.T) {
		p := testPath(t)
		_, err := w.Create(ctx, p, nil, wire.ModePersistent, nil)
		must(t, err)
		ch, err := c.AddWatch(ctx, p, wire.WatchPersistentRecursive)
		must(t, err)
		_, err = w.Create(ctx, p+"/a", nil, wire.ModePersistent, nil)
		must(t, err)
		expectEvent(t, ch, wire.EventNodeCreated, p+"/a")
		_, err = w.Create(ctx, p+"/a/b", nil, wire.ModePersistent, nil)
		must(t, err)
		expectEvent(t, ch, wire.EventNodeCreated, p+"/a/b")
		_, err = w.Set(ctx, p+"/a/b", []byte("1"), AnyVersion)
		must(t, err)
		expectEvent(t, ch, wire.EventNodeDataChanged, p+"/a/b")
		must(t, w.Delete(ctx, p+"/a/b", AnyVersion))
		expectEvent(t, ch, wire.EventNodeDeleted, p+"/a/b")
		// No NodeChildrenChanged arrived in between: the next event is
		// this one.
		_, err = w.Set(ctx, p, []byte("1"), AnyVersion)
		must(t, err)
		expectEvent(t, ch, wire.EventNodeDataChanged, p)
		isCode(t, c.RemoveWatches(ctx, p, wire.WatcherRecursive), wire.ErrMarshallingError)
		must(t, c.RemoveWatches(ctx, p, wire.WatcherAny))
		expectEvent(t, ch, wire.EventPersistentWatchRemoved, p)
		// Removal is on the server too: a later change fires nothing
		// (checked below through the ordered Events channel).
	})

	t.Run("RemoveWatches", func(t *testing.T) {
		p := testPath(t)
		_, err := w.Create(ctx, p, nil, wire.ModePersistent, nil)
		must(t, err)
		_, _, dw, err := c.GetW(ctx, p)
		must(t, err)
		_, _, ew, err := c.ExistsW(ctx, p)
		must(t, err)
		_, _, cw, err := c.ChildrenW(ctx, p)
		must(t, err)
		must(t, c.CheckWatches(ctx, p, wire.WatcherData))
		must(t, c.CheckWatches(ctx, p, wire.WatcherChildren))
		must(t, c.RemoveWatches(ctx, p, wire.WatcherData))
		expectEvent(t, dw, wire.EventDataWatchRemoved, p)
		expectEvent(t, ew, wire.EventDataWatchRemoved, p)
		isCode(t, c.CheckWatches(ctx, p, wire.WatcherData), wire.ErrNoWatcher)
		isCode(t, c.RemoveWatches(ctx, p, wire.WatcherData), wire.ErrNoWatcher)
		must(t, c.RemoveWatches(ctx, p, wire.WatcherChildren))
		expectEvent(t, cw, wire.EventChildWatchRemoved, p)

		// WatcherAny removes all kinds at once.
		_, _, dw, err = c.GetW(ctx, p)
		must(t, err)
		_, _, cw, err = c.ChildrenW(ctx, p)
		must(t, err)
		pw, err := c.AddWatch(ctx, p, wire.WatchPersistent)
		must(t, err)
		must(t, c.RemoveWatches(ctx, p, wire.WatcherAny))
		expectEvent(t, dw, wire.EventDataWatchRemoved, p)
		expectEvent(t, cw, wire.EventChildWatchRemoved, p)
		expectEvent(t, pw, wire.EventPersistentWatchRemoved, p)
		isCode(t, c.CheckWatches(ctx, p, wire.WatcherAny), wire.ErrNoWatcher)
		if n := c.WatchCount(); n != 0 {
			t.Fatalf("%d watches left", n)
		}
	})

	t.Run("EventsInServerOrder", func(t *testing.T) {
		p := testPath(t)
		_, err := w.Create(ctx, p, nil, wire.ModePersistent, nil)
		must(t, err)
		drainEvents(c)
		rw, err := c.AddWatch(ctx, p, wire.WatchPersistentRecursive)
		must(t, err)
		const n = 50
		// Writes pipelined from one goroutine: their zxid order is the
		// submission order.
		var calls []*Call
		for i := range n {
			calls = append(calls, w.Do(ctx, wire.OpCreate, &wire.CreateRequest{Path: fmt.Sprintf("%s/n%02d", p, i), ACL: wire.WorldACL}, &wire.CreateResponse{}))
		}
		for i := range n {
			calls = append(calls, w.Do(ctx, wire.OpSetData, &wire.SetDataRequest{Path: fmt.Sprintf("%s/n%02d", p, i), Data: []byte("x"), Version: -1}, &wire.StatResponse{}))
		}
		for _, call := range calls {
			must(t, call.Wait(ctx))
		}
		for i := range n {
			expectEvent(t, c.Events(), wire.EventNodeCreated, fmt.Sprintf("%s/n%02d", p, i))
		}
		for i := range n {
			expectEvent(t, c.Events(), wire.EventNodeDataChanged, fmt.Sprintf("%s/n%02d", p, i))
		}
		for i := range n {
			expectEvent(t, rw, wire.EventNodeCreated, fmt.Sprintf("%s/n%02d", p, i))
		}
		// The earlier recursive watch on another path was removed: no
		// event for it appeared among these.
		noEvent(t, c.Events())
	})
}
