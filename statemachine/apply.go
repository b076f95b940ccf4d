package statemachine

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/paddockdb/paddock/wire"
)

// ErrCorrupt is wrapped by every error that means this replica cannot go
// on: an entry it cannot decode, a transaction type it does not know, a
// snapshot it cannot read. Dragonboat panics on it; that is the intent.
var ErrCorrupt = errors.New("paddock/statemachine: corrupt state machine input")

// CheckTxn reports, as an ErrCorrupt error, a transaction Apply does not
// know: an unknown type, or a multi holding something other than
// create*, delete, setData and check. Replica.Update checks every
// transaction of an entry before applying any.
func CheckTxn(txn *Txn) error {
	switch txn.Type {
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL,
		wire.OpDelete, wire.OpSetData, wire.OpSetACL, wire.OpCheck,
		wire.OpCreateSession, wire.OpCloseSession, wire.OpDeleteContainer, OpReattachSession:
		return nil
	case wire.OpMulti:
		for i := range txn.Ops {
			if !multiOp(txn.Ops[i].Type) {
				return fmt.Errorf("%w: op %v inside multi", ErrCorrupt, txn.Ops[i].Type)
			}
		}
		return nil
	}
	return fmt.Errorf("%w: unknown txn type %v", ErrCorrupt, txn.Type)
}

func multiOp(op wire.OpCode) bool {
	switch op {
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL,
		wire.OpDelete, wire.OpSetData, wire.OpCheck:
		return true
	}
	return false
}

// nextZxid is the hybrid logical clock: above the last zxid, at least the
// proposer's milliseconds shifted left 20 bits, and above the session's
// lastZxidSeen.
func (t *Tree) nextZxid(txn *Txn) int64 {
	z := t.lastZxid + 1
	if txn.Time > 0 && txn.Time<<20 > z && txn.Time < 1<<43 {
		z = txn.Time << 20
	}
	if txn.MinZxid >= z {
		z = txn.MinZxid + 1
	}
	return z
}

// Apply applies one transaction and returns its result and watch triggers.
// It is deterministic: the result and the new state depend only on the
// tree and txn. Every known transaction consumes a zxid, failed ones too
// (ZooKeeper logs an error txn for them). A transaction CheckTxn refuses
// leaves the tree unchanged and returns wire.ErrUnimplemented with zxid 0.
//
// Apply keeps txn.Data, txn.ACL and txn.Passwd: the caller must not modify
// them afterwards.
func (t *Tree) Apply(txn *Txn) Result {
	if CheckTxn(txn) != nil {
		return Result{Err: wire.ErrUnimplemented}
	}
	// Time never goes back along the log, whichever member's clock
	// stamped the transaction: zxid >= Time<<20, so the last zxid bounds
	// every earlier transaction's time from above.
	if floor := t.lastZxid >> 20; txn.Time < floor {
		txn.Time = floor
	}
	zxid := t.nextZxid(txn)
	t.lastZxid = zxid
	r := Result{Zxid: zxid}
	switch txn.Type {
	case wire.OpCreateSession:
		r.Err = t.createSession(txn)
	case OpReattachSession:
		r.Err = t.reattachSession(txn)
	case wire.OpCloseSession:
		if !t.sessionOK(txn.SessionID) || txn.SessionID == 0 {
			r.Err = wire.ErrSessionExpired
			break
		}
		r.Triggers = t.closeSession(txn.SessionID)
	case wire.OpMulti:
		t.multi(txn, zxid, &r)
	default:
		o := t.op(txn, txn, zxid)
		r.Err, r.Path, r.Stat, r.Triggers = o.err, o.path, o.stat, o.triggers
	}
	return r
}

func (t *Tree) sessionOK(id int64) bool {
	if id == 0 {
		return true // the system session: reaper and admin commands
	}
	_, ok := t.sessions[id]
	return ok
}

// moved reports whether a write of session id that member origin proposed
// comes from a member the session has left (SessionMoved).
func (t *Tree) moved(id int64, origin uint64) bool {
	if id == 0 || origin == 0 {
		return false
	}
	s := t.sessions[id]
	return s != nil && s.owner != 0 && s.owner != origin
}

func (t *Tree) createSession(txn *Txn) wire.Code {
	if kindOf(txn.SessionID) != ownerSession { // 0 and the container/TTL markers; negative ids (myid >= 128) are fine
		return wire.ErrBadArguments
	}
	if s, ok := t.sessions[txn.SessionID]; ok {
		if s.timeout == txn.Timeout && bytes.Equal(s.passwd, txn.Passwd) {
			return wire.Ok // a retried proposal
		}
		return wire.ErrBadArguments
	}
	t.sessions[txn.SessionID] = &session{timeout: txn.Timeout, passwd: txn.Passwd, owner: txn.Origin}
	return wire.Ok
}

