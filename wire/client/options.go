package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/paddockdb/paddock/wire"
)

// Defaults used when no option says otherwise.
const (
	DefaultSessionTimeout = 10 * time.Second
	DefaultEventBuffer    = 1024
	DefaultPort           = 2181
)

// Option configures Connect.
type Option func(*config)

// DialFunc opens a connection to a server; net.Dialer.DialContext fits.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

type authInfo struct {
	scheme string
	auth   []byte
}

type config struct {
	sessionTimeout time.Duration
	connectTimeout time.Duration
	dial           DialFunc
	logger         *slog.Logger
	maxPacket      int
	auths          []authInfo
	sasl           *saslUser
	kerberos       *Kerberos
	eventBuffer    int
}

type saslUser struct{ user, password string }

func defaultConfig() config {
	var d net.Dialer
	return config{
		sessionTimeout: DefaultSessionTimeout,
		dial:           d.DialContext,
		logger:         slog.New(slog.DiscardHandler),
		maxPacket:      wire.DefaultMaxPacket,
		eventBuffer:    DefaultEventBuffer,
	}
}

// WithSessionTimeout sets the session timeout asked of the server; the
// server clamps it to its [minSessionTimeout, maxSessionTimeout].
func WithSessionTimeout(d time.Duration) Option { return func(c *config) { c.sessionTimeout = d } }

// WithDialer replaces the function used to open TCP connections.
func WithDialer(dial DialFunc) Option { return func(c *config) { c.dial = dial } }

// WithConnectTimeout bounds one connection attempt (dial and handshake)
// to one server. By default it is the session timeout divided by the
// number of servers, as in the Java client.
func WithConnectTimeout(d time.Duration) Option { return func(c *config) { c.connectTimeout = d } }

// WithLogger sets the logger for connection state changes.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithMaxPacketSize sets the largest frame sent or accepted
// (jute.maxbuffer; wire.DefaultMaxPacket by default).
func WithMaxPacketSize(n int) Option { return func(c *config) { c.maxPacket = n } }

// WithAuth adds authentication sent right after the session is
// established, as AddAuth would.
func WithAuth(scheme string, auth []byte) Option {
	return func(c *config) { c.auths = append(c.auths, authInfo{scheme, append([]byte(nil), auth...)}) }
}

// WithSASL authenticates every connection with SASL DIGEST-MD5 as user
// (a user_NAME of the server's JAAS Server section), right after the
// handshake and before any other request, as ZooKeeper's Java client does
// with a JAAS Client section: the session gains the id ("sasl", user).
// A failed exchange ends the session with wire.ErrAuthFailed (Connect
// returns it on the first connection; later, the session's state becomes
// AuthFailed). Each reconnection authenticates again.
func WithSASL(user, password string) Option {
	return func(c *config) { c.sasl = &saslUser{user, password} }
}

// Kerberos is what WithKerberos authenticates with: a client principal
// and its keytab or password, the krb5.conf that names the realm's KDC,
// and the server's principal.
type Kerberos struct {
	// Principal is the client principal, "bob@EXAMPLE.COM" ("bob": in
	// krb5.conf's default_realm).
	Principal string
	// Keytab is a keytab file holding the principal's key; when it is "",
	// Password is used instead.
	Keytab   string
	Password string
	// Krb5Conf is the krb5.conf to read; "" is KRB5_CONFIG's first file,
	// else /etc/krb5.conf.
	Krb5Conf string
	// Service is the server principal's first component, "zookeeper" by
	// default (the Java client's zookeeper.sasl.client.username).
	Service string
	// Host is the server principal's host. "" means the host of the
	// address dialled, canonicalized as the Java client does by default
	// (zookeeper.sasl.client.canonicalize.hostname): resolved to an
	// address, then that address's name (127.0.0.1 gives localhost).
	Host string
}

// WithKerberos authenticates every connection with SASL GSSAPI
// (Kerberos), right after the handshake and before any other request,
// as ZooKeeper's Java client does with a JAAS Client section holding a
// Krb5LoginModule: the client gets a ticket for Service/host in its own
// realm from the KDC and the session gains the id ("sasl", principal)
// as the server maps it. The client asks for mutual authentication and
// checks the server's answer. Failures are as with WithSASL; Connect
// also fails when the krb5.conf or the keytab cannot be read. The
// tickets are kept, and renewed, until the Conn ends.
func WithKerberos(k Kerberos) Option {
	return func(c *config) { c.kerberos = &k }
}

// WithEventBuffer sets the capacity of the Events channel and of each
// persistent watch channel (DefaultEventBuffer by default). When one of
// them is full, delivery waits for its reader (see the package doc). A
// negative n disables the Events channel: Events returns nil.
func WithEventBuffer(n int) Option { return func(c *config) { c.eventBuffer = n } }

// ParseConnectString splits a ZooKeeper connect string,
// "host:port,host2:port/chroot", into server addresses and a chroot. A
// missing port is DefaultPort; a chroot of "/" is none.
func ParseConnectString(s string) (servers []string, chroot string, err error) {
	hosts := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		hosts, chroot = s[:i], s[i:]
		if chroot == "/" {
			chroot = ""
		} else if err := validatePath(chroot, false); err != nil {
			return nil, "", fmt.Errorf("paddock/wire/client: chroot %q: %w", chroot, err)
		}
	}
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			host, port = h, strconv.Itoa(DefaultPort)
			if strings.Count(h, ":") > 1 && !strings.HasPrefix(h, "[") { // bare IPv6
				host = h
			}
		}
		servers = append(servers, net.JoinHostPort(host, port))
	}
	if len(servers) == 0 {
		return nil, "", errors.New("paddock/wire/client: connect string has no servers")
	}
	return servers, chroot, nil
}

// validatePath checks a znode path the way PathUtils.validatePath does
// (absolute, no empty, "." or ".." components, no trailing slash).
func validatePath(p string, sequential bool) error {
	if p == "" || p[0] != '/' {
		return wire.ErrBadArguments
	}
	if p == "/" {
		return nil
	}
	if strings.HasSuffix(p, "/") && !sequential {
		return wire.ErrBadArguments
	}
	parts := strings.Split(p[1:], "/")
	for i, part := range parts {
		if part == "" && !(sequential && i == len(parts)-1) {
			return wire.ErrBadArguments
		}
		if part == "." || part == ".." || strings.ContainsRune(part, 0) {
			return wire.ErrBadArguments
		}
	}
	return nil
}
