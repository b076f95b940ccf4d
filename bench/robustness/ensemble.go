package robustness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/paddockdb/paddock/wire/zktest"
)

// Kind is the server an ensemble runs.
type Kind int

const (
	// Paddock is `paddock serve --config zoo.cfg`.
	Paddock Kind = iota
	// ZooKeeper is Apache ZooKeeper 3.8 from Debian's package
	// (QuorumPeerMain on zktest's classpath).
	ZooKeeper
)

func (k Kind) String() string {
	if k == ZooKeeper {
		return "zookeeper"
	}
	return "paddock"
}

// Options describe an ensemble to start.
type Options struct {
	Kind Kind
	Size int // members, 1 or more
	// TickTime, InitLimit and SyncLimit go into every zoo.cfg (defaults
	// 500 ms, 10, 5).
	TickTime             time.Duration
	InitLimit, SyncLimit int
	// Proxies puts a Network between the members (see doc.go). It needs
	// root (a private mount namespace per member, for its /etc/hosts).
	Proxies bool
	// Binary is the paddock binary (Kind Paddock).
	Binary string
	// Dir holds one directory per member (zoo.cfg, data, log).
	Dir string
	// StartTimeout bounds each start of a member (default 60 s).
	StartTimeout time.Duration
	// Config holds more zoo.cfg lines ("key=value") for every member.
	Config []string
	// Faults starts the Paddock members with the storage fault layer
	// (Binary must be built with -tags faults; see actors/faults):
	// $PADDOCK_FAULTS is the member's FaultsDir, whose control file
	// starts as FaultControl.
	Faults       bool
	FaultControl string
}

func (o *Options) defaults() error {
	if o.Size < 1 {
		return errors.New("robustness: an ensemble needs at least one member")
	}
	if o.TickTime == 0 {
		o.TickTime = 500 * time.Millisecond
	}
	if o.InitLimit == 0 {
		o.InitLimit = 10
	}
	if o.SyncLimit == 0 {
		o.SyncLimit = 5
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 60 * time.Second
	}
	if o.Dir == "" {
		return errors.New("robustness: Options.Dir is empty")
	}
	if o.Kind == Paddock && o.Binary == "" {
		return errors.New("robustness: Options.Binary is empty")
	}
	if o.Kind == ZooKeeper {
		if _, err := os.Stat("/usr/share/java/zookeeper.jar"); err != nil {
			return fmt.Errorf("robustness: Apache ZooKeeper is not installed (run `make deps`): %w", err)
		}
	}
	return nil
}

// Ensemble is a running set of member processes on this machine.
type Ensemble struct {
	Opts    Options
	Members []*Member // Members[i].ID == i+1
	Net     *Network  // nil without Options.Proxies
	base    byte      // second octet of every address (addresses.go)
}

// Member is one server process of an ensemble.
type Member struct {
	ID         int
	ClientAddr string // host:port of the client port
	Dir        string // zoo.cfg, hosts, data/, log

	e            *Ensemble
	ip           string // its own listen address
	quorumPort   int
	electionPort int

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	stopped bool          // SIGSTOPped
}

// Start lays out and starts an ensemble and waits until it serves: every
// member answers srvr and exactly one of them leads. On error nothing is
// left running.
func Start(ctx context.Context, o Options) (*Ensemble, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	var lastErr error
	for range 5 { // an address plan that collides with another run's is tried again
		e, err := layout(o)
		if err == nil {
			if err = e.startAll(ctx); err == nil {
				return e, nil
			}
			e.Close()
			return nil, err
		}
		lastErr = err
	}
	return nil, lastErr
}

