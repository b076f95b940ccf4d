package statemachine

import (
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/paddockdb/paddock/wire"
)

// Authentication schemes the tree knows (ProviderRegistry's defaults plus
// the SASL and x509 providers ZooKeeper registers when configured).
const (
	SchemeWorld  = "world"
	SchemeAuth   = "auth"
	SchemeDigest = "digest"
	SchemeIP     = "ip"
	SchemeSASL   = "sasl"
	SchemeX509   = "x509"
	SchemeSuper  = "super"
)

// DigestID returns the digest-scheme id of user and password as ZooKeeper's
// DigestAuthenticationProvider.generateDigest computes it:
// "user:" + base64(sha1("user:password")).
func DigestID(user, password string) string {
	sum := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// CheckACL reports whether a session holding the ids auth may perform perm
// on a node whose ACL is acl, as ZooKeeperServer.checkACL decides: an empty
// ACL allows everything; a "super" id (or a digest id equal to superDigest,
// when superDigest is not empty) allows everything; otherwise some entry
// with the permission bit must be world:anyone or match one of the ids of
// its scheme (digest, x509: equal ids; sasl: equal ids, or the session's
// principal is "super"; ip: address within the entry's address/bits).
func CheckACL(acl []wire.ACL, perm int32, auth []wire.ID, superDigest string) bool {
	if len(acl) == 0 {
		return true
	}
	for _, id := range auth {
		if id.Scheme == SchemeSuper {
			return true
		}
		if superDigest != "" && id.Scheme == SchemeDigest && id.ID == superDigest {
			return true
		}
	}
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		if a.ID.Scheme == SchemeWorld && a.ID.ID == "anyone" {
			return true
		}
		for _, id := range auth {
			if id.Scheme != a.ID.Scheme {
				continue
			}
			switch a.ID.Scheme {
			case SchemeIP:
				if ipMatches(id.ID, a.ID.ID) {
					return true
				}
			case SchemeDigest, SchemeX509:
				if id.ID == a.ID.ID {
					return true
				}
			case SchemeSASL:
				// SASLAuthenticationProvider.matches: the principal
				// "super" matches every sasl entry.
				if id.ID == a.ID.ID || id.ID == "super" {
					return true
				}
			}
		}
	}
	return false
}

// fixupACL validates acl and expands "auth" entries to the creator's
// authenticated ids, as PrepRequestProcessor.fixupACL does. It returns
// wire.ErrInvalidACL for an empty list, an unknown scheme, an invalid id or
// an "auth" entry when the session has no authenticated id.
func fixupACL(auth []wire.ID, acl []wire.ACL) ([]wire.ACL, wire.Code) {
	uniq := make([]wire.ACL, 0, len(acl))
	for _, a := range acl {
		dup := false
		for _, u := range uniq {
			if u == a {
				dup = true
				break
			}
		}
		if !dup {
			uniq = append(uniq, a)
		}
	}
	if len(uniq) == 0 {
		return nil, wire.ErrInvalidACL
	}
	if len(uniq) == 1 && uniq[0] == wire.WorldACL[0] {
		return worldACL, wire.Ok // shared, never mutated
	}
	out := make([]wire.ACL, 0, len(uniq))
	for _, a := range uniq {
		switch a.ID.Scheme {
		case SchemeWorld:
			if a.ID.ID != "anyone" {
				return nil, wire.ErrInvalidACL
			}
			out = append(out, a)
		case SchemeAuth:
			valid := false
			for _, id := range auth {
				// Only providers that authenticate expand "auth": ip
				// does not (isAuthenticated is false) and super has no
				// provider.
				switch id.Scheme {
				case SchemeIP, SchemeSuper, SchemeWorld, "":
					continue
				}
				valid = true
				out = append(out, wire.ACL{Perms: a.Perms, ID: id})
			}
			if !valid {
				return nil, wire.ErrInvalidACL
			}
		case SchemeDigest:
			if javaSplitLen(a.ID.ID, ":") != 2 {
				return nil, wire.ErrInvalidACL
			}
			out = append(out, a)
		case SchemeIP:
			if !ipValid(a.ID.ID) {
				return nil, wire.ErrInvalidACL
			}
			out = append(out, a)
		case SchemeSASL, SchemeX509:
			out = append(out, a)
		default:
			return nil, wire.ErrInvalidACL
		}
	}
	return out, wire.Ok
}

// worldACL is the shared world:anyone/ALL list of nodes created with it.
var worldACL = []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: SchemeWorld, ID: "anyone"}}}

// javaSplitLen is len(s.split(sep)) in Java: trailing empty strings are
// dropped.
func javaSplitLen(s, sep string) int {
	parts := strings.Split(s, sep)
	n := len(parts)
	for n > 0 && parts[n-1] == "" {
		n--
	}
	if s == "" {
		return 1
	}
	return n
}

// v4 parses a dotted IPv4 address as IPAuthenticationProvider does.
func v4(addr string) ([4]byte, bool) {
	var b [4]byte
	parts := strings.Split(addr, ".")
	if len(parts) != 4 {
		return b, false
	}
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || v > 255 {
			return b, false
		}
		b[i] = byte(v)
	}
	return b, true
}

func ipMask(b *[4]byte, bits int) {
	for i := range b {
		switch {
		case bits >= 8:
			bits -= 8
		default:
			b[i] &= ^byte(0xff >> bits)
			bits = 0
		}
	}
}

func parseIPExpr(expr string) ([4]byte, int, bool) {
	addr, bitsStr, hasBits := strings.Cut(expr, "/")
	b, ok := v4(addr)
	if !ok {
		return b, 0, false
	}
	bits := 32
	if hasBits {
		v, err := strconv.Atoi(bitsStr)
		if err != nil || v < 0 || v > 32 {
			return b, 0, false
		}
		bits = v
	}
	return b, bits, true
}

func ipValid(expr string) bool { _, _, ok := parseIPExpr(expr); return ok }

func ipMatches(id, expr string) bool {
	acl, bits, ok := parseIPExpr(expr)
	if !ok {
		return false
	}
	remote, ok := v4(id)
	if !ok {
		return false
	}
	ipMask(&acl, bits)
	ipMask(&remote, bits)
	return acl == remote
}
