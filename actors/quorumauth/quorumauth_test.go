package quorumauth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire/sasl"
)

var serverUsers = map[string]string{"learner": "quorumsecret", "zk/host1@EXAMPLE.COM": "krbish"}

func config(user, password string) *Config {
	return &Config{LearnerRequire: true, ServerRequire: true, Hosts: []string{"host1", "host2"},
		Mechanism: &Digest{Users: serverUsers, User: user, Password: password}}
}

// run runs Learn with learner's config against Accept with server's, on a
// pipe, and returns both outcomes.
func run(t testing.TB, learner, server *Config) (learnErr error, principal string, acceptErr error) {
	t.Helper()
	a, b := net.Pipe()
	deadline := time.Now().Add(10 * time.Second)
	_ = a.SetDeadline(deadline)
	_ = b.SetDeadline(deadline)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer b.Close()
		var mech [1]byte
		if _, err := io.ReadFull(b, mech[:]); err != nil {
			acceptErr = err
			return
		}
		principal, acceptErr = Accept(server, b, b, mech[0])
	}()
	mech := learner.HelloMech()
	if _, err := a.Write([]byte{mech}); err != nil {
		t.Fatal(err)
	}
	if mech != MechNone {
		learnErr = Learn(learner, a, a, "host1")
	}
	a.Close()
	<-done
	return learnErr, principal, acceptErr
}

func TestExchange(t *testing.T) {
	lerr, p, aerr := run(t, config("learner", "quorumsecret"), config("x", "y"))
	if lerr != nil || aerr != nil || p != "learner" {
		t.Fatalf("learn %v, accept %q %v", lerr, p, aerr)
	}
}

// A wrong password or an unknown user: the acceptor fails the exchange
// (its error names the reason) and answers an error, which the learner
// reports as a rejection.
func TestWrongCredentials(t *testing.T) {
	for _, c := range []struct{ user, password, reason string }{
		{"learner", "wrong", "mismatched response"},
		{"stranger", "quorumsecret", "cannot acquire password"},
	} {
		lerr, p, aerr := run(t, config(c.user, c.password), config("x", "y"))
		if !errors.Is(lerr, ErrRejected) {
			t.Errorf("%s: learner: %v, want ErrRejected", c.user, lerr)
		}
		if !errors.Is(aerr, ErrFailed) || !errors.Is(aerr, sasl.ErrFailed) || !strings.Contains(aerr.Error(), c.reason) || p != "" {
			t.Errorf("%s: acceptor: %q %v, want ErrFailed: %s", c.user, p, aerr, c.reason)
		}
	}
}

// The flag combinations: a dialler that does not authenticate is refused
// by a server that requires it, and let through by one that does not
// (nor has quorum SASL at all); a dialler that does, against a member
// without quorum SASL, learns that it is unsupported there.
func TestRequireFlags(t *testing.T) {
	noLearn := config("learner", "quorumsecret")
	noLearn.LearnerRequire = false
	if _, _, aerr := run(t, noLearn, config("x", "y")); !errors.Is(aerr, ErrRequired) {
		t.Errorf("no auth against serverRequireSasl: %v", aerr)
	}
	lenient := config("x", "y")
	lenient.ServerRequire = false
	for name, server := range map[string]*Config{"not required": lenient, "no quorum SASL": nil} {
		if lerr, p, aerr := run(t, noLearn, server); lerr != nil || aerr != nil || p != "" {
			t.Errorf("no auth, %s: learn %v, accept %q %v", name, lerr, p, aerr)
		}
	}
	// A failure is a failure whatever ServerRequire says.
	if lerr, _, aerr := run(t, config("learner", "wrong"), lenient); !errors.Is(lerr, ErrRejected) || !errors.Is(aerr, ErrFailed) {
		t.Errorf("wrong password, not required: learn %v, accept %v", lerr, aerr)
	}
	lerr, _, aerr := run(t, config("learner", "quorumsecret"), nil)
	if !errors.Is(lerr, ErrUnsupported) || !strings.Contains(lerr.Error(), "quorum.auth.enableSasl") || !errors.Is(aerr, ErrUnsupported) {
		t.Errorf("auth against no quorum SASL: learn %v, accept %v", lerr, aerr)
	}
}

// A principal name/host@REALM must name a host of the ensemble.
func TestPrincipalHost(t *testing.T) {
	server := config("x", "y")
	if lerr, p, aerr := run(t, config("zk/host1@EXAMPLE.COM", "krbish"), server); lerr != nil || aerr != nil || p != "zk/host1@EXAMPLE.COM" {
		t.Errorf("host of the ensemble: learn %v, accept %q %v", lerr, p, aerr)
	}
	server.Hosts = []string{"host2"}
	if lerr, _, aerr := run(t, config("zk/host1@EXAMPLE.COM", "krbish"), server); !errors.Is(lerr, ErrRejected) || !errors.Is(aerr, ErrFailed) || !strings.Contains(aerr.Error(), `host "host1"`) {
		t.Errorf("host not of the ensemble: learn %v, accept %v", lerr, aerr)
	}
	for p, want := range map[string]string{"a/b@c": "b", "a//c": "", "a@b/c": "b", "a/b@": "-", "a/b": "-", "learner": "-", "a/b@c/d": "-"} {
		host, ok := principalHost(p)
		if got := map[bool]string{true: host, false: "-"}[ok]; got != want {
			t.Errorf("principalHost(%q) = %q, want %q", p, got, want)
		}
	}
}

