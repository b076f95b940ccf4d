package recipes

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// Value is a znode's data kept current in memory (configuration): a
// watch on the node makes it read the node again after every change.
//
// Guarantees: Get returns the latest data read, which is never older than
// what a watch has announced. Changes delivers the values observed after
// the first read, in the order the server applied them; like ZooKeeper's
// watches, several quick writes may coalesce (a watch fires once for
// them, and a reader slower than the writes sees only the latest of the
// values it has not taken yet), but the last value is always delivered.
// A deleted node reads as absent (Get returns nil data and a zero Stat,
// Changes receives nil; an existing empty node is a non-nil empty slice),
// and the watch waits for the node to come back.
//
// Layout: the node at path, nothing else; no node is created.
//
// Failures: reads wait through connection loss (the client re-registers
// the watch on the new connection, and the server fires it if the node
// changed meanwhile). When the session ends or ctx ends, the watch stops:
// Changes is closed and Err says why (an error matching
// wire.ErrSessionExpired for the session). Nothing is created, so no
// reply can be lost.
type Value struct {
	c    *client.Conn
	path string

	cancel  context.CancelFunc
	done    chan struct{}
	changes chan []byte

	mu   sync.Mutex
	data []byte
	stat wire.Stat
	err  error
}

// WatchValue reads the node at path and keeps it current until ctx ends,
// Close, or the session ends. It fails only if the first read does.
func WatchValue(ctx context.Context, c *client.Conn, path string) (*Value, error) {
	v := &Value{c: c, path: strings.TrimSuffix(path, "/"), done: make(chan struct{}), changes: make(chan []byte, 1)}
	wctx, cancel := context.WithCancel(ctx)
	v.cancel = cancel
	data, st, watch, err := v.read(wctx)
	if err != nil {
		cancel()
		return nil, err
	}
	v.data, v.stat = data, st
	go v.run(wctx, watch)
	return v, nil
}

// read reads the node with a watch: a data watch if it exists, an exist
// watch (fired by its creation) if not.
func (v *Value) read(ctx context.Context) ([]byte, wire.Stat, <-chan client.Event, error) {
	for {
		data, st, ch, err := getDataW(ctx, v.c, v.path)
		if err == nil {
			if data == nil {
				data = []byte{}
			}
			return data, st, ch, nil
		}
		if errors.Is(err, wire.ErrNoNode) {
			var ok bool
			ok, _, ch, err = existsW(ctx, v.c, v.path)
			if err == nil && !ok {
				return nil, wire.Stat{}, ch, nil
			}
			if err == nil {
				// Created meanwhile; ch is a data watch now, which the
				// GetW below duplicates: drop it (it fires once, unread).
				continue
			}
		}
		return nil, wire.Stat{}, nil, err
	}
}

func (v *Value) run(ctx context.Context, watch <-chan client.Event) {
	defer close(v.done)
	defer close(v.changes)
	for {
		select {
		case ev := <-watch:
			if ev.Err != nil {
				v.stop(ev.Err)
				return
			}
		case <-ctx.Done():
			v.stop(ctx.Err())
			return
		}
		data, st, ch, err := v.read(ctx)
		if err != nil {
			v.stop(err)
			return
		}
		watch = ch
		v.mu.Lock()
		same := st.Mzxid == v.stat.Mzxid && st.Czxid == v.stat.Czxid
		v.data, v.stat = data, st
		v.mu.Unlock()
		if same {
			continue
		}
		// One slot, the latest value: replace what the reader has not
		// taken yet.
		select {
		case v.changes <- data:
		default:
			select {
			case <-v.changes:
			default:
			}
			v.changes <- data
		}
	}
}

func (v *Value) stop(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err == nil {
		v.err = err
	}
}

// Get returns the node's latest data and Stat; nil and a zero Stat when
// the node does not exist.
func (v *Value) Get() ([]byte, wire.Stat) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.data, v.stat
}

// Changes delivers each new value (nil: the node was deleted) in order;
// when the reader falls behind, only the latest value waits for it. It is
// closed when the watch stops.
func (v *Value) Changes() <-chan []byte { return v.changes }

// Err says why the watch stopped: nil while it runs and after Close or
// the end of WatchValue's ctx.
func (v *Value) Err() error {
	select {
	case <-v.done:
	default:
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if errors.Is(v.err, context.Canceled) {
		return nil
	}
	return v.err
}

// Close stops the watch and waits for its goroutine; Changes is closed.
func (v *Value) Close() {
	v.cancel()
	<-v.done
}
