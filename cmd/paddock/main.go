// Command paddock is Paddock's one binary: a coordination service that
// speaks the Apache ZooKeeper wire protocol.
//
//	paddock serve [--config zoo.cfg] [--data-dir DIR] [--client-addr HOST:PORT] [--log-level LEVEL]
//	paddock version
//	paddock help [command]
//
// Exit codes: 0 success; 1 the server failed while running; 2 invalid
// invocation (unknown command or flag, a zoo.cfg that does not parse),
// as ZooKeeper's INVALID_INVOCATION.
//
// Decisions (also in README.md):
//   - Without --config, serve runs a single node on 127.0.0.1:2181 (loopback
//     only: a development default). With a zoo.cfg it binds what the file
//     says, every interface when clientPortAddress is absent, as ZooKeeper;
//     a zoo.cfg that asks for no client port is refused (ZooKeeper would
//     serve no one), unless --client-addr names one.
//   - ZooKeeper's JVM flags are read as zkServer.sh passes them:
//     $SERVER_JVMFLAGS, $JVMFLAGS, and zookeeper-env.sh and java.env in
//     $ZOOCFGDIR or the zoo.cfg's directory (read, not run); zoo.cfg
//     overrides them as in ZooKeeper (see zoocfg).
//   - A setting, in zoo.cfg or a flag, that asks for authentication,
//     authorisation, encryption or a limit paddock does not have stops the
//     start (exit 2) with a message naming it.
//   - The data directory is, first found: --data-dir, $PADDOCK_DATA_DIR,
//     zoo.cfg's dataDir, ./paddock-data. The choice and its source are
//     logged at start.
//   - Telemetry is off unless OTEL_TRACES_EXPORTER says otherwise (see
//     telemetry.go).
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/paddockdb/paddock/bench"
	"github.com/paddockdb/paddock/bench/robustness"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

type command struct {
	name    string
	summary string
	// run executes the command; it returns the exit code.
	run func(args []string, stdout, stderr io.Writer) int
	// usage prints the command's help, flags included.
	usage func(w io.Writer)
}

func commands() []command {
	return []command{
		{"serve", "run a server", runServe, serveUsage},
		{"bench", "drive a ZooKeeper-protocol endpoint with load and report", runBench, benchUsage},
		{"version", "print the version", runVersion, versionUsage},
		{"help", "show help for a command", runHelp, helpUsage},
	}
}

// runBench is `paddock bench`. The failover measurement lives in
// bench/robustness (it runs real ensembles and a ZooKeeper client); the
// load generator and its other subcommands in bench.
func runBench(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "failover" {
		return robustness.FailoverMain(args[1:], stdout, stderr)
	}
	return bench.Main(args, stdout, stderr)
}

// benchUsage prints the bench subcommand's flags (bench.Main's -h) and
// its subcommands.
func benchUsage(w io.Writer) {
	bench.Main([]string{"-h"}, w, w)
	fmt.Fprint(w, `
Subcommands (each has -h):
  paddock bench compare    Paddock against Apache ZooKeeper, side by side
  paddock bench memory     heap per znode, Paddock's tree against ZooKeeper's heap
  paddock bench restart    time for paddock serve to serve again with a large tree
  paddock bench failover   write gap after SIGKILL of a 3-member ensemble's leader
`)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "-version", "--version":
		return runVersion(nil, stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "paddock: unknown command %q\nRun 'paddock help' for usage.\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Paddock is a coordination service that speaks the ZooKeeper protocol.

Usage:
  paddock <command> [arguments]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'paddock help <command>' for a command's flags.
`)
}

func runHelp(args []string, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		usage(stdout)
		return exitOK
	case 1:
		for _, c := range commands() {
			if c.name == args[0] {
				c.usage(stdout)
				return exitOK
			}
		}
		fmt.Fprintf(stderr, "paddock help: unknown command %q\nRun 'paddock help' for usage.\n", args[0])
		return exitUsage
	}
	fmt.Fprintln(stderr, "usage: paddock help [command]")
	return exitUsage
}

func helpUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: paddock help [command]\n\nShows the commands, or one command's flags.")
}
