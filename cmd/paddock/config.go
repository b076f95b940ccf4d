package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/paddockdb/paddock/actors"
	"github.com/paddockdb/paddock/actors/quorumauth"
	"github.com/paddockdb/paddock/cmd/paddock/zoocfg"
)

const (
	// defaultClientAddr is where serve listens without a zoo.cfg: loopback
	// only, a safe default for a development server.
	defaultClientAddr = "127.0.0.1:2181"
	// defaultDataDir is the data directory when nothing names one,
	// relative to the working directory (etcd does the same).
	defaultDataDir = "paddock-data"
	// dataDirEnv names the data directory; it overrides zoo.cfg's dataDir.
	dataDirEnv = "PADDOCK_DATA_DIR"
	// defaultServerID is the server id without a dataDir/myid file,
	// ZooKeeper's for a standalone server.
	defaultServerID = 1
	// maxExtendedTypesServerID: with TTL nodes on, ZooKeeper keeps server
	// ids below 255, because the TTL shares ephemeralOwner's high byte.
	maxExtendedTypesServerID = 254
)

// serveOptions are serve's flags.
type serveOptions struct {
	configPath string
	dataDir    string
	clientAddr string
	logLevel   string
	logFormat  string // "text" (also when empty) or "json"
	jaas       string
}

// resolved is the configuration serve runs with, before it becomes an
// actors.Config, and where the data directory came from (for the log).
type resolved struct {
	zk            *zoocfg.Config
	dataDirSource string
}

// resolveConfig merges, highest first: flags, $PADDOCK_DATA_DIR, the
// zoo.cfg, the JVM flags ZooKeeper would have run with ($SERVER_JVMFLAGS,
// $JVMFLAGS, java.env; zoo.cfg overrides them as in ZooKeeper), the
// defaults.
func resolveConfig(opts serveOptions, getenv func(string) string) (resolved, error) {
	// zkEnv.sh's configuration directory: $ZOOCFGDIR, else the zoo.cfg's.
	confDir := getenv(zoocfg.EnvConfDir)
	if confDir == "" && opts.configPath != "" {
		confDir = filepath.Dir(opts.configPath)
	}
	props, err := zoocfg.JVMFlags(getenv, confDir)
	if err != nil {
		return resolved{}, err
	}
	if opts.jaas != "" {
		// As the JVM flag would give it, after (so over) the others.
		props = append(props, zoocfg.Property{Name: "java.security.auth.login.config", Value: opts.jaas, File: "--jaas"})
	}
	var zk *zoocfg.Config
	if opts.configPath != "" {
		if zk, err = zoocfg.ParseFile(opts.configPath, props); err != nil {
			return resolved{}, err
		}
	} else {
		if zk, err = zoocfg.FromProperties(props); err != nil {
			return resolved{}, err
		}
		// No zoo.cfg, no ZooKeeper default to follow: the AdminServer
		// runs only when a -D flag turns it on.
		if !slices.ContainsFunc(props, func(p zoocfg.Property) bool { return p.Name == "zookeeper.admin.enableServer" }) {
			zk.Admin.Enabled = false
		}
		host, port, _ := net.SplitHostPort(defaultClientAddr)
		zk.ClientPortAddress = host
		zk.ClientPort, _ = strconv.Atoi(port)
	}
	r := resolved{zk: zk}
	switch {
	case opts.dataDir != "":
		zk.DataDir, r.dataDirSource = opts.dataDir, "--data-dir"
	case getenv(dataDirEnv) != "":
		zk.DataDir, r.dataDirSource = getenv(dataDirEnv), "$"+dataDirEnv
	case zk.DataDir != "":
		r.dataDirSource = "zoo.cfg dataDir"
	default:
		zk.DataDir, r.dataDirSource = defaultDataDir, "default"
	}
	if opts.clientAddr != "" {
		host, portText, err := net.SplitHostPort(opts.clientAddr)
		port, perr := strconv.Atoi(portText)
		if err != nil || perr != nil || port < 0 || port > 65535 {
			return resolved{}, fmt.Errorf("--client-addr %q: want host:port (host may be empty, port 0 picks one)", opts.clientAddr)
		}
		zk.ClientPortAddress, zk.ClientPort = host, port
	} else if err := serverLineClientAddr(zk); err != nil {
		return resolved{}, err
	}
	if zk.ClientPort == zoocfg.NoClientPort {
		return resolved{}, fmt.Errorf("%s: no clientPort: ZooKeeper would start serving no one; paddock refuses "+
			"(set clientPort, or pass --client-addr)", zk.File)
	}
	return r, nil
}

