// Package zktest starts a real Apache ZooKeeper server for tests: the one
// from Debian's zookeeper package (installed by `make deps`), standalone,
// on a port picked at run time, with its data in the test's temporary
// directory. It is the reference that Paddock's client and server are
// checked against.
//
// A test that needs the reference fails, rather than skips, when
// ZooKeeper is not installed: a skipped conformance test would hide a
// failure.
package zktest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Classpath is where Debian's zookeeper package puts the server.
const Classpath = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"

// StartTimeout bounds how long a server may take to start serving.
const StartTimeout = 60 * time.Second

// Server is a running Apache ZooKeeper.
type Server struct {
	Addr string // host:port of the client port
	Dir  string // holds zoo.cfg, data/ and zk.log

	// AdminAddr is host:port of the AdminServer, "" unless WithAdminServer.
	AdminAddr string

	t     testing.TB
	extra []string
	flags []string
	admin bool

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Option changes the server's zoo.cfg.
type Option func(*Server)

// WithConfig adds zoo.cfg lines ("key=value").
func WithConfig(lines ...string) Option {
	return func(s *Server) { s.extra = append(s.extra, lines...) }
}

// WithJVMFlags adds JVM flags ("-Dname=value"), as SERVER_JVMFLAGS gives
// them to zkServer.sh: e.g. -Djava.security.auth.login.config=FILE.
func WithJVMFlags(flags ...string) Option {
	return func(s *Server) { s.flags = append(s.flags, flags...) }
}

// AdminClasspath adds what ZooKeeper's AdminServer needs (Jetty, the
// servlet API, Jackson; all from Debian's packages) to Classpath.
const AdminClasspath = Classpath + ":/usr/share/java/zookeeper-jute.jar:/usr/share/java/slf4j-api.jar" +
	":/usr/share/java/jetty9-server.jar:/usr/share/java/jetty9-servlet.jar:/usr/share/java/jetty9-http.jar" +
	":/usr/share/java/jetty9-io.jar:/usr/share/java/jetty9-util.jar:/usr/share/java/jetty9-security.jar" +
	":/usr/share/java/jetty9-util-ajax.jar:/usr/share/java/servlet-api.jar" +
	":/usr/share/java/jackson-databind.jar:/usr/share/java/jackson-core.jar:/usr/share/java/jackson-annotations.jar"

// WithAdminServer runs ZooKeeper's AdminServer on 127.0.0.1 at a port
// picked at run time (Server.AdminAddr), with the default commandURL.
// Without it the AdminServer is off.
func WithAdminServer() Option { return func(s *Server) { s.admin = true } }

// Start runs a standalone ZooKeeper and waits until it serves requests. The
// server is killed when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	if _, err := os.Stat("/usr/share/java/zookeeper.jar"); err != nil {
		t.Fatalf("zktest: Apache ZooKeeper is not installed (run `make deps`): %v", err)
	}
	s := &Server{t: t, Dir: t.TempDir()}
	for _, o := range opts {
		o(s)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("zktest: pick a port: %v", err)
	}
	s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	cfg := []string{
		"tickTime=200",
		"initLimit=10",
		"syncLimit=5",
		"dataDir=" + filepath.Join(s.Dir, "data"),
		fmt.Sprintf("clientPort=%d", port),
		"clientPortAddress=127.0.0.1",
		"4lw.commands.whitelist=*",
		"maxClientCnxns=0",
		"minSessionTimeout=400",
		"maxSessionTimeout=60000",
	}
	if s.admin {
		adminPort, err := freePort()
		if err != nil {
			t.Fatalf("zktest: pick a port: %v", err)
		}
		s.AdminAddr = fmt.Sprintf("127.0.0.1:%d", adminPort)
		cfg = append(cfg, "admin.enableServer=true", "admin.serverAddress=127.0.0.1", fmt.Sprintf("admin.serverPort=%d", adminPort))
	} else {
		cfg = append(cfg, "admin.enableServer=false")
	}
	cfg = append(cfg, s.extra...)
	if err := os.WriteFile(filepath.Join(s.Dir, "zoo.cfg"), []byte(strings.Join(cfg, "\n")+"\n"), 0o644); err != nil {
		t.Fatalf("zktest: write zoo.cfg: %v", err)
	}
	t.Cleanup(s.Kill)
	s.start()
	return s
}

func (s *Server) start() {
	s.t.Helper()
	logf, err := os.OpenFile(filepath.Join(s.Dir, "zk.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatalf("zktest: open log: %v", err)
	}
	args := []string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}
	cp := AdminClasspath
	if !s.admin {
		args = append(args, "-Dzookeeper.admin.enableServer=false")
		cp = Classpath
	}
	args = append(args, s.flags...)
	args = append(args, "-cp", cp, "org.apache.zookeeper.server.ZooKeeperServerMain", filepath.Join(s.Dir, "zoo.cfg"))
	cmd := exec.Command("java", args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		s.t.Fatalf("zktest: start java: %v", err)
	}
	done := make(chan struct{})
	go func() { // owned by this Server; ends when the process exits
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	deadline := time.Now().Add(StartTimeout)
	for {
		// ruok answers before the server serves; srvr says when it does.
		if out, err := s.FourLetter("srvr"); err == nil && strings.Contains(out, "Mode: ") {
			return
		}
		select {
		case <-done:
			s.t.Fatalf("zktest: ZooKeeper exited during start-up; log:\n%s", s.LogTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("zktest: ZooKeeper did not start serving within %v; log:\n%s", StartTimeout, s.LogTail())
		}
	}
}

// Kill stops the server at once (SIGKILL) and waits for it to exit.
func (s *Server) Kill() { s.stop(syscall.SIGKILL) }

// Stop stops the server gracefully (SIGTERM) and waits for it to exit.
func (s *Server) Stop() { s.stop(syscall.SIGTERM) }

func (s *Server) stop(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// Restart stops the server (gracefully) and starts it again on the same
// port with the same data.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// FourLetter sends a four-letter word and returns the trimmed answer.
func (s *Server) FourLetter(word string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	out, err := io.ReadAll(c)
	return strings.TrimSpace(string(out)), err
}

// LogTail returns the last lines of the server's log.
func (s *Server) LogTail() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "zk.log"))
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// handedOut holds the ports LoopbackAddr returned.
var handedOut sync.Map // int -> bool

// LoopbackAddr returns a 127.0.0.1 address for a server that a test
// starts a moment later (an ensemble member's quorum or election port, a
// client port kept across restarts). The port was free when chosen, is
// below the kernel's ephemeral range (32768 and up on Linux), where ":0"
// listeners and outgoing connections of other tests take theirs, and is
// never handed out twice in one process.
func LoopbackAddr(t testing.TB) string {
	t.Helper()
	for range 1000 {
		port := 20000 + rand.IntN(12000)
		if _, taken := handedOut.LoadOrStore(port, true); taken {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		return ln.Addr().String()
	}
	t.Fatal("zktest: no free port in 20000-31999")
	return ""
}

// DirState describes every file under dir (path, type and mode, size,
// modification time, and a regular file's SHA-256 or a link's target), so
// that a test can show an operation changed nothing on disk.
func DirState(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d %d", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " -> %s", target)
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", sha256.Sum256(data))
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
