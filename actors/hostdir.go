package actors

// A data directory that outlives its machine's name.
//
// Dragonboat keeps a NodeHost's data under <NodeHostDir>/<hostname>/<deployment
// id>/... and its WAL under <WALDir>/<hostname>/..., records the hostname in
// the flag file <dir>/dragonboat.ds of both directories, and refuses to start
// under another os.Hostname() ("hostname changed"), after creating a second,
// empty tree named after the new hostname. It has no setting for either. A
// container re-created on the same volume (Docker names it after its id), a
// VM restored on another host and a backup restored on new hardware all
// change the hostname; a ZooKeeper data directory does not care.
//
// A wrapping file system (config.ExpertConfig.FS) cannot help: dragonboat's
// default LogDB panics on any FS but its own ("invalid fs"), and that LogDB's
// factory is internal. So prepareHostDirs, before dragonboat starts, makes
// the directories say what dragonboat expects, in each of the two:
//
//   - The data lives in the tree hostDirName ("paddock"). <hostname> is a
//     symbolic link to it, made at the first start under each hostname;
//     links from earlier hostnames stay (the log DB records a snapshot's
//     path, which names the hostname of the day it was taken).
//   - The flag file names the current hostname: rewritten (atomically, all
//     its other fields kept) when the machine's name changed. Every other
//     check dragonboat makes of it (Raft address, LogDB type and format,
//     hard settings) is unchanged.
//   - A directory written by the previous layout (the tree is named after
//     the hostname its flag file names) is taken over where it is:
//     hostDirName becomes a link to that tree, once, with a log line.
//   - A real directory named after the current hostname that is not the
//     tree (what a refused start of an older paddock leaves: empty LogDB
//     files) is renamed aside, with a warning, so that the link can be made.
//
// Everything is inspected first and refused, with nothing changed, if it is
// not one of these shapes. The steps are each atomic and idempotent (a
// crash between them is finished by the next start), and the data
// directory stays a valid dragonboat directory for the current hostname.
// This runs before dragonboat locks the directories: a second process
// started under another hostname on a directory in use rewrites the flag
// file before dragonboat refuses it ("failed to lock data directory"); the
// running one is not affected (it read the flag file at its start), and its
// next start rewrites the flag file back.
// TestHostDirKnowsDragonboatLayout fails if a dragonboat upgrade changes the
// layout or the flag file format this relies on.

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lni/dragonboat/v4/raftpb"
)

const (
	// hostDirName is the tree that holds the data under the NodeHost and
	// WAL directories. On-disk format: changing it orphans every data
	// directory written since.
	hostDirName = "paddock"
	// flagFileName is dragonboat's flag file (internal/server).
	flagFileName = "dragonboat.ds"
	// flagTempSuffix names the flag file being rewritten.
	flagTempSuffix = ".paddock-tmp"
	// asideSuffix is added (with a time) to a directory moved aside.
	asideSuffix = ".unused-"
)

// hostDirPlan is what prepareHostDirs does in one directory.
type hostDirPlan struct {
	dir     string
	flag    *raftpb.RaftDataStatus // nil without a flag file
	mkTree  bool                   // create dir/hostDirName
	adopt   string                 // link hostDirName to this tree of the previous layout
	aside   bool                   // rename dir/<hostname> aside
	link    bool                   // link dir/<hostname> to hostDirName
	rewrite bool                   // the flag file names another hostname
}

// hostDirReport is what prepareHostDirs did worth a log line.
type hostDirReport struct {
	// tookOver is the previous layout's tree name (the hostname it was
	// written under) if this start took it over, with its directories.
	tookOver     string
	tookOverDirs []string
	// renamed is a hostname the data was last served under, if it changed.
	renamed string
	// aside lists directories moved aside.
	aside []string
}

