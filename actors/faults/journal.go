package faults

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The journal of directory operations not yet durable (lose only). A
// create, mkdir, rename or remove takes effect on the real files at once
// (the process must see it), and is recorded here until an fsync of the
// directory that holds the new name; what it replaced or removed is moved
// aside (into the state directory's aside/, on the same file system) until
// then. Recover, at the next start, undoes what is still recorded, newest
// first: what a power loss would have left. The journal itself is written
// by rename after every change; it only has to outlive the process, not
// the machine. The process may die at any point (a crash point, SIGKILL),
// so a remove or a rename is journalled before it is done and Recover
// undoes whatever part of it was done, and what a directory's fsync made
// unneeded is deleted from aside/ only once the journal no longer holds
// it.

const (
	opCreate = "create" // Path was created
	opMkdir  = "mkdir"  // directory Path was created
	opRename = "rename" // Path was renamed to To; Backup holds what To was
	opRemove = "remove" // Path was removed; Backup holds it
)

type jop struct {
	Op     string `json:"op"`
	Path   string `json:"path"`
	To     string `json:"to,omitempty"`
	Backup string `json:"backup,omitempty"`
}

// dir is the directory whose fsync makes the operation durable.
func (o jop) dir() string {
	if o.Op == opRename {
		return filepath.Dir(o.To)
	}
	return filepath.Dir(o.Path)
}

type journal struct {
	path  string // the journal file
	aside string // where removed and replaced files wait
	ops   []jop
	seq   int
}

const (
	journalName = "journal"
	asideName   = "aside"
)

// openJournal starts an empty journal in stateDir; Recover must have
// emptied the previous one.
func openJournal(stateDir string) (*journal, error) {
	j := &journal{path: filepath.Join(stateDir, journalName), aside: filepath.Join(stateDir, asideName)}
	ops, err := readJournal(j.path)
	if err != nil {
		return nil, err
	}
	if len(ops) > 0 {
		return nil, fmt.Errorf("paddock/faults: %s holds %d operations: Recover it first", j.path, len(ops))
	}
	if err := os.MkdirAll(j.aside, 0o755); err != nil {
		return nil, err
	}
	return j, j.save()
}

func readJournal(path string) ([]jop, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ops []jop
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var o jop
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			return nil, fmt.Errorf("paddock/faults: %s:%d: %w", path, line, err)
		}
		switch o.Op {
		case opCreate, opMkdir, opRemove, opRename:
		default:
			return nil, fmt.Errorf("paddock/faults: %s:%d: unknown operation %q", path, line, o.Op)
		}
		ops = append(ops, o)
	}
	return ops, sc.Err()
}

