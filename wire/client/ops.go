package client

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"time"

	"github.com/paddockdb/paddock/wire"
)

// AnyVersion matches every version in Delete, Set, SetACL and CheckOp.
const AnyVersion int32 = -1

func aclOrWorld(acl []wire.ACL) []wire.ACL {
	if acl == nil {
		return wire.WorldACL
	}
	return acl
}

// Create creates a znode (opcode create) and returns its path, which
// carries the sequence suffix for sequential modes. A nil acl means
// wire.WorldACL. Container and TTL modes go through CreateContainer and
// CreateTTL.
func (c *Conn) Create(ctx context.Context, path string, data []byte, mode wire.CreateMode, acl []wire.ACL) (string, error) {
	if mode.Container() || mode.TTL() || !mode.Valid() {
		return "", wire.ErrBadArguments
	}
	if err := validatePath(path, mode.Sequential()); err != nil {
		return "", err
	}
	var resp wire.CreateResponse
	if err := c.call(ctx, wire.OpCreate, &wire.CreateRequest{Path: path, Data: data, ACL: aclOrWorld(acl), Flags: mode}, &resp, nil); err != nil {
		// The reply may still be decoded into resp when ctx ended first.
		return "", err
	}
	return resp.Path, nil
}

// Create2 is Create returning the new znode's Stat (opcode create2).
// Container mode is sent as createContainer; TTL modes need CreateTTL.
func (c *Conn) Create2(ctx context.Context, path string, data []byte, mode wire.CreateMode, acl []wire.ACL) (string, wire.Stat, error) {
	if mode.TTL() || !mode.Valid() {
		return "", wire.Stat{}, wire.ErrBadArguments
	}
	if err := validatePath(path, mode.Sequential()); err != nil {
		return "", wire.Stat{}, err
	}
	op := wire.OpCreate2
	if mode.Container() {
		op = wire.OpCreateContainer
	}
	var resp wire.Create2Response
	if err := c.call(ctx, op, &wire.CreateRequest{Path: path, Data: data, ACL: aclOrWorld(acl), Flags: mode}, &resp, nil); err != nil {
		// The reply may still be decoded into resp when ctx ended first.
		return "", wire.Stat{}, err
	}
	return resp.Path, resp.Stat, nil
}

// CreateContainer creates a container znode: the server deletes it some
// time after its last child is gone.
func (c *Conn) CreateContainer(ctx context.Context, path string, data []byte, acl []wire.ACL) (string, wire.Stat, error) {
	return c.Create2(ctx, path, data, wire.ModeContainer, acl)
}

// CreateTTL creates a persistent znode (mode ModePersistentWithTTL or
// ModePersistentSequentialWithTTL) that the server deletes once it has gone
// unmodified and childless for ttl. The server must have
// extendedTypesEnabled=true, else the call fails with ErrUnimplemented.
func (c *Conn) CreateTTL(ctx context.Context, path string, data []byte, mode wire.CreateMode, acl []wire.ACL, ttl time.Duration) (string, wire.Stat, error) {
	if !mode.TTL() {
		return "", wire.Stat{}, wire.ErrBadArguments
	}
	if err := validatePath(path, mode.Sequential()); err != nil {
		return "", wire.Stat{}, err
	}
	var resp wire.Create2Response
	req := &wire.CreateRequest{Path: path, Data: data, ACL: aclOrWorld(acl), Flags: mode, TTL: ttl.Milliseconds(), HasTTL: true}
	if err := c.call(ctx, wire.OpCreateTTL, req, &resp, nil); err != nil {
		// The reply may still be decoded into resp when ctx ended first.
		return "", wire.Stat{}, err
	}
	return resp.Path, resp.Stat, nil
}

// Delete deletes a znode if its version matches (AnyVersion matches all).
func (c *Conn) Delete(ctx context.Context, path string, version int32) error {
	return c.call(ctx, wire.OpDelete, &wire.PathVersionRequest{Path: path, Version: version}, nil, nil)
}

// Exists reports whether a znode exists and returns its Stat.
func (c *Conn) Exists(ctx context.Context, path string) (bool, wire.Stat, error) {
	ok, st, _, err := c.exists(ctx, path, false)
	return ok, st, err
}

// ExistsW is Exists that also sets a one-shot watch, even when the node
// does not exist: the channel receives NodeCreated, NodeDeleted or
// NodeDataChanged once, then is closed.
func (c *Conn) ExistsW(ctx context.Context, path string) (bool, wire.Stat, <-chan Event, error) {
	return c.exists(ctx, path, true)
}

