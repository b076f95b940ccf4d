package zoocfg

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ZooKeeper reads most of its settings as Java system properties, and
// QuorumPeerConfig turns every zoo.cfg key it does not parse itself into
// the property "zookeeper.KEY", overwriting a -D flag of that name. So a
// zoo.cfg key and a -D flag are one setting here too: both become a
// setting named by the system property, zoo.cfg's replacing the flag's,
// and SystemProperties says what each does.

// setting is a system property as ZooKeeper would see it, and where the
// operator wrote it.
type setting struct {
	name  string // the system property, e.g. "zookeeper.enforceQuota"
	value string
	file  string // the zoo.cfg, "$SERVER_JVMFLAGS", "$JVMFLAGS" or java.env
	line  int    // 0 for the environment
	key   string // as written: the zoo.cfg key, or "-Dname"
}

func (s setting) fromFlags() bool { return strings.HasPrefix(s.key, "-D") }

// SystemProperty is one ZooKeeper 3.8 system property, or every property
// with a prefix (a Name ending in '.', or in '*' after the prefix), and
// what paddock does with it.
type SystemProperty struct {
	Name  string // as -D gives it; zoo.cfg's key is Name without "zookeeper."
	Does  string // what paddock does, for the README's table
	apply func(p *parser, s setting)
}

// Why a setting is refused: what it asks for that paddock does not do yet.
const (
	needSASL = "SASL authentication"
	needTLS  = "TLS"
)

// SystemProperties returns every system property paddock knows, in the
// order of the README's table.
func SystemProperties() []SystemProperty { return slices.Clone(systemProperties) }

