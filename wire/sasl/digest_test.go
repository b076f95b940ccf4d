package sasl

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

// TestResponseValueRFC2831 checks the digest computation against the
// example of RFC 2831 section 4.
func TestResponseValueRFC2831(t *testing.T) {
	const uri, realm = "imap/elwood.innosoft.com", "elwood.innosoft.com"
	got := responseValue("AUTHENTICATE", uri, "auth", "chris", realm, "secret", "OA6MG9tEQGm2hh", "OA6MHXh6VqTrRk", nil)
	if string(got) != "d388dad90d4bbd760a152321f2143af7" {
		t.Errorf("response = %s", got)
	}
	got = responseValue("", uri, "auth", "chris", realm, "secret", "OA6MG9tEQGm2hh", "OA6MHXh6VqTrRk", nil)
	if string(got) != "ea40f60335c427b5527b84dbabcdfffd" {
		t.Errorf("rspauth = %s", got)
	}
}

func users(u string) (string, bool) {
	switch u {
	case "bob":
		return "bobsecret", true
	case "zoé":
		return "mot de passe ☃", true
	}
	return "", false
}

func exchange(t *testing.T, user, pass string) (*Server, error) {
	t.Helper()
	return exchangeWith(t, NewServer(users, rand.Reader), NewClient(user, pass, rand.Reader))
}

func exchangeWith(t *testing.T, s *Server, c *Client) (*Server, error) {
	t.Helper()
	tok, err := c.Step(nil)
	if err != nil || len(tok) != 0 {
		t.Fatalf("first client token %q, %v; want empty", tok, err)
	}
	for !c.Complete() {
		st, err := s.Step(tok)
		if err != nil {
			return s, err
		}
		if tok, err = c.Step(st); err != nil {
			t.Fatalf("client: %v", err)
		}
	}
	if !s.Complete() {
		t.Fatal("client complete, server not")
	}
	return s, nil
}

// The quorum's names (QuorumService, QuorumRealm) make another
// digest-uri and realm: a quorum learner authenticates against a quorum
// server, and a client-port client does not, nor the other way round.
func TestExchangeQuorumNames(t *testing.T) {
	quorum := func() *Server { return NewServerFor(users, rand.Reader, QuorumService, QuorumRealm) }
	s, err := exchangeWith(t, quorum(), NewClientFor("bob", "bobsecret", rand.Reader, QuorumService, QuorumRealm))
	if err != nil || s.User() != "bob" {
		t.Fatalf("quorum exchange: user %q, %v", s.User(), err)
	}
	if _, err := exchangeWith(t, quorum(), NewClient("bob", "bobsecret", rand.Reader)); err == nil || !strings.Contains(err.Error(), "mismatched URI") {
		t.Errorf("client-port client against a quorum server: %v", err)
	}
	if _, err := exchangeWith(t, NewServer(users, rand.Reader), NewClientFor("bob", "bobsecret", rand.Reader, QuorumService, QuorumRealm)); err == nil || !strings.Contains(err.Error(), "URI") {
		t.Errorf("quorum learner against a client-port server: %v", err)
	}
}

func TestExchange(t *testing.T) {
	for _, u := range []struct{ user, pass string }{{"bob", "bobsecret"}, {"zoé", "mot de passe ☃"}} {
		s, err := exchange(t, u.user, u.pass)
		if err != nil {
			t.Fatalf("%s: %v", u.user, err)
		}
		if s.User() != u.user || s.Authzid() != u.user {
			t.Errorf("user %q authzid %q, want %q", s.User(), s.Authzid(), u.user)
		}
		// A token after success: the JDK's "illegal state".
		if _, err := s.Step(nil); !errors.Is(err, ErrFailed) {
			t.Errorf("token after success: %v", err)
		}
	}
}

func TestExchangeFails(t *testing.T) {
	for _, c := range []struct{ user, pass, why string }{
		{"bob", "wrong", "mismatched response"},
		{"eve", "bobsecret", "cannot acquire password"},
		{"", "", "cannot acquire password"},
	} {
		s, err := exchange(t, c.user, c.pass)
		if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s/%s: %v, want %q", c.user, c.pass, err, c.why)
		}
		if s.Complete() || s.User() != "" {
			t.Errorf("%s: complete after failure", c.user)
		}
		if _, err := s.Step(nil); err == nil {
			t.Errorf("%s: a token after failure was taken", c.user)
		}
	}
}

