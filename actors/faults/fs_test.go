package faults

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lni/vfs"
)

// layer is a file layer over a temporary directory: data/wal holds WAL
// files, data/nodehost the rest; state is the state directory.
type layer struct {
	fs                  *FS
	root, wal, nh, stat string
}

func newLayer(t *testing.T, lose bool, control string) *layer {
	t.Helper()
	root := t.TempDir()
	l := &layer{root: root, wal: filepath.Join(root, "data", "wal"), nh: filepath.Join(root, "data", "nodehost"), stat: filepath.Join(root, "faults")}
	for _, d := range []string{l.wal, l.nh, l.stat} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeControl(t, l.stat, control)
	ctl, err := openControl(filepath.Join(l.stat, ControlName), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := NewFS(Dirs{WAL: l.wal, NodeHost: l.nh}, lose, l.stat, ctl, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	l.fs = fs
	return l
}

// writeControl replaces the control file (by rename, as the harness does).
func writeControl(t *testing.T, stateDir, text string) {
	t.Helper()
	tmp := filepath.Join(stateDir, ControlName+".tmp")
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(stateDir, ControlName)); err != nil {
		t.Fatal(err)
	}
}

// waitControl waits until the layer has read a control that satisfies ok.
func waitControl(t *testing.T, fs *FS, ok func(*Control) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok(&fs.ctl.current().Control) {
		if time.Now().After(deadline) {
			t.Fatalf("the layer did not read the new control file within 5s (has %s)", fs.ctl.current().Control)
		}
		time.Sleep(time.Millisecond) // polling the layer's re-read, bounded above
	}
}

func onDisk(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return string(b)
}

func write(t *testing.T, f vfs.File, s string) {
	t.Helper()
	if _, err := f.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, fs vfs.FS, p string) string {
	t.Helper()
	f, err := fs.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func syncDir(t *testing.T, fs vfs.FS, d string) {
	t.Helper()
	f, err := fs.OpenDir(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// recoverLayer stands for the death of the process and the next start:
// what the process held in memory is gone, and Recover undoes the
// directory operations never made durable.
func recoverLayer(t *testing.T, l *layer) []string {
	t.Helper()
	undone, err := Recover(l.stat)
	if err != nil {
		t.Fatal(err)
	}
	return undone
}

func TestLoseUnsyncedWrites(t *testing.T) {
	l := newLayer(t, true, "lose-unsynced=true\n")
	p := filepath.Join(l.wal, "000001.log")
	f, err := l.fs.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	write(t, f, "synced;")
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	syncDir(t, l.fs, l.wal)
	write(t, f, "unsynced")
	if got := readAll(t, l.fs, p); got != "synced;unsynced" {
		t.Fatalf("the process reads %q, want what it wrote", got)
	}
	if fi, err := l.fs.Stat(p); err != nil || fi.Size() != int64(len("synced;unsynced")) {
		t.Fatalf("Stat: %v, %v; want the size the process wrote", fi, err)
	}
	if got := onDisk(t, p); got != "synced;" {
		t.Fatalf("on disk before any fsync of the rest: %q, want only what was synced", got)
	}
	f.Close()
	if got := l.fs.pendingPaths(); !slices.Equal(got, []string{p}) {
		t.Fatalf("pending after close: %v, want %s (a close is no fsync)", got, p)
	}
	if undone := recoverLayer(t, l); len(undone) != 0 {
		t.Fatalf("undone %v; the file's directory was synced", undone)
	}
	if got := onDisk(t, p); got != "synced;" {
		t.Fatalf("after the power loss: %q, want %q", got, "synced;")
	}
}

func TestCreateNotDurableWithoutDirSync(t *testing.T) {
	l := newLayer(t, true, "lose-unsynced=true\n")
	dir := filepath.Join(l.nh, "snapshot-1-1", "snapshot-00000000000000AB")
	if err := l.fs.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "snapshot.gbsnap")
	f, err := l.fs.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	write(t, f, "data")
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if onDisk(t, p) != "data" {
		t.Fatal("an fsynced file's data is not on disk")
	}
	undone := recoverLayer(t, l)
	if exists(filepath.Join(l.nh, "snapshot-1-1")) {
		t.Fatalf("directories whose parents were never synced survived the power loss (undone: %v)", undone)
	}
	if len(undone) != 3 { // two mkdirs and the create
		t.Fatalf("undone %q, want the two mkdirs and the create", undone)
	}
}

func TestCreateOverExistingTruncatesAtSync(t *testing.T) {
	l := newLayer(t, true, "lose-unsynced=true\n")
	p := filepath.Join(l.nh, "dragonboat.ds")
	if err := os.WriteFile(p, []byte("old flag"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := l.fs.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	write(t, f, "new")
	if got := readAll(t, l.fs, p); got != "new" {
		t.Fatalf("the process reads %q after Create, want %q", got, "new")
	}
	if got := onDisk(t, p); got != "old flag" {
		t.Fatalf("on disk before the fsync: %q, want the old contents", got)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got := onDisk(t, p); got != "new" {
		t.Fatalf("on disk after the fsync: %q, want %q", got, "new")
	}
	if undone := recoverLayer(t, l); len(undone) != 0 || onDisk(t, p) != "new" {
		t.Fatalf("an existing file recreated and fsynced: undone %v, contents %q", undone, onDisk(t, p))
	}
}

func TestRenameAndRemoveUndone(t *testing.T) {
	l := newLayer(t, true, "lose-unsynced=true\n")
	cur := filepath.Join(l.nh, "CURRENT")
	tmp := filepath.Join(l.nh, "CURRENT.000002.dbtmp")
	gone := filepath.Join(l.nh, "000001.sst")
	for p, s := range map[string]string{cur: "MANIFEST-000001\n", tmp: "MANIFEST-000002\n", gone: "table"} {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.fs.Rename(tmp, cur); err != nil {
		t.Fatal(err)
	}
	if err := l.fs.Remove(gone); err != nil {
		t.Fatal(err)
	}
	if exists(tmp) || exists(gone) || onDisk(t, cur) != "MANIFEST-000002\n" {
		t.Fatal("the rename and the remove are not visible at once")
	}
	recoverLayer(t, l)
	if onDisk(t, cur) != "MANIFEST-000001\n" || onDisk(t, tmp) != "MANIFEST-000002\n" || onDisk(t, gone) != "table" {
		t.Fatal("after a power loss with no directory fsync, the rename and the remove must be undone")
	}

	// The same, with the directory synced: durable.
	l2 := newLayer(t, true, "lose-unsynced=true\n")
	cur, tmp = filepath.Join(l2.nh, "CURRENT"), filepath.Join(l2.nh, "CURRENT.tmp")
	for p, s := range map[string]string{cur: "a", tmp: "b"} {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := l2.fs.Rename(tmp, cur); err != nil {
		t.Fatal(err)
	}
	syncDir(t, l2.fs, l2.nh)
	if undone := recoverLayer(t, l2); len(undone) != 0 || onDisk(t, cur) != "b" || exists(tmp) {
		t.Fatalf("a rename whose directory was synced was undone (%v)", undone)
	}
	if ents, _ := os.ReadDir(filepath.Join(l2.stat, asideName)); len(ents) != 0 {
		t.Fatalf("what the durable rename replaced is still kept aside: %v", ents)
	}
}

func TestReadAtOverlayMatchesModel(t *testing.T) {
	l := newLayer(t, true, "lose-unsynced=true\n")
	p := filepath.Join(l.wal, "000009.log")
	if err := os.WriteFile(p, bytes.Repeat([]byte{'o'}, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	syncDir(t, l.fs, l.wal)
	f, err := l.fs.ReuseForWrite(p, p) // pebble's recycled WAL: written over from 0
	if err != nil {
		t.Fatal(err)
	}
	model := bytes.Repeat([]byte{'o'}, 100)
	synced := slices.Clone(model)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 400 {
		switch rng.IntN(10) {
		case 0:
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			synced = slices.Clone(model)
		case 1, 2, 3:
			off := rng.Int64N(int64(len(model)) + 20)
			n := 1 + rng.IntN(30)
			buf := make([]byte, n)
			got, err := f.ReadAt(buf, off)
			want := max(0, min(n, len(model)-int(off)))
			if got != want || (err != nil) != (want < n) || !bytes.Equal(buf[:got], model[off:off+int64(got)]) {
				t.Fatalf("step %d: ReadAt(%d, %d) = %d %v %q, model %q", i, n, off, got, err, buf[:got], model[min(off, int64(len(model))):])
			}
		default:
			off := rng.Int64N(int64(len(model)) + 10)
			data := []byte(strings.Repeat(string(rune('a'+i%26)), 1+rng.IntN(20)))
			if _, err := f.WriteAt(data, off); err != nil {
				t.Fatal(err)
			}
			if end := off + int64(len(data)); end > int64(len(model)) {
				model = append(model, make([]byte, end-int64(len(model)))...)
			}
			copy(model[off:], data)
		}
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() != int64(len(model)) {
		t.Fatalf("Stat: %v %v, want size %d", fi, err, len(model))
	}
	f.Close()
	recoverLayer(t, l)
	if got := onDisk(t, p); got != string(synced) {
		t.Fatalf("after the power loss the file is\n%q\nwant what the last fsync saw\n%q", got, synced)
	}
}

func TestNoSpace(t *testing.T) {
	for _, lose := range []bool{false, true} {
		l := newLayer(t, lose, "enospc=wal\n")
		w := filepath.Join(l.wal, "000002.log")
		if _, err := l.fs.Create(w); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("lose=%v: Create of a WAL file under enospc=wal: %v, want ENOSPC", lose, err)
		}
		s := filepath.Join(l.nh, "snapshot-1-1.gbsnap")
		f, err := l.fs.Create(s)
		if err != nil {
			t.Fatalf("lose=%v: Create outside the armed class: %v", lose, err)
		}
		write(t, f, "fine")
		f.Close()

		writeControl(t, l.stat, "enospc=all\n")
		waitControl(t, l.fs, func(c *Control) bool { return c.NoSpace == classAll })
		f, err = l.fs.OpenForAppend(s)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := f.Write([]byte("more")); !errors.Is(err, syscall.ENOSPC) || n != 0 {
			t.Fatalf("lose=%v: write under enospc=all: %d, %v; want 0, ENOSPC", lose, n, err)
		}
		writeControl(t, l.stat, "# lifted\n")
		waitControl(t, l.fs, func(c *Control) bool { return c.NoSpace == 0 })
		write(t, f, "more")
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if got := readAll(t, l.fs, s); got != "finemore" {
			t.Fatalf("lose=%v: after the fault lifted: %q, want %q", lose, got, "finemore")
		}
	}
}

func TestSyncEIODropsPendingData(t *testing.T) {
	l := newLayer(t, true, "lose-unsynced=true\neio=wal\n")
	p := filepath.Join(l.wal, "000003.log")
	f, err := l.fs.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write(t, f, "lost")
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync under eio=wal: %v, want EIO", err)
	}
	writeControl(t, l.stat, "lose-unsynced=true\n")
	waitControl(t, l.fs, func(c *Control) bool { return c.SyncEIO == 0 })
	if err := f.Sync(); err != nil {
		t.Fatalf("Sync once lifted: %v", err)
	}
	if got := onDisk(t, p); got != "" {
		t.Fatalf("on disk after a failed then a good fsync: %q; the failed writeback's data must be gone", got)
	}
	// Not armed for snapshots: their fsyncs work.
	s := filepath.Join(l.nh, "snapshot-1-1", "x")
	if err := l.fs.MkdirAll(filepath.Dir(s), 0o755); err != nil {
		t.Fatal(err)
	}
	g, err := l.fs.Create(s)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	write(t, g, "kept")
	if err := g.Sync(); err != nil || onDisk(t, s) != "kept" {
		t.Fatalf("an unarmed class: %v, %q", err, onDisk(t, s))
	}
}

func TestWriteThroughWithoutLose(t *testing.T) {
	l := newLayer(t, false, "")
	p := filepath.Join(l.wal, "000004.log")
	f, err := l.fs.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	write(t, f, "direct")
	f.Close()
	if got := onDisk(t, p); got != "direct" {
		t.Fatalf("without lose-unsynced a write reaches the file at once; got %q", got)
	}
	if exists(filepath.Join(l.stat, journalName)) {
		t.Fatal("a journal without lose-unsynced")
	}
}

func TestLinkWritesPendingFirst(t *testing.T) {
	l := newLayer(t, true, "lose-unsynced=true\n")
	a, b := filepath.Join(l.nh, "a"), filepath.Join(l.nh, "b")
	f, err := l.fs.Create(a)
	if err != nil {
		t.Fatal(err)
	}
	write(t, f, "shared")
	f.Close()
	if err := l.fs.Link(a, b); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, l.fs, b); got != "shared" {
		t.Fatalf("the link reads %q", got)
	}
}

func TestRecoverRefusesABadJournal(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range []string{"{not json\n", `{"op":"format","path":"/x"}` + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, journalName), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Recover(dir); err == nil || !strings.Contains(err.Error(), journalName+":1") {
			t.Fatalf("journal %q: %v, want an error naming the file and line", bad, err)
		}
	}
}

// A snapshot directory's file removed (its directory never synced), then
// the whole directory removed and its parent synced: the power loss must
// leave the directory gone, not fail to put the file back into it
// (Dragonboat's snapshot clean-up does this).
func TestDurableRemoveSettlesWhatWasBelow(t *testing.T) {
	l := newLayer(t, true, "lose-unsynced=true\n")
	parent := filepath.Join(l.nh, "snapshot-1-3")
	snap := filepath.Join(parent, "snapshot-0000000000000068")
	if err := os.MkdirAll(snap, 0o755); err != nil {
		t.Fatal(err)
	}
	msg := filepath.Join(snap, "dragonboat.snapshot.message")
	if err := os.WriteFile(msg, []byte("m"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.fs.Remove(msg); err != nil {
		t.Fatal(err)
	}
	if err := l.fs.RemoveAll(snap); err != nil {
		t.Fatal(err)
	}
	syncDir(t, l.fs, parent)
	if undone := recoverLayer(t, l); len(undone) != 0 || exists(snap) {
		t.Fatalf("undone %v; the directory's removal was durable", undone)
	}

	// A directory renamed durably: what was not durable inside it is
	// undone at its new name.
	l2 := newLayer(t, true, "lose-unsynced=true\n")
	tmp, final := filepath.Join(l2.nh, "snapshot-1-3", "x.generating"), filepath.Join(l2.nh, "snapshot-1-3", "x")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := l2.fs.Create(filepath.Join(tmp, "late"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := l2.fs.Rename(tmp, final); err != nil {
		t.Fatal(err)
	}
	syncDir(t, l2.fs, filepath.Dir(final))
	if undone := recoverLayer(t, l2); len(undone) != 1 || exists(filepath.Join(final, "late")) || !exists(final) {
		t.Fatalf("undone %v: want the create undone inside the renamed directory, the directory kept", undone)
	}
}

// Pebble writes its WAL and tables through vfs.NewSyncingFile, whose Sync
// fdatasyncs the file's descriptor itself when the file has one: the
// layer's files must not, or their pending data is never written and a
// power loss takes data pebble was told is durable.
func TestSyncingFileSyncsThroughTheLayer(t *testing.T) {
	l := newLayer(t, true, "lose-unsynced=true\n")
	p := filepath.Join(l.wal, "000007.log")
	f, err := l.fs.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	sf := vfs.NewSyncingFile(f, vfs.SyncingFileOptions{BytesPerSync: 512 << 10, PreallocateSize: 4 << 20})
	if _, err := sf.Write([]byte("record")); err != nil {
		t.Fatal(err)
	}
	if err := sf.Sync(); err != nil {
		t.Fatal(err)
	}
	sf.Close()
	if got := onDisk(t, p); got != "record" {
		t.Fatalf("after a Sync through pebble's syncing wrapper the file holds %q, want %q", got, "record")
	}
}

// The process may die between writing the journal and doing what it
// records, or between a durable fsync and deleting what was kept aside:
// Recover must then leave the files as they are (a removal never done, a
// rename half done) and find nothing missing.
func TestRecoverAfterADeathMidOperation(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "faults")
	if err := os.MkdirAll(filepath.Join(state, asideName), 0o755); err != nil {
		t.Fatal(err)
	}
	kept, cur, tmp := filepath.Join(dir, "000217.sst"), filepath.Join(dir, "CURRENT"), filepath.Join(dir, "CURRENT.tmp")
	for p, s := range map[string]string{kept: "table", cur: "old", tmp: "new"} {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The rename got as far as moving CURRENT aside.
	half := filepath.Join(state, asideName, "2")
	if err := os.Rename(cur, half); err != nil {
		t.Fatal(err)
	}
	j := &journal{path: filepath.Join(state, journalName), aside: filepath.Join(state, asideName), ops: []jop{
		{Op: opRemove, Path: kept, Backup: filepath.Join(state, asideName, "1")}, // journalled, never moved
		{Op: opRename, Path: tmp, To: cur, Backup: half},
	}}
	if err := j.save(); err != nil {
		t.Fatal(err)
	}
	if _, err := Recover(state); err != nil {
		t.Fatal(err)
	}
	if onDisk(t, kept) != "table" || onDisk(t, cur) != "old" || onDisk(t, tmp) != "new" {
		t.Fatal("Recover after a death mid-operation did not leave the files as they were before it")
	}
}