// serverLineClientAddr does what ZooKeeper's QuorumPeerConfig.setupClientPort
// does once dataDir/myid names this server: the client address of its
// server.N line is the client port when zoo.cfg has no clientPort, and
// must agree with clientPort when it has one.
func serverLineClientAddr(zk *zoocfg.Config) error {
	id, ok, err := zoocfg.ReadMyID(zk.DataDir)
	if err != nil || !ok {
		return err
	}
	line := zk.ServerClientAddr(id)
	if line == "" {
		return nil
	}
	host, portText, _ := net.SplitHostPort(line)
	port, _ := strconv.Atoi(portText)
	if zk.ClientPort == zoocfg.NoClientPort {
		zk.ClientPortAddress, zk.ClientPort = host, port
		return nil
	}
	wildcard := zk.ClientPortAddress == "" || net.ParseIP(zk.ClientPortAddress).IsUnspecified()
	if port != zk.ClientPort || (!wildcard && zk.ClientPortAddress != host) {
		return fmt.Errorf("%s: the client address for this server (id = %d) is %s, different from server.%d's %s",
			zk.File, id, zk.ClientAddr(), id, line)
	}
	return nil
}

// toActorsConfig maps a resolved zoo.cfg onto the server's configuration.
// serverID comes from dataDir/myid (defaultServerID without one).
func toActorsConfig(zk *zoocfg.Config, serverID uint64, logger *slog.Logger) (actors.Config, error) {
	if zk.DataDir == "" {
		return actors.Config{}, errors.New("no data directory")
	}
	if serverID == 0 {
		return actors.Config{}, errors.New("server id must be positive")
	}
	if zk.ExtendedTypes && serverID > maxExtendedTypesServerID {
		return actors.Config{}, fmt.Errorf("server id %d: extendedTypesEnabled=true needs a server id of at most %d",
			serverID, maxExtendedTypesServerID)
	}
	// Non-nil even when empty: actors reads a nil list as "default (srvr)",
	// an empty one as "none", which is what an empty whitelist means.
	words := make([]string, len(zk.FourLetterWords))
	copy(words, zk.FourLetterWords)
	logDir := zk.DataLogDir
	if logDir == "" {
		logDir = zk.DataDir
	}
	members, clientAddr, err := ensembleOf(zk, serverID)
	if err != nil {
		return actors.Config{}, err
	}
	return actors.Config{
		DataDir:                zk.DataDir,
		DataLogDir:             logDir,
		ClientAddr:             clientAddr,
		Members:                members,
		InitLimit:              zk.InitLimit,
		SyncLimit:              zk.SyncLimit,
		ReadOnlyMode:           zk.ReadOnlyMode,
		TickTime:               zk.TickTime,
		MinSessionTimeout:      zk.MinSessionTimeout,
		MaxSessionTimeout:      zk.MaxSessionTimeout,
		MaxClientCnxns:         zk.MaxClientCnxns,
		MaxCnxns:               zk.MaxCnxns,
		MaxOutstanding:         zk.MaxOutstanding,
		SessionlessTimeout:     zk.SessionlessTimeout,
		MaxPacket:              zk.JuteMaxBuffer,
		FourLetterWords:        words,
		Admin:                  adminConfig(zk.Admin),
		ExtendedTypes:          zk.ExtendedTypes,
		SuperDigest:            zk.SuperDigest,
		SASL:                   saslConfig(zk.SASL),
		QuorumAuth:             quorumAuth(zk.QuorumSASL),
		SASLScheme:             zk.SASL.Provider,
		EnforceAuth:            zk.EnforceAuth,
		EnforceQuota:           zk.EnforceQuota,
		ContainerCheckInterval: zk.Container.CheckInterval,
		ContainerMaxPerMinute:  zk.Container.MaxPerMinute,
		ContainerMaxNeverUsed:  zk.Container.MaxNeverUsed,
		SnapCount:              zk.SnapCount,
		LogRetention:           uint64(zk.CommitLogCount),
		ServerID:               serverID,
		Logger:                 logger,
	}, nil
}