// prepareHostDirs readies the NodeHost and WAL directories for dragonboat
// under the current hostname (see the top of the file).
func prepareHostDirs(dirs ...string) (hostDirReport, error) {
	var rep hostDirReport
	host, err := os.Hostname()
	if err != nil {
		return rep, fmt.Errorf("paddock/actors: hostname: %w", err)
	}
	plans := make([]hostDirPlan, 0, len(dirs))
	for _, d := range dirs {
		p, err := planHostDir(d, host)
		if err != nil {
			return rep, err
		}
		plans = append(plans, p)
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	for _, p := range plans {
		if err := p.apply(host, stamp); err != nil {
			return rep, err
		}
		if p.adopt != "" {
			rep.tookOver = p.adopt
			rep.tookOverDirs = append(rep.tookOverDirs, p.dir)
		}
		if p.rewrite {
			rep.renamed = p.flag.Hostname
		}
		if p.aside {
			rep.aside = append(rep.aside, filepath.Join(p.dir, host+asideSuffix+stamp))
		}
	}
	return rep, nil
}

// planHostDir inspects dir and changes nothing.
func planHostDir(dir, host string) (hostDirPlan, error) {
	p := hostDirPlan{dir: dir}
	flagPath := filepath.Join(dir, flagFileName)
	b, err := os.ReadFile(flagPath)
	switch {
	case errors.Is(err, iofs.ErrNotExist):
	case err != nil:
		return p, fmt.Errorf("paddock/actors: %w", err)
	default:
		if p.flag, err = decodeFlag(b); err != nil {
			return p, fmt.Errorf("paddock/actors: %s: %w", flagPath, err)
		}
		p.rewrite = p.flag.Hostname != host
	}

	tree := filepath.Join(dir, hostDirName)
	treeInfo, err := os.Stat(tree)
	switch {
	case err == nil && !treeInfo.IsDir():
		return p, fmt.Errorf("paddock/actors: %s is not a directory", tree)
	case errors.Is(err, iofs.ErrNotExist):
		if p.flag == nil {
			p.mkTree = true
			break
		}
		// The previous layout: the tree is named after the hostname the
		// flag file names.
		old := p.flag.Hostname
		if old == "" || old == "." || old == ".." || strings.ContainsRune(old, filepath.Separator) {
			return p, fmt.Errorf("paddock/actors: %s names no data tree (hostname %q)", flagPath, old)
		}
		oldInfo, err := os.Stat(filepath.Join(dir, old))
		if err != nil || !oldInfo.IsDir() {
			return p, fmt.Errorf("paddock/actors: %s names the data tree %q, but %s is not a directory",
				flagPath, old, filepath.Join(dir, old))
		}
		p.adopt, treeInfo = old, oldInfo
	case err != nil:
		return p, fmt.Errorf("paddock/actors: %w", err)
	}

	if host == hostDirName {
		return p, nil // the tree itself is named after the host
	}
	hostInfo, err := os.Stat(filepath.Join(dir, host))
	switch {
	case errors.Is(err, iofs.ErrNotExist):
		if _, lerr := os.Lstat(filepath.Join(dir, host)); lerr == nil {
			p.aside = true // a dangling link
		}
		p.link = true
	case err != nil:
		return p, fmt.Errorf("paddock/actors: %w", err)
	case treeInfo != nil && os.SameFile(hostInfo, treeInfo):
		// Already the tree (a link made earlier, or the previous layout
		// under this same hostname).
	default:
		p.aside, p.link = true, true
	}
	return p, nil
}

// apply makes the changes p planned, each atomic, then syncs the directory.
func (p hostDirPlan) apply(host, stamp string) error {
	changed := p.mkTree || p.adopt != "" || p.aside || p.link || p.rewrite
	if !changed {
		return nil
	}
	if err := os.MkdirAll(p.dir, 0o750); err != nil {
		return fmt.Errorf("paddock/actors: %w", err)
	}
	if p.mkTree {
		if err := os.Mkdir(filepath.Join(p.dir, hostDirName), 0o750); err != nil {
			return fmt.Errorf("paddock/actors: %w", err)
		}
	}
	if p.adopt != "" {
		if err := os.Symlink(p.adopt, filepath.Join(p.dir, hostDirName)); err != nil {
			return fmt.Errorf("paddock/actors: taking over %s: %w", filepath.Join(p.dir, p.adopt), err)
		}
	}
	hostPath := filepath.Join(p.dir, host)
	if p.aside {
		if err := os.Rename(hostPath, hostPath+asideSuffix+stamp); err != nil {
			return fmt.Errorf("paddock/actors: %w", err)
		}
	}
	if p.link {
		if err := os.Symlink(hostDirName, hostPath); err != nil {
			return fmt.Errorf("paddock/actors: %w", err)
		}
	}
	if p.rewrite {
		st := *p.flag
		st.Hostname = host
		if err := writeFlag(p.dir, &st); err != nil {
			return err
		}
	}
	return syncDir(p.dir)
}

// writeFlag replaces dir's flag file atomically (a new file, synced, then
// renamed over the old one).
func writeFlag(dir string, st *raftpb.RaftDataStatus) error {
	path := filepath.Join(dir, flagFileName)
	tmp := path + flagTempSuffix
	err := func() error {
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
		if err != nil {
			return err
		}
		if _, err := f.Write(encodeFlag(st)); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Rename(tmp, path)
	}()
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("paddock/actors: rewriting %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("paddock/actors: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("paddock/actors: sync %s: %w", dir, err)
	}
	return nil
}

// The flag file, as dragonboat's fileutil.CreateFlagFile writes it: the
// second half of the MD5 of the payload, then the payload, a marshalled
// raftpb.RaftDataStatus.
const flagHashLen = 8

var errFlagFormat = errors.New("not a dragonboat flag file this paddock knows (dragonboat upgraded?)")

func decodeFlag(b []byte) (*raftpb.RaftDataStatus, error) {
	if len(b) < flagHashLen {
		return nil, errFlagFormat
	}
	sum := md5.Sum(b[flagHashLen:])
	if !bytes.Equal(b[:flagHashLen], sum[len(sum)-flagHashLen:]) {
		return nil, errFlagFormat
	}
	var st raftpb.RaftDataStatus
	if err := st.Unmarshal(b[flagHashLen:]); err != nil {
		return nil, fmt.Errorf("%w: %v", errFlagFormat, err)
	}
	return &st, nil
}

func encodeFlag(st *raftpb.RaftDataStatus) []byte {
	payload := raftpb.MustMarshal(st)
	sum := md5.Sum(payload)
	return append(slices.Clip(sum[len(sum)-flagHashLen:]), payload...)
}
