package quorumauth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
)

// Config is a member's quorum SASL (quorum.auth.enableSasl=true); a nil
// *Config is none.
type Config struct {
	// LearnerRequire is quorum.auth.learnerRequireSasl: the dialler
	// authenticates.
	LearnerRequire bool
	// ServerRequire is quorum.auth.serverRequireSasl: the acceptor refuses
	// a dialler that does not authenticate.
	ServerRequire bool
	// Mechanism runs both sides of the exchange.
	Mechanism Mechanism
	// Hosts are the ensemble's hostnames (zoo.cfg's server.N hosts): a
	// principal name/host@REALM must name one of them.
	Hosts []string
}

// MechNone is the mechanism byte of a hello whose dialler does not
// authenticate.
const MechNone = 0

// HelloMech is the mechanism byte the dialler's hello carries: MechNone
// unless it authenticates (LearnerRequire).
func (c *Config) HelloMech() byte {
	if c == nil || !c.LearnerRequire {
		return MechNone
	}
	return c.Mechanism.ID()
}

// Bounds of an exchange (doc.go).
const (
	MaxToken  = 64 << 10
	MaxRounds = 5
)

// Frame statuses (doc.go).
const (
	statusInProgress  = 0
	statusSuccess     = 1
	statusError       = 2
	statusUnsupported = 3
)

// Why an exchange ended without authentication; every error of Learn and
// Accept wraps one of these.
var (
	// ErrFrame: the peer broke the framing (a length out of bounds, an
	// unknown status, a frame the other side does not send, too many
	// rounds) or closed inside a frame.
	ErrFrame = errors.New("paddock/quorumauth: bad authentication frame")
	// ErrFailed: the credentials did not verify (on the acceptor: the
	// dialler's; on the dialler: the acceptor's proof of the password).
	ErrFailed = errors.New("paddock/quorumauth: authentication failed")
	// ErrRejected: the acceptor refused the dialler's credentials.
	ErrRejected = errors.New("paddock/quorumauth: the peer rejected this member's credentials")
	// ErrRequired: the dialler did not authenticate, and the acceptor
	// requires it (quorum.auth.serverRequireSasl).
	ErrRequired = errors.New("paddock/quorumauth: the peer did not authenticate, and quorum.auth.serverRequireSasl is true")
	// ErrUnsupported: the peer does not do quorum SASL, or not with the
	// mechanism asked for.
	ErrUnsupported = errors.New("paddock/quorumauth: no quorum SASL with this mechanism")
)

// appendFrame appends a frame of status and token.
func appendFrame(b []byte, status byte, token []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(1+len(token)))
	b = append(b, status)
	return append(b, token...)
}

func writeFrame(w io.Writer, status byte, token []byte) error {
	if len(token) > MaxToken {
		return fmt.Errorf("%w: a token of %d bytes to send, at most %d", ErrFrame, len(token), MaxToken)
	}
	_, err := w.Write(appendFrame(nil, status, token))
	return err
}

// readFrame reads one frame; the token is allocated only once the length
// is known to be in bounds.
func readFrame(r io.Reader) (byte, []byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, closedInside(err, "header")
	}
	n := binary.BigEndian.Uint32(h[:])
	if n == 0 || n > 1+MaxToken {
		return 0, nil, fmt.Errorf("%w: length %d, want 1 to %d", ErrFrame, n, 1+MaxToken)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, nil, closedInside(err, "body")
	}
	if b[0] > statusUnsupported {
		return 0, nil, fmt.Errorf("%w: unknown status %d", ErrFrame, b[0])
	}
	return b[0], b[1:], nil
}

func closedInside(err error, part string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: the peer closed inside the exchange (frame %s)", ErrFrame, part)
	}
	return err
}

// Learn runs the dialler's side, after a hello whose mechanism byte was
// c.HelloMech() (not MechNone): it returns nil once the acceptor has
// accepted this member's credentials and proved its own knowledge of the
// password. host is the acceptor's hostname (a Kerberos mechanism names
// its service principal with it).
func Learn(c *Config, r io.Reader, w io.Writer, host string) error {
	ex := c.Mechanism.NewLearner(host)
	tok, err := ex.Step(nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFailed, err)
	}
	if err := writeFrame(w, statusInProgress, tok); err != nil {
		return err
	}
	for round := 0; ; round++ {
		status, in, err := readFrame(r)
		if err != nil {
			return err
		}
		switch status {
		case statusError:
			return fmt.Errorf("%w (%s)", ErrRejected, rejectHint(c.Mechanism))
		case statusUnsupported:
			return fmt.Errorf("%w: the peer does not verify %s (is quorum.auth.enableSasl true on it?)", ErrUnsupported, c.Mechanism.Name())
		case statusSuccess:
			out, err := ex.Step(in)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrFailed, err)
			}
			if !ex.Complete() || out != nil {
				return fmt.Errorf("%w: the peer answered success before it proved it knows the password", ErrFailed)
			}
			return nil
		}
		if round == MaxRounds {
			return fmt.Errorf("%w: more than %d rounds", ErrFrame, MaxRounds)
		}
		out, err := ex.Step(in)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrFailed, err)
		}
		if err := writeFrame(w, statusInProgress, out); err != nil {
			return err
		}
	}
}