func (c *Conn) exists(ctx context.Context, path string, watch bool) (bool, wire.Stat, <-chan Event, error) {
	var resp wire.StatResponse
	var ch chan Event
	var hook func(wire.Code)
	if watch {
		ch = make(chan Event, 1)
		hook = func(code wire.Code) {
			switch code {
			case wire.Ok:
				c.addWatch(path, kindData, ch)
			case wire.ErrNoNode:
				c.addWatch(path, kindExist, ch)
			}
		}
	}
	err := c.call(ctx, wire.OpExists, &wire.PathWatchRequest{Path: path, Watch: watch}, &resp, hook)
	if errors.Is(err, wire.ErrNoNode) {
		return false, wire.Stat{}, ch, nil
	}
	if err != nil {
		return false, wire.Stat{}, nil, err
	}
	return true, resp.Stat, ch, nil
}

// Get returns a znode's data and Stat.
func (c *Conn) Get(ctx context.Context, path string) ([]byte, wire.Stat, error) {
	data, st, _, err := c.get(ctx, path, false)
	return data, st, err
}

// GetW is Get that also sets a one-shot data watch (NodeDataChanged or
// NodeDeleted).
func (c *Conn) GetW(ctx context.Context, path string) ([]byte, wire.Stat, <-chan Event, error) {
	return c.get(ctx, path, true)
}

func (c *Conn) get(ctx context.Context, path string, watch bool) ([]byte, wire.Stat, <-chan Event, error) {
	var resp wire.GetDataResponse
	ch, hook := c.oneShot(path, kindData, watch)
	if err := c.call(ctx, wire.OpGetData, &wire.PathWatchRequest{Path: path, Watch: watch}, &resp, hook); err != nil {
		return nil, wire.Stat{}, nil, err
	}
	return resp.Data, resp.Stat, ch, nil
}

func (c *Conn) oneShot(path string, k watchKind, watch bool) (chan Event, func(wire.Code)) {
	if !watch {
		return nil, nil
	}
	ch := make(chan Event, 1)
	return ch, func(code wire.Code) {
		if code == wire.Ok {
			c.addWatch(path, k, ch)
		}
	}
}

// Set sets a znode's data if its version matches.
func (c *Conn) Set(ctx context.Context, path string, data []byte, version int32) (wire.Stat, error) {
	var resp wire.StatResponse
	if err := c.call(ctx, wire.OpSetData, &wire.SetDataRequest{Path: path, Data: data, Version: version}, &resp, nil); err != nil {
		// The reply may still be decoded into resp when ctx ended first.
		return wire.Stat{}, err
	}
	return resp.Stat, nil
}

// GetACL returns a znode's ACL and Stat.
func (c *Conn) GetACL(ctx context.Context, path string) ([]wire.ACL, wire.Stat, error) {
	var resp wire.GetACLResponse
	if err := c.call(ctx, wire.OpGetACL, &wire.PathRequest{Path: path}, &resp, nil); err != nil {
		// The reply may still be decoded into resp when ctx ended first.
		return nil, wire.Stat{}, err
	}
	return resp.ACL, resp.Stat, nil
}

// SetACL sets a znode's ACL if its ACL version matches.
func (c *Conn) SetACL(ctx context.Context, path string, acl []wire.ACL, version int32) (wire.Stat, error) {
	var resp wire.StatResponse
	if err := c.call(ctx, wire.OpSetACL, &wire.SetACLRequest{Path: path, ACL: acl, Version: version}, &resp, nil); err != nil {
		// The reply may still be decoded into resp when ctx ended first.
		return wire.Stat{}, err
	}
	return resp.Stat, nil
}

// Children returns the names of a znode's children (opcode getChildren).
func (c *Conn) Children(ctx context.Context, path string) ([]string, error) {
	var resp wire.ChildrenResponse
	if err := c.call(ctx, wire.OpGetChildren, &wire.PathWatchRequest{Path: path}, &resp, nil); err != nil {
		// The reply may still be decoded into resp when ctx ended first.
		return nil, err
	}
	return resp.Children, nil
}

// Children2 returns a znode's children and its Stat (getChildren2).
func (c *Conn) Children2(ctx context.Context, path string) ([]string, wire.Stat, error) {
	children, st, _, err := c.children2(ctx, path, false)
	return children, st, err
}

// ChildrenW is Children2 that also sets a one-shot child watch
// (NodeChildrenChanged or NodeDeleted).
func (c *Conn) ChildrenW(ctx context.Context, path string) ([]string, wire.Stat, <-chan Event, error) {
	return c.children2(ctx, path, true)
}

func (c *Conn) children2(ctx context.Context, path string, watch bool) ([]string, wire.Stat, <-chan Event, error) {
	var resp wire.Children2Response
	ch, hook := c.oneShot(path, kindChild, watch)
	if err := c.call(ctx, wire.OpGetChildren2, &wire.PathWatchRequest{Path: path, Watch: watch}, &resp, hook); err != nil {
		return nil, wire.Stat{}, nil, err
	}
	return resp.Children, resp.Stat, ch, nil
}

