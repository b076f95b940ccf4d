package recipes

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"time"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// This file holds the one way every recipe waits through connection loss
// (retry and its typed forms), the requests built on it that several
// recipes make, and the one wait for a watch (waitEvent).

// isConnLoss reports whether err is a connection loss: the request may or
// may not have been applied, and the session may still be alive.
func isConnLoss(err error) bool { return errors.Is(err, wire.ErrConnectionLoss) }

// Backoff between two attempts after a connection loss: doubled from
// retryMinBackoff up to retryMaxBackoff.
const (
	retryMinBackoff = 5 * time.Millisecond
	retryMaxBackoff = 200 * time.Millisecond
)

// retry runs op until it returns anything but a connection loss, and
// returns that. The client queues requests made while it reconnects, so a
// retry waits for the new connection; a short backoff keeps a connection
// that fails at once from spinning. When ctx ends between two attempts,
// retry returns ctx.Err(). op must be safe to send again: either
// idempotent, or followed by a check (a read-back, a find by guid) that
// tells whether the lost attempt was applied.
func retry(ctx context.Context, op func() error) error {
	backoff := retryMinBackoff
	for {
		err := op()
		if !isConnLoss(err) {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, retryMaxBackoff)
	}
}

// retry1 is retry for a request that returns a value.
func retry1[A any](ctx context.Context, op func() (A, error)) (a A, err error) {
	err = retry(ctx, func() (err error) { a, err = op(); return })
	return a, err
}

// retry2 is retry for a request that returns two values.
func retry2[A, B any](ctx context.Context, op func() (A, B, error)) (a A, b B, err error) {
	err = retry(ctx, func() (err error) { a, b, err = op(); return })
	return a, b, err
}

// retry3 is retry for a request that returns three values (a read with a
// watch).
func retry3[A, B, C any](ctx context.Context, op func() (A, B, C, error)) (a A, b B, c C, err error) {
	err = retry(ctx, func() (err error) { a, b, c, err = op(); return })
	return a, b, c, err
}

// ensurePath creates path and its missing ancestors as persistent nodes,
// waiting through connection loss (within ctx).
func ensurePath(ctx context.Context, c *client.Conn, path string) error {
	if path == "" || path == "/" {
		return nil
	}
	for i := 1; i <= len(path); i++ {
		if i < len(path) && path[i] != '/' {
			continue
		}
		_, err := retry1(ctx, func() (string, error) { return c.Create(ctx, path[:i], nil, wire.ModePersistent, nil) })
		if err != nil && !errors.Is(err, wire.ErrNodeExists) {
			return err
		}
	}
	return nil
}

// parentOf is the parent of the absolute path p ("" for a child of the
// root, which ensurePath takes as nothing to create).
func parentOf(p string) string { return p[:strings.LastIndexByte(p, '/')] }

// deleteNode deletes path, any version, through connection loss; a node
// already gone is no error.
func deleteNode(ctx context.Context, c *client.Conn, path string) error {
	err := retry(ctx, func() error { return c.Delete(ctx, path, client.AnyVersion) })
	if errors.Is(err, wire.ErrNoNode) {
		return nil
	}
	return err
}

// childrenW lists path's children and watches them, through connection
// loss; a missing path is created first.
func childrenW(ctx context.Context, c *client.Conn, path string) ([]string, <-chan client.Event, error) {
	for {
		names, _, ch, err := retry3(ctx, func() ([]string, wire.Stat, <-chan client.Event, error) { return c.ChildrenW(ctx, path) })
		if !errors.Is(err, wire.ErrNoNode) {
			return names, ch, err
		}
		if err := ensurePath(ctx, c, path); err != nil {
			return nil, nil, err
		}
	}
}

// The reads every recipe makes, through connection loss.

func exists(ctx context.Context, c *client.Conn, path string) (bool, wire.Stat, error) {
	return retry2(ctx, func() (bool, wire.Stat, error) { return c.Exists(ctx, path) })
}

func existsW(ctx context.Context, c *client.Conn, path string) (bool, wire.Stat, <-chan client.Event, error) {
	return retry3(ctx, func() (bool, wire.Stat, <-chan client.Event, error) { return c.ExistsW(ctx, path) })
}

func getData(ctx context.Context, c *client.Conn, path string) ([]byte, wire.Stat, error) {
	return retry2(ctx, func() ([]byte, wire.Stat, error) { return c.Get(ctx, path) })
}

func getDataW(ctx context.Context, c *client.Conn, path string) ([]byte, wire.Stat, <-chan client.Event, error) {
	return retry3(ctx, func() ([]byte, wire.Stat, <-chan client.Event, error) { return c.GetW(ctx, path) })
}

func getChildren(ctx context.Context, c *client.Conn, path string) ([]string, error) {
	return retry1(ctx, func() ([]string, error) { return c.Children(ctx, path) })
}

// syncPath makes the session's next read see every write applied before it
// (the session's own included), through connection loss.
func syncPath(ctx context.Context, c *client.Conn, path string) error {
	_, err := retry1(ctx, func() (string, error) { return c.Sync(ctx, path) })
	return err
}

// waitEvent waits for one of the watch channels to fire, or for ctx. A
// watch that ends with an error (the session expired, the Conn closed)
// returns that error.
func waitEvent(ctx context.Context, chs ...<-chan client.Event) error {
	if len(chs) == 1 { // the common case, without reflection
		select {
		case ev := <-chs[0]:
			return ev.Err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	cases := make([]reflect.SelectCase, 0, len(chs)+1)
	cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
	for _, ch := range chs {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	i, v, ok := reflect.Select(cases)
	if i == 0 {
		return ctx.Err()
	}
	if ok {
		return v.Interface().(client.Event).Err
	}
	return nil
}
