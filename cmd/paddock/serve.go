package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/paddockdb/paddock/actors"
	"github.com/paddockdb/paddock/cmd/paddock/identity"
)

// shutdownTimeout bounds the telemetry flush at exit.
const shutdownTimeout = 5 * time.Second

func newServeFlags(opts *serveOptions, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&opts.configPath, "config", "", "ZooKeeper `zoo.cfg` to read")
	fs.StringVar(&opts.dataDir, "data-dir", "",
		"data `directory` (overrides $"+dataDirEnv+" and zoo.cfg's dataDir; default ./"+defaultDataDir+")")
	fs.StringVar(&opts.clientAddr, "client-addr", "",
		"client listen `address` host:port (overrides zoo.cfg; default "+defaultClientAddr+" without --config)")
	fs.StringVar(&opts.logLevel, "log-level", "info", "log `level`: debug, info, warn or error (Dragonboat's own debug lines: debug-4)")
	fs.Func("log-format", "log `format`: text (key=value, the default) or json (one JSON object a line, for log shippers)", func(v string) error {
		if v != "text" && v != "json" {
			return fmt.Errorf("want text or json")
		}
		opts.logFormat = v
		return nil
	})
	fs.StringVar(&opts.jaas, "jaas", "",
		"JAAS `file`: its Server section's SASL DIGEST-MD5 users or Kerberos keytab and principal, and with quorum.auth.enableSasl its QuorumServer and QuorumLearner sections (overrides -Djava.security.auth.login.config)")
	return fs
}

func serveUsage(w io.Writer) {
	fmt.Fprint(w, `usage: paddock serve [flags]

Runs a single Paddock node until SIGINT or SIGTERM. Without --config it
listens on `+defaultClientAddr+`. Logs go to standard error.

Flags:
`)
	var opts serveOptions
	fs := newServeFlags(&opts, w)
	fs.PrintDefaults()
	fmt.Fprint(w, `
Environment:
  `+dataDirEnv+`       data directory (below --data-dir, above zoo.cfg)
  SERVER_JVMFLAGS, JVMFLAGS
                         ZooKeeper's -D settings, as zkServer.sh passes them
  ZOOCFGDIR              where zookeeper-env.sh and java.env are read
                         (default: the zoo.cfg's directory)
  OTEL_TRACES_EXPORTER   otlp, console or none (default none: tracing off)
  OTEL_*                 the other OpenTelemetry SDK variables
`)
}

func runServe(args []string, stdout, stderr io.Writer) int {
	var opts serveOptions
	fs := newServeFlags(&opts, stderr)
	fs.Usage = func() { serveUsage(stderr) }
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "paddock serve: unexpected argument %q\nRun 'paddock help serve' for usage.\n", fs.Arg(0))
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, restore the default behaviour so that a
		// second one kills a shutdown that hangs.
		<-ctx.Done()
		stop()
	}()
	return serve(ctx, opts, os.Getenv, stdout, stderr, nil)
}

// serve runs the server until ctx is done. ready, if not nil, is called
// with the client address once the server listens (for tests).
func serve(ctx context.Context, opts serveOptions, getenv func(string) string,
	stdout, stderr io.Writer, ready func(net.Addr)) int {
	logger, err := newLogger(opts.logLevel, opts.logFormat, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "paddock serve: %v\n", err)
		return exitUsage
	}
	r, err := resolveConfig(opts, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "paddock serve: %v\n", err)
		return exitUsage
	}
	for _, w := range r.zk.Warnings {
		what := "zoo.cfg: "
		if strings.HasPrefix(w.Key, "-D") {
			what = "JVM flag: "
		}
		logger.Warn(what+w.Msg, "file", w.File, "line", w.Line, "key", w.Key)
	}
	logger.Info("data directory", "dir", r.zk.DataDir, "source", r.dataDirSource)
	if err := os.MkdirAll(r.zk.DataDir, 0o750); err != nil {
		logger.Error("creating the data directory", "err", err)
		return exitFailure
	}
	id, err := serverID(r.zk.DataDir, r.zk.Distributed())
	if err != nil {
		logger.Error("reading myid", "err", err)
		return exitUsage
	}
	cfg, err := toActorsConfig(r.zk, id, logger)
	if err != nil {
		logger.Error("invalid configuration", "err", err)
		return exitUsage
	}
	ensembleID := "" // standalone: the id made up at the first start
	if r.zk.Distributed() {
		ids := make([]uint64, len(r.zk.Servers))
		for i, m := range r.zk.Servers {
			ids[i] = m.ID
		}
		ensembleID = identity.EnsembleID(ids)
	}
	ident, err := identity.Check(r.zk.DataDir, id, ensembleID)
	if err != nil {
		logger.Error("data directory identity", "err", err)
		return exitFailure
	}
	logger.Info("data directory identity", "server_id", ident.ServerID, "ensemble_id", ident.EnsembleID, "recorded_now", ident.Created)

	shutdownTelemetry, err := setupTelemetry(ctx, stdout, logger)
	if err != nil {
		logger.Error("telemetry", "err", err)
		return exitUsage
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := shutdownTelemetry(sctx); err != nil {
			logger.Warn("telemetry shutdown", "err", err)
		}
	}()

	srv, err := actors.Start(ctx, cfg)
	if err != nil {
		logger.Error("starting the server", "err", err)
		return exitFailure
	}
	logger.Info("serving", "addr", srv.Addr().String(), "version", versionString(), "server_id", cfg.ServerID)
	if ready != nil {
		ready(srv.Addr())
	}
	select {
	case <-ctx.Done():
	case <-srv.Done():
		// An internal failure stopped the server (logged with its stack).
		logger.Error("server stopped by an internal failure", "err", srv.Err())
		_ = srv.Close() // waits for the shutdown the failure started
		return exitFailure
	}
	logger.Info("shutting down")
	if err := srv.Close(); err != nil {
		logger.Error("closing the server", "err", err)
		return exitFailure
	}
	logger.Info("stopped")
	return exitOK
}

// newLogger makes the logger on w at the named level, in JSON when format
// is "json" and as text otherwise (--log-format checked it): everything the server logs, Dragonboat's and protoactor's lines
// included, goes through it (actors, logging.go).
func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}