// reattachSession makes the proposing member the owner of an existing
// session whose password matches (OpReattachSession).
func (t *Tree) reattachSession(txn *Txn) wire.Code {
	s, ok := t.sessions[txn.SessionID]
	switch {
	case !ok || txn.SessionID == 0:
		return wire.ErrSessionExpired
	case !bytes.Equal(s.passwd, txn.Passwd):
		return wire.ErrAuthFailed
	}
	s.owner = txn.Origin
	return wire.Ok
}

// closeSession deletes the session's ephemerals in sorted path order and
// drops it from the sessions table.
func (t *Tree) closeSession(id int64) []Trigger {
	var trig []Trigger
	for _, p := range sortedKeys(t.ephemerals[id]) {
		if n := t.nodes.get(p); n != nil && len(n.children) == 0 {
			trig = t.deleteNode(p, t.lastZxid, trig)
		}
	}
	delete(t.sessions, id)
	return trig
}

type opResult struct {
	err      wire.Code
	path     string
	stat     wire.Stat
	triggers []Trigger
}

// op applies one create*, delete, deleteContainer, setData, setACL or
// check. top is the transaction that carries the session and auth (the
// multi for a sub-op). The checks run in PrepRequestProcessor's order, so
// the error code is the one ZooKeeper returns when several apply.
func (t *Tree) op(txn, top *Txn, zxid int64) opResult {
	if txn.Type != wire.OpDeleteContainer && !t.sessionOK(top.SessionID) {
		return opResult{err: wire.ErrSessionExpired}
	}
	if t.moved(top.SessionID, top.Origin) {
		return opResult{err: wire.ErrSessionMoved}
	}
	switch txn.Type {
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL:
		return t.create(txn, top, zxid)
	case wire.OpDelete:
		return t.delete(txn, top, zxid)
	case wire.OpDeleteContainer:
		return t.deleteContainer(txn, zxid)
	case wire.OpSetData:
		return t.setData(txn, top, zxid)
	case wire.OpSetACL:
		return t.setACL(txn, top)
	case wire.OpCheck:
		if ValidatePath(txn.Path) != nil {
			return opResult{err: wire.ErrBadArguments}
		}
		n := t.nodes.get(txn.Path)
		if n == nil {
			return opResult{err: wire.ErrNoNode}
		}
		if !CheckACL(n.getACL(), wire.PermRead, top.Auth, t.SuperDigest) {
			return opResult{err: wire.ErrNoAuth}
		}
		if txn.Version != -1 && txn.Version != n.version {
			return opResult{err: wire.ErrBadVersion}
		}
		return opResult{path: txn.Path}
	}
	return opResult{err: wire.ErrUnimplemented}
}

func (t *Tree) create(txn, top *Txn, zxid int64) opResult {
	mode := txn.Mode
	if !mode.Valid() {
		return opResult{err: wire.ErrBadArguments}
	}
	// As DataTree.processTxn: only a createContainer txn makes a container
	// (whatever its mode, whose sequential flag still applies); create and
	// create2 with the container mode make a persistent node (CreateTxn
	// carries only "ephemeral"). In a multi the request decoder derives
	// the op type from the mode (MultiOperationRecord), see the actors.
	container := txn.Type == wire.OpCreateContainer
	// EphemeralType.validateTTL: a TTL mode needs createTTL and a TTL in
	// (0, MaxTTL]; createTTL needs a TTL mode. Whether TTL nodes are
	// enabled at all (extendedTypesEnabled) is the proposer's decision.
	if mode.TTL() != (txn.Type == wire.OpCreateTTL) {
		return opResult{err: wire.ErrBadArguments}
	}
	if mode.TTL() && (txn.TTL <= 0 || txn.TTL > MaxTTL) {
		return opResult{err: wire.ErrBadArguments}
	}
	if mode.Ephemeral() && top.SessionID == 0 {
		return opResult{err: wire.ErrBadArguments}
	}
	path := txn.Path
	parentPath, _, ok := splitPath(path)
	if !ok || strings.IndexByte(path, 0) >= 0 {
		return opResult{err: wire.ErrBadArguments}
	}
	acl, code := fixupACL(top.Auth, txn.ACL)
	if code != wire.Ok {
		return opResult{err: code}
	}
	parent := t.nodes.get(parentPath)
	if parent == nil {
		return opResult{err: wire.ErrNoNode}
	}
	if !CheckACL(parent.getACL(), wire.PermCreate, top.Auth, t.SuperDigest) {
		return opResult{err: wire.ErrNoAuth}
	}
	if mode.Sequential() {
		path = fmt.Sprintf("%s%010d", path, parent.cversion)
	}
	if ValidatePath(path) != nil {
		return opResult{err: wire.ErrBadArguments}
	}
	if t.nodes.get(path) != nil {
		return opResult{err: wire.ErrNodeExists}
	}
	if kindOf(parent.owner) == ownerSession {
		return opResult{err: wire.ErrNoChildrenForEphemerals}
	}
	if !t.checkQuota(path, int64(len(txn.Data)), 1) {
		return opResult{err: wire.ErrQuotaExceeded}
	}
	var owner int64
	switch {
	case container:
		owner = ContainerOwner
	case mode.TTL():
		owner = TTLOwner(txn.TTL)
	case mode.Ephemeral():
		owner = top.SessionID
	}
	data := txn.Data // nil stays nil: ZooKeeper reads it back as null
	n := &znode{
		czxid: zxid, mzxid: zxid, pzxid: zxid,
		ctime: top.Time, mtime: top.Time,
		owner: owner,
	}
	n.setData(data)
	parent = t.modify(parentPath, parent)
	parent.cversion++
	parent.pzxid = zxid
	t.insert(path, n, acl)
	_, name, _ := splitPath(path)
	if subj, ok := quotaSubject(parentPath, name); ok {
		if name == limitNode {
			t.addQuota(subj)
		} else {
			t.updateQuotaForPath(subj)
		}
	}
	if prefix := t.maxQuotaPrefix(path); prefix != "" {
		t.updateQuotaStat(prefix, int64(len(data)), 1)
	}
	return opResult{
		path: path,
		stat: n.stat(),
		triggers: []Trigger{
			{Path: path, Type: wire.EventNodeCreated},
			{Path: parentPath, Type: wire.EventNodeChildrenChanged},
		},
	}
}