// Sync makes the server this session is connected to catch up with the
// leader before the session's next read; it returns the path.
func (c *Conn) Sync(ctx context.Context, path string) (string, error) {
	var resp wire.SyncResponse
	if err := c.call(ctx, wire.OpSync, &wire.PathRequest{Path: path}, &resp, nil); err != nil {
		// The reply may still be decoded into resp when ctx ended first.
		return "", err
	}
	return resp.Path, nil
}

// GetAllChildrenNumber returns the number of descendants of a znode.
func (c *Conn) GetAllChildrenNumber(ctx context.Context, path string) (int32, error) {
	var resp wire.CountResponse
	if err := c.call(ctx, wire.OpGetAllChildrenNumber, &wire.PathRequest{Path: path}, &resp, nil); err != nil {
		// The reply may still be decoded into resp when ctx ended first.
		return 0, err
	}
	return resp.Count, nil
}

// GetEphemerals returns the paths of this session's ephemeral znodes that
// start with prefix ("/" for all).
func (c *Conn) GetEphemerals(ctx context.Context, prefix string) ([]string, error) {
	var resp wire.ChildrenResponse
	if err := c.call(ctx, wire.OpGetEphemerals, &wire.PathRequest{Path: prefix}, &resp, nil); err != nil {
		// The reply may still be decoded into resp when ctx ended first.
		return nil, err
	}
	return resp.Children, nil
}

// AddWatch adds a persistent (wire.WatchPersistent) or persistent
// recursive (wire.WatchPersistentRecursive) watch. Its channel receives
// every event until RemoveWatches removes it (the last event is then
// PersistentWatchRemoved) or the session ends; then it is closed. A
// recursive watch never receives NodeChildrenChanged.
func (c *Conn) AddWatch(ctx context.Context, path string, mode wire.AddWatchMode) (<-chan Event, error) {
	k := kindPersistent
	switch mode {
	case wire.WatchPersistent:
	case wire.WatchPersistentRecursive:
		k = kindRecursive
	default:
		return nil, wire.ErrBadArguments
	}
	ch := make(chan Event, max(c.cfg.eventBuffer, 1))
	hook := func(code wire.Code) {
		if code == wire.Ok {
			c.addWatch(path, k, ch)
		}
	}
	if err := c.call(ctx, wire.OpAddWatch, &wire.AddWatchRequest{Path: path, Mode: mode}, nil, hook); err != nil {
		return nil, err
	}
	return ch, nil
}

// RemoveWatches removes this session's watches of type t on path, on the
// server and here. Each removed watch's channel then receives
// DataWatchRemoved, ChildWatchRemoved or PersistentWatchRemoved and is
// closed; the same events appear on Events. The server answers
// ErrNoWatcher when there is no such watch.
func (c *Conn) RemoveWatches(ctx context.Context, path string, t wire.WatcherType) error {
	hook := func(code wire.Code) {
		if code == wire.Ok {
			c.removeLocal(path, t)
		}
	}
	return c.call(ctx, wire.OpRemoveWatches, &wire.WatchesRequest{Path: path, Type: t}, nil, hook)
}

// CheckWatches asks the server whether this session has a watch of type t
// on path: nil if so, ErrNoWatcher if not.
func (c *Conn) CheckWatches(ctx context.Context, path string, t wire.WatcherType) error {
	return c.call(ctx, wire.OpCheckWatches, &wire.WatchesRequest{Path: path, Type: t}, nil, nil)
}

// AddAuth adds an identity to the session (e.g. scheme "digest", auth
// "user:password"). It is sent again after every reconnect. A server that
// rejects it ends the session's connection: the call returns
// ErrAuthFailed, Events gets StateAuthFailed and every later call fails
// with ErrAuthFailed.
func (c *Conn) AddAuth(ctx context.Context, scheme string, auth []byte) error {
	a := authInfo{scheme: scheme, auth: append([]byte(nil), auth...)}
	hook := func(code wire.Code) {
		if code == wire.Ok {
			c.mu.Lock()
			c.auths = append(c.auths, a)
			c.mu.Unlock()
		}
	}
	return c.call(ctx, wire.OpAuth, &wire.AuthPacket{Scheme: scheme, Auth: a.auth}, nil, hook)
}

// WhoAmI returns the identities the server has for this session.
func (c *Conn) WhoAmI(ctx context.Context) ([]wire.ClientInfo, error) {
	var resp wire.WhoAmIResponse
	if err := c.call(ctx, wire.OpWhoAmI, nil, &resp, nil); err != nil {
		// The reply may still be decoded into resp when ctx ended first.
		return nil, err
	}
	return resp.ClientInfo, nil
}

