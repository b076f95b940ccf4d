package clients

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Timeout bounds one driver run, compilation included.
const Timeout = 120 * time.Second

// Tools the drivers run. Python is Debian's interpreter on purpose: kazoo
// is installed for it (python3-kazoo), not for whatever python3 is first
// on PATH.
var (
	Python = "/usr/bin/python3"
	ZkCli  = "/usr/share/zookeeper/bin/zkCli.sh"
	CliMT  = "/usr/lib/zookeeper/bin/cli_mt"
	Java   = "java"
	Javac  = "javac"
)

// CuratorClasspath is what CuratorCheck.java compiles and runs against:
// Debian's jars (their manifests' Class-Path entries pull in the rest).
var CuratorClasspath = strings.Join([]string{
	"/usr/share/java/curator-recipes.jar",
	"/usr/share/java/curator-framework.jar",
	"/usr/share/java/curator-client.jar",
	"/usr/share/java/zookeeper.jar",
	"/usr/share/java/zookeeper-jute.jar",
	"/usr/share/java/guava.jar",
	"/usr/share/java/slf4j-api.jar",
	"/usr/share/java/slf4j-simple.jar",
}, string(os.PathListSeparator))

// javaFlags keep a short-lived JVM quick on a small machine.
var javaFlags = []string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}

// Driver is one client driver.
type Driver struct {
	Name string
	Run  func(ctx context.Context, addr string) (string, error)
}

// All lists every driver, slowest first (zkCli.sh starts a JVM per command).
var All = []Driver{
	{"zkcli", RunZkCli},
	{"kazoo", RunKazoo},
	{"curator", RunCurator},
	{"cclient", RunCClient},
}

// SASLServerJAAS is the JAAS file the SASL drivers (SASLDrivers) expect
// the server to run with, together with
// authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider.
const SASLServerJAAS = `Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_bob="bobsecret"
    user_alice="alicesecret";
};
`

// SASLDrivers run the clients' SASL DIGEST-MD5 against a server with
// SASLServerJAAS.
var SASLDrivers = []Driver{
	{"kazoo-sasl", RunKazooSASL},
	{"zkcli-sasl", RunZkCliSASL},
	{"curator-sasl", RunCuratorSASL},
}

// DriverDir is where the driver sources are: $PADDOCK_CLIENT_DRIVERS, or
// cmd/paddock/testdata/clients in the source tree this package was built
// from.
func DriverDir() (string, error) {
	if d := os.Getenv("PADDOCK_CLIENT_DRIVERS"); d != "" {
		return d, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("clients: cannot locate the package source; set PADDOCK_CLIENT_DRIVERS")
	}
	d := filepath.Join(filepath.Dir(file), "..", "testdata", "clients")
	if _, err := os.Stat(filepath.Join(d, "kazoo_check.py")); err != nil {
		return "", fmt.Errorf("clients: driver sources not found in %s (set PADDOCK_CLIENT_DRIVERS): %w", d, err)
	}
	return d, nil
}

// RunKazoo runs kazoo_check.py (python3-kazoo) against addr.
func RunKazoo(ctx context.Context, addr string) (string, error) {
	return runPython(ctx, "kazoo", "kazoo_check.py", addr, nil, "python3-kazoo", Python)
}

// KerberosClient is what the Kerberos drivers authenticate with: a
// principal's credential cache and keytab, a JAAS Client section for the
// Java client, and the realm's krb5.conf.
type KerberosClient struct {
	Realm      string
	Krb5Conf   string
	CCache     string // KRB5CCNAME of a cache holding bob's tickets (kinit)
	Keytab     string // bob's keytab
	ClientJAAS string // a JAAS file whose Client section logs bob in from Keytab
}

// KerberosDrivers run the SASL drivers with GSSAPI (SASL_MECH=GSSAPI) as
// bob against a server whose JAAS Server section holds
// zookeeper/localhost's Krb5LoginModule, with the SASL provider.
func KerberosDrivers(k KerberosClient) []Driver {
	env := []string{"SASL_MECH=GSSAPI", "KRB5_CONFIG=" + k.Krb5Conf, "REALM=" + k.Realm}
	return []Driver{
		{"kazoo-kerberos", func(ctx context.Context, addr string) (string, error) {
			return runPython(ctx, "kazoo-kerberos", "kazoo_sasl_check.py", addr,
				append(env, "BOB_CCACHE="+k.CCache, "BOB_KEYTAB="+k.Keytab), "python3-kazoo", Python)
		}},
		{"zkcli-kerberos", func(ctx context.Context, addr string) (string, error) {
			return runPython(ctx, "zkcli-kerberos", "zkcli_sasl_check.py", addr,
				append(env, "ZKCLI="+ZkCli, "CLIENT_JAAS="+k.ClientJAAS), "zookeeper", ZkCli)
		}},
	}
}

// RunKazooSASL runs kazoo_sasl_check.py against addr, a server running
// with SASLServerJAAS.
func RunKazooSASL(ctx context.Context, addr string) (string, error) {
	return runPython(ctx, "kazoo-sasl", "kazoo_sasl_check.py", addr, nil, "python3-kazoo", Python)
}

// RunZkCliSASL runs zkcli_sasl_check.py against addr, a server running
// with SASLServerJAAS.
func RunZkCliSASL(ctx context.Context, addr string) (string, error) {
	return runPython(ctx, "zkcli-sasl", "zkcli_sasl_check.py", addr, []string{"ZKCLI=" + ZkCli}, "zookeeper", ZkCli)
}

