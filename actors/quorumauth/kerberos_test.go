package quorumauth

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/paddockdb/paddock/wire/kerberos"
	"github.com/paddockdb/paddock/wire/zktest"
)

// realm is a test KDC's realm with the acceptor zkquorum/host1 and the
// learners learner/host1 and learner/host9 (a host outside the ensemble).
type realm struct {
	kdc                   *zktest.KDC
	acceptorKT, learnerKT string
}

func startRealm(t testing.TB) *realm {
	t.Helper()
	k := zktest.StartKDC(t)
	for _, p := range []string{"zkquorum/host1", "zkquorum/host2", "learner/host1", "learner/host9"} {
		k.AddPrincipal(p, "")
	}
	return &realm{kdc: k, acceptorKT: k.Keytab("acceptor.keytab", "zkquorum/host1"), learnerKT: k.Keytab("learner.keytab", "learner/host1", "learner/host9")}
}

// acceptor is zkquorum/host1's acceptor from keytab kt.
func acceptor(t testing.TB, kt string) *kerberos.Acceptor {
	t.Helper()
	tab, err := keytab.Load(kt)
	if err != nil {
		t.Fatal(err)
	}
	a, err := kerberos.NewAcceptor(tab, kerberos.Principal{Name: []string{"zkquorum", "host1"}, Realm: zktest.Realm})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// krbConfig is a member with r's acceptor that logs in as learner and
// asks tickets for servicePrincipal.
func (r *realm) config(t testing.TB, learner, servicePrincipal string) *Config {
	t.Helper()
	conf, err := kerberos.LoadConfig(r.kdc.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	return &Config{LearnerRequire: true, ServerRequire: true, Hosts: []string{"host1", "host2"}, Mechanism: &Kerberos{
		Acceptor:         acceptor(t, r.acceptorKT),
		ServicePrincipal: servicePrincipal,
		Login: func() (*kerberos.Credentials, error) {
			return kerberos.NewCredentials(conf, learner, r.learnerKT, "")
		},
	}}
}

// Two members authenticate each other with Kerberos: the learner's
// principal is what the acceptor reports, _HOST naming the peer (host1).
// Each exchange logs in afresh, and leaves no goroutine behind (gokrb5
// renews a login's tickets on one until the exchange drops them).
func TestKerberosExchange(t *testing.T) {
	r := startRealm(t)
	c := r.config(t, "learner/host1", "zkquorum/_HOST")
	before := runtime.NumGoroutine()
	for range 5 {
		lerr, p, aerr := run(t, c, c)
		if lerr != nil || aerr != nil || p != "learner/host1@"+zktest.Realm {
			t.Fatalf("learn %v, accept %q %v", lerr, p, aerr)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after 5 exchanges, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond) // the renewal goroutines end on their own once cancelled
	}
}

// What cannot authenticate: the learner gets a ticket for a key the
// acceptor's keytab lacks (rekeyed since), for another principal than
// the acceptor's, for a principal the KDC does not know; the learner's
// principal names a host outside the ensemble; the learner's keytab
// lacks its current key.
func TestKerberosRefused(t *testing.T) {
	r := startRealm(t)
	server := r.config(t, "learner/host1", "zkquorum/_HOST")
	for _, c := range []struct {
		name             string
		learner, service string
		rekey            string
		learnErr         error
		learnWhy         string
		acceptWhy        string // "": the acceptor never sees a token
	}{
		{"another service principal", "learner/host1", "zkquorum/host2", "", ErrRejected, "", "ticket for zkquorum/host2@EXAMPLE.COM, this server is zkquorum/host1@EXAMPLE.COM"},
		{"unknown service principal", "learner/host1", "zkquorum/host3", "", ErrFailed, "service ticket for zkquorum/host3", ""},
		{"malformed service principal", "learner/host1", "zkquorum", "", ErrFailed, `"zkquorum" is not of the form service/host`, ""},
		{"host outside the ensemble", "learner/host9", "zkquorum/_HOST", "", ErrRejected, "", `principal "learner/host9@EXAMPLE.COM" names host "host9", which is not a member of the ensemble`},
		{"acceptor's key replaced", "learner/host1", "zkquorum/_HOST", "zkquorum/host1", ErrRejected, "", "AP-REQ rejected"},
		{"learner's key replaced", "learner/host1", "zkquorum/_HOST", "learner/host1", ErrFailed, "login as learner/host1@EXAMPLE.COM", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.rekey != "" {
				r.kdc.Rekey(c.rekey)
			}
			lerr, p, aerr := run(t, r.config(t, c.learner, c.service), server)
			if !errors.Is(lerr, c.learnErr) || !strings.Contains(lerr.Error(), c.learnWhy) || p != "" {
				t.Errorf("learner: %q %v, want %v: %s", p, lerr, c.learnErr, c.learnWhy)
			}
			if c.acceptWhy == "" {
				if !errors.Is(aerr, ErrFrame) { // closed before its first frame
					t.Errorf("acceptor: %v, want it to see the learner close", aerr)
				}
			} else if !errors.Is(aerr, ErrFailed) || !errors.Is(aerr, kerberos.ErrFailed) && !strings.Contains(aerr.Error(), "not a member") || !strings.Contains(aerr.Error(), c.acceptWhy) {
				t.Errorf("acceptor: %v, want %s", aerr, c.acceptWhy)
			}
		})
	}
}

// ServicePrincipalFor replaces _HOST as ZooKeeper does, only in a
// principal of two parts without a realm.
func TestServicePrincipalFor(t *testing.T) {
	for pattern, want := range map[string]string{
		"zkquorum/_HOST":             "zkquorum/zk1.example.com",
		"zkquorum/_HOST/":            "zkquorum/zk1.example.com",
		"zkquorum/_HOST@EXAMPLE.COM": "zkquorum/_HOST@EXAMPLE.COM",
		"zkquorum/localhost":         "zkquorum/localhost",
		"zkquorum/_host":             "zkquorum/_host",
		"a/_HOST/b":                  "a/_HOST/b",
		"_HOST":                      "_HOST",
	} {
		if got := ServicePrincipalFor(pattern, "ZK1.example.com"); got != want {
			t.Errorf("ServicePrincipalFor(%q) = %q, want %q", pattern, got, want)
		}
	}
}

// keytabAcceptor is zkquorum/host1's acceptor with a key of its own: no
// KDC needed to refuse tokens.
func keytabAcceptor(t testing.TB) *Config {
	t.Helper()
	kt := keytab.New()
	if err := kt.AddEntry("zkquorum/host1", zktest.Realm, "secret", time.Now(), 1, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
		t.Fatal(err)
	}
	a, err := kerberos.NewAcceptor(kt, kerberos.Principal{Name: []string{"zkquorum", "host1"}, Realm: zktest.Realm})
	if err != nil {
		t.Fatal(err)
	}
	return &Config{LearnerRequire: true, ServerRequire: true, Mechanism: &Kerberos{Acceptor: a, ServicePrincipal: DefaultServicePrincipal}}
}

// Tokens that are not a learner's GSSAPI tokens fail the exchange with
// the reason, and the learner is answered an error; a DIGEST-MD5 learner
// against a GSSAPI acceptor is told the mechanism is unsupported.
func TestKerberosAcceptBadTokens(t *testing.T) {
	c := keytabAcceptor(t)
	for name, tok := range map[string][]byte{
		"empty":         nil,
		"garbage":       []byte("GET / HTTP/1.1"),
		"not an AP-REQ": {0x60, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x02, 0x00},
		"truncated":     {0x60, 0x7f, 0x06, 0x09},
	} {
		var out bytes.Buffer
		p, err := Accept(c, bytes.NewReader(appendFrame(nil, statusInProgress, tok)), &out, MechGSSAPI)
		if !errors.Is(err, ErrFailed) || !errors.Is(err, kerberos.ErrFailed) || p != "" || !bytes.Equal(out.Bytes(), appendFrame(nil, statusError, nil)) {
			t.Errorf("%s: %q %v, answered %x", name, p, err, out.Bytes())
		}
	}
	var out bytes.Buffer
	if _, err := Accept(c, bytes.NewReader(appendFrame(nil, statusInProgress, nil)), &out, MechDigest); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "GSSAPI") {
		t.Errorf("DIGEST-MD5 learner: %v", err)
	}
}

// BenchmarkKerberosExchange: one whole GSSAPI exchange, both sides, with
// the learner's login to a local test KDC (an AS and a TGS exchange) and
// the acceptor's check of the ticket: what Kerberos quorum SASL adds to
// opening a connection between members.
func BenchmarkKerberosExchange(b *testing.B) {
	r := startRealm(b)
	c := r.config(b, "learner/host1", "zkquorum/_HOST")
	for b.Loop() {
		if lerr, _, aerr := run(b, c, c); lerr != nil || aerr != nil {
			b.Fatal(lerr, aerr)
		}
	}
}