var systemProperties = []SystemProperty{
	// Used.
	{"zookeeper.4lw.commands.whitelist", "four-letter words enabled (comma list, `*` for all; `srvr` always, as in ZooKeeper)", func(p *parser, s setting) {
		p.cfg.FourLetterWords = p.fourLetterWords(s)
	}},
	{"zookeeper.extendedTypesEnabled", "TTL nodes (`createTTL`); without it UNIMPLEMENTED", func(p *parser, s setting) {
		if b, ok := p.propBool(s); ok {
			p.cfg.ExtendedTypes = b
		}
	}},
	{"zookeeper.DigestAuthenticationProvider.superDigest", "`super:<base64 sha1>`: the user of that digest passes every ACL", func(p *parser, s setting) {
		if user, digest, ok := strings.Cut(s.value, ":"); !ok || user == "" || digest == "" {
			p.propErrorf(s, "want user:base64digest, as printed by DigestAuthenticationProvider.generateDigest")
			return
		}
		p.cfg.SuperDigest = s.value
	}},
	{"zookeeper.DigestAuthenticationProvider.digestAlg", "`SHA1` (the default) accepted; any other algorithm refused", func(p *parser, s setting) {
		switch strings.ToUpper(s.value) {
		case "SHA1", "SHA-1", "SHA":
		default:
			p.refuse(s, "digest algorithm "+strconv.Quote(s.value)+" (paddock's digest scheme is SHA1)")
		}
	}},
	{"zookeeper.DigestAuthenticationProvider.enabled", "`true` accepted; `false` (no digest scheme) refused", func(p *parser, s setting) {
		if b, ok := p.propBool(s); ok && !b {
			p.refuse(s, "turning the digest scheme off")
		}
	}},
	{"zookeeper.enforceQuota", "hard quota limits (`countHardLimit`, `byteHardLimit`) refuse writes with QUOTAEXCEEDED", func(p *parser, s setting) {
		if b, ok := p.propBool(s); ok {
			p.cfg.EnforceQuota = b
		}
	}},
	{"zookeeper.maxCnxns", "connections to the server in all; beyond, a new one is closed at once (reset), as ZooKeeper; 0 = unlimited, negative = 0 with a warning", func(p *parser, s setting) {
		n, ok := p.propInt(s)
		if !ok {
			return
		}
		if n < 0 {
			p.propWarnf(s, "%d is negative, using 0 (unlimited), as ZooKeeper does", n)
			n = 0
		}
		p.cfg.MaxCnxns = n
	}},
	{"zookeeper.globalOutstandingLimit", "requests read and not yet answered, per connection (ZooKeeper counts them per server); at least 1", func(p *parser, s setting) {
		if n, ok := p.propInt(s); ok {
			p.cfg.MaxOutstanding = max(n, 1)
		}
	}},
	{"zookeeper.nio.sessionlessCnxnTimeout", "ms a connection has to send its ConnectRequest; must be positive", func(p *parser, s setting) {
		if n, ok := p.propInt(s); ok {
			if n <= 0 {
				p.propErrorf(s, "must be positive, got %d", n)
				return
			}
			p.cfg.SessionlessTimeout = time.Duration(n) * time.Millisecond
		}
	}},
	{"zookeeper.snapCount", "transactions between snapshots; below 2 is raised to 2 with a warning", func(p *parser, s setting) {
		if n, ok := p.propInt(s); ok {
			if n < minSnapCount {
				p.propWarnf(s, "%d is below %d, using %d", n, minSnapCount, minSnapCount)
				n = minSnapCount
			}
			p.cfg.SnapCount = n
		}
	}},
	{"zookeeper.commitLogCount", "Raft entries kept in the log behind each snapshot (default 5000; ZooKeeper keeps this many committed transactions, default 500): a member that fell behind by fewer catches up from the log, one further behind is sent a snapshot; must be positive", func(p *parser, s setting) {
		if n, ok := p.propInt(s); ok {
			if n <= 0 {
				p.propErrorf(s, "must be positive, got %d", n)
				return
			}
			p.cfg.CommitLogCount = n
		}
	}},
	{"jute.maxbuffer", "largest packet in bytes, decimal or `0x` hex", func(p *parser, s setting) {
		if n, ok := p.juteMaxBuffer(s); ok {
			p.cfg.JuteMaxBuffer = n
		}
	}},
	{"zookeeper.jute.maxbuffer", "zoo.cfg's `jute.maxbuffer`: no effect in ZooKeeper, paddock takes it as `jute.maxbuffer` unless `-Djute.maxbuffer` is given", func(p *parser, s setting) {
		if j, ok := p.prop("jute.maxbuffer"); ok {
			p.propWarnf(s, "overridden by -Djute.maxbuffer=%s from %s, which is what ZooKeeper reads", j.value, j.file)
			return
		}
		if n, ok := p.juteMaxBuffer(s); ok {
			p.cfg.JuteMaxBuffer = n
		}
	}},
	{"readonlymode.enabled", "read-only mode: a member of an ensemble without a quorum serves the clients that ask for it read-only; adds `isro` to the four-letter words, as in ZooKeeper (`ro` while the member serves read-only, else `rw`; the AdminServer's `is_read_only` likewise)", func(p *parser, s setting) {
		if b, ok := p.propBool(s); ok {
			p.cfg.ReadOnlyMode = b
		}
	}},
	{"znode.container.checkIntervalMs", "ms between container and TTL reaper runs (default: 30 ticks, at most 60 s); must be positive", func(p *parser, s setting) {
		if n, ok := p.propInt(s); ok {
			if n <= 0 {
				p.propErrorf(s, "must be positive, got %d", n)
				return
			}
			p.cfg.Container.CheckInterval = time.Duration(n) * time.Millisecond
		}
	}},
	{"znode.container.maxPerMinute", "containers the reaper deletes per minute at most; must be positive", func(p *parser, s setting) {
		if n, ok := p.propInt(s); ok {
			if n <= 0 {
				p.propErrorf(s, "must be positive, got %d", n)
				return
			}
			p.cfg.Container.MaxPerMinute = n
		}
	}},
	{"znode.container.maxNeverUsedIntervalMs", "ms after which a container that never had a child is reaped; 0 = never", func(p *parser, s setting) {
		n, err := strconv.ParseInt(s.value, 10, 64)
		if err != nil || n < 0 {
			p.propErrorf(s, "%q is not a non-negative integer", s.value)
			return
		}
		p.cfg.Container.MaxNeverUsed = time.Duration(n) * time.Millisecond
	}},
	{"zookeeper.admin.enableServer", "the AdminServer (HTTP JSON commands); on by default as in ZooKeeper; without a zoo.cfg, off unless this flag turns it on", func(p *parser, s setting) {
		if b, ok := p.propBool(s); ok {
			p.cfg.Admin.Enabled = b
		}
	}},
	{"zookeeper.admin.serverAddress", "the AdminServer's listen address", func(p *parser, s setting) { p.cfg.Admin.Address = s.value }},
	{"zookeeper.admin.serverPort", "the AdminServer's port (0 picks a free one)", func(p *parser, s setting) {
		if n, ok := p.propPort(s); ok {
			p.cfg.Admin.Port = n
		}
	}},
	{"zookeeper.admin.commandURL", "the commands' path prefix; must start with `/`", func(p *parser, s setting) {
		if !strings.HasPrefix(s.value, "/") {
			p.propErrorf(s, "%q must start with /", s.value)
			return
		}
		p.cfg.Admin.CommandURL = s.value
	}},

	// Refused when they ask for something paddock does not do yet.
	// SASL and enforced authentication (checked together in finishSASL).
	{"java.security.auth.login.config", "the JAAS file: its `Server` section's `DigestLoginModule` users (`user_NAME=\"password\"`) authenticate with SASL DIGEST-MD5, or its `Krb5LoginModule` (`useKeyTab=true keyTab=… storeKey=true principal=\"zookeeper/host@REALM\"`) makes the mechanism GSSAPI (Kerberos); a file that does not parse, another login module, a keytab that cannot be read or lacks the principal's key stops the server; also `paddock serve --jaas FILE`", func(p *parser, s setting) {
		p.cfg.SASL.JAASFile = s.value
	}},
	{"java.security.krb5.conf", "the krb5.conf whose `default_realm` completes a principal without a realm and maps names (see SASL); read when set or when the server speaks Kerberos (else `KRB5_CONFIG`'s first file, else /etc/krb5.conf); one that does not parse stops the server. No KDC is contacted", func(p *parser, s setting) {
		p.cfg.SASL.Krb5Conf = s.value
	}},
	{"java.security.krb5.realm", "refused: give `default_realm` (and the KDC) in krb5.conf", refuseAny("java.security.krb5.realm (give default_realm in krb5.conf)")},
	{"java.security.krb5.kdc", "refused, as above", refuseAny("java.security.krb5.kdc (paddock's server contacts no KDC; give it in krb5.conf)")},
	{"zookeeper.sasl.serverconfig", "the JAAS section the server reads (default `Server`)", func(p *parser, s setting) {
		p.cfg.SASL.Section = s.value
	}},
	{"zookeeper.authProvider.", "`SASLAuthenticationProvider`: the `sasl` ACL scheme; digest and ip are built in (no effect); X509 and any other class refused", authProvider},
	{"zookeeper.superUser", "a SASL principal (after the principal rules below) that passes every ACL; `zookeeper.superUser.*` too, as in ZooKeeper", func(p *parser, s setting) {
		p.cfg.SASL.SuperUsers = append(p.cfg.SASL.SuperUsers, s.value)
	}},
	{"zookeeper.superUser.", "as `zookeeper.superUser`", func(p *parser, s setting) {
		p.cfg.SASL.SuperUsers = append(p.cfg.SASL.SuperUsers, s.value)
	}},
	{"zookeeper.SASLAuthenticationProvider.superPassword", "the DIGEST-MD5 password of the user `super` (replaces the JAAS file's)", func(p *parser, s setting) {
		p.cfg.SASL.SuperPassword, p.cfg.SASL.HasSuperPassword = s.value, true
	}},
	{"zookeeper.kerberos.removeHostFromPrincipal", "`true`: a principal `name/host@REALM` of the default realm is `name@REALM` in ACLs (see SASL for the mapping)", func(p *parser, s setting) {
		p.cfg.SASL.RemoveHost = p.exactBool(s)
	}},
	{"zookeeper.kerberos.removeRealmFromPrincipal", "`true`: `name/host@REALM` is `name/host`, as above", func(p *parser, s setting) {
		p.cfg.SASL.RemoveRealm = p.exactBool(s)
	}},
	{"zookeeper.allowSaslFailedClients", "`true`: a failed SASL exchange is answered OK with no token and the connection stays (not with enforced SASL), as in ZooKeeper", func(p *parser, s setting) {
		if b, ok := p.propBool(s); ok {
			p.cfg.SASL.AllowFailed = b
		}
	}},
	{"zookeeper.sessionRequireClientSASLAuth", "`true`: as `enforce.auth.enabled=true` with `enforce.auth.schemes=sasl`", func(p *parser, s setting) {
		p.requireSASL = &s
	}},
	{"zookeeper.enforce.auth.enabled", "`true`: a session that holds no id of `enforce.auth.schemes` is answered SESSIONCLOSEDREQUIRESASLAUTH (-124) to any request but auth and sasl, and its connection closed, as in ZooKeeper 3.8", func(p *parser, s setting) {
		p.enforceAuth = &s
	}},
	{"zookeeper.enforce.auth.schemes", "comma list of the schemes that count (`sasl`, `digest`, `ip`); each must be a registered provider", func(p *parser, s setting) {
		p.enforceSchemes = &s
	}},
	{"zookeeper.security.auth_to_local", "`DEFAULT` accepted; other principal rules refused", func(p *parser, s setting) {
		if strings.TrimSpace(s.value) != "DEFAULT" {
			p.refuse(s, "auth_to_local principal rules")
		}
	}},
	{"zookeeper.kerberos.", "other keys refused (Kerberos)", refuseAny("Kerberos (SASL GSSAPI)")},
	{"zookeeper.letAnySaslUserDoX", "refused", refuseAny("letAnySaslUserDoX")},
	{"zookeeper.ensembleAuthName", "refused (ensemble authentication)", refuseAny("ensemble authentication")},
	{"quorum.auth.", "not a system property: ZooKeeper reads `quorum.auth.*` from zoo.cfg only, so a flag that asks for quorum SASL (`true`, a Kerberos principal) stops the server, and any other is ignored with a warning", quorumAuthFlag},
	{"zookeeper.X509AuthenticationProvider.superUser", "refused (TLS)", refuseAny(needTLS)},
	{"zookeeper.ssl.", "refused (TLS), every key, `ssl.quorum.*` too", refuseAny(needTLS)},
	{"zookeeper.client.portUnification", "`true` refused (TLS)", refuseBool(needTLS, true)},
	{"zookeeper.admin.portUnification", "`true` refused (TLS)", refuseBool(needTLS, true)},
	{"zookeeper.admin.forceHttps", "`true` refused (TLS)", refuseBool(needTLS, true)},
	{"zookeeper.serverCnxnFactory", "NIO: no effect; Netty (ZooKeeper's TLS transport) and any other class refused", func(p *parser, s setting) {
		switch {
		case s.value == "org.apache.zookeeper.server.NIOServerCnxnFactory":
			p.propWarnf(s, "paddock has its own transport; no effect")
		case strings.Contains(s.value, "Netty"):
			p.refuse(s, needTLS+" (NettyServerCnxnFactory is ZooKeeper's TLS transport)")
		default:
			p.refuse(s, "connection factory "+strconv.Quote(s.value))
		}
	}},
	{"zookeeper.skipACL", "`yes` refused (paddock always checks ACLs)", func(p *parser, s setting) {
		switch s.value {
		case "yes":
			p.refuse(s, "skipping ACL checks")
		case "no":
		default:
			p.propErrorf(s, "%q: want yes or no", s.value)
		}
	}},
	{"zookeeper.enableEagerACLCheck", "`true` refused", refuseBool("eager ACL checks", true)},
	{"zookeeper.audit.enable", "`true` refused", refuseBool("audit logging", true)},
	{"zookeeper.emulate353TTLNodes", "`true` refused", refuseBool("ZooKeeper 3.5.3's TTL encoding", true)},
	{"zookeeper.request_throttle_max_requests", "above 0 refused", refuseInt("request throttling", func(n int) bool { return n > 0 })},
	{"zookeeper.throttled_op_wait_time", "above 0 refused", refuseInt("request throttling", func(n int) bool { return n > 0 })},
	{"zookeeper.connection_throttle_tokens", "above 0 refused", refuseInt("connection throttling", func(n int) bool { return n > 0 })},
	{"zookeeper.largeRequestThreshold", "other than -1 refused", refuseInt("the large-request limit", func(n int) bool { return n != -1 })},

	// Known to ZooKeeper 3.8, no effect here.
	{"zookeeper.forceSync", "no effect: paddock always fsyncs", noEffect("paddock always fsyncs its log")},
	{"zookeeper.jute.maxbuffer.extrasize", "no effect: see Limits (a transaction may exceed `jute.maxbuffer` by 1 KiB and its auth ids)", noEffect("paddock's transaction bound is fixed")},
	{"zookeeper.digest.enabled", "no effect", noEffect("paddock keeps no tree digest; Raft checks the log")},
	{"zookeeper.kinit", "no effect", noEffect("paddock never runs kinit: a server needs only its keytab")},
	{"zookeeper.largeRequestMaxBytes", "no effect (only with `largeRequestThreshold`)", noEffect("only used with largeRequestThreshold")},
	{"zookeeper.connection_throttle_*", "no effect (only with `connection_throttle_tokens`)", noEffect("only used with connection_throttle_tokens")},
	{"zookeeper.request_throttle_*", "no effect (only with `request_throttle_max_requests`)", noEffect("only used with request_throttle_max_requests")},
	{"zookeeper.request_stale_*", "no effect", noEffect("")},
	{"zookeeper.request_throttler.", "no effect", noEffect("")},
	{"zookeeper.nio.", "no effect (other keys)", noEffect("paddock has its own transport")},
	{"zookeeper.netty.", "no effect", noEffect("paddock has its own transport")},
	{"zookeeper.commitProcessor.", "no effect", noEffect("no request pipeline")},
	{"zookeeper.preAllocSize", "no effect", noEffect("")},
	{"zookeeper.flushDelay", "no effect", noEffect("")},
	{"zookeeper.maxWriteQueuePollTime", "no effect", noEffect("")},
	{"zookeeper.maxBatchSize", "no effect", noEffect("")},
	{"zookeeper.intBufferStartingSizeBytes", "no effect", noEffect("")},
	{"zookeeper.maxResponseCacheSize", "no effect", noEffect("no response cache")},
	{"zookeeper.maxGetChildrenResponseCacheSize", "no effect", noEffect("no response cache")},
	{"zookeeper.snapshot.", "no effect (`compression.method`, `trust.empty`)", noEffect("paddock's snapshots are its own")},
	{"zookeeper.snapshotSizeFactor", "no effect", noEffect("")},
	{"zookeeper.snapSizeLimitInKb", "no effect", noEffect("")},
	{"zookeeper.txnLogSizeLimitInKb", "no effect", noEffect("")},
	{"zookeeper.fsync.warningthresholdms", "no effect", noEffect("")},
	{"fsync.warningthresholdms", "no effect", noEffect("")},
	{"zookeeper.closeSessionTxn.enabled", "no effect", noEffect("")},
	{"zookeeper.watchManagerName", "no effect", noEffect("paddock's watches are its own")},
	{"zookeeper.watcherClean*", "no effect (`watcherCleanThreshold`, `…IntervalInSeconds`, `…ThreadsNum`)", noEffect("paddock's watches are its own")},
	{"zookeeper.maxInProcessingDeadWatchers", "no effect", noEffect("paddock's watches are its own")},
	{"zookeeper.bitHashCacheSize", "no effect", noEffect("paddock's watches are its own")},
	{"zookeeper.pathStats.", "no effect", noEffect("")},
	{"zookeeper.messageTracker.", "no effect", noEffect("")},
	{"zookeeper.audit.impl.class", "no effect", noEffect("")},
	{"zookeeper.admin.idleTimeout", "no effect", noEffect("the AdminServer keeps Go's HTTP defaults")},
	{"zookeeper.admin.httpVersion", "no effect", noEffect("the AdminServer speaks HTTP/1.1")},
	{"zookeeper.datadir.autocreate", "no effect: paddock creates its data directory", noEffect("paddock creates its data directory")},
	{"zookeeper.db.autocreate", "no effect", noEffect("paddock creates its data directory")},
	{"zookeeper.tcpKeepAlive", "no effect", noEffect("")},
	{"zookeeper.clientTcpKeepAlive", "no effect", noEffect("")},
	{"zookeeper.testingonly.initialZxid", "no effect", noEffect("")},
	{"zookeeper.jmx.log4j.", "no effect", noEffect("no JMX")},
	{"zookeeper.leader*", "no effect (ensemble settings: `leader.*`, `leaderServes`, `leaderConnectDelayDuringRetryMs`)", noEffect("single node")},
	{"zookeeper.learner.", "no effect", noEffect("single node")},
	{"zookeeper.observer.", "no effect", noEffect("single node")},
	{"zookeeper.observerMaster.sizeLimit", "no effect", noEffect("single node")},
	{"zookeeper.fastleader.", "no effect", noEffect("single node")},
	{"zookeeper.follower.", "no effect", noEffect("single node")},
	{"zookeeper.forward_learner_requests_to_commit_processor_disabled", "no effect", noEffect("single node")},
	{"zookeeper.forceSnapshotSync", "no effect", noEffect("single node")},
	{"zookeeper.electionPortBindRetry", "no effect", noEffect("single node")},
	{"zookeeper.quorumCnxnTimeoutMs", "no effect", noEffect("single node")},
	{"zookeeper.cnxTimeout", "no effect", noEffect("single node")},
	{"zookeeper.multiAddress.", "no effect", noEffect("single node")},
	{"zookeeper.sasl.client*", "no effect (client settings: `sasl.client`, `sasl.client.username`, `sasl.clientconfig`, ...)", noEffect("a client setting")},
	{"zookeeper.server.principal", "no effect (a client setting)", noEffect("a client setting")},
	{"zookeeper.server.realm", "no effect (a client setting)", noEffect("a client setting")},
	{"zookeeper.requireKerberosConfig", "no effect (a client setting)", noEffect("a client setting")},
	{"zookeeper.clientCnxnSocket", "no effect (a client setting)", noEffect("a client setting")},
	{"zookeeper.client.secure", "no effect (a client setting)", noEffect("a client setting")},
	{"zookeeper.disableAutoWatchReset", "no effect (a client setting)", noEffect("a client setting")},
	{"zookeeper.request.timeout", "no effect (a client setting)", noEffect("a client setting")},
	{"zookeeper.log.", "no effect: paddock logs to standard error (`--log-level`)", noEffect("paddock logs to standard error; see --log-level")},
	{"zookeeper.root.logger", "no effect, as above", noEffect("paddock logs to standard error; see --log-level")},
	{"zookeeper.console.threshold", "no effect, as above", noEffect("paddock logs to standard error; see --log-level")},
	{"zookeeper.tracelog.", "no effect, as above", noEffect("paddock logs to standard error; see --log-level")},
}