// RunZkCli runs zkcli_check.py, which drives zkCli.sh, against addr.
func RunZkCli(ctx context.Context, addr string) (string, error) {
	return runPython(ctx, "zkcli", "zkcli_check.py", addr, []string{"ZKCLI=" + ZkCli}, "zookeeper", ZkCli)
}

// RunCClient runs cclient_check.py, which drives the C client's cli_mt, against addr.
func RunCClient(ctx context.Context, addr string) (string, error) {
	return runPython(ctx, "cclient", "cclient_check.py", addr, []string{"ZK_CLI_MT=" + CliMT}, "zookeeper-bin", CliMT)
}

func runPython(ctx context.Context, name, script, addr string, env []string, pkg, tool string) (string, error) {
	if err := need(Python, "python3"); err != nil {
		return "", err
	}
	if err := need(tool, pkg); err != nil {
		return "", err
	}
	dir, err := DriverDir()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	// The drivers import checks.py from their directory, the source tree:
	// no __pycache__ is written there.
	env = append(env, "PYTHONDONTWRITEBYTECODE=1")
	return run(ctx, name, env, Python, filepath.Join(dir, script), addr)
}

// RunCurator compiles CuratorCheck.java into a temporary directory and runs
// it against addr.
func RunCurator(ctx context.Context, addr string) (string, error) {
	return runJava(ctx, "curator", "CuratorCheck", addr, nil)
}

// RunCuratorSASL compiles and runs CuratorSASLCheck.java against addr, a
// server running with SASLServerJAAS, its JVM given a JAAS Client section
// for bob with -Djava.security.auth.login.config.
func RunCuratorSASL(ctx context.Context, addr string) (string, error) {
	dir, err := os.MkdirTemp("", "curator-sasl-")
	if err != nil {
		return "", fmt.Errorf("curator-sasl: %w", err)
	}
	defer os.RemoveAll(dir)
	jaas := filepath.Join(dir, "client.jaas")
	const client = "Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  username=\"bob\"\n  password=\"bobsecret\";\n};\n"
	if err := os.WriteFile(jaas, []byte(client), 0o600); err != nil {
		return "", fmt.Errorf("curator-sasl: %w", err)
	}
	return runJava(ctx, "curator-sasl", "CuratorSASLCheck", addr, []string{"-Djava.security.auth.login.config=" + jaas})
}

// runJava compiles class.java (a driver) into a temporary directory and
// runs it against addr with the extra JVM flags.
func runJava(ctx context.Context, name, class, addr string, flags []string) (string, error) {
	for _, t := range []string{Java, Javac} {
		if err := need(t, "openjdk-17-jdk-headless"); err != nil {
			return "", err
		}
	}
	for _, jar := range strings.Split(CuratorClasspath, string(os.PathListSeparator)) {
		if _, err := os.Stat(jar); err != nil {
			return "", fmt.Errorf("%s: %s missing (install libcurator-recipes-java): %w", name, jar, err)
		}
	}
	dir, err := DriverDir()
	if err != nil {
		return "", err
	}
	out, err := os.MkdirTemp("", name+"-check-")
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	defer os.RemoveAll(out)
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if o, _, err := execute(ctx, name+": javac", nil, Javac, "-nowarn", "-d", out, "-cp", CuratorClasspath,
		filepath.Join(dir, class+".java")); err != nil {
		return o, fmt.Errorf("%s: compiling %s.java: %w", name, class, err)
	}
	args := append(append([]string{}, javaFlags...), flags...)
	args = append(args, "-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
		"-cp", out+string(os.PathListSeparator)+CuratorClasspath, class, addr)
	return run(ctx, name, nil, Java, args...)
}

// need checks that tool (a path or a name on PATH) is there.
func need(tool, pkg string) error {
	if _, err := exec.LookPath(tool); err != nil {
		return fmt.Errorf("clients: %s not found (install the Debian package %s): %w", tool, pkg, err)
	}
	return nil
}

var summary = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed$`)

// run runs a driver and judges its report: it must exit 0 and its last
// summary line must say "N passed, 0 failed" with N > 0.
func run(ctx context.Context, name string, env []string, prog string, args ...string) (string, error) {
	out, took, err := execute(ctx, name, env, prog, args...)
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return out, err
		}
	}
	m := summary.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return out, fmt.Errorf("%s: no final \"N passed, M failed\" line (exit: %v, after %v)", name, err, took)
	}
	last := m[len(m)-1]
	ok, _ := strconv.Atoi(last[1])
	bad, _ := strconv.Atoi(last[2])
	switch {
	case err != nil:
		return out, fmt.Errorf("%s: %d passed, %d failed (%v, after %v)", name, ok, bad, err, took)
	case bad != 0 || ok == 0:
		return out, fmt.Errorf("%s: %d passed, %d failed, yet exit 0 (after %v)", name, ok, bad, took)
	}
	return out, nil
}

// execute runs prog in its own process group, killed as a whole when ctx
// ends, and returns its combined output. A timeout is an error naming it.
func execute(ctx context.Context, name string, env []string, prog string, args ...string) (string, time.Duration, error) {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = append(os.Environ(), env...)
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start).Round(10 * time.Millisecond)
	if ctx.Err() != nil {
		return buf.String(), took, fmt.Errorf("%s: killed after %v: %w (exit: %v)", name, took, ctx.Err(), err)
	}
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return buf.String(), took, fmt.Errorf("%s: %w", name, err)
		}
		return buf.String(), took, err
	}
	return buf.String(), took, nil
}
