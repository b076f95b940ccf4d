package faults

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/lni/vfs"
)

// Class is what a file holds, for the faults that target some files only.
type Class uint8

const (
	// ClassWAL is a file under the WAL directory: pebble's write-ahead
	// logs, where Dragonboat's Raft entries and state land first.
	ClassWAL Class = 1 << iota
	// ClassSnapshot is a file under one of Dragonboat's snapshot
	// directories (snapshot-<shard>-<replica>/…).
	ClassSnapshot
	// ClassLogDB is any other file under the NodeHost directory: pebble's
	// tables, MANIFEST, CURRENT, OPTIONS, Dragonboat's flag files.
	ClassLogDB

	classAll = ClassWAL | ClassSnapshot | ClassLogDB
)

// Dirs tell the file layer where each class of file lives.
type Dirs struct {
	WAL, NodeHost string
}

// classify returns the class of the file at p.
func (d Dirs) classify(p string) Class {
	if d.WAL != "" && within(p, d.WAL) {
		return ClassWAL
	}
	for _, seg := range strings.Split(p, string(filepath.Separator)) {
		if strings.HasPrefix(seg, "snapshot-") {
			return ClassSnapshot
		}
	}
	return ClassLogDB
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+string(filepath.Separator))
}

// Hooks are what the file layer calls around the fsync of a WAL file: the
// crash points LogSaveBefore and LogSaveAfter (on.go sets them; nil is
// none).
type Hooks struct {
	LogSaveBefore, LogSaveAfter func()
}

// FS is the fault-injecting file layer: a vfs.FS (Dragonboat's
// NodeHostConfig.Expert.FS) over the operating system's files. See the
// package doc for what it models.
type FS struct {
	dirs  Dirs
	lose  bool     // keep unsynced writes in memory (power loss model)
	jr    *journal // directory operations not yet durable; nil unless lose
	ctl   *controlFile
	hooks Hooks

	mu     sync.Mutex
	inodes map[string]*inode // open or dirty files, by path
}

// NewFS returns the file layer. With lose, data written and not fsynced
// is held in memory only (lost when the process dies), and creates,
// renames and removes not followed by an fsync of their directory are
// recorded in stateDir's journal so that the next start undoes them
// (Recover). ctl, if not nil, is re-read for ENOSPC and EIO faults.
func NewFS(dirs Dirs, lose bool, stateDir string, ctl *controlFile, hooks Hooks) (*FS, error) {
	fs := &FS{dirs: dirs, lose: lose, ctl: ctl, hooks: hooks, inodes: map[string]*inode{}}
	if lose {
		jr, err := openJournal(stateDir)
		if err != nil {
			return nil, err
		}
		fs.jr = jr
	}
	return fs, nil
}

var _ vfs.FS = (*FS)(nil)

// inode is the state of one file the layer has open or holds unsynced
// data for. Its fields are guarded by FS.mu.
type inode struct {
	path string
	refs int // open handles
	// Unsynced state (lose only): the real file is left as it was at the
	// last fsync; truncated means a pending truncation to zero (Create of
	// an existing file), base the real file's size that the pending
	// extents are laid over, size the size the process sees.
	dirty     bool
	truncated bool
	base      int64
	size      int64
	ext       []extent
}

type extent struct {
	off  int64
	data []byte
}

func (n *inode) reset() {
	n.dirty, n.truncated, n.base, n.size, n.ext = false, false, 0, 0, nil
}

// Errors the faults return, as the operating system would.
func errNoSpace(op, name string) error { return &os.PathError{Op: op, Path: name, Err: syscall.ENOSPC} }
func errIO(op, name string) error      { return &os.PathError{Op: op, Path: name, Err: syscall.EIO} }

// fault reports whether the control file arms f for the class of name.
func (fs *FS) fault(f func(*Control) Class, name string) bool {
	if fs.ctl == nil {
		return false
	}
	return f(&fs.ctl.current().Control)&fs.dirs.classify(name) != 0
}

func enospc(c *Control) Class { return c.NoSpace }
func eio(c *Control) Class    { return c.SyncEIO }

// get returns the inode of path, making one.
func (fs *FS) get(path string) *inode {
	n := fs.inodes[path]
	if n == nil {
		n = &inode{path: path}
		fs.inodes[path] = n
	}
	return n
}

// release drops a handle's reference; a clean inode without handles goes.
func (fs *FS) release(n *inode) {
	n.refs--
	if n.refs <= 0 && !n.dirty && fs.inodes[n.path] == n {
		delete(fs.inodes, n.path)
	}
}

// forget drops the inodes of path and everything below it (removed).
func (fs *FS) forget(path string) {
	for p, n := range fs.inodes {
		if within(p, path) {
			n.reset()
			delete(fs.inodes, p)
		}
	}
}

