package recipes

import (
	"errors"
	"strconv"
	"testing"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// TestValue: a watched value follows every write in order, ends on the
// last one, reads a deleted node as absent and sees it come back; it
// lives through a restart, and closes when its session expires.
func TestValue(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := testCtx(t)
		const path = "/config/flags"
		w := s.Connect(t)
		k := s.ConnectCuttable(t)
		v, err := WatchValue(ctx, k.Conn, path)
		if err != nil {
			t.Fatal(err)
		}
		if data, st := v.Get(); data != nil || st.Czxid != 0 {
			t.Fatalf("absent node reads %q %+v", data, st)
		}
		if err := ensurePath(ctx, w, "/config"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Create(ctx, path, []byte("0"), wire.ModePersistent, nil); err != nil {
			t.Fatal(err)
		}
		if got := elNext(t, ctx, v.Changes()); string(got) != "0" {
			t.Fatalf("after create: %q", got)
		}
		// Writers on two sessions, one after the other per value: the
		// values seen must rise, and end on the last.
		const n = 40
		w2 := s.Connect(t)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 1; i <= n; i++ {
				c := w
				if i%2 == 0 {
					c = w2
				}
				if _, err := c.Set(ctx, path, []byte(strconv.Itoa(i)), client.AnyVersion); err != nil {
					t.Errorf("set %d: %v", i, err)
					return
				}
			}
		}()
		last := 0
		for last < n {
			got := elNext(t, ctx, v.Changes())
			i, err := strconv.Atoi(string(got))
			if err != nil || i <= last {
				t.Fatalf("value %q after %d", got, last)
			}
			last = i
		}
		<-done
		if data, st := v.Get(); string(data) != strconv.Itoa(n) || st.Version != n {
			t.Fatalf("Get = %q version %d", data, st.Version)
		}

		if err := w.Delete(ctx, path, client.AnyVersion); err != nil {
			t.Fatal(err)
		}
		if got := elNext(t, ctx, v.Changes()); got != nil {
			t.Fatalf("after delete: %q", got)
		}
		if data, _ := v.Get(); data != nil {
			t.Fatalf("deleted node reads %q", data)
		}
		if _, err := w.Create(ctx, path, nil, wire.ModePersistent, nil); err != nil {
			t.Fatal(err)
		}
		if got := elNext(t, ctx, v.Changes()); got == nil || len(got) != 0 {
			t.Fatalf("recreated empty: %q (nil %v)", got, got == nil)
		}

		s.Restart()
		if _, err := w.Set(ctx, path, []byte("after restart"), client.AnyVersion); err != nil {
			t.Fatal(err)
		}
		if got := elNext(t, ctx, v.Changes()); string(got) != "after restart" {
			t.Fatalf("after restart: %q", got)
		}

		k.Expire(t, w)
		for range v.Changes() {
		}
		if err := v.Err(); !errors.Is(err, wire.ErrSessionExpired) {
			t.Fatalf("Err after expiry: %v", err)
		}
		v.Close()

		// Close ends a live watch.
		v2, err := WatchValue(ctx, w, path)
		if err != nil {
			t.Fatal(err)
		}
		v2.Close()
		for range v2.Changes() {
		}
		if err := v2.Err(); err != nil {
			t.Fatalf("Err after Close: %v", err)
		}
	})
}
