package kerberos

import (
	"fmt"
	"os"
	"strings"
	"time"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// LoadConfig reads a krb5.conf. path "" means the KRB5_CONFIG
// environment variable's first file, else /etc/krb5.conf, as MIT
// Kerberos looks for it.
func LoadConfig(path string) (*config.Config, error) {
	if path == "" {
		path = DefaultConfigPath()
	}
	c, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("paddock/wire/kerberos: krb5.conf %s: %w", path, err)
	}
	return c, nil
}

// DefaultConfigPath is where krb5.conf is looked for when no path is
// given: the first file of KRB5_CONFIG, else /etc/krb5.conf.
func DefaultConfigPath() string {
	if env := os.Getenv("KRB5_CONFIG"); env != "" {
		return strings.Split(env, ":")[0]
	}
	return "/etc/krb5.conf"
}

// Credentials are a client principal's Kerberos credentials: a keytab or
// a password, and the krb5.conf that says where the realm's KDC is. They
// get a ticket-granting ticket at the first exchange and service tickets
// as needed, and are safe for concurrent use. Close them when done: the
// gokrb5 client renews its tickets on a goroutine of its own until then.
type Credentials struct {
	cl        *krbclient.Client
	principal Principal
}

// NewCredentials makes the credentials of principal (name@REALM; the
// realm defaults to krb5.conf's default_realm) from a keytab file or,
// when keytabPath is "", a password.
func NewCredentials(conf *config.Config, principal, keytabPath, password string) (*Credentials, error) {
	p, err := ParsePrincipal(principal, conf.LibDefaults.DefaultRealm)
	if err != nil {
		return nil, err
	}
	if p.Realm == "" {
		return nil, fmt.Errorf("paddock/wire/kerberos: principal %q has no realm and krb5.conf names no default_realm", principal)
	}
	name := strings.Join(p.Name, "/")
	var cl *krbclient.Client
	if keytabPath != "" {
		kt, err := keytab.Load(keytabPath)
		if err != nil {
			return nil, fmt.Errorf("paddock/wire/kerberos: keytab %s: %w", keytabPath, err)
		}
		cl = krbclient.NewWithKeytab(name, p.Realm, kt, conf, krbclient.DisablePAFXFAST(true))
	} else {
		cl = krbclient.NewWithPassword(name, p.Realm, password, conf, krbclient.DisablePAFXFAST(true))
	}
	return &Credentials{cl: cl, principal: p}, nil
}

// Principal is the client principal.
func (c *Credentials) Principal() Principal { return c.principal }

// Close drops the tickets and stops their renewal.
func (c *Credentials) Close() { c.cl.Destroy() }

// NewClient starts an exchange with the service service/host (e.g.
// "zookeeper", "localhost": the Java client's zookeeper/<host>) in the
// client's realm: it gets a service ticket (logging in to the KDC first
// when it holds no valid ticket-granting ticket).
func (c *Credentials) NewClient(service, host string) (*Client, error) {
	if err := c.cl.AffirmLogin(); err != nil {
		return nil, fmt.Errorf("%w: login as %s: %v", ErrFailed, c.principal, err)
	}
	spn := service + "/" + host
	tkt, key, err := c.cl.GetServiceTicket(spn)
	if err != nil {
		return nil, fmt.Errorf("%w: service ticket for %s@%s: %v", ErrFailed, spn, c.principal.Realm, err)
	}
	return NewClientWithTicket(c.principal, tkt, key), nil
}

// Client is one SASL GSSAPI exchange on the client side (RFC 4752), as
// the MIT library runs it for kazoo: an AP-REQ asking for mutual
// authentication, the check of the server's AP-REP, an empty token, then
// the answer to the server's security-layer offer ("no security layer",
// the client's principal as the authorization id). It is complete when
// the server accepted that answer.
type Client struct {
	principal Principal
	ticket    messages.Ticket
	session   types.EncryptionKey
	step      int // 0: initial; 1: wants the AP-REP; 2: wants the offer; 3: wants the final reply; 4: done or failed
	auth      types.Authenticator
	key       types.EncryptionKey
	subkey    bool // the acceptor sent a subkey: wrap tokens use it and say so
	mySeq     uint64
	peerSeq   uint64
	complete  bool
}

// NewClientWithTicket starts an exchange with a service ticket and its
// session key (from a KDC, or made with a keytab in tests).
func NewClientWithTicket(p Principal, tkt messages.Ticket, sessionKey types.EncryptionKey) *Client {
	return &Client{principal: p, ticket: tkt, session: sessionKey}
}

