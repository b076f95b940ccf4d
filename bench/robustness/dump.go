package robustness

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/go-zookeeper/zk"
)

// Znode is what a dump keeps of a znode.
type Znode struct {
	Data           string
	Version        int32
	CVersion       int32
	EphemeralOwner int64
	Czxid, Mzxid   int64
	NumChildren    int32
}

// Dump is every znode of a member's tree but /zookeeper, by path.
type Dump map[string]Znode

// DumpMember reads the whole tree from one member through conn (a session
// connected to that member only), after a sync so that it sees everything
// committed before the call. Nothing may write meanwhile.
func DumpMember(ctx context.Context, conn *zk.Conn) (Dump, error) {
	if _, err := conn.Sync("/"); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	d := Dump{}
	var mu sync.Mutex
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	// A few readers in parallel: go-zookeeper pipelines their requests.
	work := make(chan string, 1024)
	var pending sync.WaitGroup
	var readers sync.WaitGroup
	visit := func(p string) {
		defer pending.Done()
		if ctx.Err() != nil {
			fail(ctx.Err())
			return
		}
		data, st, err := conn.Get(p)
		if errors.Is(err, zk.ErrNoNode) {
			return // deleted meanwhile: the caller's quiet period was not quiet; the comparison shows it
		}
		if err != nil {
			fail(fmt.Errorf("get %s: %w", p, err))
			return
		}
		kids, _, err := conn.Children(p)
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			fail(fmt.Errorf("children %s: %w", p, err))
			return
		}
		mu.Lock()
		d[p] = Znode{Data: string(data), Version: st.Version, CVersion: st.Cversion, EphemeralOwner: st.EphemeralOwner,
			Czxid: st.Czxid, Mzxid: st.Mzxid, NumChildren: st.NumChildren}
		mu.Unlock()
		for _, k := range kids {
			c := path.Join(p, k)
			if c == "/zookeeper" {
				continue
			}
			pending.Add(1)
			go func() { work <- c }()
		}
	}
	for range 16 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for p := range work {
				visit(p)
			}
		}()
	}
	pending.Add(1)
	work <- "/"
	pending.Wait()
	close(work)
	readers.Wait()
	return d, firstErr
}

// Children returns the children of parent in a dump, by name, with their
// data.
func (d Dump) Children(parent string) map[string]string {
	out := map[string]string{}
	for p, z := range d {
		if path.Dir(p) == parent && p != parent {
			out[path.Base(p)] = z.Data
		}
	}
	return out
}

// Diff lists the differences between two dumps (at most max lines).
func Diff(a, b Dump, nameA, nameB string, limit int) []string {
	paths := map[string]bool{}
	for p := range a {
		paths[p] = true
	}
	for p := range b {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	var out []string
	n := 0
	for _, p := range sorted {
		za, oka := a[p]
		zb, okb := b[p]
		if oka == okb && za == zb {
			continue
		}
		n++
		if len(out) >= limit {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s %s, %s %s", p, nameA, describe(za, oka), nameB, describe(zb, okb)))
	}
	if n > len(out) {
		out = append(out, fmt.Sprintf("… and %d more", n-len(out)))
	}
	return out
}

func describe(z Znode, ok bool) string {
	if !ok {
		return "absent"
	}
	data := z.Data
	if len(data) > 40 {
		data = data[:40] + "…"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "{%q v%d cv%d children %d mzxid 0x%x", data, z.Version, z.CVersion, z.NumChildren, z.Mzxid)
	if z.EphemeralOwner != 0 {
		fmt.Fprintf(&b, " owner 0x%x", z.EphemeralOwner)
	}
	b.WriteString("}")
	return b.String()
}