func (t *Tree) addQuota(p string) {
	if _, ok := t.quotas[p]; ok {
		return
	}
	t.quotas[p] = struct{}{}
	t.record(func() { delete(t.quotas, p) })
}

func (t *Tree) removeQuota(p string) {
	if _, ok := t.quotas[p]; !ok {
		return
	}
	delete(t.quotas, p)
	t.record(func() { t.quotas[p] = struct{}{} })
}

// deleteNode is DataTree.deleteNode: unlink, raise the parent's pzxid,
// keep quota stats, and fire NodeDeleted then the parent's
// NodeChildrenChanged. The parent's stored cversion does not change: it
// counts creates, which is what the sequential suffix follows; the Stat
// clients see counts the delete too (znode.stat).
func (t *Tree) deleteNode(path string, zxid int64, trig []Trigger) []Trigger {
	parentPath, name, _ := splitPath(path)
	parent := t.nodes.get(parentPath)
	if zxid > parent.pzxid {
		parent = t.modify(parentPath, parent)
		parent.pzxid = zxid
	}
	n := t.erase(path)
	if subj, ok := quotaSubject(parentPath, name); ok && name == limitNode {
		t.removeQuota(subj)
	}
	if prefix := t.maxQuotaPrefix(path); prefix != "" {
		t.updateQuotaStat(prefix, -int64(len(n.data)), -1)
	}
	return append(trig,
		Trigger{Path: path, Type: wire.EventNodeDeleted},
		Trigger{Path: parentPath, Type: wire.EventNodeChildrenChanged})
}

// parentForDelete is getParentPathAndValidate.
func parentForDelete(path string) (string, bool) {
	parentPath, _, ok := splitPath(path)
	if !ok || strings.IndexByte(path, 0) >= 0 || isSpecialPath(path) {
		return "", false
	}
	return parentPath, true
}

func (t *Tree) delete(txn, top *Txn, zxid int64) opResult {
	parentPath, ok := parentForDelete(txn.Path)
	if !ok {
		return opResult{err: wire.ErrBadArguments}
	}
	parent := t.nodes.get(parentPath)
	if parent == nil {
		return opResult{err: wire.ErrNoNode}
	}
	if !CheckACL(parent.getACL(), wire.PermDelete, top.Auth, t.SuperDigest) {
		return opResult{err: wire.ErrNoAuth}
	}
	n := t.nodes.get(txn.Path)
	if n == nil {
		return opResult{err: wire.ErrNoNode}
	}
	if txn.Version != -1 && txn.Version != n.version {
		return opResult{err: wire.ErrBadVersion}
	}
	if len(n.children) > 0 {
		return opResult{err: wire.ErrNotEmpty}
	}
	return opResult{path: txn.Path, triggers: t.deleteNode(txn.Path, zxid, nil)}
}