// Reconfig asks for a dynamic reconfiguration: incremental (joining,
// leaving: comma-separated server specs and ids) or bulk (newMembers).
// fromConfig is the expected current config version, -1 for any. It
// returns the new configuration. A server with reconfigEnabled=false
// answers ErrReconfigDisabled.
func (c *Conn) Reconfig(ctx context.Context, joining, leaving, newMembers string, fromConfig int64) ([]byte, wire.Stat, error) {
	var resp wire.GetDataResponse
	req := &wire.ReconfigRequest{JoiningServers: joining, LeavingServers: leaving, NewMembers: newMembers, CurConfigID: fromConfig}
	if err := c.call(ctx, wire.OpReconfig, req, &resp, nil); err != nil {
		// The reply may still be decoded into resp when ctx ended first.
		return nil, wire.Stat{}, err
	}
	return resp.Data, resp.Stat, nil
}

// Multi runs write ops (CreateOp, DeleteOp, SetDataOp, CheckOp) as one
// all-or-nothing transaction. It always returns one result per op when the
// server answered: on failure the error is the failing op's code, that
// op's result has Type wire.OpError and its Err, the ops before it
// Err Ok and those after it ErrRuntimeInconsistency, as in ZooKeeper.
func (c *Conn) Multi(ctx context.Context, ops ...wire.MultiOp) ([]wire.MultiResult, error) {
	var resp wire.MultiResponse
	call := c.submit(ctx, wire.OpMulti, &wire.MultiRequest{Ops: ops}, &resp, nil)
	if err := call.Wait(ctx); err != nil {
		select {
		case <-call.Done: // answered: the results say which op failed
			return resp.Results, err
		default: // ctx ended first: the reply may still be decoded into resp
			return nil, err
		}
	}
	for _, r := range resp.Results {
		if r.Type == wire.OpError && r.Err != wire.Ok {
			return resp.Results, r.Err
		}
	}
	return resp.Results, nil
}

// MultiRead runs read ops (GetDataOp, GetChildrenOp) independently: each
// result has its own data or Err (Type wire.OpError). The error is only
// for the request as a whole.
func (c *Conn) MultiRead(ctx context.Context, ops ...wire.MultiOp) ([]wire.MultiResult, error) {
	var resp wire.MultiResponse
	if err := c.call(ctx, wire.OpMultiRead, &wire.MultiRequest{Ops: ops}, &resp, nil); err != nil {
		// The reply may still be decoded into resp when ctx ended first.
		return nil, err
	}
	return resp.Results, nil
}

// CreateOp is a create in a Multi; a nil acl means wire.WorldACL. Its
// result carries the created path (opcode create).
func CreateOp(path string, data []byte, mode wire.CreateMode, acl []wire.ACL) wire.MultiOp {
	return wire.MultiOp{Type: wire.OpCreate, Body: &wire.CreateRequest{Path: path, Data: data, ACL: aclOrWorld(acl), Flags: mode}}
}

// DeleteOp is a delete in a Multi.
func DeleteOp(path string, version int32) wire.MultiOp {
	return wire.MultiOp{Type: wire.OpDelete, Body: &wire.PathVersionRequest{Path: path, Version: version}}
}

// SetDataOp is a setData in a Multi.
func SetDataOp(path string, data []byte, version int32) wire.MultiOp {
	return wire.MultiOp{Type: wire.OpSetData, Body: &wire.SetDataRequest{Path: path, Data: data, Version: version}}
}

// CheckOp checks a znode's version in a Multi.
func CheckOp(path string, version int32) wire.MultiOp {
	return wire.MultiOp{Type: wire.OpCheck, Body: &wire.PathVersionRequest{Path: path, Version: version}}
}

// GetDataOp is a getData in a MultiRead.
func GetDataOp(path string) wire.MultiOp {
	return wire.MultiOp{Type: wire.OpGetData, Body: &wire.PathWatchRequest{Path: path}}
}

// GetChildrenOp is a getChildren in a MultiRead.
func GetChildrenOp(path string) wire.MultiOp {
	return wire.MultiOp{Type: wire.OpGetChildren, Body: &wire.PathWatchRequest{Path: path}}
}

// DigestID returns the digest scheme's id for user and password:
// "user:" + base64(sha1("user:password")), as ZooKeeper's
// DigestAuthenticationProvider.generateDigest computes it.
func DigestID(user, password string) string {
	sum := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// DigestACL returns an ACL entry granting perms to the digest identity of
// user and password; a session gains it with
// AddAuth(ctx, "digest", []byte(user+":"+password)).
func DigestACL(perms int32, user, password string) wire.ACL {
	return wire.ACL{Perms: perms, ID: wire.ID{Scheme: "digest", ID: DigestID(user, password)}}
}