// prefix reports whether the entry stands for every property that starts
// with the returned prefix: a Name ending in '.' or '*' (dropped).
func (sp *SystemProperty) prefix() (string, bool) {
	switch {
	case strings.HasSuffix(sp.Name, "."):
		return sp.Name, true
	case strings.HasSuffix(sp.Name, "*"):
		return strings.TrimSuffix(sp.Name, "*"), true
	}
	return "", false
}

// lookupProperty finds the entry for a property: an exact name first, else
// the longest prefix entry that starts it.
func lookupProperty(name string) *SystemProperty {
	var best *SystemProperty
	for i := range systemProperties {
		sp := &systemProperties[i]
		if sp.Name == name {
			return sp
		}
		prefix, ok := sp.prefix()
		if ok && strings.HasPrefix(name, prefix) && (best == nil || len(sp.Name) > len(best.Name)) {
			best = sp
		}
	}
	return best
}

func noEffect(why string) func(p *parser, s setting) {
	return func(p *parser, s setting) {
		if why == "" {
			p.propWarnf(s, "ZooKeeper setting has no effect in paddock; ignored")
		} else {
			p.propWarnf(s, "ZooKeeper setting has no effect in paddock (%s); ignored", why)
		}
	}
}

func refuseAny(what string) func(p *parser, s setting) {
	return func(p *parser, s setting) { p.refuse(s, what) }
}