// fakeAcceptor plays the acceptor's side by hand on conn: the real
// DIGEST-MD5 challenge, then whatever last answers with.
func fakeAcceptor(t *testing.T, conn io.ReadWriter, last func(response []byte) []byte) {
	s := sasl.NewServerFor(func(string) (string, bool) { return "quorumsecret", true }, rand.Reader, sasl.QuorumService, sasl.QuorumRealm)
	_, tok, err := readFrame(conn)
	if err != nil {
		t.Error(err)
		return
	}
	ch, _ := s.Step(tok)
	if err := writeFrame(conn, statusInProgress, ch); err != nil {
		t.Error(err)
		return
	}
	if _, tok, err = readFrame(conn); err != nil {
		t.Error(err)
		return
	}
	_, _ = conn.Write(last(tok))
}

func learnAgainst(t *testing.T, last func([]byte) []byte) error {
	t.Helper()
	a, b := net.Pipe()
	_ = a.SetDeadline(time.Now().Add(10 * time.Second))
	_ = b.SetDeadline(time.Now().Add(10 * time.Second))
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer b.Close()
		fakeAcceptor(t, b, last)
	}()
	err := Learn(config("learner", "quorumsecret"), a, a, "host1")
	a.Close()
	<-done
	return err
}

// A learner sends nothing on a connection whose acceptor did not prove
// it knows the password (a wrong rspauth, or success without one), and
// ends on an oversize frame or an unknown status without reading it.
func TestLearnerChecksTheAcceptor(t *testing.T) {
	for name, c := range map[string]struct {
		last func([]byte) []byte
		want error
	}{
		"wrong rspauth": {func([]byte) []byte {
			return appendFrame(nil, statusSuccess, []byte("rspauth=00112233445566778899aabbccddeeff"))
		}, ErrFailed},
		"success, no token": {func([]byte) []byte { return appendFrame(nil, statusSuccess, nil) }, ErrFailed},
		"oversize frame":    {func([]byte) []byte { return []byte{0xff, 0xff, 0xff, 0xff, statusSuccess} }, ErrFrame},
		"unknown status":    {func([]byte) []byte { return appendFrame(nil, 9, nil) }, ErrFrame},
		"empty frame":       {func([]byte) []byte { return []byte{0, 0, 0, 0} }, ErrFrame},
		"closed inside":     {func([]byte) []byte { return []byte{0, 0, 0, 9, statusSuccess} }, ErrFrame},
	} {
		if err := learnAgainst(t, c.last); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

// The acceptor refuses garbage, an oversize token (before reading it), a
// learner frame of another status and a token the mechanism refuses.
func TestAcceptBadInput(t *testing.T) {
	oversize := binary.BigEndian.AppendUint32(nil, 1+MaxToken+1)
	for name, c := range map[string]struct {
		in   []byte
		want error
	}{
		"garbage":        {[]byte("GET / HTTP/1.1\r\n\r\n"), ErrFrame},
		"oversize token": {append(oversize, make([]byte, 100)...), ErrFrame},
		"success status": {appendFrame(nil, statusSuccess, nil), ErrFrame},
		"nothing":        {nil, ErrFrame},
		"big response":   {append(appendFrame(nil, 0, nil), appendFrame(nil, 0, bytes.Repeat([]byte("a"), sasl.MaxResponse+1))...), ErrFailed},
		"bad response":   {append(appendFrame(nil, 0, nil), appendFrame(nil, 0, []byte(`username="learner"`))...), ErrFailed},
	} {
		var out bytes.Buffer
		p, err := Accept(config("x", "y"), bytes.NewReader(c.in), &out, MechDigest)
		if !errors.Is(err, c.want) || p != "" {
			t.Errorf("%s: %q %v, want %v", name, p, err, c.want)
		}
	}
	var out bytes.Buffer
	if _, err := Accept(config("x", "y"), bytes.NewReader(appendFrame(nil, 0, nil)), &out, 7); !errors.Is(err, ErrUnsupported) || !bytes.Equal(out.Bytes(), appendFrame(nil, statusUnsupported, nil)) {
		t.Errorf("unknown mechanism: %v, answered %x", err, out.Bytes())
	}
}

// endless is a mechanism whose exchanges never complete.
type endless struct{}

func (endless) ID() byte                   { return 9 }
func (endless) Name() string               { return "ENDLESS" }
func (endless) NewServer() ServerExchange  { return endlessEx{} }
func (endless) NewLearner(string) Exchange { return endlessEx{} }

type endlessEx struct{}

func (endlessEx) Step([]byte) ([]byte, error) { return []byte("more"), nil }
func (endlessEx) Complete() bool              { return false }
func (endlessEx) Principal() string           { return "" }

// An exchange that does not complete ends after MaxRounds on both sides.
func TestRoundsBounded(t *testing.T) {
	c := &Config{LearnerRequire: true, ServerRequire: true, Mechanism: endless{}}
	lerr, _, aerr := run(t, c, c)
	if !errors.Is(aerr, ErrFailed) || !strings.Contains(aerr.Error(), "rounds") || !errors.Is(lerr, ErrRejected) {
		t.Errorf("learn %v, accept %v", lerr, aerr)
	}
	// A learner facing an acceptor that answers "in progress" for ever.
	var in bytes.Buffer
	for range MaxRounds + 2 {
		in.Write(appendFrame(nil, statusInProgress, []byte("more")))
	}
	if err := Learn(c, &in, io.Discard, "h"); !errors.Is(err, ErrFrame) || !strings.Contains(err.Error(), "rounds") {
		t.Errorf("learner: %v", err)
	}
}

// FuzzAccept feeds bytes as a learner's to the acceptor (DIGEST-MD5 and
// GSSAPI), and as an acceptor's to the learner: nothing panics, nothing
// authenticates, and every error says why the exchange ended.
func FuzzAccept(f *testing.F) {
	f.Add(appendFrame(nil, 0, nil))
	f.Add(append(appendFrame(nil, 0, nil), appendFrame(nil, 0, []byte(`username="learner",realm="zk-quorum-sasl-md5"`))...))
	f.Add(appendFrame(nil, statusSuccess, []byte("rspauth=00")))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(appendFrame(nil, statusInProgress, []byte(`realm="zk-quorum-sasl-md5",nonce="abc",charset=utf-8,algorithm=md5-sess`)))
	f.Add(appendFrame(nil, statusInProgress, []byte{0x60, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x01, 0x00}))
	krb := keytabAcceptor(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c := config("learner", "quorumsecret")
		p, err := Accept(c, bytes.NewReader(data), io.Discard, MechDigest)
		if err == nil || p != "" || !(errors.Is(err, ErrFrame) || errors.Is(err, ErrFailed)) {
			t.Fatalf("accept: %q %v", p, err)
		}
		p, err = Accept(krb, bytes.NewReader(data), io.Discard, MechGSSAPI)
		if err == nil || p != "" || !(errors.Is(err, ErrFrame) || errors.Is(err, ErrFailed)) {
			t.Fatalf("accept GSSAPI: %q %v", p, err)
		}
		err = Learn(c, bytes.NewReader(data), io.Discard, "host1")
		if err == nil || !(errors.Is(err, ErrFrame) || errors.Is(err, ErrFailed) || errors.Is(err, ErrRejected) || errors.Is(err, ErrUnsupported)) {
			t.Fatalf("learn: %v", err)
		}
	})
}

// levels is a slog handler that keeps the level of every record.
type levels struct{ got []slog.Level }

func (h *levels) Enabled(context.Context, slog.Level) bool { return true }
func (h *levels) Handle(_ context.Context, r slog.Record) error {
	h.got = append(h.got, r.Level)
	return nil
}
func (h *levels) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *levels) WithGroup(string) slog.Handler      { return h }