// respond builds a response to srv's challenge, then lets edit change it.
func badResponse(t *testing.T, edit func(string) string) error {
	t.Helper()
	s := NewServer(users, rand.Reader)
	ch, err := s.Step(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient("bob", "bobsecret", rand.Reader)
	c.Step(nil)
	resp, err := c.Step(ch)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Step([]byte(edit(string(resp))))
	return err
}

func TestBadResponses(t *testing.T) {
	if err := badResponse(t, func(s string) string { return s }); err != nil {
		t.Fatalf("unchanged response: %v", err)
	}
	cases := map[string]func(string) string{
		"empty":        func(string) string { return "" },
		"garbage":      func(string) string { return "\x00\xff not a directive" },
		"no username":  func(s string) string { return strings.Replace(s, "username=\"bob\",", "", 1) },
		"other realm":  func(s string) string { return strings.Replace(s, Realm, "EXAMPLE.COM", 1) },
		"other nonce":  func(s string) string { return strings.Replace(s, "nonce=\"", "nonce=\"x", 1) },
		"nc 2":         func(s string) string { return strings.Replace(s, "nc=00000001", "nc=00000002", 1) },
		"nc not hex":   func(s string) string { return strings.Replace(s, "nc=00000001", "nc=zz", 1) },
		"qop auth-int": func(s string) string { return strings.Replace(s, "qop=auth", "qop=auth-int", 1) },
		"other uri":    func(s string) string { return strings.Replace(s, DigestURI, "zookeeper/elsewhere", 1) },
		"no uri":       func(s string) string { return strings.Replace(s, "digest-uri=\""+DigestURI+"\",", "", 1) },
		"repeated":     func(s string) string { return s + ",username=\"bob\"" },
		"bad charset":  func(s string) string { return strings.Replace(s, "charset=utf-8", "charset=latin1", 1) },
		"bad maxbuf":   func(s string) string { return strings.Replace(s, "maxbuf=65536", "maxbuf=lots", 1) },
		"unterminated": func(s string) string { return s + ",authzid=\"bob" },
		"authzid":      func(s string) string { return s + ",authzid=\"super\"" }, // changes the digest
		"too long":     func(s string) string { return s + "," + strings.Repeat("x=y,", MaxResponse/4) },
		"not utf-8":    func(s string) string { return strings.Replace(s, "\"bob\"", "\"b\xffb\"", 1) },
		"upper-case hex": func(s string) string {
			i := strings.Index(s, "response=")
			return s[:i+9] + strings.ToUpper(s[i+9:i+41]) + s[i+41:]
		},
	}
	for name, edit := range cases {
		if err := badResponse(t, edit); !errors.Is(err, ErrFailed) {
			t.Errorf("%s: %v, want a failure", name, err)
		}
	}
}

func TestParseDirectives(t *testing.T) {
	d, err := ParseDirectives([]byte(` ,Realm="a\"b" , nonce=xyz,,other="q,r",QOP = auth `), []string{"realm", "nonce", "qop"})
	if err != nil {
		t.Fatal(err)
	}
	if d["realm"] != `a"b` || d["nonce"] != "xyz" || d["qop"] != "auth" || len(d) != 3 {
		t.Errorf("got %q", d)
	}
	for _, bad := range []string{`=x`, `a`, `a="x`, `a=x y`, `a="x"y`, "a=\"\\", strings.Repeat("a=b,", maxDirectives+1)} {
		if _, err := ParseDirectives([]byte(bad), nil); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestFirstTokenIgnored: a client's initial response is ignored, as the
// JDK does (it supports no subsequent authentication).
func TestFirstTokenIgnored(t *testing.T) {
	s := NewServer(users, rand.Reader)
	ch, err := s.Step([]byte("username=\"bob\""))
	if err != nil || !bytes.HasPrefix(ch, []byte(`realm="zk-sasl-md5",nonce="`)) || !bytes.HasSuffix(ch, []byte(`",charset=utf-8,algorithm=md5-sess`)) {
		t.Fatalf("challenge %q, %v", ch, err)
	}
}

func FuzzParseDirectives(f *testing.F) {
	c := NewClient("bob", "bobsecret", rand.Reader)
	c.Step(nil)
	resp, _ := c.Step([]byte(`realm="zk-sasl-md5",nonce="abc",charset=utf-8,algorithm=md5-sess`))
	f.Add(resp)
	f.Add([]byte(`realm="zk-sasl-md5",nonce="abc",charset=utf-8,algorithm=md5-sess`))
	f.Add([]byte(`rspauth=0123`))
	f.Add([]byte(`a="\"",,b=c`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDirectives(data, responseKeys)
		if err != nil {
			return
		}
		n := 0
		for k, v := range d {
			n += len(k) + len(v)
		}
		if n > len(data) {
			t.Fatalf("%d bytes of directives from %d of input", n, len(data))
		}
		// The server must never complete on a token it did not issue a
		// nonce for.
		s := NewServer(users, bytes.NewReader(make([]byte, nonceBytes)))
		if _, err := s.Step(nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Step(data); err == nil && !s.Complete() {
			t.Fatal("no error, not complete")
		}
	})
}