func refuseBool(what string, when bool) func(p *parser, s setting) {
	return func(p *parser, s setting) {
		if b, ok := p.propBool(s); ok && b == when {
			p.refuse(s, what)
		}
	}
}

func refuseInt(what string, asks func(int) bool) func(p *parser, s setting) {
	return func(p *parser, s setting) {
		if n, ok := p.propInt(s); ok && asks(n) {
			p.refuse(s, what)
		}
	}
}

// quorumAuthFlag handles a -Dquorum.auth.* flag: ZooKeeper never reads
// one, so it would run without the quorum SASL the flag asks for.
func quorumAuthFlag(p *parser, s setting) {
	asks := s.name == "quorum.auth.kerberos.servicePrincipal" ||
		strings.EqualFold(s.value, "true") && (s.name == keyQuorumEnable || s.name == keyQuorumServerRequire || s.name == keyQuorumLearnerRequire)
	if asks {
		p.propErrorf(s, "ZooKeeper reads %s from zoo.cfg only, never as a system property, and would not authenticate its members: set it in zoo.cfg", s.name)
		return
	}
	p.propWarnf(s, "ZooKeeper reads %s from zoo.cfg only; ignored (set it in zoo.cfg)", s.name)
}

// authProvider handles zookeeper.authProvider.N: ZooKeeper loads the
// class and registers its scheme.
func authProvider(p *parser, s setting) {
	const pkg = "org.apache.zookeeper.server.auth."
	switch s.value {
	case pkg + "DigestAuthenticationProvider", pkg + "IPAuthenticationProvider":
		p.propWarnf(s, "built into paddock; no effect")
	case pkg + "SASLAuthenticationProvider":
		p.cfg.SASL.Provider = true
	case pkg + "X509AuthenticationProvider":
		p.refuse(s, needTLS+" (x509 authentication)")
	default:
		p.refuse(s, "authentication provider "+strconv.Quote(s.value)+" (paddock runs no Java classes)")
	}
}

