package actors

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/paddockdb/paddock/wire/zktest"

	"github.com/go-zookeeper/zk"
)

// syncBuffer is a log sink written by the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startLogged starts a server on dir whose info log goes to the returned
// buffer.
func startLogged(t *testing.T, dir string) (*Server, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	s := startServer(t, dir, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	return s, buf
}

func hostname(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// hostDirs are the NodeHost and WAL directories of a data directory.
func hostDirs(dataDir string) []string {
	return []string{filepath.Join(dataDir, "nodehost"), filepath.Join(dataDir, "wal")}
}

// entries lists dir: name, then "/" for a directory or "-> target" for a
// link.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		switch {
		case de.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(filepath.Join(dir, de.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, de.Name()+" -> "+target)
		case de.IsDir():
			out = append(out, de.Name()+"/")
		default:
			out = append(out, de.Name())
		}
	}
	return out
}

func readFlag(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, flagFileName))
	if err != nil {
		t.Fatal(err)
	}
	st, err := decodeFlag(b)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return st.Hostname
}

// setFlagHostname rewrites dir's flag file as if written under host.
func setFlagHostname(t *testing.T, dir, host string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, flagFileName))
	if err != nil {
		t.Fatal(err)
	}
	st, err := decodeFlag(b)
	if err != nil {
		t.Fatal(err)
	}
	st.Hostname = host
	if err := os.WriteFile(filepath.Join(dir, flagFileName), encodeFlag(st), 0o640); err != nil {
		t.Fatal(err)
	}
}