// move re-keys the inodes of from (and below it) to to (renamed).
func (fs *FS) move(from, to string) {
	fs.forget(to)
	var moved []*inode
	for p, n := range fs.inodes {
		if within(p, from) {
			delete(fs.inodes, p)
			n.path = to + strings.TrimPrefix(p, from)
			moved = append(moved, n)
		}
	}
	for _, n := range moved {
		fs.inodes[n.path] = n
	}
}

// Create implements vfs.FS. Without lose it truncates at once; with lose
// the truncation of an existing file is pending until its fsync.
func (fs *FS) Create(name string) (vfs.File, error) {
	name = filepath.Clean(name)
	if fs.fault(enospc, name) {
		return nil, errNoSpace("open", name)
	}
	if !fs.lose {
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC|syscall.O_CLOEXEC, 0o666)
		if err != nil {
			return nil, err
		}
		return fs.handle(name, f, false), nil
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	_, statErr := os.Lstat(name)
	existed := statErr == nil
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o666)
	if err != nil {
		return nil, err
	}
	if !existed {
		if err := fs.jr.add(jop{Op: opCreate, Path: name}); err != nil {
			f.Close()
			return nil, err
		}
	}
	n := fs.get(name)
	n.refs++
	n.dirty, n.truncated, n.base, n.size, n.ext = true, true, 0, 0, nil
	return &file{fs: fs, n: n, f: f}, nil
}

// handle wraps an open real file.
func (fs *FS) handle(name string, f *os.File, appendMode bool) *file {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := fs.get(name)
	n.refs++
	h := &file{fs: fs, n: n, f: f, appendMode: appendMode}
	return h
}

// Open implements vfs.FS (read only).
func (fs *FS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	name = filepath.Clean(name)
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	h := fs.handle(name, f, false)
	h.readOnly = true
	for _, o := range opts {
		o.Apply(h)
	}
	return h, nil
}

