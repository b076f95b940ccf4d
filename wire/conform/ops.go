package conform

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/paddockdb/paddock/wire"
)

// verbs maps the script's verbs (lower case) to opcodes. The canonical
// verb is ZooKeeper's opcode name; a few short aliases read better.
var verbs = map[string]wire.OpCode{
	"create":               wire.OpCreate,
	"create2":              wire.OpCreate2,
	"createcontainer":      wire.OpCreateContainer,
	"createttl":            wire.OpCreateTTL,
	"delete":               wire.OpDelete,
	"deletecontainer":      wire.OpDeleteContainer,
	"exists":               wire.OpExists,
	"getdata":              wire.OpGetData,
	"get":                  wire.OpGetData,
	"setdata":              wire.OpSetData,
	"set":                  wire.OpSetData,
	"getacl":               wire.OpGetACL,
	"setacl":               wire.OpSetACL,
	"getchildren":          wire.OpGetChildren,
	"children":             wire.OpGetChildren,
	"getchildren2":         wire.OpGetChildren2,
	"sync":                 wire.OpSync,
	"check":                wire.OpCheck,
	"multi":                wire.OpMulti,
	"multiread":            wire.OpMultiRead,
	"reconfig":             wire.OpReconfig,
	"checkwatches":         wire.OpCheckWatches,
	"removewatches":        wire.OpRemoveWatches,
	"getallchildrennumber": wire.OpGetAllChildrenNumber,
	"getephemerals":        wire.OpGetEphemerals,
	"setwatches":           wire.OpSetWatches,
	"setwatches2":          wire.OpSetWatches2,
	"addwatch":             wire.OpAddWatch,
	"whoami":               wire.OpWhoAmI,
	"auth":                 wire.OpAuth,
	"ping":                 wire.OpPing,
	"close":                wire.OpCloseSession,
	"closesession":         wire.OpCloseSession,
}

var modes = map[string]wire.CreateMode{
	"persistent":                     wire.ModePersistent,
	"ephemeral":                      wire.ModeEphemeral,
	"persistent_sequential":          wire.ModePersistentSequential,
	"ephemeral_sequential":           wire.ModeEphemeralSequential,
	"container":                      wire.ModeContainer,
	"persistent_with_ttl":            wire.ModePersistentWithTTL,
	"persistent_sequential_with_ttl": wire.ModePersistentSequentialWithTTL,
}

var watcherTypes = map[string]wire.WatcherType{
	"children":   wire.WatcherChildren,
	"data":       wire.WatcherData,
	"any":        wire.WatcherAny,
	"persistent": wire.WatcherPersistent,
	"recursive":  wire.WatcherRecursive,
}

// request is a request ready to send: opcode, the xid to use if not the
// session's next one, and the body.
type request struct {
	op      wire.OpCode
	xid     int32 // 0: the session's next xid
	body    wire.Record
	subOps  []wire.OpCode // for multi and multiRead
	rawBody []byte        // request OPCODE body=...: sent as is
}

// zxidResolver turns a zxid written in a script (a number, a symbol such
// as z3 from the transcript, or "last") into a value.
type zxidResolver func(s string) (int64, error)