// writeKeep starts a server on dir, creates /keep and stops it.
func writeKeep(t *testing.T, dir string) {
	t.Helper()
	s := startServer(t, dir, nil)
	c := connectZK(t, s)
	if _, err := c.Create("/keep", []byte("kept"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func checkKeep(t *testing.T, s *Server) {
	t.Helper()
	c := connectZK(t, s)
	defer c.Close()
	got, _, err := c.Get("/keep")
	if err != nil || string(got) != "kept" {
		t.Fatalf("/keep after restart: %q, %v", got, err)
	}
}

// TestHostDirKnowsDragonboatLayout fails if a dragonboat upgrade changes
// what hostdir.go relies on: the data under <dir>/<hostname>/<deployment
// id>, nothing else in <dir> but its lock, flag and id files, and the flag
// file's format (decoded, rewritten and accepted again by dragonboat).
func TestHostDirKnowsDragonboatLayout(t *testing.T) {
	dir := t.TempDir()
	host := hostname(t)
	writeKeep(t, dir)
	link := []string{}
	if host != hostDirName {
		link = append(link, host+" -> "+hostDirName)
	}
	want := map[string][]string{
		"nodehost": append([]string{"LOCK", "NODEHOST.ID", flagFileName, hostDirName + "/"}, link...),
		"wal":      append([]string{"LOCK", flagFileName, hostDirName + "/"}, link...),
	}
	for _, d := range hostDirs(dir) {
		got := entries(t, d)
		w := want[filepath.Base(d)]
		slices.Sort(got)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s holds %q, want %q: dragonboat's layout changed, check hostdir.go", d, got, w)
		}
		if fi, err := os.Stat(filepath.Join(d, hostDirName, "00000000000000000001")); err != nil || !fi.IsDir() {
			t.Errorf("no deployment directory under %s: %v", filepath.Join(d, hostDirName), err)
		}
		if h := readFlag(t, d); h != host {
			t.Errorf("%s: dragonboat's flag file names %q, want %q", d, h, host)
		}
		// Our encoding of the flag file must be dragonboat's: the restart
		// below reads the rewritten file.
		setFlagHostname(t, d, host)
	}
	s := startServer(t, dir, nil)
	defer s.Close()
	checkKeep(t, s)
}

// TestHostDirFollowsHostnameChange restarts on a data directory last
// served under another hostname: the data is there, the flag file names
// the new hostname, the old link stays.
func TestHostDirFollowsHostnameChange(t *testing.T) {
	dir := t.TempDir()
	host := hostname(t)
	if host == "previous-host" {
		t.Fatal("the test needs a hostname other than previous-host")
	}
	writeKeep(t, dir)
	for _, d := range hostDirs(dir) {
		if host != hostDirName {
			if err := os.Remove(filepath.Join(d, host)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(hostDirName, filepath.Join(d, "previous-host")); err != nil {
			t.Fatal(err)
		}
		setFlagHostname(t, d, "previous-host")
	}
	s, log := startLogged(t, dir)
	defer s.Close()
	checkKeep(t, s)
	if !strings.Contains(log.String(), "hostname changed since the last start") ||
		!strings.Contains(log.String(), "was=previous-host") {
		t.Errorf("no log line for the hostname change:\n%s", log)
	}
	for _, d := range hostDirs(dir) {
		if h := readFlag(t, d); h != host {
			t.Errorf("%s: flag file names %q, want %q", d, h, host)
		}
		got := entries(t, d)
		for _, w := range []string{"previous-host -> " + hostDirName, hostDirName + "/"} {
			if !slices.Contains(got, w) {
				t.Errorf("%s holds %q, want %q among them", d, got, w)
			}
		}
		if host != hostDirName && !slices.Contains(got, host+" -> "+hostDirName) {
			t.Errorf("%s holds %q: no link for %s", d, got, host)
		}
	}
}

// TestHostDirTakesOverPreviousLayout starts on a data directory in the
// layout of before (the tree named after the hostname it was written
// under, here with what a refused start under the current hostname left):
// it is served where it is, with one log line, and nothing is moved but
// the leftover.
func TestHostDirTakesOverPreviousLayout(t *testing.T) {
	dir := t.TempDir()
	host := hostname(t)
	const old = "legacy-x"
	writeKeep(t, dir)
	for _, d := range hostDirs(dir) {
		if host != hostDirName {
			if err := os.Remove(filepath.Join(d, host)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Rename(filepath.Join(d, hostDirName), filepath.Join(d, old)); err != nil {
			t.Fatal(err)
		}
		setFlagHostname(t, d, old)
		if host != hostDirName {
			// What dragonboat creates before refusing a hostname change.
			if err := os.MkdirAll(filepath.Join(d, host, "00000000000000000001", "logdb-0"), 0o750); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, log := startLogged(t, dir)
	checkKeep(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(log.String(), "data directory of the previous layout"); n != 1 {
		t.Errorf("%d takeover log lines, want 1:\n%s", n, log)
	}
	for _, d := range hostDirs(dir) {
		got := entries(t, d)
		for _, w := range []string{old + "/", hostDirName + " -> " + old} {
			if !slices.Contains(got, w) {
				t.Errorf("%s holds %q, want %q among them", d, got, w)
			}
		}
		if host != hostDirName {
			if !slices.Contains(got, host+" -> "+hostDirName) {
				t.Errorf("%s holds %q: no link for %s", d, got, host)
			}
			if !slices.ContainsFunc(got, func(e string) bool { return strings.HasPrefix(e, host+asideSuffix) }) {
				t.Errorf("%s holds %q: the leftover %s was not moved aside", d, got, host)
			}
		}
	}
	s, log = startLogged(t, dir)
	defer s.Close()
	checkKeep(t, s)
	if strings.Contains(log.String(), "previous layout") {
		t.Errorf("taken over a second time:\n%s", log)
	}
}

// TestHostDirRefusals: a flag file naming a tree that is not there, or one
// that does not decode, stops the start before anything is changed.
func TestHostDirRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, nodehost string)
		want  string
	}{
		{"missing tree", func(t *testing.T, d string) {
			setFlagHostname(t, d, "gone-host")
			if err := os.Rename(filepath.Join(d, hostDirName), filepath.Join(d, "elsewhere")); err != nil {
				t.Fatal(err)
			}
		}, `names the data tree "gone-host"`},
		{"corrupt flag file", func(t *testing.T, d string) {
			if err := os.WriteFile(filepath.Join(d, flagFileName), []byte("not a flag file"), 0o640); err != nil {
				t.Fatal(err)
			}
		}, "not a dragonboat flag file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeKeep(t, dir)
			tc.spoil(t, hostDirs(dir)[0])
			before := zktest.DirState(t, dir)
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			s, err := Start(ctx, Config{DataDir: dir, ClientAddr: "127.0.0.1:0",
				Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err == nil {
				s.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
			if after := zktest.DirState(t, dir); after != before {
				t.Errorf("the refusal changed the data directory:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}
