package kerberos

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

const realm = "EXAMPLE.COM"

var (
	service = Principal{Name: []string{"zookeeper", "localhost"}, Realm: realm}
	bob     = Principal{Name: []string{"bob"}, Realm: realm}
)

// newKeytab is a keytab with a key derived from password for each
// principal, as kadmin's ktadd would write it.
func newKeytab(t testing.TB, password string, etype int32, ps ...Principal) *keytab.Keytab {
	t.Helper()
	kt := keytab.New()
	for _, p := range ps {
		if err := kt.AddEntry(strings.Join(p.Name, "/"), p.Realm, password, time.Now(), 1, etype); err != nil {
			t.Fatal(err)
		}
	}
	return kt
}

// ticket is what a KDC would issue to bob for sname, encrypted with kt's
// key, valid from start to end.
func ticket(t testing.TB, kt *keytab.Keytab, sname Principal, etype int32, start, end time.Time) (messages.Ticket, types.EncryptionKey) {
	t.Helper()
	tkt, key, err := messages.NewTicket(bob.name(nametype.KRB_NT_PRINCIPAL), realm, sname.name(nametype.KRB_NT_SRV_HST), sname.Realm,
		types.NewKrbFlags(), kt, etype, 1, start, start, end, end)
	if err != nil {
		t.Fatal(err)
	}
	return tkt, key
}

