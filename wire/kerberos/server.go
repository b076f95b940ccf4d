package kerberos

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// Mechanism is the SASL name of the mechanism.
const Mechanism = "GSSAPI"

// MaxClockSkew is how far an authenticator's time may be from the
// acceptor's clock: krb5.conf's clockskew default, 300 seconds, which the
// JDK uses too.
const MaxClockSkew = 5 * time.Minute

// maxBuffer is the receive buffer size the server announces: the JDK's
// default (javax.security.sasl.maxbuffer, 65536), which ZooKeeper never
// changes.
const maxBuffer = 65536

// ErrFailed is the prefix of every authentication failure.
var ErrFailed = errors.New("paddock/wire/kerberos: GSSAPI authentication failed")

func failf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFailed, fmt.Sprintf(format, args...))
}

// Principal is a Kerberos principal: name components and realm.
type Principal struct {
	Name  []string // e.g. ["zookeeper", "localhost"]
	Realm string
}

// ParsePrincipal reads "a/b@REALM"; a name without a realm gets
// defaultRealm (which may be "", then the principal has none). Backslash
// escapes are not supported: a name with '\' is refused.
func ParsePrincipal(s, defaultRealm string) (Principal, error) {
	if s == "" || strings.ContainsAny(s, "\\") {
		return Principal{}, fmt.Errorf("paddock/wire/kerberos: invalid principal %q", s)
	}
	name, realm, hasRealm := strings.Cut(s, "@")
	if !hasRealm {
		realm = defaultRealm
	}
	if name == "" || strings.Contains(realm, "@") || strings.Contains(realm, "/") || hasRealm && realm == "" {
		return Principal{}, fmt.Errorf("paddock/wire/kerberos: invalid principal %q", s)
	}
	parts := strings.Split(name, "/")
	for _, p := range parts {
		if p == "" {
			return Principal{}, fmt.Errorf("paddock/wire/kerberos: invalid principal %q (empty component)", s)
		}
	}
	return Principal{Name: parts, Realm: realm}, nil
}

func (p Principal) String() string {
	s := strings.Join(p.Name, "/")
	if p.Realm != "" {
		s += "@" + p.Realm
	}
	return s
}

func (p Principal) name(ntype int32) types.PrincipalName {
	return types.PrincipalName{NameType: ntype, NameString: p.Name}
}

// Acceptor is a service's side of Kerberos: its principal and the keys
// of its keytab, and the replay cache of the authenticators it has
// accepted. It needs no KDC. One Acceptor serves every exchange of a
// server (it is safe for concurrent use); each exchange is a *Server.
type Acceptor struct {
	principal Principal
	keytab    *keytab.Keytab
	now       func() time.Time

	mu        sync.Mutex
	replay    map[replayKey]time.Time // authenticator -> when it stops being replayable
	nextPrune time.Time               // when to drop the entries that have stopped
}

type replayKey struct {
	client string
	ctime  int64
	cusec  int
}

// NewAcceptor makes the acceptor of principal (service/host@REALM, as
// ZooKeeper's Server section names it) with the keys of kt. A keytab
// without a key for principal is an error, as it is to the JDK's
// Krb5LoginModule (storeKey=true) when the server starts.
func NewAcceptor(kt *keytab.Keytab, principal Principal) (*Acceptor, error) {
	if len(principal.Name) != 2 {
		return nil, fmt.Errorf("paddock/wire/kerberos: service principal %q is not of the form service/host@REALM", principal)
	}
	if principal.Realm == "" {
		return nil, fmt.Errorf("paddock/wire/kerberos: service principal %q has no realm (and krb5.conf names no default_realm)", principal)
	}
	if err := CheckKeytab(kt, principal); err != nil {
		return nil, err
	}
	return &Acceptor{principal: principal, keytab: kt, now: time.Now, replay: map[replayKey]time.Time{}}, nil
}

