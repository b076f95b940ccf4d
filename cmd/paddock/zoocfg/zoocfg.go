package zoocfg

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	krb5config "github.com/jcmturner/gokrb5/v8/config"

	"github.com/paddockdb/paddock/wire"
)

// Defaults, ZooKeeper's unless noted.
const (
	DefaultTickTime        = 2000 * time.Millisecond
	DefaultMaxClientCnxns  = 60
	DefaultMaxOutstanding  = 1000             // zookeeper.globalOutstandingLimit
	DefaultSessionless     = 10 * time.Second // zookeeper.nio.sessionlessCnxnTimeout
	DefaultContainerRate   = 10000            // znode.container.maxPerMinute
	DefaultSnapCount       = 100000
	DefaultSnapRetainCount = 3
	DefaultAdminPort       = 8080
	DefaultAdminAddress    = "0.0.0.0"
	DefaultAdminCommandURL = "/commands"
	DefaultMetricsPort     = 7000
	DefaultMetricsHost     = "0.0.0.0"

	minSnapRetainCount = 3
	minSnapCount       = 2
	maxConfigSize      = 16 << 20
)

// NoClientPort is Config.ClientPort when the file asks for no plain
// client listener (no clientPort, or clientPort=0, as in ZooKeeper).
const NoClientPort = -1

// DefaultFourLetterWords is what ZooKeeper enables (since 3.5.3) when
// 4lw.commands.whitelist is not set; srvr is always enabled.
var DefaultFourLetterWords = []string{"srvr"}

// knownFourLetterWords are the commands ZooKeeper knows; others in the
// whitelist are reported as warnings.
var knownFourLetterWords = []string{
	"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro",
	"mntr", "ruok", "srst", "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
}

// Config is a parsed zoo.cfg. Durations are in zoo.cfg's milliseconds.
type Config struct {
	File string // the name errors and warnings use

	TickTime           time.Duration
	DataDir            string        // "" when the file has none (see package doc)
	DataLogDir         string        // "" means DataDir
	ClientPort         int           // NoClientPort: none asked for
	ClientPortAddress  string        // "": every interface
	MaxClientCnxns     int           // per client IP; 0: unlimited
	MaxCnxns           int           // in all (zookeeper.maxCnxns); 0: unlimited
	MaxOutstanding     int           // requests read and not answered, per connection (globalOutstandingLimit)
	SessionlessTimeout time.Duration // time to send the ConnectRequest (zookeeper.nio.sessionlessCnxnTimeout)
	MinSessionTimeout  time.Duration
	MaxSessionTimeout  time.Duration
	FourLetterWords    []string // ["*"] enables all
	JuteMaxBuffer      int      // max packet size in bytes
	ExtendedTypes      bool     // extendedTypesEnabled: TTL nodes
	SuperDigest        string   // DigestAuthenticationProvider.superDigest, "user:base64(sha1)"
	EnforceQuota       bool     // zookeeper.enforceQuota: hard quota limits refuse writes
	SnapCount          int
	CommitLogCount     int // zookeeper.commitLogCount; 0: not set (paddock's default)

	InitLimit, SyncLimit int // in ticks
	StandaloneEnabled    bool
	// ReadOnlyMode is readonlymode.enabled (a Java system property in
	// ZooKeeper): a member without a quorum serves read-only sessions.
	ReadOnlyMode    bool
	ReconfigEnabled bool
	Servers         []Server // server.N lines, in id order

	// SASL is the client port's SASL (DIGEST-MD5 or GSSAPI) configuration.
	SASL SASL
	// QuorumSASL is quorum SASL between the members (quorum.auth.*,
	// quorumsasl.go); nil unless quorum.auth.enableSasl=true in an
	// ensemble.
	QuorumSASL *QuorumSASL
	// EnforceAuth lists the schemes a session must hold an id of before
	// any request but auth and sasl (enforce.auth.enabled with
	// enforce.auth.schemes, or sessionRequireClientSASLAuth); nil: off.
	EnforceAuth []string

	Admin     Admin
	Metrics   Metrics
	Autopurge Autopurge
	Container Container

	// Warnings are the things ZooKeeper would accept that we want the
	// operator to see: unknown keys, keys without effect, duplicates.
	Warnings []Warning
}