func (j *journal) save() error {
	var b bytes.Buffer
	for _, o := range j.ops {
		line, err := json.Marshal(o)
		if err != nil {
			return err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	tmp := j.path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, j.path)
}

func (j *journal) add(o jop) error {
	j.ops = append(j.ops, o)
	return j.save()
}

func (j *journal) backupName() string {
	j.seq++
	return filepath.Join(j.aside, strconv.Itoa(j.seq))
}

// moveAside removes name by moving it aside. The journal is written
// first: a death between the two leaves an operation whose undo finds
// nothing to undo (Recover).
func (j *journal) moveAside(name string) error {
	o := jop{Op: opRemove, Path: name, Backup: j.backupName()}
	if err := j.add(o); err != nil {
		return err
	}
	if err := os.Rename(name, o.Backup); err != nil {
		j.ops = j.ops[:len(j.ops)-1]
		return errors.Join(err, j.save())
	}
	return nil
}

// rename renames, moving aside what newname was; the journal is written
// first, as in moveAside.
func (j *journal) rename(oldname, newname string) error {
	if oldname == newname {
		return os.Rename(oldname, newname) // nothing changes
	}
	o := jop{Op: opRename, Path: oldname, To: newname}
	fi, err := os.Lstat(newname)
	replaces := err == nil && !fi.IsDir()
	if replaces {
		o.Backup = j.backupName()
	}
	if err := j.add(o); err != nil {
		return err
	}
	undo := func(err error) error {
		j.ops = j.ops[:len(j.ops)-1]
		return errors.Join(err, j.save())
	}
	if replaces {
		if err := os.Rename(newname, o.Backup); err != nil {
			return undo(err)
		}
	}
	if err := os.Rename(oldname, newname); err != nil {
		if replaces {
			_ = os.Rename(o.Backup, newname)
		}
		return undo(err)
	}
	return nil
}

// durable forgets the operations that an fsync of dir made durable. A
// durable remove of a directory also settles the earlier operations below
// it (that subtree is gone for good), and a durable rename of one moves
// the earlier operations below it to the new name (undoing them happens
// there now).
func (j *journal) durable(dir string) error {
	var kept []jop
	var drop []string // backups no longer needed, deleted once the journal says so
	for _, o := range j.ops {
		if o.dir() != dir {
			kept = append(kept, o)
			continue
		}
		drop = append(drop, o.Backup)
		switch o.Op {
		case opRemove:
			var still []jop
			for _, e := range kept {
				if within(e.Path, o.Path) || e.To != "" && within(e.To, o.Path) {
					drop = append(drop, e.Backup)
					continue
				}
				still = append(still, e)
			}
			kept = still
		case opRename:
			for i := range kept {
				kept[i].Path = moved(kept[i].Path, o.Path, o.To)
				kept[i].To = moved(kept[i].To, o.Path, o.To)
			}
		}
	}
	if len(drop) == 0 {
		return nil
	}
	j.ops = kept
	if err := j.save(); err != nil {
		return err
	}
	for _, b := range drop {
		if b != "" {
			if err := os.RemoveAll(b); err != nil {
				return err
			}
		}
	}
	return nil
}

// moved is p after a rename of from to to.
func moved(p, from, to string) string {
	if p == "" || !within(p, from) {
		return p
	}
	return to + strings.TrimPrefix(p, from)
}

// Recover undoes, newest first, the directory operations that stateDir's
// journal still holds (a power loss took them), empties the journal and
// returns a line for each operation undone.
func Recover(stateDir string) ([]string, error) {
	path := filepath.Join(stateDir, journalName)
	ops, err := readJournal(path)
	if err != nil {
		return nil, err
	}
	var undone []string
	var errs []error
	for i := len(ops) - 1; i >= 0; i-- {
		o := ops[i]
		var err error
		switch o.Op {
		case opCreate:
			err = os.Remove(o.Path)
			if errors.Is(err, os.ErrNotExist) {
				err = nil
			}
		case opMkdir:
			err = os.RemoveAll(o.Path)
		case opRemove:
			// The process may have died after journalling the remove and
			// before doing it: then there is nothing to put back.
			if exists(o.Backup) {
				err = os.Rename(o.Backup, o.Path)
			}
		case opRename:
			// Likewise, any prefix of: what To was moved aside, Path
			// renamed to To.
			if !exists(o.Path) && exists(o.To) {
				err = os.Rename(o.To, o.Path)
			}
			if err == nil && o.Backup != "" && exists(o.Backup) {
				err = os.Rename(o.Backup, o.To)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("undo %s %s: %w", o.Op, o.Path, err))
			continue
		}
		line := o.Op + " " + o.Path
		if o.To != "" {
			line += " -> " + o.To
		}
		undone = append(undone, line)
	}
	if len(errs) > 0 {
		// Kept as they are, for whoever finds out why (the start fails).
		return undone, fmt.Errorf("paddock/faults: %s and %s kept: %w", path, filepath.Join(stateDir, asideName), errors.Join(errs...))
	}
	if err := os.RemoveAll(filepath.Join(stateDir, asideName)); err != nil {
		return undone, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return undone, err
	}
	return undone, nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