// rejectHint says what a refusal of mechanism m's credentials can mean
// (the acceptor's log says which it was).
func rejectHint(m Mechanism) string {
	if m.ID() == MechGSSAPI {
		return "the peer's QuorumServer keytab has no current key for the service principal, the ticket is for another principal than the peer's, " +
			"or this member's principal names a host outside the ensemble"
	}
	return "wrong user or password in the QuorumLearner section, or not a user of the peer's QuorumServer section"
}

// Accept runs the acceptor's side for a connection whose hello carried
// mech (MechNone: the dialler does not authenticate). It returns the
// dialler's principal ("" when it did not authenticate and c lets that
// through), or an error: the caller closes the connection and logs the
// error, which says why.
func Accept(c *Config, r io.Reader, w io.Writer, mech byte) (string, error) {
	if mech == MechNone {
		if c != nil && c.ServerRequire {
			return "", ErrRequired
		}
		return "", nil
	}
	if c == nil || mech != c.Mechanism.ID() {
		// Answered after the learner's first frame: a connection closed
		// with unread bytes is reset, and the learner might lose the
		// answer.
		if _, _, err := readFrame(r); err != nil {
			return "", err
		}
		err := fmt.Errorf("%w: the peer authenticates, but quorum.auth.enableSasl is not true on this member", ErrUnsupported)
		if c != nil {
			err = fmt.Errorf("%w: the peer asks for mechanism %d, this member verifies %s (%d)", ErrUnsupported, mech, c.Mechanism.Name(), c.Mechanism.ID())
		}
		return "", errors.Join(err, writeFrame(w, statusUnsupported, nil))
	}
	ex := c.Mechanism.NewServer()
	refuse := func(err error) (string, error) {
		return "", errors.Join(err, writeFrame(w, statusError, nil))
	}
	for round := 1; ; round++ {
		status, tok, err := readFrame(r)
		if err != nil {
			return "", err
		}
		if status != statusInProgress {
			return refuse(fmt.Errorf("%w: a learner frame of status %d", ErrFrame, status))
		}
		out, err := ex.Step(tok)
		if err != nil {
			return refuse(fmt.Errorf("%w: %w", ErrFailed, err))
		}
		if ex.Complete() {
			p := ex.Principal()
			if host, ok := principalHost(p); ok && !slices.Contains(c.Hosts, host) {
				return refuse(fmt.Errorf("%w: principal %q names host %q, which is not a member of the ensemble", ErrFailed, p, host))
			}
			return p, writeFrame(w, statusSuccess, out)
		}
		if round == MaxRounds {
			return refuse(fmt.Errorf("%w: not complete after %d rounds", ErrFailed, MaxRounds))
		}
		if err := writeFrame(w, statusInProgress, out); err != nil {
			return "", err
		}
	}
}

// principalHost is the host of a principal name/host@REALM, split as
// SaslQuorumServerCallbackHandler splits it (on '/' and '@'; three parts
// exactly).
func principalHost(p string) (string, bool) {
	parts := javaSplit(p, "/@")
	if len(parts) != 3 {
		return "", false
	}
	return parts[1], true
}

// javaSplit splits s at every byte of seps as Java's String.split with a
// character class does: inner empty parts kept, trailing ones dropped.
func javaSplit(s, seps string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(seps, s[i]) >= 0 {
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	parts = append(parts, s[start:])
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// Reporter logs the outcomes of one side's exchanges, per peer: the first
// failure, and any failure whose reason changed, as a warning; a repeat
// as a debug line (a peer that tries again every tick must not fill the
// log); the first success, and the first after failures, as info. Its
// memory is bounded: it forgets every peer past maxReported.
type Reporter struct {
	Log  *slog.Logger
	mu   sync.Mutex
	last map[string]string // peer -> "" (authenticated) or the last failure
}

const maxReported = 1024

// Failed reports that the exchange with peer failed with err.
func (r *Reporter) Failed(peer, msg string, err error, args ...any) {
	reason := err.Error()
	log := r.Log.Debug
	if last, ok := r.remember(peer, reason); !ok || last != reason {
		log = r.Log.Warn
	}
	log(msg, append([]any{"peer", peer, "err", reason}, args...)...)
}

// Succeeded reports that the exchange with peer succeeded.
func (r *Reporter) Succeeded(peer, msg string, args ...any) {
	log := r.Log.Debug
	if last, ok := r.remember(peer, ""); !ok || last != "" {
		log = r.Log.Info
	}
	log(msg, append([]any{"peer", peer}, args...)...)
}

func (r *Reporter) remember(peer, outcome string) (last string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil || len(r.last) >= maxReported {
		r.last = map[string]string{}
	}
	last, ok = r.last[peer]
	r.last[peer] = outcome
	return last, ok
}

// PeerHost is the host of a remote address (the peer a Reporter keys an
// acceptor's reports by: its port changes with every connection).
func PeerHost(addr net.Addr) string {
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}
