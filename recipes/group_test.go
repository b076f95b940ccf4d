package recipes

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// elAwaitGroup reads a group watch until its list is want ("name=data"
// strings, sorted), and checks every list on the way with check.
func elAwaitGroup(t testing.TB, ctx context.Context, ch <-chan []GroupMember, want []string, check func([]GroupMember)) {
	t.Helper()
	for {
		list := elNext(t, ctx, ch)
		if check != nil {
			check(list)
		}
		var got []string
		for _, m := range list {
			got = append(got, m.Name+"="+string(m.Data))
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
	}
}

// TestGroupContention: members on several sessions join, update their
// data and leave concurrently; the watcher's lists show each member's
// data in the order it was written, and end on the exact final state.
func TestGroupContention(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := testCtx(t)
		const path = "/services/search"
		conns := connectN(t, s, 3)
		ch, l := elWatch(t, ctx, s, path, WatchGroup)
		if len(l) != 0 {
			t.Fatalf("first list %v, want empty", l)
		}
		const members, updates = 9, 4
		lastSeen := map[string]int{}
		monotonic := func(list []GroupMember) {
			for _, m := range list {
				n, err := strconv.Atoi(string(m.Data))
				if err != nil {
					t.Fatalf("member %s data %q", m.Name, m.Data)
				}
				if n < lastSeen[m.Name] {
					t.Errorf("member %s: data %d after %d", m.Name, n, lastSeen[m.Name])
				}
				lastSeen[m.Name] = n
			}
		}
		var wg sync.WaitGroup
		for i := range members {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("node-%02d", i)
				m, err := JoinGroup(ctx, conns[i%len(conns)], path, name, []byte("1"))
				if err != nil {
					t.Errorf("%s: join: %v", name, err)
					return
				}
				for u := 2; u <= updates; u++ {
					if err := m.Update(ctx, []byte(strconv.Itoa(u))); err != nil {
						t.Errorf("%s: update: %v", name, err)
					}
				}
				if i%3 == 0 {
					if err := m.Leave(ctx); err != nil {
						t.Errorf("%s: leave: %v", name, err)
					}
					select {
					case <-m.Lost():
						t.Errorf("%s: Lost closed by Leave", name)
					default:
					}
				}
			}()
		}
		wg.Wait()
		var want []string
		for i := range members {
			if i%3 != 0 {
				want = append(want, fmt.Sprintf("node-%02d=%d", i, updates))
			}
		}
		elAwaitGroup(t, ctx, ch, want, monotonic)
	})
}

// TestGroupFailures: a member's session expires (Lost, departure seen,
// Update fails with ErrSessionExpired); a member survives a server
// restart and the watcher sees changes after it; a join whose create
// reply was lost adopts its node; a name held by another session is
// refused.
func TestGroupFailures(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := testCtx(t)
		const path = "/clusterServers"
		k := s.ConnectCuttable(t)
		c := s.Connect(t)
		wc := s.Connect(t)
		ch, err := WatchGroup(ctx, wc, path)
		if err != nil {
			t.Fatal(err)
		}
		doomed, err := JoinGroup(ctx, k.Conn, path, "doomed", []byte("d"))
		if err != nil {
			t.Fatal(err)
		}
		stays, err := JoinGroup(ctx, c, path, "stays", []byte("s"))
		if err != nil {
			t.Fatal(err)
		}
		elAwaitGroup(t, ctx, ch, []string{"doomed=d", "stays=s"}, nil)
		if _, err := JoinGroup(ctx, c, path, "doomed", nil); !errors.Is(err, wire.ErrNodeExists) {
			t.Fatalf("joining under another session's name: %v", err)
		}

		k.Expire(t, wc)
		select {
		case <-doomed.Lost():
		case <-ctx.Done():
			t.Fatal("Lost not closed after expiry")
		}
		elAwaitGroup(t, ctx, ch, []string{"stays=s"}, nil)
		if err := doomed.Update(ctx, []byte("x")); !errors.Is(err, wire.ErrSessionExpired) {
			t.Fatalf("Update after expiry: %v", err)
		}

		s.Restart()
		if err := stays.Update(ctx, []byte("s2")); err != nil {
			t.Fatal(err)
		}
		elAwaitGroup(t, ctx, ch, []string{"stays=s2"}, nil)

		// A lost create reply: the node exists, made by this session.
		if _, err := c.Create(ctx, path+"/replay", []byte("r"), wire.ModeEphemeral, nil); err != nil {
			t.Fatal(err)
		}
		r, err := JoinGroup(ctx, c, path, "replay", []byte("r"))
		if err != nil {
			t.Fatalf("join whose create reply was lost: %v", err)
		}
		elAwaitGroup(t, ctx, ch, []string{"replay=r", "stays=s2"}, nil)

		// Someone else deletes a member: Lost.
		if err := wc.Delete(ctx, r.Path(), client.AnyVersion); err != nil {
			t.Fatal(err)
		}
		select {
		case <-r.Lost():
		case <-ctx.Done():
			t.Fatal("Lost not closed after the node was deleted")
		}
		elAwaitGroup(t, ctx, ch, []string{"stays=s2"}, nil)

		// The watcher's session ends: its channel closes.
		wc.Close()
		for range ch {
		}
	})
}
