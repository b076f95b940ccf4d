package actors

// A session's auth ids: addAuth (digest, ip), the cap on what a session
// may hold (its writes carry them), and digest encoding.

import (
	"crypto/sha1"
	"encoding/base64"
	"log/slog"
	"strings"

	"github.com/paddockdb/paddock/statemachine"
	"github.com/paddockdb/paddock/wire"
)

func (ss *session) addAuth(sl *slot) {
	req := sl.req.body.(*wire.AuthPacket)
	h := wire.ReplyHeader{Xid: sl.req.xid}
	switch req.Scheme {
	case "digest":
		// DigestAuthenticationProvider accepts any credential: the id is
		// the part before the first colon (all of it without one) and the
		// SHA1 of the whole credential.
		id := digestOf(string(req.Auth))
		if !ss.authRoom(wire.ID{Scheme: "digest", ID: id}) {
			// Every write carries the session's ids (statemachine checks
			// ACLs at apply), so they are capped; ZooKeeper keeps a set
			// (a duplicate is ignored, as here) with no cap.
			ss.s.logRequest(slog.LevelWarn, "too many auth ids on one session", ss.id, sl.span, "ids", len(ss.auth), "max", maxAuthIDs)
			h.Err = wire.ErrAuthFailed
			break
		}
		ss.auth = appendID(ss.auth, wire.ID{Scheme: "digest", ID: id})
		if ss.s.cfg.SuperDigest != "" && id == ss.s.cfg.SuperDigest {
			ss.auth = appendID(ss.auth, wire.ID{Scheme: "super", ID: ""})
		}
	case "ip":
		ss.auth = appendID(ss.auth, wire.ID{Scheme: "ip", ID: ss.c.ip})
	default:
		h.Err = wire.ErrAuthFailed
	}
	sl.frame = wire.AppendFrame(nil, &h)
	ss.hold(len(sl.frame))
	sl.code, sl.done, sl.zxid = h.Err, true, 0
	if h.Err != wire.Ok {
		// ZooKeeper answers AuthFailed and closes the connection.
		ss.s.logRequest(slog.LevelInfo, "auth failed, closing connection", ss.id, sl.span, "scheme", req.Scheme)
		sl.close = true
		ss.closing = true
	}
}

// Auth ids a session may hold (and their bytes): beyond, addAuth answers
// AuthFailed and closes the connection.
const (
	maxAuthIDs   = 64
	maxAuthBytes = 64 << 10
)

// authRoom reports whether id (digest or sasl) may join the session's ids.
func (ss *session) authRoom(id wire.ID) bool {
	n := len(id.Scheme) + len(id.ID)
	for _, x := range ss.auth {
		if x == id {
			return true // a duplicate is ignored
		}
		n += len(x.Scheme) + len(x.ID)
	}
	return len(ss.auth)+2 <= maxAuthIDs && n <= maxAuthBytes // +2: the id and maybe super
}

// topACL is the ACL list of a create or setACL request, nil for others.
func topACL(body wire.Record) []wire.ACL {
	switch b := body.(type) {
	case *wire.CreateRequest:
		return b.ACL
	case *wire.SetACLRequest:
		return b.ACL
	}
	return nil
}

// digestOf is DigestAuthenticationProvider.generateDigest.
func digestOf(cred string) string {
	user, pass, ok := strings.Cut(cred, ":")
	if ok {
		return statemachine.DigestID(user, pass)
	}
	sum := sha1.Sum([]byte(cred))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

func appendID(ids []wire.ID, id wire.ID) []wire.ID {
	for _, x := range ids {
		if x == id {
			return ids
		}
	}
	return append(ids, id)
}
