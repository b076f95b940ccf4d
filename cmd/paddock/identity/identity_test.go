package identity

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestStandaloneRecordsAndKeeps(t *testing.T) {
	dir := t.TempDir()
	first, err := Check(dir, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if !first.Created || first.ServerID != 1 || !regexp.MustCompile(`^standalone-[0-9a-f]{16}$`).MatchString(first.EnsembleID) {
		t.Fatalf("first start: %+v", first)
	}
	again, err := Check(dir, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if again.Created || again.Identity != first.Identity {
		t.Fatalf("second start: %+v, first %+v", again, first)
	}
	other, err := Check(t.TempDir(), 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if other.EnsembleID == first.EnsembleID {
		t.Fatalf("two standalone data directories share the ensemble id %s", first.EnsembleID)
	}
}

// snapshot returns the file's bytes and modification time.
func snapshot(t *testing.T, dir string) (string, int64) {
	t.Helper()
	p := filepath.Join(dir, FileName)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), fi.ModTime().UnixNano()
}

func TestRefusesAnotherServerOrEnsemble(t *testing.T) {
	dir := t.TempDir()
	if _, err := Check(dir, 2, "ens-a"); err != nil {
		t.Fatal(err)
	}
	body, mtime := snapshot(t, dir)
	for _, tc := range []struct {
		server   uint64
		ensemble string
		want     []string
	}{
		{3, "ens-a", []string{"server 2", "server 3"}},
		{3, "", []string{"server 2", "server 3"}},
		{2, "ens-b", []string{"ensemble ens-a", "ensemble ens-b"}},
	} {
		_, err := Check(dir, tc.server, tc.ensemble)
		var mm *MismatchError
		if !errors.As(err, &mm) {
			t.Fatalf("Check(%d, %q) = %v, want a MismatchError", tc.server, tc.ensemble, err)
		}
		for _, w := range append(tc.want, dir, "nothing was changed") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Check(%d, %q): %q does not say %q", tc.server, tc.ensemble, err, w)
			}
		}
		if b, m := snapshot(t, dir); b != body || m != mtime {
			t.Fatalf("the refusal changed %s", FileName)
		}
	}
	// Standalone keeps a recorded ensemble id; the right member starts.
	if r, err := Check(dir, 2, ""); err != nil || r.EnsembleID != "ens-a" || r.Created {
		t.Fatalf("standalone on ens-a's server 2: %+v, %v", r, err)
	}
	if r, err := Check(dir, 2, "ens-a"); err != nil || r.Created {
		t.Fatalf("ens-a's server 2: %+v, %v", r, err)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := Check(t.TempDir(), 0, ""); err == nil {
		t.Error("server id 0 accepted")
	}
	if _, err := Check(t.TempDir(), 1, "two words"); err == nil {
		t.Error("an ensemble id with a space accepted")
	}
	for _, body := range []string{
		"",
		"serverId=1\n",
		"ensembleId=e\n",
		"serverId=0\nensembleId=e\n",
		"serverId=x\nensembleId=e\n",
		"serverId=1\nserverId=2\nensembleId=e\n",
		"serverId=1\nensembleId=e\ncolour=blue\n",
		"serverId 1\nensembleId=e\n",
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, FileName), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Check(dir, 1, ""); err == nil || errors.As(err, new(*MismatchError)) {
			t.Errorf("file %q: %v, want a parse error", body, err)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("# comment\n\nserverId=1\nensembleId=e\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := Check(dir, 1, ""); err != nil || r.EnsembleID != "e" {
		t.Errorf("comments and blank lines: %+v, %v", r, err)
	}
}

func TestEnsembleID(t *testing.T) {
	a := EnsembleID([]uint64{3, 1, 2})
	if a != "servers-1-2-3" || EnsembleID([]uint64{1, 2, 3, 3}) != a {
		t.Errorf("EnsembleID = %q, want servers-1-2-3 in any order", a)
	}
	if EnsembleID([]uint64{1, 2, 4}) == a {
		t.Error("different members, same ensemble id")
	}
	if !validWord(a) {
		t.Errorf("%q is not a valid ensemble id", a)
	}
}