// refuse records that s asks for something paddock does not do yet: the
// server must not start and pretend it does.
func (p *parser) refuse(s setting, what string) {
	p.propErrorf(s, "%s is not supported by paddock yet; refusing to start rather than ignore this setting", what)
}

func (p *parser) propErrorf(s setting, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: s.file, Line: s.line, Key: s.key, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) propWarnf(s setting, format string, args ...any) {
	p.cfg.Warnings = append(p.cfg.Warnings, Warning{File: s.file, Line: s.line, Key: s.key, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) propBool(s setting) (bool, bool) {
	switch strings.ToLower(s.value) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	p.propErrorf(s, "%q is not a boolean, choose true or false", s.value)
	return false, false
}

// exactBool reads a property ZooKeeper compares with "true".equals: any
// other spelling would be false there, so only "true" and "false" are
// taken.
func (p *parser) exactBool(s setting) bool {
	if s.value != "true" && s.value != "false" {
		p.propErrorf(s, "%q: want true or false (ZooKeeper reads only the lower-case \"true\" as true)", s.value)
	}
	return s.value == "true"
}

func (p *parser) propInt(s setting) (int, bool) {
	n, err := strconv.ParseInt(s.value, 10, 32)
	if err != nil {
		p.propErrorf(s, "%q is not an integer", s.value)
		return 0, false
	}
	return int(n), true
}

func (p *parser) propPort(s setting) (int, bool) {
	n, ok := p.propInt(s)
	if ok && (n < 0 || n > 65535) {
		p.propErrorf(s, "port %d out of range 0-65535", n)
		return 0, false
	}
	return n, ok
}

func (p *parser) juteMaxBuffer(s setting) (int, bool) {
	n, err := strconv.ParseInt(s.value, 0, 32)
	if err != nil || n <= 0 {
		p.propErrorf(s, "%q is not a positive integer", s.value)
		return 0, false
	}
	return int(n), true
}

// setProp records a setting; a later one of the same name replaces an
// earlier one (a zoo.cfg key replaces a -D flag, as QuorumPeerConfig's
// System.setProperty does).
func (p *parser) setProp(s setting) {
	i, ok := p.propAt[s.name]
	if !ok {
		p.propAt[s.name] = len(p.props)
		p.props = append(p.props, s)
		return
	}
	prev := p.props[i]
	if prev.fromFlags() && !s.fromFlags() && prev.value != s.value {
		p.propWarnf(s, "overrides %s=%s from %s, as in ZooKeeper", prev.key, prev.value, propOrigin(prev))
	}
	p.props[i] = s
}

func (p *parser) prop(name string) (setting, bool) {
	i, ok := p.propAt[name]
	if !ok {
		return setting{}, false
	}
	return p.props[i], true
}

func propOrigin(s setting) string {
	if s.line > 0 {
		return fmt.Sprintf("%s:%d", s.file, s.line)
	}
	return s.file
}

// applyProps runs every setting's entry, in the order they were given.
func (p *parser) applyProps() {
	for _, s := range p.props {
		sp := lookupProperty(s.name)
		switch {
		case sp != nil:
			sp.apply(p, s)
		case s.fromFlags():
			p.propWarnf(s, "unknown system property; ignored")
		default:
			p.propWarnf(s, "unknown key; ignored")
		}
	}
}

// ReadmeRow is sp's row in the README's table of system properties:
// the -D name, the zoo.cfg key (the name without "zookeeper.", or none:
// a zoo.cfg key always becomes zookeeper.KEY) and what paddock does.
func ReadmeRow(sp SystemProperty) string {
	name := sp.Name
	if strings.HasSuffix(name, ".") {
		name += "*"
	}
	key := "—"
	if k, ok := strings.CutPrefix(name, "zookeeper."); ok {
		key = "`" + k + "`"
	}
	return "| `" + name + "` | " + key + " | " + sp.Does + " |"
}