// SASL is what ZooKeeper's SASL settings ask for (see sasl.go).
type SASL struct {
	JAASFile string // java.security.auth.login.config, "" if unset
	Section  string // zookeeper.sasl.serverconfig; "" means "Server"
	// Users are the DIGEST-MD5 users of the JAAS file's server section;
	// nil when there is no JAAS file or no such section: then ZooKeeper
	// has no SASL server and answers a sasl request OK with no token.
	Users map[string]string
	// Provider says authProvider.N names SASLAuthenticationProvider: the
	// sasl ACL scheme exists (else sasl ACLs are InvalidACL).
	Provider         bool
	SuperUsers       []string // zookeeper.superUser and zookeeper.superUser.*
	SuperPassword    string   // the password of user "super", when HasSuperPassword
	HasSuperPassword bool
	RemoveHost       bool // kerberos.removeHostFromPrincipal
	RemoveRealm      bool // kerberos.removeRealmFromPrincipal
	AllowFailed      bool // allowSaslFailedClients
	// Kerberos, when the server section has a Krb5LoginModule: the
	// mechanism is GSSAPI (kerberos.go), and Users stays nil.
	Kerberos     *Kerberos
	Krb5Conf     string // java.security.krb5.conf
	DefaultRealm string // krb5.conf's default_realm (see loadKrb5Conf)
}

// Admin is the AdminServer configuration (admin.*).
type Admin struct {
	Enabled    bool
	Address    string
	Port       int
	CommandURL string
}

// Metrics is the metricsProvider.* configuration.
type Metrics struct {
	ClassName string            // metricsProvider.className, "" if unset
	HTTPHost  string            // metricsProvider.httpHost
	HTTPPort  int               // metricsProvider.httpPort
	Props     map[string]string // every metricsProvider.* key but className, prefix removed
}

// Container is the container and TTL reaper's configuration, the
// znode.container.* system properties.
type Container struct {
	CheckInterval time.Duration // 0: paddock's default (30 ticks, at most 60 s)
	MaxPerMinute  int
	MaxNeverUsed  time.Duration // 0: never
}

// Autopurge is the autopurge.* configuration.
type Autopurge struct {
	SnapRetainCount int
	PurgeInterval   int // hours; 0 disables
}

// Role is a server's place in the ensemble.
type Role int

const (
	Participant Role = iota
	Observer
)

func (r Role) String() string {
	if r == Observer {
		return "observer"
	}
	return "participant"
}

// Server is one server.N line.
type Server struct {
	ID           uint64
	Host         string // without IPv6 brackets
	QuorumPort   int
	ElectionPort int
	Role         Role
	ClientAddr   string // "host:port" after ';', "" if none; a bare port gets host 0.0.0.0
	Line         int
}

// QuorumAddr is host:quorumPort.
func (s Server) QuorumAddr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.QuorumPort)) }

// ElectionAddr is host:electionPort.
func (s Server) ElectionAddr() string {
	return net.JoinHostPort(s.Host, strconv.Itoa(s.ElectionPort))
}

// Error is a problem with one line (Line 0: with the file as a whole).
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": %s", e.Key)
	}
	fmt.Fprintf(&b, ": %s", e.Msg)
	return b.String()
}

// Warning is something the operator should see but that does not stop the
// server.
type Warning struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (w Warning) String() string { return (*Error)(&w).Error() }

// Default returns the configuration of an empty zoo.cfg.
func Default() *Config {
	return &Config{
		TickTime:           DefaultTickTime,
		ClientPort:         NoClientPort,
		MaxClientCnxns:     DefaultMaxClientCnxns,
		MaxOutstanding:     DefaultMaxOutstanding,
		SessionlessTimeout: DefaultSessionless,
		MinSessionTimeout:  2 * DefaultTickTime,
		MaxSessionTimeout:  20 * DefaultTickTime,
		FourLetterWords:    slices.Clone(DefaultFourLetterWords),
		JuteMaxBuffer:      wire.DefaultMaxPacket,
		SnapCount:          DefaultSnapCount,
		StandaloneEnabled:  true,
		Admin: Admin{
			Enabled:    true,
			Address:    DefaultAdminAddress,
			Port:       DefaultAdminPort,
			CommandURL: DefaultAdminCommandURL,
		},
		Metrics:   Metrics{HTTPHost: DefaultMetricsHost, HTTPPort: DefaultMetricsPort, Props: map[string]string{}},
		Autopurge: Autopurge{SnapRetainCount: DefaultSnapRetainCount},
		Container: Container{MaxPerMinute: DefaultContainerRate},
	}
}

