package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/paddockdb/paddock/actors"
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
}

// resolved is the configuration serve runs with, before it becomes an
// actors.Config, and where the data directory came from (for the log).
type resolved struct {
	zk            *zoocfg.Config
	dataDirSource string
}

// resolveConfig merges, highest first: flags, $PADDOCK_DATA_DIR, the
// zoo.cfg, the defaults.
func resolveConfig(opts serveOptions, getenv func(string) string) (resolved, error) {
	var zk *zoocfg.Config
	if opts.configPath != "" {
		var err error
		if zk, err = zoocfg.ParseFile(opts.configPath); err != nil {
			return resolved{}, err
		}
	} else {
		zk = zoocfg.Default()
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
	}
	if zk.Distributed() {
		return resolved{}, fmt.Errorf("%s describes an ensemble of %d servers; paddock serve runs a single node for now "+
			"(remove the server.N lines or keep one participant)", zk.File, len(zk.Servers))
	}
	return r, nil
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
	return actors.Config{
		DataDir:           zk.DataDir,
		DataLogDir:        logDir,
		ClientAddr:        zk.ClientAddr(),
		TickTime:          zk.TickTime,
		MinSessionTimeout: zk.MinSessionTimeout,
		MaxSessionTimeout: zk.MaxSessionTimeout,
		MaxClientCnxns:    zk.MaxClientCnxns,
		MaxPacket:         zk.JuteMaxBuffer,
		FourLetterWords:   words,
		ExtendedTypes:     zk.ExtendedTypes,
		SuperDigest:       zk.SuperDigest,
		SnapCount:         zk.SnapCount,
		ServerID:          serverID,
		Logger:            logger,
	}, nil
}

// serverID reads dataDir/myid, or returns defaultServerID without one.
func serverID(dataDir string) (uint64, error) {
	id, ok, err := zoocfg.ReadMyID(dataDir)
	if err != nil {
		return 0, err
	}
	if !ok {
		return defaultServerID, nil
	}
	return id, nil
}