// CheckKeytab reports an error, naming the principals kt has, unless kt
// holds a key for principal.
func CheckKeytab(kt *keytab.Keytab, principal Principal) error {
	var have []string
	for _, e := range kt.Entries {
		if e.Principal.Realm == principal.Realm && slicesEqual(e.Principal.Components, principal.Name) {
			return nil
		}
		have = append(have, e.Principal.String())
	}
	return fmt.Errorf("paddock/wire/kerberos: the keytab has no key for %s (it has %s)", principal, strings.Join(dedupe(have), ", "))
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func dedupe(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	if out == nil {
		return []string{"none"}
	}
	return out
}

// Principal is the acceptor's service principal.
func (a *Acceptor) Principal() Principal { return a.principal }

// seen records an authenticator and reports whether it was already
// accepted within the clock skew (a replay, RFC 4120 3.2.3). Entries
// older than twice the skew can no longer pass the time check: they are
// dropped, by a sweep at most once a skew, so the cache holds what a few
// skews of authentications leave.
func (a *Acceptor) seen(k replayKey, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.After(a.nextPrune) {
		for old, until := range a.replay {
			if now.After(until) {
				delete(a.replay, old)
			}
		}
		a.nextPrune = now.Add(MaxClockSkew)
	}
	if _, ok := a.replay[k]; ok {
		return true
	}
	a.replay[k] = now.Add(2 * MaxClockSkew)
	return false
}

// Server is one SASL GSSAPI exchange on the server side (RFC 4752), as
// the JDK's GssKrb5Server runs it inside ZooKeeper:
//
//  1. The client's initial context token (an AP-REQ) is verified with
//     the keytab. If the client asked for mutual authentication the
//     server answers an AP-REP token and waits for an empty token;
//     either way it then sends its wrapped security-layer offer.
//  2. The client's wrapped answer chooses "no security layer" and may
//     name an authorization id; the server is then complete.
//
// Any error ends the exchange: every later Step fails too.
type Server struct {
	a        *Acceptor
	step     int                 // 0: wants the AP-REQ; 1: wants the empty token; 2: wants the layer answer; 3: done or failed
	key      types.EncryptionKey // the context key: the initiator's subkey, else the session key
	ticket   types.EncryptionKey // the ticket's session key (the AP-REP's key)
	ctime    time.Time           // the authenticator's time, echoed in the AP-REP
	cusec    int
	mySeq    uint64
	peerSeq  uint64
	peer     Principal
	authzid  string
	complete bool
}

// NewServer starts an exchange.
func (a *Acceptor) NewServer() *Server { return &Server{a: a} }

// Complete reports whether the client has authenticated.
func (s *Server) Complete() bool { return s.complete }

// User is the authenticated client principal (name@REALM); "" until the
// AP-REQ checked out.
func (s *Server) User() string {
	if s.peer.Name == nil {
		return ""
	}
	return s.peer.String()
}

// Authzid is the authorization id the client asked for (its principal
// when it sent none); "" until Complete.
func (s *Server) Authzid() string { return s.authzid }

// Step evaluates the client's token and returns the server's next one
// (nil when the exchange is complete).
func (s *Server) Step(token []byte) ([]byte, error) {
	out, err := s.step1(token)
	if err != nil {
		s.step = 3
		s.complete = false
	}
	return out, err
}

func (s *Server) step1(token []byte) ([]byte, error) {
	switch s.step {
	case 0:
		mutual, err := s.accept(token)
		if err != nil {
			return nil, err
		}
		if mutual {
			s.step = 1
			return s.apRep()
		}
		return s.offer()
	case 1:
		if len(token) != 0 {
			return nil, failf("handshake expecting no response data from the client after the AP-REP (%d bytes)", len(token))
		}
		return s.offer()
	case 2:
		msg, err := unwrapNext(s.key, false, token, s.peerSeq)
		if err != nil {
			return nil, err
		}
		if len(msg) < 4 {
			return nil, failf("the client's security-layer answer is %d bytes, want at least 4", len(msg))
		}
		if msg[0]&layerNone == 0 {
			return nil, failf("the client selected unsupported protection %#x (the server offers none but \"no security layer\")", msg[0])
		}
		s.authzid = s.peer.String()
		if len(msg) > 4 {
			if !utf8.Valid(msg[4:]) {
				return nil, failf("the authorization id is not UTF-8")
			}
			s.authzid = string(msg[4:])
		}
		s.step, s.complete = 3, true
		return nil, nil
	default:
		return nil, failf("SASL authentication already complete (a token after the exchange ended)")
	}
}

// accept verifies the initial context token and returns whether the
// client asked for mutual authentication.
func (s *Server) accept(token []byte) (bool, error) {
	id, msg, err := parseContextToken(token)
	if err != nil {
		return false, err
	}
	if id != tokAPReq {
		return false, failf("initial context token with TOK_ID %x, want an AP-REQ (0100)", id)
	}
	var req messages.APReq
	if err := req.Unmarshal(msg); err != nil {
		return false, failf("AP-REQ does not decode: %v", err)
	}
	a := s.a
	srv := a.principal.name(nametype.KRB_NT_SRV_HST)
	if !slicesEqual(req.Ticket.SName.NameString, a.principal.Name) || req.Ticket.Realm != a.principal.Realm {
		return false, failf("ticket for %s@%s, this server is %s", strings.Join(req.Ticket.SName.NameString, "/"), req.Ticket.Realm, a.principal)
	}
	if ok, err := req.Verify(a.keytab, MaxClockSkew, types.HostAddress{}, &srv); err != nil || !ok {
		return false, failf("AP-REQ rejected: %v", describe(err))
	}
	etype := req.Ticket.DecryptedEncPart.Key.KeyType
	auth := req.Authenticator
	s.key, s.ticket = req.Ticket.DecryptedEncPart.Key, req.Ticket.DecryptedEncPart.Key
	s.ctime, s.cusec = auth.CTime, auth.Cusec
	if len(auth.SubKey.KeyValue) > 0 {
		s.key = auth.SubKey
		etype = auth.SubKey.KeyType
	}
	if !cfxEtype(etype) {
		return false, failf("encryption type %d uses RFC 1964 tokens, which paddock does not support (use an AES enctype)", etype)
	}
	flags, err := checksumFlags(auth.Cksum)
	if err != nil {
		return false, err
	}
	k := replayKey{client: auth.CName.PrincipalNameString() + "@" + auth.CRealm, ctime: auth.CTime.Unix(), cusec: auth.Cusec}
	if a.seen(k, a.now()) {
		return false, failf("replayed authenticator from %s", k.client)
	}
	s.peer = Principal{Name: append([]string(nil), auth.CName.NameString...), Realm: auth.CRealm}
	s.peerSeq = uint64(uint32(auth.SeqNumber))
	// Without mutual authentication the acceptor's sequence numbers
	// start where the initiator's do (RFC 4121 4.2.3).
	s.mySeq = s.peerSeq
	return flags&flagMutual != 0, nil
}

// describe gives a gokrb5 error's text, or says the check failed.
func describe(err error) string {
	if err == nil {
		return "not valid"
	}
	return err.Error()
}

// apRep builds the AP-REP token: ctime and cusec of the authenticator and
// the acceptor's initial sequence number, encrypted with the ticket's
// session key; no acceptor subkey, as the JDK's acceptor sends none.
func (s *Server) apRep() ([]byte, error) {
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, failf("sequence number: %v", err)
	}
	s.mySeq = uint64(binary.BigEndian.Uint32(r[:])&0x3fffffff) + 1 // never 0: an optional field
	rep, err := buildAPRep(s.ticket, s.ctime, s.cusec, int64(s.mySeq))
	if err != nil {
		return nil, err
	}
	return frameContextToken(tokAPRep, rep), nil
}