// ClientAddr is the address the client listener binds: clientPortAddress
// and clientPort joined (":2181" binds every interface), or "" when the
// configuration asks for no client port.
func (c *Config) ClientAddr() string {
	if c.ClientPort == NoClientPort {
		return ""
	}
	return net.JoinHostPort(c.ClientPortAddress, strconv.Itoa(c.ClientPort))
}

// ServerClientAddr is ZooKeeper's client address for server id when
// zoo.cfg has no clientPort: the client address of its server.N line
// ("" if none).
func (c *Config) ServerClientAddr(id uint64) string {
	for _, s := range c.Servers {
		if s.ID == id {
			return s.ClientAddr
		}
	}
	return ""
}

// Distributed tells whether the file describes an ensemble rather than a
// standalone server, by ZooKeeper's rule: more than one participant, or any
// participant with standaloneEnabled=false.
func (c *Config) Distributed() bool {
	n := 0
	for _, s := range c.Servers {
		if s.Role == Participant {
			n++
		}
	}
	return n > 1 || (n > 0 && !c.StandaloneEnabled)
}

// ParseFile reads and parses a zoo.cfg, with the JVM's system properties
// props (see Parse).
func ParseFile(path string, props []Property) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("paddock/zoocfg: %w", err)
	}
	defer f.Close()
	return Parse(f, path, props)
}

// FromProperties is the configuration of the system properties props
// alone, without a zoo.cfg: Default() with props applied.
func FromProperties(props []Property) (*Config, error) {
	return newParser("").run(nil, props)
}

// Parse parses a zoo.cfg read from r; name is used in errors and warnings.
// props are the JVM's system properties (-D flags, see JVMFlags), which
// the file's keys override as in ZooKeeper (package doc). On error the
// returned error joins one *Error per problem found.
func Parse(r io.Reader, name string, props []Property) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("paddock/zoocfg: reading %s: %w", name, err)
	}
	if len(data) > maxConfigSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("larger than %d bytes", maxConfigSize)}
	}
	entries, err := readProperties(string(data))
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.File = name
		}
		return nil, err
	}
	return newParser(name).run(entries, props)
}

func newParser(name string) *parser {
	p := &parser{cfg: Default(), name: name, seen: map[string]int{}, servers: map[uint64]entry{}, propAt: map[string]int{}, quorumKeys: map[string]entry{}}
	p.cfg.File = name
	return p
}

// run applies, as ZooKeeper does: the -D flags, then the zoo.cfg lines
// (the keys QuorumPeerConfig does not parse replace the flags of their
// property), then every property.
func (p *parser) run(entries []entry, props []Property) (*Config, error) {
	for _, pr := range props {
		p.setProp(setting{name: pr.Name, value: pr.Value, file: pr.File, line: pr.Line, key: "-D" + pr.Name})
	}
	for _, e := range entries {
		p.entry(e)
	}
	p.applyProps()
	p.finishSASL()
	p.finish()
	p.finishQuorumSASL()
	// Per file in the order first met, by line.
	rank := map[string]int{}
	for _, w := range p.cfg.Warnings {
		if _, ok := rank[w.File]; !ok {
			rank[w.File] = len(rank)
		}
	}
	slices.SortStableFunc(p.cfg.Warnings, func(a, b Warning) int {
		return cmp.Or(cmp.Compare(rank[a.File], rank[b.File]), cmp.Compare(a.Line, b.Line))
	})
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return p.cfg, nil
}

