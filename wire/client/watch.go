package client

import (
	"strings"

	"github.com/paddockdb/paddock/wire"
)

type watchKind int

const (
	kindData watchKind = iota
	kindExist
	kindChild
	kindPersistent
	kindRecursive
	numKinds
)

// watchSet holds the watches of one path (client-visible, without the
// chroot). One-shot kinds (data, exist, child) leave when they fire;
// persistent kinds stay until removed.
type watchSet struct {
	ch [numKinds][]chan Event
}

func (s *watchSet) empty() bool {
	for _, l := range s.ch {
		if len(l) > 0 {
			return false
		}
	}
	return true
}

// addWatch records a watch; called by the reader when the request that
// sets it succeeds, before any later notification is read.
func (c *Conn) addWatch(path string, k watchKind, ch chan Event) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	s := c.watches[path]
	if s == nil {
		s = &watchSet{}
		c.watches[path] = s
	}
	s.ch[k] = append(s.ch[k], ch)
}

// takeLocked removes the watches of kinds from path and returns them.
func (c *Conn) takeLocked(path string, kinds ...watchKind) [][]chan Event {
	s := c.watches[path]
	if s == nil {
		return nil
	}
	var out [][]chan Event
	for _, k := range kinds {
		if len(s.ch[k]) > 0 {
			out = append(out, s.ch[k])
			s.ch[k] = nil
		}
	}
	if s.empty() {
		delete(c.watches, path)
	}
	return out
}

// dispatch delivers a notification (on the reader goroutine): first on
// Events, then to the one-shot watches it fires (which leave), then to the
// persistent watches of its path and the recursive watches of its path
// and ancestors, following ZKWatchManager.materialize.
func (c *Conn) dispatch(we wire.WatcherEvent) {
	ev := Event{Type: we.Type, State: we.State, Path: c.stripChroot(we.Path)}
	if we.Type == wire.EventNone {
		c.emit(ev)
		return
	}
	var oneShot [][]chan Event
	var persistent []chan Event
	c.wmu.Lock()
	switch we.Type {
	case wire.EventNodeCreated, wire.EventNodeDataChanged:
		oneShot = c.takeLocked(ev.Path, kindData, kindExist)
	case wire.EventNodeDeleted:
		oneShot = c.takeLocked(ev.Path, kindData, kindExist, kindChild)
	case wire.EventNodeChildrenChanged:
		oneShot = c.takeLocked(ev.Path, kindChild)
	}
	switch we.Type {
	case wire.EventNodeCreated, wire.EventNodeDeleted, wire.EventNodeDataChanged, wire.EventNodeChildrenChanged:
		if s := c.watches[ev.Path]; s != nil {
			persistent = append(persistent, s.ch[kindPersistent]...)
		}
	}
	if we.Type != wire.EventNodeChildrenChanged {
		for p := ev.Path; ; p = parentPath(p) {
			if s := c.watches[p]; s != nil {
				persistent = append(persistent, s.ch[kindRecursive]...)
			}
			if p == "/" {
				break
			}
		}
	}
	c.wmu.Unlock()

	c.emit(ev)
	for _, l := range oneShot {
		for _, ch := range l {
			ch <- ev // capacity 1 and fired once: never blocks
			close(ch)
		}
	}
	for _, ch := range persistent {
		select {
		case ch <- ev:
		case <-c.closing:
		}
	}
}

func parentPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// removeLocal drops the watches removeWatches of type t removed on the
// server and tells each of them with a *WatchRemoved event, on the reader
// goroutine, when the reply arrives.
func (c *Conn) removeLocal(path string, t wire.WatcherType) {
	type group struct {
		evType wire.EventType
		kinds  []watchKind
	}
	var groups []group
	data := group{wire.EventDataWatchRemoved, []watchKind{kindData, kindExist}}
	child := group{wire.EventChildWatchRemoved, []watchKind{kindChild}}
	pers := group{wire.EventPersistentWatchRemoved, []watchKind{kindPersistent}}
	rec := group{wire.EventPersistentWatchRemoved, []watchKind{kindRecursive}}
	switch t {
	case wire.WatcherData:
		groups = []group{data}
	case wire.WatcherChildren:
		groups = []group{child}
	case wire.WatcherPersistent:
		groups = []group{pers}
	case wire.WatcherRecursive:
		groups = []group{rec}
	case wire.WatcherAny:
		groups = []group{child, data, pers, rec}
	}
	for _, g := range groups {
		c.wmu.Lock()
		chans := c.takeLocked(path, g.kinds...)
		c.wmu.Unlock()
		if len(chans) == 0 {
			continue
		}
		ev := Event{Type: g.evType, State: wire.StateSyncConnected, Path: path}
		c.emit(ev)
		for _, l := range chans {
			for _, ch := range l {
				select {
				case ch <- ev:
				case <-c.closing:
				}
				close(ch)
			}
		}
	}
}

// closeWatches ends every watch when the session ends: each channel gets
// one last event carrying the final state and err, then is closed.
func (c *Conn) closeWatches(state wire.State, err error) {
	c.wmu.Lock()
	ws := c.watches
	c.watches = make(map[string]*watchSet)
	c.wmu.Unlock()
	for path, s := range ws {
		for _, l := range s.ch {
			for _, ch := range l {
				select {
				case ch <- Event{Type: wire.EventNone, State: state, Path: path, Err: err}:
				default:
				}
				close(ch)
			}
		}
	}
}

// setWatchesRequests builds the packets that re-register every watch on a
// new connection, relative to the last zxid seen, split so that no packet
// carries more than setWatchesMaxLength bytes of paths. Like the Java
// client it sends setWatches2 when there are persistent watches and plain
// setWatches otherwise, so servers older than 3.6 keep working; V2 on each
// request tells which.
func (c *Conn) setWatchesRequests() []*wire.SetWatchesRequest {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(c.watches) == 0 {
		return nil
	}
	rel := c.lastZxid.Load()
	v2 := false
	for _, s := range c.watches {
		if len(s.ch[kindPersistent]) > 0 || len(s.ch[kindRecursive]) > 0 {
			v2 = true
			break
		}
	}
	var out []*wire.SetWatchesRequest
	var cur *wire.SetWatchesRequest
	size := 0
	for path, s := range c.watches {
		full := c.fullPath(path)
		for k, l := range s.ch {
			if len(l) == 0 {
				continue
			}
			if cur == nil || size+len(full) > setWatchesMaxLength {
				cur = &wire.SetWatchesRequest{V2: v2, RelativeZxid: rel,
					DataWatches: []string{}, ExistWatches: []string{}, ChildWatches: []string{},
					PersistentWatches: []string{}, PersistentRecursive: []string{}}
				out = append(out, cur)
				size = 0
			}
			size += len(full)
			switch watchKind(k) {
			case kindData:
				cur.DataWatches = append(cur.DataWatches, full)
			case kindExist:
				cur.ExistWatches = append(cur.ExistWatches, full)
			case kindChild:
				cur.ChildWatches = append(cur.ChildWatches, full)
			case kindPersistent:
				cur.PersistentWatches = append(cur.PersistentWatches, full)
			case kindRecursive:
				cur.PersistentRecursive = append(cur.PersistentRecursive, full)
			}
		}
	}
	return out
}

// WatchCount returns how many watch channels are registered locally.
func (c *Conn) WatchCount() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n := 0
	for _, s := range c.watches {
		for _, l := range s.ch {
			n += len(l)
		}
	}
	return n
}