// layout picks addresses, opens the proxies and writes every member's
// files.
func layout(o Options) (*Ensemble, error) {
	e := &Ensemble{Opts: o, base: pickBase()}
	for id := 1; id <= o.Size; id++ {
		m := &Member{ID: id, e: e, ip: e.memberIP(id), Dir: filepath.Join(o.Dir, fmt.Sprintf("%s%d", o.Kind, id))}
		ports, err := freePorts(m.ip, 3)
		if err != nil {
			return nil, err
		}
		m.quorumPort, m.electionPort = ports[0], ports[1]
		m.ClientAddr = net.JoinHostPort(m.ip, fmt.Sprint(ports[2]))
		e.Members = append(e.Members, m)
	}
	if o.Proxies {
		n, err := newNetwork(e)
		if err != nil {
			return nil, err
		}
		e.Net = n
	}
	for _, m := range e.Members {
		if err := m.writeFiles(); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

// peerHost is how member m's zoo.cfg names member id: a name that m's own
// /etc/hosts resolves (to a proxy, or to id's address for itself) with
// proxies, the address itself without.
func (m *Member) peerHost(id int) string {
	if m.e.Net != nil {
		return fmt.Sprintf("peer%d", id)
	}
	return m.e.memberIP(id)
}

func (m *Member) writeFiles() error {
	o := m.e.Opts
	data := filepath.Join(m.Dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", m.ID)), 0o644); err != nil {
		return err
	}
	_, clientPort, _ := net.SplitHostPort(m.ClientAddr)
	cfg := []string{
		fmt.Sprintf("tickTime=%d", o.TickTime.Milliseconds()),
		fmt.Sprintf("initLimit=%d", o.InitLimit),
		fmt.Sprintf("syncLimit=%d", o.SyncLimit),
		"dataDir=" + data,
		"clientPort=" + clientPort,
		"clientPortAddress=" + m.ip,
		"4lw.commands.whitelist=*",
		"maxClientCnxns=0",
		"admin.enableServer=false", // many members on one machine
	}
	cfg = append(cfg, o.Config...)
	if o.Size > 1 {
		for _, p := range m.e.Members {
			cfg = append(cfg, fmt.Sprintf("server.%d=%s:%d:%d", p.ID, m.peerHost(p.ID), p.quorumPort, p.electionPort))
		}
	}
	if err := os.WriteFile(m.configPath(), []byte(strings.Join(cfg, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	if o.Faults {
		if err := os.MkdirAll(m.FaultsDir(), 0o755); err != nil {
			return err
		}
		if err := m.SetFaults(o.FaultControl); err != nil {
			return err
		}
	}
	if m.e.Net == nil {
		return nil
	}
	hosts, err := os.ReadFile("/etc/hosts")
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.Write(hosts)
	fmt.Fprintf(&b, "\n# robustness: member %d's view of its peers\n", m.ID)
	for _, p := range m.e.Members {
		ip := p.ip
		if p.ID != m.ID {
			ip = m.e.proxyIP(m.ID, p.ID)
		}
		fmt.Fprintf(&b, "%s %s\n", ip, m.peerHost(p.ID))
	}
	return os.WriteFile(m.hostsPath(), b.Bytes(), 0o644)
}

func (m *Member) configPath() string { return filepath.Join(m.Dir, "zoo.cfg") }
func (m *Member) hostsPath() string  { return filepath.Join(m.Dir, "hosts") }
func (m *Member) logPath() string    { return filepath.Join(m.Dir, "log") }

// command is the member's server command line; with proxies it runs in a
// private mount namespace whose /etc/hosts is the member's own.
func (m *Member) command() []string {
	var argv []string
	switch m.e.Opts.Kind {
	case Paddock:
		// Debug logs the member channel's reconnects and every
		// connection's close with its reason: evidence for a failure.
		argv = []string{m.e.Opts.Binary, "serve", "--config", m.configPath(), "--log-level", "debug"}
	case ZooKeeper:
		argv = []string{"java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
			"-Dzookeeper.admin.enableServer=false",
			"-Dorg.slf4j.simpleLogger.showDateTime=true", "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ",
			"-cp", zktest.Classpath}
		if m.e.Opts.Size > 1 {
			argv = append(argv, "org.apache.zookeeper.server.quorum.QuorumPeerMain", m.configPath())
		} else {
			argv = append(argv, "org.apache.zookeeper.server.ZooKeeperServerMain", m.configPath())
		}
	}
	if m.e.Net == nil {
		return argv
	}
	// unshare and sh exec, so the process id stays the server's.
	return append([]string{"unshare", "--mount", "--propagation", "private",
		"sh", "-c", `mount --bind "$0" /etc/hosts && exec "$@"`, m.hostsPath()}, argv...)
}

func (e *Ensemble) startAll(ctx context.Context) error {
	if err := e.RestartAll(ctx); err != nil {
		return err
	}
	_, err := e.WaitServing(ctx)
	return err
}

// Close kills every member and closes the proxies.
func (e *Ensemble) Close() {
	for _, m := range e.Members {
		m.Cont()
		m.Kill()
	}
	if e.Net != nil {
		e.Net.Close()
	}
}

// ClientAddrs returns every member's client address, in id order.
func (e *Ensemble) ClientAddrs() []string {
	out := make([]string, len(e.Members))
	for i, m := range e.Members {
		out[i] = m.ClientAddr
	}
	return out
}

// Member returns the member with that id.
func (e *Ensemble) Member(id int) *Member { return e.Members[id-1] }

// KillAll SIGKILLs every member at once.
func (e *Ensemble) KillAll() {
	var wg sync.WaitGroup
	for _, m := range e.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.Kill()
		}()
	}
	wg.Wait()
}

// RestartAll starts every member that is not running, all at once, and
// waits until each answers srvr.
func (e *Ensemble) RestartAll(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(e.Members))
	for i, m := range e.Members {
		if m.Running() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.Start(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Start starts the member's process (again, on the same data and ports)
// and waits until it answers srvr.
func (m *Member) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.cmd != nil {
		m.mu.Unlock()
		return fmt.Errorf("robustness: member %d is already running", m.ID)
	}
	if m.e.Net != nil {
		if err := m.e.Net.memberUp(m.ID); err != nil {
			m.mu.Unlock()
			return err
		}
	}
	logf, err := os.OpenFile(m.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	fmt.Fprintf(logf, "==== robustness: start %s at %s\n", strings.Join(m.command(), " "), time.Now().Format(time.RFC3339Nano))
	argv := m.command()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if m.e.Opts.Faults && m.e.Opts.Kind == Paddock {
		cmd.Env = append(os.Environ(), faultsEnv+"="+m.FaultsDir())
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		m.mu.Unlock()
		return fmt.Errorf("robustness: start member %d: %w", m.ID, err)
	}
	done := make(chan struct{})
	go func() { // owned by this member; ends when the process exits
		err := cmd.Wait()
		fmt.Fprintf(logf, "==== robustness: exited at %s: %v\n", time.Now().Format(time.RFC3339Nano), err)
		logf.Close()
		close(done)
	}()
	m.cmd, m.done, m.stopped = cmd, done, false
	m.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, m.e.Opts.StartTimeout)
	defer cancel()
	for {
		if _, err := m.Mode(); err == nil {
			return nil
		}
		select {
		case <-done:
			m.mu.Lock()
			m.cmd = nil
			m.mu.Unlock()
			return fmt.Errorf("robustness: %s member %d exited during start-up; log:\n%s", m.e.Opts.Kind, m.ID, m.LogTail(30))
		case <-ctx.Done():
			return fmt.Errorf("robustness: %s member %d did not answer srvr within %v: %w; log:\n%s",
				m.e.Opts.Kind, m.ID, m.e.Opts.StartTimeout, ctx.Err(), m.LogTail(30))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Running reports whether the process is alive (stopped or not).
func (m *Member) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cmd != nil
}

// Stopped reports whether the process is SIGSTOPped.
func (m *Member) Stopped() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopped
}

// Kill SIGKILLs the member and waits until it has exited.
func (m *Member) Kill() {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.cmd, m.stopped = nil, false
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
	if m.e.Net != nil {
		m.e.Net.memberDown(m.ID)
	}
}

// Stop SIGSTOPs the member: it keeps its sockets and answers nothing.
func (m *Member) Stop() { m.signal(syscall.SIGSTOP, true) }

// Cont SIGCONTs a stopped member.
func (m *Member) Cont() { m.signal(syscall.SIGCONT, false) }

func (m *Member) signal(sig syscall.Signal, stopped bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil || m.stopped == stopped {
		return
	}
	_ = syscall.Kill(-m.cmd.Process.Pid, sig)
	m.stopped = stopped
}

// Mode asks the member's srvr for its Mode: leader, follower, standalone
// or (Paddock) looking.
func (m *Member) Mode() (string, error) {
	out, err := FourLetter(m.ClientAddr, "srvr", time.Second)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(out, "\n") {
		if mode, ok := strings.CutPrefix(line, "Mode: "); ok {
			return strings.TrimSpace(mode), nil
		}
	}
	return "", fmt.Errorf("robustness: member %d: no Mode in srvr: %q", m.ID, out)
}

// WaitServing waits until every running, unstopped member answers srvr,
// exactly one of them as leader and the rest as followers (or the one
// member as standalone), and returns the leader.
func (e *Ensemble) WaitServing(ctx context.Context) (*Member, error) {
	return e.waitLeader(ctx, nil, true)
}

// Leader waits until exactly one of the running, unstopped members says
// it leads and returns it.
func (e *Ensemble) Leader(ctx context.Context) (*Member, error) {
	return e.waitLeader(ctx, nil, false)
}

// LeaderAmong waits until exactly one of the given members says it leads.
func (e *Ensemble) LeaderAmong(ctx context.Context, among []*Member) (*Member, error) {
	return e.waitLeader(ctx, among, false)
}

func (e *Ensemble) waitLeader(ctx context.Context, among []*Member, all bool) (*Member, error) {
	if among == nil {
		among = e.Members
	}
	var last string
	for {
		var leaders []*Member
		var states []string
		settled := true
		for _, m := range among {
			if !m.Running() || m.Stopped() {
				continue
			}
			mode, err := m.Mode()
			if err != nil {
				mode = err.Error()
			}
			states = append(states, fmt.Sprintf("%d:%s", m.ID, mode))
			switch mode {
			case "leader", "standalone":
				leaders = append(leaders, m)
			case "follower":
			default:
				settled = false
			}
		}
		if len(leaders) == 1 && (settled || !all) {
			return leaders[0], nil
		}
		last = strings.Join(states, " ")
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("robustness: %s: no single leader (%s): %w", e.Opts.Kind, last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Note writes a line into every member's log, so that the harness's
// faults can be read alongside what the members did.
func (e *Ensemble) Note(format string, args ...any) {
	line := fmt.Sprintf("==== robustness: %s at %s\n", fmt.Sprintf(format, args...), time.Now().Format(time.RFC3339Nano))
	for _, m := range e.Members {
		if f, err := os.OpenFile(m.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			f.WriteString(line)
			f.Close()
		}
	}
}

// LogTail returns the last n lines of the member's log.
func (m *Member) LogTail(n int) string {
	b, _ := os.ReadFile(m.logPath())
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// LogTails returns the last n lines of every member's log.
func (e *Ensemble) LogTails(n int) string {
	var b strings.Builder
	for _, m := range e.Members {
		fmt.Fprintf(&b, "---- %s member %d (%s) ----\n%s\n", e.Opts.Kind, m.ID, m.logPath(), m.LogTail(n))
	}
	return b.String()
}

// FourLetter sends a four-letter word and returns the answer.
func FourLetter(addr, word string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	out, err := io.ReadAll(c)
	return string(out), err
}

// pickBase picks the second octet of the ensemble's loopback addresses
// (127.base.x.y), at random so that concurrent runs rarely meet; a
// collision shows as a bind error and Start tries another.
func pickBase() byte { return byte(2 + rand.IntN(250)) }

// memberIP is where member id listens: 127.base.0.id.
func (e *Ensemble) memberIP(id int) string { return fmt.Sprintf("127.%d.0.%d", e.base, id) }

// proxyIP is where the proxy of the link from member from to member to
// listens: 127.base.from.to, on to's ports.
func (e *Ensemble) proxyIP(from, to int) string { return fmt.Sprintf("127.%d.%d.%d", e.base, from, to) }

// freePorts returns n ports that were free on ip a moment ago.
func freePorts(ip string, n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return nil, fmt.Errorf("robustness: pick a port on %s: %w", ip, err)
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