// OpenForAppend implements vfs.FS.
func (fs *FS) OpenForAppend(name string) (vfs.File, error) {
	name = filepath.Clean(name)
	// O_APPEND is not asked of the real file: writes land at the end
	// of what the process sees (file.Write), through WriteAt.
	f, err := os.OpenFile(name, os.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return fs.handle(name, f, true), nil
}

// OpenDir implements vfs.FS: its Sync makes the directory's entries
// durable (the journal forgets them).
func (fs *FS) OpenDir(name string) (vfs.File, error) {
	name = filepath.Clean(name)
	f, err := os.OpenFile(name, syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &dir{fs: fs, name: name, f: f}, nil
}

// Link implements vfs.FS.
func (fs *FS) Link(oldname, newname string) error {
	oldname, newname = filepath.Clean(oldname), filepath.Clean(newname)
	if fs.fault(enospc, newname) {
		return errNoSpace("link", newname)
	}
	if err := fs.syncPending(oldname); err != nil {
		return err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := os.Link(oldname, newname); err != nil {
		return err
	}
	if fs.lose {
		return fs.jr.add(jop{Op: opCreate, Path: newname})
	}
	return nil
}

// syncPending writes a file's pending data before it gets a second name
// (a hard link shares the data: the model keeps one copy per path).
func (fs *FS) syncPending(name string) error {
	fs.mu.Lock()
	n := fs.inodes[name]
	fs.mu.Unlock()
	if n == nil || !n.dirty {
		return nil
	}
	f, err := os.OpenFile(name, os.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.flush(n, f)
}

// Remove implements vfs.FS. With lose, the file is moved aside until its
// directory is synced, so that a power loss can bring it back.
func (fs *FS) Remove(name string) error {
	name = filepath.Clean(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if !fs.lose {
		if err := os.Remove(name); err != nil {
			return err
		}
		fs.forget(name)
		return nil
	}
	fi, err := os.Lstat(name)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		if ents, err := os.ReadDir(name); err != nil {
			return err
		} else if len(ents) > 0 {
			return &os.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
		}
	}
	if err := fs.jr.moveAside(name); err != nil {
		return err
	}
	fs.forget(name)
	return nil
}

// RemoveAll implements vfs.FS.
func (fs *FS) RemoveAll(name string) error {
	name = filepath.Clean(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if !fs.lose {
		if err := os.RemoveAll(name); err != nil {
			return err
		}
		fs.forget(name)
		return nil
	}
	if _, err := os.Lstat(name); errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if err := fs.jr.moveAside(name); err != nil {
		return err
	}
	fs.forget(name)
	return nil
}

// Rename implements vfs.FS. With lose, a file it replaces is moved aside
// until the new name's directory is synced.
func (fs *FS) Rename(oldname, newname string) error {
	oldname, newname = filepath.Clean(oldname), filepath.Clean(newname)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if !fs.lose {
		if err := os.Rename(oldname, newname); err != nil {
			return err
		}
		fs.move(oldname, newname)
		return nil
	}
	if err := fs.jr.rename(oldname, newname); err != nil {
		return err
	}
	fs.move(oldname, newname)
	return nil
}

// ReuseForWrite implements vfs.FS: a rename, then the file opened for
// writing over its old contents.
func (fs *FS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	if err := fs.Rename(oldname, newname); err != nil {
		return nil, err
	}
	newname = filepath.Clean(newname)
	f, err := os.OpenFile(newname, os.O_RDWR|syscall.O_CLOEXEC, 0o666)
	if err != nil {
		return nil, err
	}
	return fs.handle(newname, f, false), nil
}

// MkdirAll implements vfs.FS; with lose, each directory it makes is
// journalled until its parent is synced.
func (fs *FS) MkdirAll(dirName string, perm os.FileMode) error {
	dirName = filepath.Clean(dirName)
	if !fs.lose {
		return os.MkdirAll(dirName, perm)
	}
	var missing []string
	for d := dirName; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], perm); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := fs.jr.add(jop{Op: opMkdir, Path: missing[i]}); err != nil {
			return err
		}
	}
	return nil
}

// Lock implements vfs.FS.
func (fs *FS) Lock(name string) (io.Closer, error) { return vfs.Default.Lock(name) }

// List implements vfs.FS.
func (fs *FS) List(dirName string) ([]string, error) { return vfs.Default.List(dirName) }

// Stat implements vfs.FS: the size the process sees.
func (fs *FS) Stat(name string) (os.FileInfo, error) {
	name = filepath.Clean(name)
	fi, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if n := fs.inodes[name]; n != nil && n.dirty {
		return sizedInfo{fi, n.size}, nil
	}
	return fi, nil
}

// PathBase implements vfs.FS.
func (fs *FS) PathBase(p string) string { return filepath.Base(p) }

// PathJoin implements vfs.FS.
func (fs *FS) PathJoin(elem ...string) string { return filepath.Join(elem...) }

// PathDir implements vfs.FS.
func (fs *FS) PathDir(p string) string { return filepath.Dir(p) }

// GetDiskUsage implements vfs.FS.
func (fs *FS) GetDiskUsage(p string) (vfs.DiskUsage, error) { return vfs.Default.GetDiskUsage(p) }

// sizedInfo is a FileInfo with the size the process sees.
type sizedInfo struct {
	os.FileInfo
	size int64
}

func (s sizedInfo) Size() int64 { return s.size }

// file is an open file of the layer.
type file struct {
	fs         *FS
	n          *inode
	f          *os.File
	pos        int64
	appendMode bool
	readOnly   bool
}

// A file has no Fd method on purpose: pebble's syncing wrapper
// (vfs.NewSyncingFile, around every WAL and table it writes) would
// fdatasync the real descriptor itself and bypass Sync, so that pending
// data never reached the file and no EIO could be injected.

func (h *file) Close() error {
	h.fs.mu.Lock()
	h.fs.release(h.n)
	h.fs.mu.Unlock()
	return h.f.Close()
}

func (h *file) Read(p []byte) (int, error) {
	n, err := h.ReadAt(p, h.pos)
	h.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// ReadAt reads what the process sees: the real file under the pending
// extents.
func (h *file) ReadAt(p []byte, off int64) (int, error) {
	h.fs.mu.Lock()
	n := h.n
	if !n.dirty {
		// Nothing pending: a plain read, without holding the layer's lock
		// (pebble reads its tables concurrently).
		h.fs.mu.Unlock()
		return h.f.ReadAt(p, off)
	}
	defer h.fs.mu.Unlock()
	if off >= n.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), n.size-off)
	buf := p[:want]
	clear(buf)
	if !n.truncated && off < n.base {
		k := min(want, n.base-off)
		if _, err := h.f.ReadAt(buf[:k], off); err != nil && err != io.EOF {
			return 0, err
		}
	}
	for _, e := range n.ext {
		lo, hi := max(off, e.off), min(off+want, e.off+int64(len(e.data)))
		if lo < hi {
			copy(buf[lo-off:hi-off], e.data[lo-e.off:hi-e.off])
		}
	}
	if want < int64(len(p)) {
		return int(want), io.EOF
	}
	return int(want), nil
}

func (h *file) Seek(offset int64, whence int) (int64, error) {
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = h.pos
	case io.SeekEnd:
		fi, err := h.Stat()
		if err != nil {
			return 0, err
		}
		base = fi.Size()
	default:
		return 0, fmt.Errorf("paddock/faults: seek: bad whence %d", whence)
	}
	if base+offset < 0 {
		return 0, &os.PathError{Op: "seek", Path: h.n.path, Err: syscall.EINVAL}
	}
	h.pos = base + offset
	return h.pos, nil
}