func fixture(t testing.TB) (*Acceptor, *Client) {
	t.Helper()
	kt := newKeytab(t, "service-secret", etypeID.AES256_CTS_HMAC_SHA1_96, service)
	a, err := NewAcceptor(kt, service)
	if err != nil {
		t.Fatal(err)
	}
	tkt, key := ticket(t, kt, service, etypeID.AES256_CTS_HMAC_SHA1_96, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	return a, NewClientWithTicket(bob, tkt, key)
}

// run drives both sides until the client is complete or a side fails.
func run(t testing.TB, s *Server, c *Client) error {
	t.Helper()
	var srv []byte
	for i := 0; i < 8; i++ {
		tok, err := c.Step(srv)
		if err != nil {
			t.Fatalf("client: %v", err)
		}
		if c.Complete() {
			return nil
		}
		if srv, err = s.Step(tok); err != nil {
			return err
		}
	}
	t.Fatal("no end after 8 rounds")
	return nil
}

func TestExchange(t *testing.T) {
	// aes256-sha2 (20) works with a KDC's keys, but gokrb5's NewTicket
	// makes session keys of the wrong size for it: not tested here.
	for _, etype := range []int32{etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.AES256_CTS_HMAC_SHA1_96, etypeID.AES128_CTS_HMAC_SHA256_128} {
		kt := newKeytab(t, "service-secret", etype, service)
		a, err := NewAcceptor(kt, service)
		if err != nil {
			t.Fatal(err)
		}
		tkt, key := ticket(t, kt, service, etype, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
		s, c := a.NewServer(), NewClientWithTicket(bob, tkt, key)
		if err := run(t, s, c); err != nil {
			t.Fatalf("etype %d: %v", etype, err)
		}
		if !s.Complete() || s.User() != "bob@EXAMPLE.COM" || s.Authzid() != "bob@EXAMPLE.COM" {
			t.Errorf("etype %d: complete %v peer %q authzid %q", etype, s.Complete(), s.User(), s.Authzid())
		}
		if _, err := s.Step(nil); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "already complete") {
			t.Errorf("token after success: %v", err)
		}
		if s.Complete() {
			t.Error("still complete after a token past the end")
		}
	}
}

// apReqToken builds an initial context token for tkt with the
// authenticator's time and GSS flags chosen by the test.
func apReqToken(t testing.TB, tkt messages.Ticket, key types.EncryptionKey, ctime time.Time, gssFlags uint32) ([]byte, types.Authenticator) {
	t.Helper()
	auth, err := types.NewAuthenticator(realm, bob.name(nametype.KRB_NT_PRINCIPAL))
	if err != nil {
		t.Fatal(err)
	}
	auth.CTime, auth.Cusec = ctime.Truncate(time.Second), 0
	auth.Cksum = gssChecksum(gssFlags)
	req, err := messages.NewAPReq(tkt, key, auth)
	if err != nil {
		t.Fatal(err)
	}
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return frameContextToken(tokAPReq, b), auth
}

// TestWithoutMutual: an AP-REQ without the mutual flag (the JDK client's
// default) is answered with the security-layer offer at once, with the
// initiator's sequence number.
func TestWithoutMutual(t *testing.T) {
	a, c := fixture(t)
	tok, auth := apReqToken(t, c.ticket, c.session, time.Now(), flagInteg)
	s := a.NewServer()
	offer, err := s.Step(tok)
	if err != nil {
		t.Fatal(err)
	}
	msg, seq, err := unwrap(c.session, true, offer)
	if err != nil || seq != uint64(auth.SeqNumber) || !bytes.Equal(msg, []byte{1, 1, 0, 0}) {
		t.Fatalf("offer %x seq %d, %v; want 01010000 seq %d", msg, seq, err, auth.SeqNumber)
	}
	answer, err := wrap(c.session, false, false, uint64(auth.SeqNumber), layerToken(layerNone, 0, "bob@EXAMPLE.COM"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := s.Step(answer); err != nil || out != nil || !s.Complete() {
		t.Fatalf("answer: %x, %v, complete %v", out, err, s.Complete())
	}
}

func TestRefused(t *testing.T) {
	now := time.Now()
	kt := newKeytab(t, "service-secret", etypeID.AES256_CTS_HMAC_SHA1_96, service)
	other := Principal{Name: []string{"other", "localhost"}, Realm: realm}
	ktBoth := newKeytab(t, "service-secret", etypeID.AES256_CTS_HMAC_SHA1_96, service, other)
	a, err := NewAcceptor(kt, service)
	if err != nil {
		t.Fatal(err)
	}
	good, goodKey := ticket(t, kt, service, etypeID.AES256_CTS_HMAC_SHA1_96, now.Add(-time.Minute), now.Add(time.Hour))
	stale := newKeytab(t, "an-old-password", etypeID.AES256_CTS_HMAC_SHA1_96, service)
	wrongKey, wrongKeyKey := ticket(t, stale, service, etypeID.AES256_CTS_HMAC_SHA1_96, now.Add(-time.Minute), now.Add(time.Hour))
	otherTkt, otherKey := ticket(t, ktBoth, other, etypeID.AES256_CTS_HMAC_SHA1_96, now.Add(-time.Minute), now.Add(time.Hour))
	expired, expiredKey := ticket(t, kt, service, etypeID.AES256_CTS_HMAC_SHA1_96, now.Add(-2*time.Hour), now.Add(-time.Hour))
	replayed, _ := apReqToken(t, good, goodKey, now, flagMutual)
	if _, err := a.NewServer().Step(replayed); err != nil {
		t.Fatalf("first use: %v", err)
	}
	tok := func(tkt messages.Ticket, key types.EncryptionKey, at time.Time) []byte {
		b, _ := apReqToken(t, tkt, key, at, flagMutual)
		return b
	}
	cases := []struct {
		name, why string
		token     []byte
	}{
		{"empty (a DIGEST-MD5 client)", "does not start with 0x60", nil},
		{"DIGEST-MD5 response", "does not start with 0x60", []byte(`username="bob",realm="zk-sasl-md5"`)},
		{"garbage", "length does not match", []byte{0x60, 0x05, 1, 2}},
		{"other mechanism", "another mechanism", frameOID([]byte{0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02}, []byte{1, 0, 0x30, 0})},
		{"no message", "does not decode", frameContextToken(tokAPReq, nil)},
		{"bad message", "does not decode", frameContextToken(tokAPReq, []byte{0x6e, 0x03, 0x30, 0x01, 0x00})},
		{"AP-REP", "want an AP-REQ", frameContextToken(tokAPRep, []byte{0x6f, 0})},
		{"10 MB", "over the limit", bytes.Repeat([]byte{0x60}, 10<<20)},
		{"ticket for another service", "ticket for other/localhost@EXAMPLE.COM", tok(otherTkt, otherKey, now)},
		{"wrong key", "AP-REQ rejected", tok(wrongKey, wrongKeyKey, now)},
		{"expired ticket", "expired", tok(expired, expiredKey, now)},
		{"authenticator too old", "clock skew", tok(good, goodKey, now.Add(-10*time.Minute))},
		{"authenticator in the future", "clock skew", tok(good, goodKey, now.Add(10*time.Minute))},
		{"replayed authenticator", "replayed authenticator", replayed},
	}
	for _, c := range cases {
		s := a.NewServer()
		_, err := s.Step(c.token)
		if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: %v, want %q", c.name, err, c.why)
		}
		if _, err := s.Step(nil); err == nil || s.Complete() {
			t.Errorf("%s: a token after failure was taken", c.name)
		}
	}
}

func frameOID(oid, inner []byte) []byte {
	body := append(append([]byte{}, oid...), inner...)
	return append(appendDERLength([]byte{0x60}, len(body)), body...)
}

// TestBadLayerAnswers: the client's wrapped answer is checked like the
// JDK's GssKrb5Server checks it.
func TestBadLayerAnswers(t *testing.T) {
	cases := map[string]func(key types.EncryptionKey, seq uint64) []byte{
		"tampered": func(key types.EncryptionKey, seq uint64) []byte {
			b, _ := wrap(key, false, false, seq, layerToken(layerNone, 0, "bob@EXAMPLE.COM"))
			b[len(b)-1] ^= 1
			return b
		},
		"privacy only": func(key types.EncryptionKey, seq uint64) []byte {
			b, _ := wrap(key, false, false, seq, layerToken(layerPrivacy, 0, ""))
			return b
		},
		"short": func(key types.EncryptionKey, seq uint64) []byte {
			b, _ := wrap(key, false, false, seq, []byte{1, 0})
			return b
		},
		"wrong sequence": func(key types.EncryptionKey, seq uint64) []byte {
			b, _ := wrap(key, false, false, seq+1, layerToken(layerNone, 0, ""))
			return b
		},
		"from the acceptor": func(key types.EncryptionKey, seq uint64) []byte {
			b, _ := wrap(key, true, false, seq, layerToken(layerNone, 0, ""))
			return b
		},
		"authzid not UTF-8": func(key types.EncryptionKey, seq uint64) []byte {
			b, _ := wrap(key, false, false, seq, layerToken(layerNone, 0, "b\xffb"))
			return b
		},
		"not a wrap token": func(types.EncryptionKey, uint64) []byte { return []byte("hello") },
	}
	for name, answer := range cases {
		a, c := fixture(t)
		s := a.NewServer()
		var srv []byte
		for c.step != 3 {
			tok, err := c.Step(srv)
			if err != nil {
				t.Fatal(err)
			}
			if srv, err = s.Step(tok); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Step(answer(c.key, c.mySeq)); !errors.Is(err, ErrFailed) || s.Complete() {
			t.Errorf("%s: %v, complete %v", name, err, s.Complete())
		}
	}
}

// TestClientChecksServer: the client refuses an AP-REP that does not
// come from the holder of the service key, and a non-empty token after
// its last answer.
func TestClientChecksServer(t *testing.T) {
	_, c := fixture(t)
	if _, err := c.Step(nil); err != nil {
		t.Fatal(err)
	}
	forged, err := buildAPRep(types.EncryptionKey{KeyType: c.session.KeyType, KeyValue: make([]byte, len(c.session.KeyValue))}, c.auth.CTime, c.auth.Cusec, 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Step(frameContextToken(tokAPRep, forged)); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "does not decrypt") {
		t.Errorf("forged AP-REP: %v", err)
	}
	_, c = fixture(t)
	c.Step(nil)
	wrongTime, _ := buildAPRep(c.session, c.auth.CTime.Add(time.Second), c.auth.Cusec, 7)
	if _, err := c.Step(frameContextToken(tokAPRep, wrongTime)); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "echo") {
		t.Errorf("AP-REP with another time: %v", err)
	}
}

func TestWrapRotation(t *testing.T) {
	key := types.EncryptionKey{KeyType: etypeID.AES128_CTS_HMAC_SHA1_96, KeyValue: bytes.Repeat([]byte{7}, 16)}
	tok, err := wrap(key, true, false, 42, []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	if got, seq, err := unwrap(key, true, tok); err != nil || string(got) != "payload" || seq != 42 {
		t.Fatalf("unwrap: %q %d %v", got, seq, err)
	}
	// The same token rotated right by 5 (RRC=5), as a peer may send it.
	data := tok[wrapHeader:]
	rot := append(append(append([]byte{}, tok[:wrapHeader]...), data[len(data)-5:]...), data[:len(data)-5]...)
	rot[7] = 5
	if got, _, err := unwrap(key, true, rot); err != nil || string(got) != "payload" {
		t.Fatalf("rotated: %q %v", got, err)
	}
	if _, _, err := unwrap(key, false, tok); err == nil {
		t.Error("a token from the acceptor was taken as the initiator's")
	}
}

func TestNewAcceptor(t *testing.T) {
	kt := newKeytab(t, "s", etypeID.AES256_CTS_HMAC_SHA1_96, service)
	for _, c := range []struct {
		p   Principal
		why string
	}{
		{Principal{Name: []string{"zookeeper"}, Realm: realm}, "not of the form service/host@REALM"},
		{Principal{Name: []string{"zookeeper", "localhost"}}, "has no realm"},
		{Principal{Name: []string{"zookeeper", "otherhost"}, Realm: realm}, "no key for zookeeper/otherhost@EXAMPLE.COM (it has zookeeper/localhost@EXAMPLE.COM)"},
	} {
		if _, err := NewAcceptor(kt, c.p); err == nil || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: %v, want %q", c.p, err, c.why)
		}
	}
}

func TestParsePrincipal(t *testing.T) {
	for in, want := range map[string]string{"bob": "bob@D.ORG", "bob@R": "bob@R", "zookeeper/localhost@R": "zookeeper/localhost@R", "a/b/c": "a/b/c@D.ORG"} {
		p, err := ParsePrincipal(in, "D.ORG")
		if err != nil || p.String() != want {
			t.Errorf("%q: %v %v, want %s", in, p, err, want)
		}
	}
	for _, bad := range []string{"", "@R", "bob@", "a@b@c", "a//b@R", "a\\b@R", "bob/@R"} {
		if _, err := ParsePrincipal(bad, "D.ORG"); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// FuzzServerStep feeds any first token to a server and to the token
// decoders: no panic, no completion from one token, no AP-REQ accepted
// twice.
func FuzzServerStep(f *testing.F) {
	a, c := fixture(f)
	first, err := c.Step(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(first)
	f.Add(first[:len(first)/2])
	f.Add([]byte{0x05, 0x04, 0x00, 0xff, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{})
	key := c.session
	f.Fuzz(func(t *testing.T, data []byte) {
		s := a.NewServer()
		_, err := s.Step(data)
		if s.Complete() {
			t.Fatal("complete after one token")
		}
		if err == nil {
			// A genuine AP-REQ (the seed, in a fresh process): once only.
			if _, err := a.NewServer().Step(data); err == nil {
				t.Fatalf("token %x accepted twice", data)
			}
		}
		if _, _, err := unwrap(key, false, data); err == nil && len(data) > 0 && data[0] != 0x05 {
			t.Fatal("unwrap took a token that is not a wrap token")
		}
		if id, msg, err := parseContextToken(data); err == nil && len(msg)+len(krb5OID)+2 > len(data) {
			t.Fatalf("context token %x: %d bytes of message from %d", id, len(msg), len(data))
		}
	})
}

// TestReplayCacheExpires: an authenticator is remembered while it could
// pass the clock-skew check, and forgotten after.
func TestReplayCacheExpires(t *testing.T) {
	a, _ := fixture(t)
	now := time.Now()
	k := replayKey{client: "bob@EXAMPLE.COM", ctime: now.Unix()}
	if a.seen(k, now) || !a.seen(k, now.Add(MaxClockSkew)) {
		t.Fatal("a replay within the skew went unseen")
	}
	later := now.Add(3*MaxClockSkew + time.Second)
	if a.seen(replayKey{client: "carol@EXAMPLE.COM"}, later); len(a.replay) != 1 {
		t.Errorf("%d entries after the sweep, want only the new one", len(a.replay))
	}
}