// buildRequest turns a verb and its argument tokens into a request.
func buildRequest(verb string, toks []string, zx zxidResolver) (*request, error) {
	op, ok := verbs[strings.ToLower(verb)]
	if !ok {
		return nil, fmt.Errorf("unknown command %q", verb)
	}
	if op == wire.OpMulti || op == wire.OpMultiRead {
		groups, rest, err := splitOps(toks)
		if err != nil {
			return nil, err
		}
		if len(rest) > 0 {
			return nil, fmt.Errorf("unexpected %q after }", strings.Join(rest, " "))
		}
		req := &request{op: op}
		m := &wire.MultiRequest{}
		for _, g := range groups {
			sub, err := buildRequest(g[0], g[1:], zx)
			if err != nil {
				return nil, err
			}
			m.Ops = append(m.Ops, wire.MultiOp{Type: sub.op, Body: sub.body})
			req.subOps = append(req.subOps, sub.op)
		}
		req.body = m
		return req, nil
	}
	a, err := parseArgs(toks)
	if err != nil {
		return nil, err
	}
	path := a.arg(0, "")
	req := &request{op: op}
	switch op {
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL:
		def := "persistent"
		switch op {
		case wire.OpCreateContainer:
			def = "container"
		case wire.OpCreateTTL:
			def = "persistent_with_ttl"
		}
		mode, err := parseMode(a.kv["mode"], def)
		if err != nil {
			return nil, err
		}
		data, err := parseData(a)
		if err != nil {
			return nil, err
		}
		acl, err := parseACL(a.kv["acl"])
		if err != nil {
			return nil, err
		}
		ttl, err := a.int64("ttl", 0)
		if err != nil {
			return nil, err
		}
		req.body = &wire.CreateRequest{Path: path, Data: data, ACL: acl, Flags: mode, TTL: ttl, HasTTL: op == wire.OpCreateTTL}
	case wire.OpDelete, wire.OpCheck:
		v, err := a.int32("version", -1)
		if err != nil {
			return nil, err
		}
		req.body = &wire.PathVersionRequest{Path: path, Version: v}
	case wire.OpExists, wire.OpGetData, wire.OpGetChildren, wire.OpGetChildren2:
		req.body = &wire.PathWatchRequest{Path: path, Watch: a.has("watch")}
	case wire.OpSetData:
		data, err := parseData(a)
		if err != nil {
			return nil, err
		}
		v, err := a.int32("version", -1)
		if err != nil {
			return nil, err
		}
		req.body = &wire.SetDataRequest{Path: path, Data: data, Version: v}
	case wire.OpGetACL, wire.OpSync, wire.OpGetAllChildrenNumber, wire.OpDeleteContainer:
		req.body = &wire.PathRequest{Path: path}
	case wire.OpGetEphemerals:
		req.body = &wire.PathRequest{Path: a.arg(0, "/")}
	case wire.OpSetACL:
		acl, err := parseACL(a.kv["acl"])
		if err != nil {
			return nil, err
		}
		v, err := a.int32("version", -1)
		if err != nil {
			return nil, err
		}
		req.body = &wire.SetACLRequest{Path: path, ACL: acl, Version: v}
	case wire.OpReconfig:
		id, err := a.int64("config", -1)
		if err != nil {
			return nil, err
		}
		req.body = &wire.ReconfigRequest{JoiningServers: a.kv["joining"], LeavingServers: a.kv["leaving"], NewMembers: a.kv["members"], CurConfigID: id}
	case wire.OpCheckWatches, wire.OpRemoveWatches:
		t, ok := watcherTypes[a.arg(1, "any")]
		if !ok {
			return nil, fmt.Errorf("unknown watcher type %q (children, data, any, persistent, recursive)", a.arg(1, ""))
		}
		req.body = &wire.WatchesRequest{Path: path, Type: t}
	case wire.OpAddWatch:
		m := wire.WatchPersistent
		switch a.arg(1, "persistent") {
		case "persistent":
		case "recursive":
			m = wire.WatchPersistentRecursive
		default:
			return nil, fmt.Errorf("addWatch mode must be persistent or recursive")
		}
		req.body = &wire.AddWatchRequest{Path: path, Mode: m}
	case wire.OpSetWatches, wire.OpSetWatches2:
		z, err := zx(a.kv["zxid"])
		if err != nil {
			return nil, err
		}
		req.xid = wire.XidSetWatches
		req.body = &wire.SetWatchesRequest{
			RelativeZxid: z,
			DataWatches:  orEmpty(a.list("data")), ExistWatches: orEmpty(a.list("exist")), ChildWatches: orEmpty(a.list("child")),
			PersistentWatches: orEmpty(a.list("persistent")), PersistentRecursive: orEmpty(a.list("recursive")),
			V2: op == wire.OpSetWatches2,
		}
	case wire.OpAuth:
		req.xid = wire.XidAuth
		req.body = &wire.AuthPacket{Scheme: a.arg(0, ""), Auth: []byte(a.arg(1, ""))}
	case wire.OpPing:
		req.xid = wire.XidPing
		req.body = wire.Empty{}
	case wire.OpWhoAmI, wire.OpCloseSession:
		req.body = wire.Empty{}
	default:
		return nil, fmt.Errorf("no builder for %v", op)
	}
	if x, ok := a.kv["xid"]; ok {
		n, err := strconv.ParseInt(x, 0, 32)
		if err != nil {
			return nil, fmt.Errorf("xid=%s: %w", x, err)
		}
		req.xid = int32(n)
	}
	return req, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func parseMode(s, def string) (wire.CreateMode, error) {
	if s == "" {
		s = def
	}
	if m, ok := modes[strings.ToLower(s)]; ok {
		return m, nil
	}
	n, err := strconv.ParseInt(s, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("unknown mode %q", s)
	}
	return wire.CreateMode(n), nil
}

// parseData reads data=...: absent or data=null sends a null buffer,
// data=@N sends N bytes of 'x', data=hex:ABCD sends bytes; anything else is
// the bytes of the value.
func parseData(a args) ([]byte, error) {
	v, ok := a.kv["data"]
	switch {
	case !ok || v == "null":
		return nil, nil
	case strings.HasPrefix(v, "@"):
		n, err := strconv.Atoi(v[1:])
		if err != nil {
			return nil, fmt.Errorf("data=%s: %w", v, err)
		}
		return []byte(strings.Repeat("x", n)), nil
	case strings.HasPrefix(v, "hex:"):
		return hex.DecodeString(v[4:])
	}
	return []byte(v), nil
}

// parseACL reads acl=...: a comma-separated list of scheme:id:perms
// (perms are letters of cdrwa, or a number), or one of the shortcuts open
// (world:anyone:cdrwa, the default), read (world:anyone:r), creator
// (auth::cdrwa), null (a null vector) and empty (no entries). The scheme
// digestpw takes user:password and sends ZooKeeper's digest of it.
func parseACL(s string) ([]wire.ACL, error) {
	switch s {
	case "", "open":
		return wire.WorldACL, nil
	case "read":
		return wire.ReadACL, nil
	case "creator":
		return wire.CreatorACL, nil
	case "null":
		return nil, nil
	case "empty":
		return []wire.ACL{}, nil
	}
	var out []wire.ACL
	for _, e := range strings.Split(s, ",") {
		scheme, rest, ok := strings.Cut(e, ":")
		i := strings.LastIndex(rest, ":")
		if !ok || i < 0 {
			return nil, fmt.Errorf("acl entry %q is not scheme:id:perms", e)
		}
		id, ps := rest[:i], rest[i+1:]
		perms, err := parsePerms(ps)
		if err != nil {
			return nil, err
		}
		if scheme == "digestpw" {
			scheme, id = "digest", digestID(id)
		}
		out = append(out, wire.ACL{Perms: perms, ID: wire.ID{Scheme: scheme, ID: id}})
	}
	return out, nil
}

func parsePerms(s string) (int32, error) {
	if n, err := strconv.ParseInt(s, 0, 32); err == nil {
		return int32(n), nil
	}
	var p int32
	for _, c := range s {
		switch c {
		case 'c':
			p |= wire.PermCreate
		case 'd':
			p |= wire.PermDelete
		case 'r':
			p |= wire.PermRead
		case 'w':
			p |= wire.PermWrite
		case 'a':
			p |= wire.PermAdmin
		default:
			return 0, fmt.Errorf("bad permission %q in %q", c, s)
		}
	}
	return p, nil
}

// digestID is DigestAuthenticationProvider.generateDigest: user:base64(sha1(user:password)).
func digestID(userPw string) string {
	user, _, _ := strings.Cut(userPw, ":")
	sum := sha1.Sum([]byte(userPw))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

func permString(p int32) string {
	var b strings.Builder
	for _, x := range []struct {
		bit int32
		c   byte
	}{{wire.PermCreate, 'c'}, {wire.PermDelete, 'd'}, {wire.PermRead, 'r'}, {wire.PermWrite, 'w'}, {wire.PermAdmin, 'a'}} {
		if p&x.bit != 0 {
			b.WriteByte(x.c)
		}
	}
	if rest := p &^ wire.PermAll; rest != 0 {
		fmt.Fprintf(&b, "+%#x", rest)
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// codeNames are the names of KeeperException.Code, in the transcript.
var codeNames = map[wire.Code]string{
	wire.Ok:                          "ok",
	wire.ErrSystemError:              "SystemError",
	wire.ErrRuntimeInconsistency:     "RuntimeInconsistency",
	wire.ErrDataInconsistency:        "DataInconsistency",
	wire.ErrConnectionLoss:           "ConnectionLoss",
	wire.ErrMarshallingError:         "MarshallingError",
	wire.ErrUnimplemented:            "Unimplemented",
	wire.ErrOperationTimeout:         "OperationTimeout",
	wire.ErrBadArguments:             "BadArguments",
	wire.ErrUnknownSession:           "UnknownSession",
	wire.ErrNewConfigNoQuorum:        "NewConfigNoQuorum",
	wire.ErrReconfigInProgress:       "ReconfigInProgress",
	wire.ErrAPIError:                 "APIError",
	wire.ErrNoNode:                   "NoNode",
	wire.ErrNoAuth:                   "NoAuth",
	wire.ErrBadVersion:               "BadVersion",
	wire.ErrNoChildrenForEphemerals:  "NoChildrenForEphemerals",
	wire.ErrNodeExists:               "NodeExists",
	wire.ErrNotEmpty:                 "NotEmpty",
	wire.ErrSessionExpired:           "SessionExpired",
	wire.ErrInvalidCallback:          "InvalidCallback",
	wire.ErrInvalidACL:               "InvalidACL",
	wire.ErrAuthFailed:               "AuthFailed",
	wire.ErrSessionMoved:             "SessionMoved",
	wire.ErrNotReadOnly:              "NotReadOnly",
	wire.ErrEphemeralOnLocalSession:  "EphemeralOnLocalSession",
	wire.ErrNoWatcher:                "NoWatcher",
	wire.ErrRequestTimeout:           "RequestTimeout",
	wire.ErrReconfigDisabled:         "ReconfigDisabled",
	wire.ErrSessionClosedRequireSasl: "SessionClosedRequireSasl",
	wire.ErrQuotaExceeded:            "QuotaExceeded",
	wire.ErrThrottled:                "Throttled",
}

func codeName(c wire.Code) string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return "Code(" + strconv.Itoa(int(c)) + ")"
}