func (h *file) Write(p []byte) (int, error) {
	off := h.pos
	if h.appendMode {
		fi, err := h.Stat()
		if err != nil {
			return 0, err
		}
		off = fi.Size()
	}
	n, err := h.WriteAt(p, off)
	h.pos = off + int64(n)
	return n, err
}

// WriteAt writes through to the real file, or (lose) keeps the data in
// memory until the file's fsync.
func (h *file) WriteAt(p []byte, off int64) (int, error) {
	if h.readOnly {
		return 0, &os.PathError{Op: "write", Path: h.n.path, Err: syscall.EBADF}
	}
	if h.fs.fault(enospc, h.n.path) {
		return 0, errNoSpace("write", h.n.path)
	}
	if !h.fs.lose {
		return h.f.WriteAt(p, off)
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	n := h.n
	if !n.dirty {
		fi, err := h.f.Stat()
		if err != nil {
			return 0, err
		}
		n.dirty, n.base, n.size = true, fi.Size(), fi.Size()
	}
	if k := len(n.ext); k > 0 && n.ext[k-1].off+int64(len(n.ext[k-1].data)) == off {
		n.ext[k-1].data = append(n.ext[k-1].data, p...) // an append: one extent
	} else {
		n.ext = append(n.ext, extent{off: off, data: append([]byte(nil), p...)})
	}
	n.size = max(n.size, off+int64(len(p)))
	return len(p), nil
}

func (h *file) Stat() (os.FileInfo, error) {
	fi, err := h.f.Stat()
	if err != nil {
		return nil, err
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.n.dirty {
		return sizedInfo{fi, h.n.size}, nil
	}
	return fi, nil
}

// Sync makes the file's data durable: the pending extents are written and
// the real file fsynced. An armed EIO fails it and, as Linux does after a
// failed writeback, drops what was pending: a later Sync succeeds with the
// data gone.
func (h *file) Sync() error {
	wal := h.fs.dirs.classify(h.n.path) == ClassWAL
	if wal && h.fs.hooks.LogSaveBefore != nil {
		h.fs.hooks.LogSaveBefore()
	}
	if h.fs.fault(eio, h.n.path) {
		h.fs.mu.Lock()
		if h.n.dirty {
			h.n.reset()
		}
		h.fs.mu.Unlock()
		return errIO("sync", h.n.path)
	}
	h.fs.mu.Lock()
	err := h.fs.flush(h.n, h.f)
	h.fs.mu.Unlock()
	if err != nil {
		return err
	}
	if wal && h.fs.hooks.LogSaveAfter != nil {
		h.fs.hooks.LogSaveAfter()
	}
	return nil
}

// flush writes n's pending state to f and fsyncs it; fs.mu is held.
func (fs *FS) flush(n *inode, f *os.File) error {
	if n.dirty {
		if n.truncated {
			if err := f.Truncate(0); err != nil {
				return err
			}
		}
		for _, e := range n.ext {
			if _, err := f.WriteAt(e.data, e.off); err != nil {
				return err
			}
		}
		n.reset()
		if n.refs <= 0 {
			delete(fs.inodes, n.path)
		}
	}
	return f.Sync()
}

// dir is an open directory: its Sync makes its entries durable.
type dir struct {
	fs   *FS
	name string
	f    *os.File
}

func (d *dir) Close() error                       { return d.f.Close() }
func (d *dir) Read([]byte) (int, error)           { return 0, d.notFile("read") }
func (d *dir) ReadAt([]byte, int64) (int, error)  { return 0, d.notFile("read") }
func (d *dir) Write([]byte) (int, error)          { return 0, d.notFile("write") }
func (d *dir) WriteAt([]byte, int64) (int, error) { return 0, d.notFile("write") }
func (d *dir) Seek(int64, int) (int64, error)     { return 0, d.notFile("seek") }
func (d *dir) Stat() (os.FileInfo, error)         { return d.f.Stat() }
func (d *dir) notFile(op string) error {
	return &os.PathError{Op: op, Path: d.name, Err: syscall.EISDIR}
}

func (d *dir) Sync() error {
	if d.fs.fault(eio, d.name) {
		return errIO("sync", d.name)
	}
	if err := d.f.Sync(); err != nil {
		return err
	}
	if d.fs.jr == nil {
		return nil
	}
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	return d.fs.jr.durable(d.name)
}

// pendingPaths lists the files holding unsynced data (tests).
func (fs *FS) pendingPaths() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []string
	for p, n := range fs.inodes {
		if n.dirty {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}