type parser struct {
	cfg  *Config
	name string
	errs []error
	seen map[string]int // key -> line, for duplicates

	minSet, maxSet int // lines of min/maxSessionTimeout, 0 if unset or -1

	// The enforced-authentication settings, checked together (finishSASL).
	requireSASL, enforceAuth, enforceSchemes *setting
	servers                                  map[uint64]entry
	// The JAAS file, once read (finishSASL); nil without one.
	jaas *JAAS
	// The quorum.auth.* lines by key (finishQuorumSASL).
	quorumKeys map[string]entry
	// krb5.conf, once read (loadKrb5Conf): nil when none was; the
	// default path when it did not exist.
	krb5        *krb5config.Config
	krb5Path    string
	krb5Read    bool
	krb5Missing string

	// The system properties, in the order given (setProp).
	props  []setting
	propAt map[string]int

	clientAddrLine int // of clientPortAddress, 0 if unset
}

func (p *parser) errorf(line int, key, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.name, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) warnf(line int, key, format string, args ...any) {
	p.cfg.Warnings = append(p.cfg.Warnings, Warning{File: p.name, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// integer parses a decimal int (Java's Integer.parseInt range).
func (p *parser) integer(e entry) (int, bool) {
	n, err := strconv.ParseInt(e.value, 10, 32)
	if err != nil {
		p.errorf(e.line, e.key, "%q is not an integer", e.value)
		return 0, false
	}
	return int(n), true
}

func (p *parser) nonNegative(e entry) (int, bool) {
	n, ok := p.integer(e)
	if ok && n < 0 {
		p.errorf(e.line, e.key, "must not be negative, got %d", n)
		return 0, false
	}
	return n, ok
}

func (p *parser) port(e entry) (int, bool) {
	n, ok := p.integer(e)
	if ok && (n < 0 || n > 65535) {
		p.errorf(e.line, e.key, "port %d out of range 0-65535", n)
		return 0, false
	}
	return n, ok
}

func (p *parser) boolean(e entry) (bool, bool) {
	switch strings.ToLower(e.value) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	p.errorf(e.line, e.key, "%q is not a boolean, choose true or false", e.value)
	return false, false
}

// sessionTimeout parses min/maxSessionTimeout: milliseconds, -1 for the
// default.
func (p *parser) sessionTimeout(e entry, dst *time.Duration, setLine *int) {
	n, ok := p.integer(e)
	switch {
	case !ok:
	case n == -1:
		*setLine = 0
	case n < 0:
		p.errorf(e.line, e.key, "must not be negative, got %d", n)
	default:
		*dst = time.Duration(n) * time.Millisecond
		*setLine = e.line
	}
}

func (p *parser) dir(e entry, dst *string) {
	if e.value == "" {
		p.errorf(e.line, e.key, "empty path")
		return
	}
	if !filepath.IsAbs(e.value) {
		p.warnf(e.line, e.key, "relative path %q is resolved against the working directory", e.value)
	}
	*dst = e.value
}

func (p *parser) entry(e entry) {
	if e.key == "" {
		p.errorf(e.line, "", "line has no key")
		return
	}
	if prev, ok := p.seen[e.key]; ok {
		p.warnf(e.line, e.key, "duplicate key: this line overrides line %d", prev)
	}
	p.seen[e.key] = e.line
	c := p.cfg
	// The keys QuorumPeerConfig.parseProperties parses; every other key
	// is the system property "zookeeper." + key (sysprops.go).
	switch k := e.key; {
	case k == "tickTime":
		if n, ok := p.integer(e); ok {
			if n <= 0 {
				p.errorf(e.line, k, "must be positive, got %d", n)
			} else {
				c.TickTime = time.Duration(n) * time.Millisecond
			}
		}
	case k == "dataDir":
		p.dir(e, &c.DataDir)
	case k == "dataLogDir":
		p.dir(e, &c.DataLogDir)
	case k == "clientPort":
		if n, ok := p.port(e); ok {
			c.ClientPort = n
			if n == 0 {
				c.ClientPort = NoClientPort // ZooKeeper: 0 is "not set"
			}
		}
	case k == "clientPortAddress":
		if e.value == "" {
			p.errorf(e.line, k, "empty address")
			return
		}
		c.ClientPortAddress = strings.TrimSuffix(strings.TrimPrefix(e.value, "["), "]")
		p.clientAddrLine = e.line
	case k == "maxClientCnxns":
		if n, ok := p.nonNegative(e); ok {
			c.MaxClientCnxns = n
		}
	case k == "minSessionTimeout":
		p.sessionTimeout(e, &c.MinSessionTimeout, &p.minSet)
	case k == "maxSessionTimeout":
		p.sessionTimeout(e, &c.MaxSessionTimeout, &p.maxSet)
	case k == "initLimit":
		if n, ok := p.nonNegative(e); ok {
			c.InitLimit = n
		}
	case k == "syncLimit":
		if n, ok := p.nonNegative(e); ok {
			c.SyncLimit = n
		}
	case k == "standaloneEnabled":
		if b, ok := p.boolean(e); ok {
			c.StandaloneEnabled = b
		}
	case k == "reconfigEnabled":
		if b, ok := p.boolean(e); ok {
			c.ReconfigEnabled = b
		}
	case k == "metricsProvider.className":
		c.Metrics.ClassName = e.value
	case strings.HasPrefix(k, "metricsProvider."):
		sub := strings.TrimPrefix(k, "metricsProvider.")
		c.Metrics.Props[sub] = e.value
		switch sub {
		case "httpHost":
			c.Metrics.HTTPHost = e.value
		case "httpPort":
			if n, ok := p.port(e); ok {
				c.Metrics.HTTPPort = n
			}
		}
	case k == "autopurge.snapRetainCount":
		if n, ok := p.integer(e); ok {
			if n < minSnapRetainCount {
				p.warnf(e.line, k, "%d is below %d, using %d", n, minSnapRetainCount, minSnapRetainCount)
				n = minSnapRetainCount
			}
			c.Autopurge.SnapRetainCount = n
		}
	case k == "autopurge.purgeInterval":
		if n, ok := p.integer(e); ok {
			c.Autopurge.PurgeInterval = max(n, 0)
		}
	case strings.HasPrefix(k, "server."):
		p.server(e)
	case strings.HasPrefix(k, "group.") || strings.HasPrefix(k, "weight."):
		p.warnf(e.line, k, "hierarchical quorums are not supported by paddock; ignored")
	case k == "secureClientPort":
		if n, ok := p.port(e); ok && n != 0 {
			p.refuseKey(e, needTLS+" (a TLS client port)")
		}
	case k == "secureClientPortAddress":
		p.refuseKey(e, needTLS+" (a TLS client port)")
	case k == "sslQuorum" || k == "sslQuorumReloadCertFiles" || k == "portUnification":
		if b, ok := p.boolean(e); ok && b {
			p.refuseKey(e, needTLS+" between servers")
		}
	case k == keyQuorumEnable || k == keyQuorumServerRequire || k == keyQuorumLearnerRequire:
		if _, ok := p.boolean(e); ok {
			p.quorumKeys[k] = e
		}
	case k == keyQuorumLearnerContext || k == keyQuorumServerContext:
		if e.value == "" {
			p.errorf(e.line, k, "empty JAAS section name")
			return
		}
		p.quorumKeys[k] = e
	case k == keyQuorumServicePrincipal:
		p.quorumKeys[k] = e
	case strings.HasPrefix(k, "quorum.auth."):
		// ZooKeeper would take it for the system property zookeeper.KEY
		// and ignore it: a misspelt key that meant to ask for quorum
		// SASL must not go unnoticed.
		p.errorf(e.line, k, "unknown quorum SASL key (ZooKeeper's are %s, %s, %s, %s, %s and %s)",
			keyQuorumEnable, keyQuorumLearnerRequire, keyQuorumServerRequire, keyQuorumLearnerContext, keyQuorumServerContext, keyQuorumServicePrincipal)
	case slices.Contains(quorumPeerIgnored, k):
		p.warnf(e.line, k, "ZooKeeper setting has no effect in paddock; ignored")
	default:
		p.setProp(setting{name: "zookeeper." + k, value: e.value, file: p.name, line: e.line, key: k})
	}
}

// quorumPeerIgnored are the other keys QuorumPeerConfig parses: accepted
// with a warning that they have no effect.
var quorumPeerIgnored = []string{
	"localSessionsEnabled", "localSessionsUpgradingEnabled", "observerMasterPort",
	"clientPortListenBacklog", "connectToLearnerMasterLimit", "electionAlg",
	"quorumListenOnAllIPs", "peerType", "syncEnabled", "dynamicConfigFile",
	"quorum.cnxn.threads.size",
	"jvm.pause.info-threshold.ms", "jvm.pause.warn-threshold.ms", "jvm.pause.sleep.time.ms",
	"jvm.pause.monitor", "multiAddress.enabled", "multiAddress.reachabilityCheckTimeoutMs",
	"multiAddress.reachabilityCheckEnabled", "oraclePath",
}

// QuorumPeerKeysIgnored returns the zoo.cfg keys of ZooKeeper's own
// parser that paddock accepts without effect.
func QuorumPeerKeysIgnored() []string { return slices.Clone(quorumPeerIgnored) }

func (p *parser) refuseKey(e entry, what string) {
	p.refuse(setting{name: e.key, value: e.value, file: p.name, line: e.line, key: e.key}, what)
}

func (p *parser) fourLetterWords(s setting) []string {
	var words []string
	for w := range strings.SplitSeq(s.value, ",") {
		w = strings.TrimSpace(w)
		if w == "" {
			continue
		}
		if w == "*" {
			return []string{"*"}
		}
		if !slices.Contains(knownFourLetterWords, w) {
			p.propWarnf(s, "unknown four-letter word %q; ignored", w)
			continue
		}
		if !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	if words == nil {
		words = []string{}
	}
	return words
}

// server parses server.N=host:quorumPort:electionPort[:role][;[clientHost:]clientPort].
func (p *parser) server(e entry) {
	const form = "want host:quorumPort:electionPort[:participant|:observer][;[clientAddress:]clientPort]"
	idText := strings.TrimPrefix(e.key, "server.")
	id, err := strconv.ParseUint(idText, 10, 63)
	if err != nil || id == 0 || id > MaxServerID {
		p.errorf(e.line, e.key, "server id %q must be an integer from 1 to %d", idText, MaxServerID)
		return
	}
	if prev, ok := p.servers[id]; ok {
		if prev.key != e.key {
			p.errorf(e.line, e.key, "server id %d is already given on line %d as %s", id, prev.line, prev.key)
			return
		}
		// The same key twice was warned about already; the last line wins.
		delete(p.servers, id)
		p.cfg.Servers = slices.DeleteFunc(p.cfg.Servers, func(s Server) bool { return s.ID == id })
	}
	serverPart, clientPart, hasClient := strings.Cut(e.value, ";")
	if strings.Contains(serverPart, "|") {
		p.errorf(e.line, e.key, "multiple addresses per server are not supported by paddock")
		return
	}
	parts, err := splitHostPorts(serverPart)
	if err != nil || len(parts) < 3 || len(parts) > 4 || strings.Contains(clientPart, ";") {
		p.errorf(e.line, e.key, "%q: %s", e.value, form)
		return
	}
	s := Server{ID: id, Host: parts[0], Line: e.line}
	if s.Host == "" {
		p.errorf(e.line, e.key, "%q: empty host; %s", e.value, form)
		return
	}
	var ok bool
	if s.QuorumPort, ok = p.serverPort(e, parts[1]); !ok {
		return
	}
	if s.ElectionPort, ok = p.serverPort(e, parts[2]); !ok {
		return
	}
	if s.QuorumPort == s.ElectionPort {
		p.errorf(e.line, e.key, "quorum and election ports must differ, both are %d", s.QuorumPort)
		return
	}
	if len(parts) == 4 {
		switch strings.ToLower(parts[3]) {
		case "participant":
			s.Role = Participant
		case "observer":
			s.Role = Observer
		default:
			p.errorf(e.line, e.key, "unknown role %q, want participant or observer", parts[3])
			return
		}
	}
	if hasClient {
		cp, err := splitHostPorts(clientPart)
		if err != nil || len(cp) < 1 || len(cp) > 2 {
			p.errorf(e.line, e.key, "client address %q: want clientPort or clientAddress:clientPort", clientPart)
			return
		}
		host := "0.0.0.0"
		if len(cp) == 2 {
			host = cp[0]
		}
		port, ok := p.serverPort(e, cp[len(cp)-1])
		if !ok {
			return
		}
		s.ClientAddr = net.JoinHostPort(host, strconv.Itoa(port))
	}
	p.servers[id] = e
	p.cfg.Servers = append(p.cfg.Servers, s)
}

func (p *parser) serverPort(e entry, text string) (int, bool) {
	n, err := strconv.Atoi(text)
	if err != nil || n <= 0 || n > 65535 {
		p.errorf(e.line, e.key, "port %q must be an integer in 1-65535", text)
		return 0, false
	}
	return n, true
}

// splitHostPorts splits "host:a:b..." on colons, with an IPv6 host in
// brackets ("[::1]:2888:3888"), as ZooKeeper's ConfigUtils.getHostAndPort.
func splitHostPorts(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return nil, errors.New("unclosed [")
		}
		host, rest := s[1:end], s[end+1:]
		if rest == "" {
			return []string{host}, nil
		}
		if rest[0] != ':' {
			return nil, errors.New("want : after ]")
		}
		return append([]string{host}, strings.Split(rest[1:], ":")...), nil
	}
	return strings.Split(s, ":"), nil
}

func (p *parser) finish() {
	c := p.cfg
	if c.ClientPort == NoClientPort && p.clientAddrLine > 0 {
		// ZooKeeper's words.
		p.errorf(p.clientAddrLine, "clientPortAddress", "clientPortAddress is set but clientPort is not set")
	}
	// FourLetterCommands: srvr is always on (zkServer.sh status needs
	// it), and isro with readonlymode.enabled.
	if !slices.Contains(c.FourLetterWords, "*") {
		for _, w := range []string{"srvr", "isro"} {
			if (w == "srvr" || c.ReadOnlyMode) && !slices.Contains(c.FourLetterWords, w) {
				c.FourLetterWords = append(c.FourLetterWords, w)
			}
		}
	}
	if p.minSet == 0 {
		c.MinSessionTimeout = 2 * c.TickTime
	}
	if p.maxSet == 0 {
		c.MaxSessionTimeout = 20 * c.TickTime
	}
	if c.MinSessionTimeout > c.MaxSessionTimeout {
		line := max(p.minSet, p.maxSet)
		p.errorf(line, "", "minSessionTimeout (%d ms) must not be larger than maxSessionTimeout (%d ms)",
			c.MinSessionTimeout.Milliseconds(), c.MaxSessionTimeout.Milliseconds())
	}
	slices.SortFunc(c.Servers, func(a, b Server) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	participants, observers := 0, 0
	for _, s := range c.Servers {
		if s.Role == Observer {
			observers++
		} else {
			participants++
		}
	}
	if participants == 0 && observers > 0 {
		p.errorf(c.Servers[0].Line, "", "observers without participants")
	}
	if participants == 0 && len(c.Servers) == 0 && !c.StandaloneEnabled {
		p.errorf(p.seen["standaloneEnabled"], "standaloneEnabled", "false needs at least one server.N participant")
	}
	if participants == 1 && c.StandaloneEnabled {
		p.warnf(c.Servers[0].Line, "", "only one participant and standaloneEnabled=true: running standalone")
	}
	if c.Distributed() {
		if c.InitLimit == 0 {
			p.errorf(0, "initLimit", "not set; an ensemble needs it")
		}
		if c.SyncLimit == 0 {
			p.errorf(0, "syncLimit", "not set; an ensemble needs it")
		}
	}
}

// MaxServerID is the largest server id (myid, server.N). ZooKeeper's
// admin guide asks for 1..255: a session id carries the server id in its
// top byte (SessionTrackerImpl.initializeNextSessionId), so a larger id
// would make sessions that alias another server's. ZooKeeper itself checks
// only the extendedTypesEnabled limit, 254 (EphemeralType.validateServerId),
// and silently aliases above 255; paddock refuses such ids.
const MaxServerID = 255

// ReadMyID reads dataDir/myid, ZooKeeper's server id file. ok is false when
// the file does not exist (a standalone server needs none). The id must be
// from 1 to MaxServerID.
func ReadMyID(dataDir string) (id uint64, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "myid"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("paddock/zoocfg: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	first = strings.TrimSpace(first)
	id, err = strconv.ParseUint(first, 10, 63)
	if err != nil || id == 0 || id > MaxServerID {
		return 0, false, fmt.Errorf("paddock/zoocfg: %s: server id %q must be an integer from 1 to %d (it is the top byte of session ids)",
			filepath.Join(dataDir, "myid"), first, MaxServerID)
	}
	return id, true, nil
}