// A Reporter warns of a peer's first failure and of a new reason, and
// tells of its first success, and of one after failures; repeats are
// debug lines.
func TestReporter(t *testing.T) {
	h := &levels{}
	r := &Reporter{Log: slog.New(h)}
	e1, e2 := errors.New("one"), errors.New("two")
	r.Failed("a", "failed", e1)
	r.Failed("a", "failed", e1)
	r.Failed("a", "failed", e2)
	r.Succeeded("a", "ok")
	r.Succeeded("a", "ok")
	r.Failed("b", "failed", e1)
	want := []slog.Level{slog.LevelWarn, slog.LevelDebug, slog.LevelWarn, slog.LevelInfo, slog.LevelDebug, slog.LevelWarn}
	if !slices.Equal(h.got, want) {
		t.Errorf("levels %v, want %v", h.got, want)
	}
}

// BenchmarkExchange: one whole DIGEST-MD5 exchange, both sides, on an
// in-memory pipe: what quorum SASL adds to opening a connection.
func BenchmarkExchange(b *testing.B) {
	learner, server := config("learner", "quorumsecret"), config("x", "y")
	for b.Loop() {
		if lerr, _, aerr := run(b, learner, server); lerr != nil || aerr != nil {
			b.Fatal(lerr, aerr)
		}
	}
}
