// Package identity records which server of which ensemble a data directory
// belongs to, and refuses to start a server on a data directory that
// belongs to another.
//
// ZooKeeper identifies a server by dataDir/myid, a file the operator
// writes; the machine's hostname and address play no part, so a data
// directory may move between machines. Paddock does the same (the server
// id comes from myid), and at the first start records in the data
// directory's identity file (FileName) the server id and the ensemble id it
// was started with. Every later start compares them with the server's and
// refuses, with both in the message and nothing changed on disk, a data
// directory written by another server (a volume attached to the wrong
// member, a myid rewritten by provisioning) or by another ensemble.
//
// The ensemble id is an opaque word. A standalone server passes "" and
// keeps whatever the file records: a random id made at its first start. An
// ensemble member passes EnsembleID of the zoo.cfg's server.N ids, which
// every member derives alike; nothing in it depends on a hostname or an
// address, so a member keeps its identity when those change, as long as
// its server.N line names it. It tells apart ensembles of different
// members (and a standalone server's data from a member's), not two
// ensembles made of the same ids; and it changes with the set of members,
// which is fixed for now (adding and removing members is not built).
//
// A data directory written before this package existed has no identity
// file; its first start records the current one.
//
// The file is text, one key=value a line, written once, atomically (a
// temporary file, synced, renamed, then the directory synced):
//
//	# paddock data directory identity: written at the first start, checked at every start
//	serverId=1
//	ensembleId=standalone-6f1c0d2a9b3e4f5a
package identity

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// FileName is the identity file in the data directory. On-disk format.
const FileName = "paddock-identity"

// Identity is a server's place in an ensemble.
type Identity struct {
	ServerID   uint64
	EnsembleID string
}

// Result is what Check found or recorded.
type Result struct {
	Identity
	// Created is true when Check wrote the file (the first start).
	Created bool
}

// MismatchError refuses a data directory that belongs to another server or
// another ensemble.
type MismatchError struct {
	Dir      string
	Recorded Identity // what the data directory's file says
	Server   Identity // what the starting server is; EnsembleID "" in standalone
}

func (e *MismatchError) Error() string {
	if e.Recorded.ServerID != e.Server.ServerID {
		return fmt.Sprintf("paddock/identity: data directory %s belongs to server %d of ensemble %s, but this is server %d (myid): "+
			"refusing to start on another server's data (nothing was changed)",
			e.Dir, e.Recorded.ServerID, e.Recorded.EnsembleID, e.Server.ServerID)
	}
	return fmt.Sprintf("paddock/identity: data directory %s belongs to ensemble %s (server %d), but this server is in ensemble %s: "+
		"refusing to start on another ensemble's data (nothing was changed)",
		e.Dir, e.Recorded.EnsembleID, e.Recorded.ServerID, e.Server.EnsembleID)
}

// Check compares dataDir's identity file with serverID and ensembleID
// ("" in standalone: any recorded id is kept), and writes the file if the
// directory has none (with a new random ensemble id in standalone). A
// mismatch is a *MismatchError and changes nothing.
func Check(dataDir string, serverID uint64, ensembleID string) (Result, error) {
	if serverID == 0 {
		return Result{}, errors.New("paddock/identity: server id must be positive")
	}
	if ensembleID != "" && !validWord(ensembleID) {
		return Result{}, fmt.Errorf("paddock/identity: ensemble id %q: want letters, digits, '-', '_' or '.'", ensembleID)
	}
	path := filepath.Join(dataDir, FileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, iofs.ErrNotExist) {
		id := Identity{ServerID: serverID, EnsembleID: ensembleID}
		if id.EnsembleID == "" {
			var r [8]byte
			if _, err := rand.Read(r[:]); err != nil {
				return Result{}, fmt.Errorf("paddock/identity: %w", err)
			}
			id.EnsembleID = "standalone-" + hex.EncodeToString(r[:])
		}
		if err := write(dataDir, id); err != nil {
			return Result{}, err
		}
		return Result{Identity: id, Created: true}, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("paddock/identity: %w", err)
	}
	rec, err := parse(b)
	if err != nil {
		return Result{}, fmt.Errorf("paddock/identity: %s: %w", path, err)
	}
	if rec.ServerID != serverID || (ensembleID != "" && rec.EnsembleID != ensembleID) {
		return Result{}, &MismatchError{Dir: dataDir, Recorded: rec, Server: Identity{ServerID: serverID, EnsembleID: ensembleID}}
	}
	return Result{Identity: rec}, nil
}

// EnsembleID is the ensemble id of the members with these server ids:
// "servers-" then the ids in increasing order, joined by "-".
func EnsembleID(serverIDs []uint64) string {
	ids := slices.Clone(serverIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatUint(id, 10)
	}
	return "servers-" + strings.Join(parts, "-")
}

func validWord(s string) bool {
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return s != ""
}

func parse(b []byte) (Identity, error) {
	var id Identity
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return id, fmt.Errorf("line %d: want key=value", n)
		}
		if seen[k] {
			return id, fmt.Errorf("line %d: %s given twice", n, k)
		}
		seen[k] = true
		switch k {
		case "serverId":
			sid, err := strconv.ParseUint(v, 10, 63)
			if err != nil || sid == 0 {
				return id, fmt.Errorf("line %d: serverId %q is not a positive integer", n, v)
			}
			id.ServerID = sid
		case "ensembleId":
			if !validWord(v) {
				return id, fmt.Errorf("line %d: ensembleId %q", n, v)
			}
			id.EnsembleID = v
		default:
			return id, fmt.Errorf("line %d: unknown key %q", n, k)
		}
	}
	if id.ServerID == 0 || id.EnsembleID == "" {
		return id, errors.New("serverId and ensembleId are required")
	}
	return id, nil
}

func write(dataDir string, id Identity) error {
	path := filepath.Join(dataDir, FileName)
	tmp := path + ".tmp"
	body := fmt.Sprintf("# paddock data directory identity: written at the first start, checked at every start\n"+
		"serverId=%d\nensembleId=%s\n", id.ServerID, id.EnsembleID)
	err := func() error {
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := f.WriteString(body); err != nil {
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
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
		d, err := os.Open(dataDir)
		if err != nil {
			return err
		}
		err = d.Sync()
		if cerr := d.Close(); err == nil {
			err = cerr
		}
		return err
	}()
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("paddock/identity: writing %s: %w", path, err)
	}
	return nil
}
