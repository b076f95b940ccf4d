package wire

import (
	"errors"
	"slices"
	"strconv"
)

// Decoding and framing errors. These are Go errors about bytes, not
// ZooKeeper result codes.
var (
	ErrShortRecord      = errors.New("paddock/wire: record truncated")
	ErrBadLength        = errors.New("paddock/wire: negative length")
	ErrPacketTooLarge   = errors.New("paddock/wire: packet too large")
	ErrUnknownOpCode    = errors.New("paddock/wire: unknown opcode")
	ErrBadMultiOp       = errors.New("paddock/wire: invalid op in multi")
	ErrUnknownWatchMode = errors.New("paddock/wire: unknown watch mode")
)

// Code is a ZooKeeper result code (KeeperException.Code). It implements
// error, so a Code can be returned and matched with errors.Is. Code(0), Ok,
// is not an error: callers convert with Code.Err.
type Code int32

// ZooKeeper result codes, as in KeeperException.Code.
const (
	Ok                          Code = 0
	ErrSystemError              Code = -1
	ErrRuntimeInconsistency     Code = -2
	ErrDataInconsistency        Code = -3
	ErrConnectionLoss           Code = -4
	ErrMarshallingError         Code = -5
	ErrUnimplemented            Code = -6
	ErrOperationTimeout         Code = -7
	ErrBadArguments             Code = -8
	ErrUnknownSession           Code = -12
	ErrNewConfigNoQuorum        Code = -13
	ErrReconfigInProgress       Code = -14
	ErrAPIError                 Code = -100
	ErrNoNode                   Code = -101
	ErrNoAuth                   Code = -102
	ErrBadVersion               Code = -103
	ErrNoChildrenForEphemerals  Code = -108
	ErrNodeExists               Code = -110
	ErrNotEmpty                 Code = -111
	ErrSessionExpired           Code = -112
	ErrInvalidCallback          Code = -113
	ErrInvalidACL               Code = -114
	ErrAuthFailed               Code = -115
	ErrSessionMoved             Code = -118
	ErrNotReadOnly              Code = -119
	ErrEphemeralOnLocalSession  Code = -120
	ErrNoWatcher                Code = -121
	ErrRequestTimeout           Code = -122
	ErrReconfigDisabled         Code = -123
	ErrSessionClosedRequireSasl Code = -124
	ErrQuotaExceeded            Code = -125
	ErrThrottled                Code = -127
)

var codeNames = map[Code]string{
	Ok:                          "ok",
	ErrSystemError:              "system error",
	ErrRuntimeInconsistency:     "runtime inconsistency",
	ErrDataInconsistency:        "data inconsistency",
	ErrConnectionLoss:           "connection loss",
	ErrMarshallingError:         "marshalling error",
	ErrUnimplemented:            "unimplemented",
	ErrOperationTimeout:         "operation timeout",
	ErrBadArguments:             "bad arguments",
	ErrUnknownSession:           "unknown session",
	ErrNewConfigNoQuorum:        "new config has no quorum",
	ErrReconfigInProgress:       "reconfig in progress",
	ErrAPIError:                 "api error",
	ErrNoNode:                   "node does not exist",
	ErrNoAuth:                   "not authenticated",
	ErrBadVersion:               "bad version",
	ErrNoChildrenForEphemerals:  "ephemeral nodes may not have children",
	ErrNodeExists:               "node already exists",
	ErrNotEmpty:                 "node has children",
	ErrSessionExpired:           "session has expired",
	ErrInvalidCallback:          "invalid callback",
	ErrInvalidACL:               "invalid ACL",
	ErrAuthFailed:               "authentication failed",
	ErrSessionMoved:             "session moved to another server",
	ErrNotReadOnly:              "not a read-only call",
	ErrEphemeralOnLocalSession:  "ephemeral on local session",
	ErrNoWatcher:                "no such watcher",
	ErrRequestTimeout:           "request timeout",
	ErrReconfigDisabled:         "reconfig is disabled",
	ErrSessionClosedRequireSasl: "session closed: authentication required",
	ErrQuotaExceeded:            "quota exceeded",
	ErrThrottled:                "request throttled",
}

// Codes lists every known result code, Ok first.
func Codes() []Code {
	out := make([]Code, 0, len(codeNames))
	for c := range codeNames {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Code) int { return int(b) - int(a) })
	return out
}

// String returns ZooKeeper's description of the code.
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return "unknown error " + strconv.Itoa(int(c))
}

// Error implements error.
func (c Code) Error() string { return "zk: " + c.String() }

// Err returns nil for Ok and the Code itself otherwise.
func (c Code) Err() error {
	if c == Ok {
		return nil
	}
	return c
}

// CodeOf returns the Code carried by err: Ok for nil, the Code if err wraps
// one, and ErrSystemError otherwise.
func CodeOf(err error) Code {
	if err == nil {
		return Ok
	}
	var c Code
	if errors.As(err, &c) {
		return c
	}
	return ErrSystemError
}