// adminConfig is the AdminServer's listener: nil when admin.enableServer
// is false.
func adminConfig(a zoocfg.Admin) *actors.AdminConfig {
	if !a.Enabled {
		return nil
	}
	return &actors.AdminConfig{Addr: net.JoinHostPort(a.Address, strconv.Itoa(a.Port)), CommandURL: a.CommandURL}
}

// saslConfig is the SASL server's configuration: nil without users or a
// Kerberos principal from a JAAS server section (ZooKeeper then has no
// SASL server).
func saslConfig(sc zoocfg.SASL) *actors.SASLConfig {
	if sc.Users == nil && sc.Kerberos == nil {
		return nil
	}
	c := &actors.SASLConfig{
		Users:            sc.Users,
		DefaultRealm:     sc.DefaultRealm,
		SuperPassword:    sc.SuperPassword,
		HasSuperPassword: sc.HasSuperPassword,
		SuperUsers:       sc.SuperUsers,
		RemoveHost:       sc.RemoveHost,
		RemoveRealm:      sc.RemoveRealm,
		AllowFailed:      sc.AllowFailed,
	}
	if sc.Kerberos != nil {
		c.Kerberos = sc.Kerberos.Acceptor
	}
	return c
}

// quorumAuth is quorum SASL between the members: nil without
// quorum.auth.enableSasl; DIGEST-MD5, or GSSAPI when the JAAS sections are
// Kerberos; the hosts it authorizes are the members' (actors fills them
// in).
func quorumAuth(q *zoocfg.QuorumSASL) *quorumauth.Config {
	if q == nil {
		return nil
	}
	c := &quorumauth.Config{LearnerRequire: q.LearnerRequire, ServerRequire: q.ServerRequire,
		Mechanism: &quorumauth.Digest{Users: q.Users, User: q.User, Password: q.Password}}
	if k := q.Kerberos; k != nil {
		c.Mechanism = &quorumauth.Kerberos{Acceptor: k.Acceptor, Login: k.Login, ServicePrincipal: k.ServicePrincipal}
	}
	return c
}

// ensembleOf returns the members of the ensemble zk describes (none for a
// standalone server) and this server's client address: server.N's
// ";address" when it has one, else clientPortAddress:clientPort.
func ensembleOf(zk *zoocfg.Config, serverID uint64) ([]actors.Member, string, error) {
	if !zk.Distributed() {
		return nil, zk.ClientAddr(), nil
	}
	var members []actors.Member
	clientAddr := ""
	self := false
	for _, sv := range zk.Servers {
		if sv.Role == zoocfg.Observer {
			return nil, "", fmt.Errorf("%s line %d: server.%d is an observer; Paddock ensembles have participants only for now", zk.File, sv.Line, sv.ID)
		}
		members = append(members, actors.Member{ID: sv.ID, QuorumAddr: sv.QuorumAddr(), ElectionAddr: sv.ElectionAddr()})
		if sv.ID == serverID {
			self, clientAddr = true, sv.ClientAddr
		}
	}
	if !self {
		return nil, "", fmt.Errorf("%s: myid is %d, but no server.%d line names this server", zk.File, serverID, serverID)
	}
	if clientAddr == "" {
		clientAddr = zk.ClientAddr()
	}
	return members, clientAddr, nil
}

// serverID reads dataDir/myid, or returns defaultServerID without one; an
// ensemble member must have one (ZooKeeper refuses to start without it).
func serverID(dataDir string, distributed bool) (uint64, error) {
	id, ok, err := zoocfg.ReadMyID(dataDir)
	if err != nil {
		return 0, err
	}
	if !ok {
		if distributed {
			return 0, fmt.Errorf("%s is missing: each member of an ensemble needs its server id there", filepath.Join(dataDir, "myid"))
		}
		return defaultServerID, nil
	}
	return id, nil
}
