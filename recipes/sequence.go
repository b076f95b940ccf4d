package recipes

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// This file holds the helpers every recipe built on sequential nodes
// shares: the sequence suffix, sorting children by it, and the protected
// create (Curator's technique: a unique id in the node's name, so that a
// create whose reply was lost is recovered by finding the node again).

// seqDigits is the width of the sequence suffix ZooKeeper appends to a
// sequential node's name (%010d of the parent's cversion).
const seqDigits = 10

// protectedPrefix starts the name of every protected node, as in
// Curator's CreateBuilderImpl: "_c_" + guid + "-" + the node's own name.
const protectedPrefix = "_c_"

// protectedLen is the length of "_c_" + guid + "-".
const protectedLen = len(protectedPrefix) + 36 + 1

// parseSeq returns the sequence number at the end of a sequential node's
// name: its last ten characters, if they are all digits.
func parseSeq(name string) (int64, bool) {
	if len(name) < seqDigits {
		return 0, false
	}
	tail := name[len(name)-seqDigits:]
	for i := 0; i < len(tail); i++ {
		if tail[i] < '0' || tail[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(tail, 10, 64)
	return n, err == nil
}

// seqNode is a child with a sequence suffix.
type seqNode struct {
	Name string
	Seq  int64
}

// sortBySeq keeps the children whose names end in a sequence number and
// sorts them by it, whatever precedes it: Curator's "_c_<guid>-lock-",
// kazoo's "<hex>__lock__" and Curator's "__READ__"/"__WRIT__" nodes sort
// together. Children of one parent never share a sequence number; names
// break ties anyway, so that the order is total.
func sortBySeq(children []string) []seqNode {
	out := make([]seqNode, 0, len(children))
	for _, name := range children {
		if seq, ok := parseSeq(name); ok {
			out = append(out, seqNode{name, seq})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Seq != out[j].Seq {
			return out[i].Seq < out[j].Seq
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// indexOf returns the index of the node named name in nodes, or -1.
func indexOf(nodes []seqNode, name string) int {
	for i, n := range nodes {
		if n.Name == name {
			return i
		}
	}
	return -1
}

// newGUID returns a random (version 4) UUID in its canonical text form,
// the id Curator puts in a protected node's name.
func newGUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("recipes: crypto/rand: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// findProtected returns the child whose name starts with the protected
// prefix of guid ("_c_" + guid), if one does.
func findProtected(children []string, guid string) (string, bool) {
	p := protectedPrefix + guid
	for _, name := range children {
		if strings.HasPrefix(name, p) {
			return name, true
		}
	}
	return "", false
}

// createFunc is the create a recipe uses; tests replace it to lose a
// reply.
type createFunc func(ctx context.Context, path string, data []byte, mode wire.CreateMode) (string, error)

func connCreate(c *client.Conn) createFunc {
	return func(ctx context.Context, path string, data []byte, mode wire.CreateMode) (string, error) {
		return c.Create(ctx, path, data, mode, nil)
	}
}

// protectedCreate creates one protected node, dir/_c_<guid>-<base>
// (Curator's protected mode), and recovers a create whose reply was lost:
// after a create that failed with connection loss, and before creating
// again, it looks for a child of dir carrying guid (after a sync, so that
// the listing sees that create if it was applied) and uses it if there is
// one. Every recipe that creates sequential nodes makes them with it.
type protectedCreate struct {
	c    *client.Conn
	dir  string
	base string // the node's name after the guid, e.g. "lock-"
	data []byte
	mode wire.CreateMode
	guid string
	send createFunc // the Conn's Create; tests replace it to lose a reply

	// tried is set once a create was sent: from then on the node may
	// exist and is looked for before creating again.
	tried bool
}

func newProtectedCreate(c *client.Conn, dir, base string, data []byte, mode wire.CreateMode) *protectedCreate {
	return &protectedCreate{c: c, dir: dir, base: base, data: data, mode: mode, guid: newGUID(), send: connCreate(c)}
}

// name is the node's name before its sequence suffix.
func (p *protectedCreate) name() string { return protectedPrefix + p.guid + "-" + p.base }

// find looks for the node among dir's children and returns its path.
func (p *protectedCreate) find(ctx context.Context) (string, bool, error) {
	err := syncPath(ctx, p.c, p.dir)
	if err != nil && !errors.Is(err, wire.ErrNoNode) {
		return "", false, err
	}
	children, err := getChildren(ctx, p.c, p.dir)
	if errors.Is(err, wire.ErrNoNode) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	name, ok := findProtected(children, p.guid)
	if !ok {
		return "", false, nil
	}
	return p.dir + "/" + name, true, nil
}

// create returns the node's path, creating it (and dir) if needed. It
// waits through connection loss within ctx. Called again (the node was
// deleted since), it makes a new node with the same guid.
func (p *protectedCreate) create(ctx context.Context) (string, error) {
	for {
		if p.tried {
			path, ok, err := p.find(ctx)
			if err != nil {
				return "", err
			}
			if ok {
				return path, nil
			}
		}
		p.tried = true
		path, err := p.send(ctx, p.dir+"/"+p.name(), p.data, p.mode)
		switch {
		case err == nil:
			return path, nil
		case errors.Is(err, wire.ErrNoNode):
			if err := ensurePath(ctx, p.c, p.dir); err != nil {
				return "", err
			}
		case isConnLoss(err):
			// Applied or not: find tells, before sending again.
			if err := ctx.Err(); err != nil {
				return "", err
			}
		default:
			return "", err
		}
	}
}

// remove deletes the node if it exists, waiting through connection loss
// within ctx. With path "", the node is found by its guid: after a create
// that failed, perhaps only after it was applied (its ctx ended while the
// reply was on its way).
func (p *protectedCreate) remove(ctx context.Context, path string) error {
	if path == "" {
		if !p.tried {
			return nil
		}
		found, ok, err := p.find(ctx)
		if err != nil || !ok {
			return err
		}
		path = found
	}
	return deleteNode(ctx, p.c, path)
}