// Complete reports whether the server accepted the exchange.
func (c *Client) Complete() bool { return c.complete }

// Step returns the client's next token given the server's last one (nil
// at the start). After the server's final (empty) reply it returns nil
// and Complete is true.
func (c *Client) Step(server []byte) ([]byte, error) {
	out, err := c.step1(server)
	if err != nil {
		c.step = 4
	}
	return out, err
}

func (c *Client) step1(server []byte) ([]byte, error) {
	switch c.step {
	case 0:
		return c.apReq()
	case 1:
		if err := c.checkAPRep(server); err != nil {
			return nil, err
		}
		c.step = 2
		return []byte{}, nil
	case 2:
		msg, err := unwrapNext(c.key, true, server, c.peerSeq)
		if err != nil {
			return nil, err
		}
		if len(msg) != 4 {
			return nil, failf("the server's security-layer offer is %d bytes, want 4", len(msg))
		}
		if msg[0]&layerNone == 0 {
			return nil, failf("the server does not offer \"no security layer\" (offers %#x)", msg[0])
		}
		c.step = 3
		return wrap(c.key, false, c.subkey, c.mySeq, layerToken(layerNone, 0, c.principal.String()))
	case 3:
		if len(server) != 0 {
			return nil, failf("unexpected %d-byte token after the exchange", len(server))
		}
		c.step, c.complete = 4, true
		return nil, nil
	default:
		return nil, failf("client at illegal state")
	}
}

func (c *Client) apReq() ([]byte, error) {
	if !cfxEtype(c.session.KeyType) {
		return nil, failf("session key of encryption type %d: paddock supports only AES enctypes", c.session.KeyType)
	}
	auth, err := types.NewAuthenticator(c.principal.Realm, c.principal.name(nametype.KRB_NT_PRINCIPAL))
	if err != nil {
		return nil, failf("authenticator: %v", err)
	}
	auth.Cksum = gssChecksum(flagMutual | flagSequence | flagInteg | flagConf)
	req, err := messages.NewAPReq(c.ticket, c.session, auth)
	if err != nil {
		return nil, failf("AP-REQ: %v", err)
	}
	types.SetFlag(&req.APOptions, flags.APOptionMutualRequired)
	b, err := req.Marshal()
	if err != nil {
		return nil, failf("AP-REQ: %v", err)
	}
	c.auth, c.key = auth, c.session
	c.mySeq = uint64(uint32(auth.SeqNumber))
	c.step = 1
	return frameContextToken(tokAPReq, b), nil
}

// checkAPRep checks the server's AP-REP: it decrypts with the session
// key and echoes the authenticator's time, which proves the server holds
// the service key.
func (c *Client) checkAPRep(tok []byte) error {
	id, msg, err := parseContextToken(tok)
	if err != nil {
		return err
	}
	if id == tokKRBError {
		var e messages.KRBError
		if err := e.Unmarshal(msg); err != nil {
			return failf("KRB-ERROR token does not decode: %v", err)
		}
		return failf("the server answered KRB-ERROR %d: %s", e.ErrorCode, e.EText)
	}
	if id != tokAPRep {
		return failf("server token with TOK_ID %x, want an AP-REP (0200)", id)
	}
	var rep messages.APRep
	if err := rep.Unmarshal(msg); err != nil {
		return failf("AP-REP does not decode: %v", err)
	}
	plain, err := crypto.DecryptEncPart(rep.EncPart, c.session, keyusage.AP_REP_ENCPART)
	if err != nil {
		return failf("AP-REP does not decrypt with the session key: the server does not hold the service key")
	}
	var part messages.EncAPRepPart
	if err := part.Unmarshal(plain); err != nil {
		return failf("AP-REP does not decode: %v", err)
	}
	if !part.CTime.Truncate(time.Second).Equal(c.auth.CTime.Truncate(time.Second)) || part.Cusec != c.auth.Cusec {
		return failf("AP-REP does not echo the authenticator's time")
	}
	c.peerSeq = uint64(uint32(part.SequenceNumber))
	if len(part.Subkey.KeyValue) > 0 {
		if !cfxEtype(part.Subkey.KeyType) {
			return failf("acceptor subkey of encryption type %d: paddock supports only AES enctypes", part.Subkey.KeyType)
		}
		c.key, c.subkey = part.Subkey, true
	}
	return nil
}