// deleteContainer is the reaper's delete: no session or ACL check; it
// refuses a node with children (NotEmpty) and a session's ephemeral
// (BadVersion, as ZooKeeper does), and deletes any other node.
func (t *Tree) deleteContainer(txn *Txn, zxid int64) opResult {
	parentPath, ok := parentForDelete(txn.Path)
	if !ok {
		return opResult{err: wire.ErrBadArguments}
	}
	n := t.nodes.get(txn.Path)
	if n == nil {
		return opResult{err: wire.ErrNoNode}
	}
	if len(n.children) > 0 {
		return opResult{err: wire.ErrNotEmpty}
	}
	if kindOf(n.owner) == ownerSession {
		return opResult{err: wire.ErrBadVersion}
	}
	if t.nodes.get(parentPath) == nil {
		return opResult{err: wire.ErrNoNode}
	}
	return opResult{path: txn.Path, triggers: t.deleteNode(txn.Path, zxid, nil)}
}

func (t *Tree) setData(txn, top *Txn, zxid int64) opResult {
	if ValidatePath(txn.Path) != nil {
		return opResult{err: wire.ErrBadArguments}
	}
	n := t.nodes.get(txn.Path)
	if n == nil {
		return opResult{err: wire.ErrNoNode}
	}
	if !CheckACL(n.getACL(), wire.PermWrite, top.Auth, t.SuperDigest) {
		return opResult{err: wire.ErrNoAuth}
	}
	if !t.checkQuota(txn.Path, int64(len(txn.Data)-len(n.data)), 0) {
		return opResult{err: wire.ErrQuotaExceeded}
	}
	if txn.Version != -1 && txn.Version != n.version {
		return opResult{err: wire.ErrBadVersion}
	}
	data := txn.Data // nil stays nil, as in DataTree.setData
	diff := int64(len(data) - len(n.data))
	n = t.modify(txn.Path, n)
	t.adjustSize(diff)
	n.setData(data)
	n.mtime = top.Time
	n.mzxid = zxid
	n.version++
	if prefix := t.maxQuotaPrefix(txn.Path); prefix != "" {
		t.updateQuotaStat(prefix, diff, 0)
	}
	return opResult{
		path:     txn.Path,
		stat:     n.stat(),
		triggers: []Trigger{{Path: txn.Path, Type: wire.EventNodeDataChanged}},
	}
}

func (t *Tree) setACL(txn, top *Txn) opResult {
	if ValidatePath(txn.Path) != nil {
		return opResult{err: wire.ErrBadArguments}
	}
	acl, code := fixupACL(top.Auth, txn.ACL)
	if code != wire.Ok {
		return opResult{err: code}
	}
	n := t.nodes.get(txn.Path)
	if n == nil {
		return opResult{err: wire.ErrNoNode}
	}
	if !CheckACL(n.getACL(), wire.PermAdmin, top.Auth, t.SuperDigest) {
		return opResult{err: wire.ErrNoAuth}
	}
	if txn.Version != -1 && txn.Version != n.aversion {
		return opResult{err: wire.ErrBadVersion}
	}
	n = t.modify(txn.Path, n) // setACL is never inside a multi: nothing to undo for the ACL table
	old := n.acl
	n.acl = t.acls.acquire(acl)
	t.acls.release(old)
	n.aversion++
	return opResult{path: txn.Path, stat: n.stat()}
}

// multi applies txn.Ops in order under one zxid. If one fails, the ones
// before it are undone and the results are ZooKeeper's: error results with
// code Ok before the failing op, its code, RuntimeInconsistency after;
// Result.Err is the failing op's code and there are no triggers.
func (t *Tree) multi(txn *Txn, zxid int64, r *Result) {
	t.inMulti = true
	t.journal = t.journal[:0]
	defer func() { t.inMulti = false; t.journal = t.journal[:0] }()

	results := make([]wire.MultiResult, len(txn.Ops))
	var trig []Trigger
	failed := -1
	for i := range txn.Ops {
		sub := &txn.Ops[i]
		o := t.op(sub, txn, zxid)
		if o.err != wire.Ok {
			failed = i
			r.Err = o.err
			break
		}
		trig = append(trig, o.triggers...)
		res := wire.MultiResult{Type: sub.Type}
		switch sub.Type {
		case wire.OpCreate:
			res.Path = o.path
		case wire.OpCreate2, wire.OpCreateTTL, wire.OpCreateContainer:
			res.Type = wire.OpCreate2 // OpResult.CreateResult(path, stat)
			res.Path, res.Stat = o.path, o.stat
		case wire.OpSetData:
			res.Stat = o.stat
		}
		results[i] = res
	}
	if failed >= 0 {
		for i := len(t.journal) - 1; i >= 0; i-- {
			t.journal[i]()
		}
		for i := range results {
			code := wire.ErrRuntimeInconsistency
			switch {
			case i < failed:
				code = wire.Ok
			case i == failed:
				code = r.Err
			}
			results[i] = wire.MultiResult{Type: wire.OpError, Err: code}
		}
		trig = nil
	}
	r.Multi = results
	r.Triggers = trig
}
