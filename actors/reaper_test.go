package actors

import (
	"context"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// TestReaperRemovesContainersAndTTLNodes: a container whose last child is
// gone and a TTL node left unmodified for its TTL are deleted by the
// reaper, as ZooKeeper's ContainerManager does; a container that never had
// a child and a TTL node with a child stay.
func TestReaperRemovesContainersAndTTLNodes(t *testing.T) {
	s := startServer(t, t.TempDir(), func(c *Config) {
		c.ExtendedTypes = true
		c.ContainerCheckInterval = 20 * time.Millisecond
	})
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := client.Connect(ctx, s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if _, _, err := c.CreateContainer(ctx, "/box", nil, wire.WorldACL); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.CreateContainer(ctx, "/unused", nil, wire.WorldACL); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, "/box/item", nil, wire.ModePersistent, wire.WorldACL); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.CreateTTL(ctx, "/ttl", nil, wire.ModePersistentWithTTL, wire.WorldACL, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.CreateTTL(ctx, "/ttlparent", nil, wire.ModePersistentWithTTL, wire.WorldACL, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, "/ttlparent/child", nil, wire.ModePersistent, wire.WorldACL); err != nil {
		t.Fatal(err)
	}
	_, _, boxGone, err := c.ExistsW(ctx, "/box")
	if err != nil {
		t.Fatal(err)
	}
	_, _, ttlGone, err := c.ExistsW(ctx, "/ttl")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "/box/item", -1); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]<-chan client.Event{"/box": boxGone, "/ttl": ttlGone} {
		select {
		case ev := <-ch:
			if ev.Type != wire.EventNodeDeleted {
				t.Fatalf("%s: event %v, want NodeDeleted", name, ev.Type)
			}
		case <-ctx.Done():
			t.Fatalf("%s was not reaped within %v", name, testTimeout)
		}
	}
	// The reaper has run since /unused and /ttlparent were created: a
	// container that never had a child and a TTL node with a child stay.
	for _, p := range []string{"/unused", "/ttlparent"} {
		if ok, _, err := c.Exists(ctx, p); err != nil || !ok {
			t.Fatalf("%s: exists = %v, %v; it must not be reaped", p, ok, err)
		}
	}
}

// TestReaperNeverUsedContainers: with ContainerMaxNeverUsed
// (znode.container.maxNeverUsedIntervalMs) a container that never had a
// child is reaped once unmodified that long.
func TestReaperNeverUsedContainers(t *testing.T) {
	s := startServer(t, t.TempDir(), func(c *Config) {
		c.ContainerCheckInterval = 20 * time.Millisecond
		c.ContainerMaxNeverUsed = 50 * time.Millisecond
	})
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := client.Connect(ctx, s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.CreateContainer(ctx, "/unused", nil, wire.WorldACL); err != nil {
		t.Fatal(err)
	}
	_, _, gone, err := c.ExistsW(ctx, "/unused")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-gone:
		if ev.Type != wire.EventNodeDeleted {
			t.Fatalf("event %v, want NodeDeleted", ev.Type)
		}
	case <-ctx.Done():
		t.Fatalf("/unused was not reaped within %v", testTimeout)
	}
}

func TestReapBudget(t *testing.T) {
	for _, tt := range []struct {
		perMinute int
		interval  time.Duration
		want      int
	}{
		{10000, time.Minute, 10000},
		{10000, 6 * time.Second, 1000},
		{60, time.Second, 1},
		{1, 20 * time.Millisecond, 1},
		{10000, 2 * time.Minute, 20000},
	} {
		if got := reapBudget(tt.perMinute, tt.interval); got != tt.want {
			t.Errorf("reapBudget(%d, %v) = %d, want %d", tt.perMinute, tt.interval, got, tt.want)
		}
	}
}