// offer is the server's security-layer offer (RFC 4752 3.1, the JDK's
// doHandshake1): "no security layer" only, the JDK's default receive
// buffer size, wrapped without confidentiality.
func (s *Server) offer() ([]byte, error) {
	s.step = 2
	return wrap(s.key, true, false, s.mySeq, layerToken(layerNone, maxBuffer, ""))
}

// buildAPRep encodes and encrypts an AP-REP (RFC 4120 5.5.2); gokrb5
// decodes AP-REPs but does not build them.
func buildAPRep(key types.EncryptionKey, ctime time.Time, cusec int, seq int64) ([]byte, error) {
	part := messages.EncAPRepPart{CTime: ctime, Cusec: cusec, SequenceNumber: seq}
	b, err := asn1.Marshal(part)
	if err != nil {
		return nil, failf("encoding the AP-REP: %v", err)
	}
	b = asn1tools.AddASNAppTag(b, asnAppTag.EncAPRepPart)
	ed, err := crypto.GetEncryptedData(b, key, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		return nil, failf("encrypting the AP-REP: %v", err)
	}
	rep := messages.APRep{PVNO: iana.PVNO, MsgType: msgtype.KRB_AP_REP, EncPart: ed}
	out, err := asn1.Marshal(rep)
	if err != nil {
		return nil, failf("encoding the AP-REP: %v", err)
	}
	return asn1tools.AddASNAppTag(out, asnAppTag.APREP), nil
}
