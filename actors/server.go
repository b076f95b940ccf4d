package actors

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/config"
	chantransport "github.com/lni/dragonboat/v4/plugin/chan"
	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/paddockdb/paddock/actors/faults"
	"github.com/paddockdb/paddock/actors/quorumauth"
	"github.com/paddockdb/paddock/actors/walcheck"
	"github.com/paddockdb/paddock/statemachine"
	"github.com/paddockdb/paddock/wire"
)

// MetaShard is the shard that holds /, /zookeeper and the sessions table.
const MetaShard uint64 = 1

// Config configures a single-node server. Zero fields take ZooKeeper's
// defaults, except MaxClientCnxns: there zero means unlimited, as
// maxClientCnxns=0 does in zoo.cfg (so a zoo.cfg value passes through
// unchanged), and a negative value takes ZooKeeper's default, 60.
type Config struct {
	DataDir, DataLogDir                  string        // dragonboat NodeHost dir and WAL dir (WAL defaults to DataDir)
	ClientAddr                           string        // "127.0.0.1:2181"; ":0" allowed in tests
	TickTime                             time.Duration // default 2s
	MinSessionTimeout, MaxSessionTimeout time.Duration // defaults 2x and 20x tick
	MaxClientCnxns                       int           // per client IP; 0 = unlimited (zoo.cfg's meaning), < 0 = ZooKeeper's default 60
	MaxCnxns                             int           // connections in all (zookeeper.maxCnxns); 0 = unlimited
	MaxOutstanding                       int           // requests read and not answered, per connection (globalOutstandingLimit); default 1000
	SessionlessTimeout                   time.Duration // a connection's time to send its ConnectRequest (zookeeper.nio.sessionlessCnxnTimeout); default 10s
	MaxPacket                            int           // jute.maxbuffer, default wire.DefaultMaxPacket
	FourLetterWords                      []string      // whitelist; "*" = all; default {"srvr"}
	Admin                                *AdminConfig  // the AdminServer (admin.go); nil: off
	ExtendedTypes                        bool          // TTL nodes (else createTTL -> Unimplemented)
	SuperDigest                          string        // "super:base64sha1" or ""
	EnforceQuota                         bool          // hard quota limits refuse writes with QuotaExceeded (zookeeper.enforceQuota)
	ServerID                             uint64        // myid, 1..maxServerID, default 1
	ContainerCheckInterval               time.Duration // reaper period (znode.container.checkIntervalMs); default 30 ticks, at most 60s
	ContainerMaxPerMinute                int           // containers the reaper deletes per minute at most (znode.container.maxPerMinute); default 10000
	ContainerMaxNeverUsed                time.Duration // reap childless containers that never had a child once unmodified this long (znode.container.maxNeverUsedIntervalMs); 0 = never
	BuildTime                            time.Time     // srvr's "built on"; zero: this binary's (buildTime)
	SnapCount                            int           // transactions between snapshots (zoo.cfg snapCount), default 100000; see snapshot.go
	Logger                               *slog.Logger

	// Members are the ensemble's participants (zoo.cfg's server.N lines),
	// this server (ServerID) among them; empty for a single server. See
	// ensemble.go for how they map onto Raft and the member channel.
	Members []Member
	// InitLimit and SyncLimit are zoo.cfg's, in ticks (defaults 10 and 5).
	InitLimit, SyncLimit int
	// ReadOnlyMode is ZooKeeper's readonlymode.enabled: a member without
	// a leader serves the clients that ask for it read-only (ensemble.go).
	ReadOnlyMode bool

	// SASL is the client port's SASL DIGEST-MD5 server (sasl.go); nil
	// without a JAAS server section: a sasl request is then answered OK
	// with no token, as ZooKeeper answers it without a SASL server.
	SASL *SASLConfig
	// SASLScheme says the sasl ACL scheme is registered (ZooKeeper's
	// authProvider.N=...SASLAuthenticationProvider): without it an ACL
	// with a sasl id is InvalidACL, as in ZooKeeper.
	SASLScheme bool
	// EnforceAuth lists the schemes a session must hold an id of before
	// any request but auth and sasl is served (enforce.auth.schemes with
	// enforce.auth.enabled, or ["sasl"] for sessionRequireClientSASLAuth);
	// nil: not enforced.
	EnforceAuth []string

	// QuorumAuth is quorum SASL between the members (zoo.cfg's
	// quorum.auth.enableSasl and its require flags, the JAAS QuorumServer
	// and QuorumLearner sections), on the quorum port and the member
	// channel alike (package quorumauth); nil: none. Its Hosts, when
	// empty, are the hosts of Members.
	QuorumAuth *quorumauth.Config

	// LogRetention is the number of Raft entries kept in the log behind
	// a snapshot (zoo.cfg commitLogCount); zero is compactionOverhead. A
	// member that fell behind by more is sent a snapshot.
	LogRetention uint64
}

// maxServerID is the largest server id: a session id carries it in its
// top byte (ZooKeeper's SessionTrackerImpl; its admin guide asks for
// myid 1..255, and larger ids alias there as they would here).
const maxServerID = 255

// Defaults of the Config fields that are ZooKeeper system properties.
const (
	defaultSessionlessTimeout    = 10 * time.Second // zookeeper.nio.sessionlessCnxnTimeout
	defaultMaxOutstanding        = 1000             // zookeeper.globalOutstandingLimit
	defaultContainerMaxPerMinute = 10000            // znode.container.maxPerMinute
)

func (c *Config) setDefaults() error {
	if c.DataDir == "" {
		return errors.New("paddock/actors: Config.DataDir is required")
	}
	if c.DataLogDir == "" {
		c.DataLogDir = c.DataDir
	}
	if c.ClientAddr == "" {
		c.ClientAddr = "127.0.0.1:2181"
	}
	if c.TickTime <= 0 {
		c.TickTime = 2 * time.Second
	}
	if c.ContainerCheckInterval <= 0 {
		c.ContainerCheckInterval = defaultContainerInterval(c.TickTime)
	}
	if c.MinSessionTimeout <= 0 {
		c.MinSessionTimeout = 2 * c.TickTime
	}
	if c.MaxSessionTimeout <= 0 {
		c.MaxSessionTimeout = 20 * c.TickTime
	}
	if c.MaxSessionTimeout < c.MinSessionTimeout {
		return fmt.Errorf("paddock/actors: maxSessionTimeout %v < minSessionTimeout %v", c.MaxSessionTimeout, c.MinSessionTimeout)
	}
	if c.MaxClientCnxns < 0 {
		c.MaxClientCnxns = 60
	}
	if c.MaxPacket <= 0 {
		c.MaxPacket = wire.DefaultMaxPacket
	}
	if c.FourLetterWords == nil {
		c.FourLetterWords = []string{"srvr"}
	}
	if c.ServerID == 0 {
		c.ServerID = 1
	}
	if c.ServerID > maxServerID {
		return fmt.Errorf("paddock/actors: server id %d: session ids hold the server id in one byte, so it must be at most %d", c.ServerID, maxServerID)
	}
	if c.ExtendedTypes && c.ServerID == maxServerID {
		// A TTL node's ephemeralOwner has the top byte 0xff: a session of
		// server 255 would read as one (ZooKeeper's EphemeralType.validateServerId).
		return fmt.Errorf("paddock/actors: server id %d: extended types need a server id of at most %d", c.ServerID, maxServerID-1)
	}
	if c.MaxCnxns < 0 {
		c.MaxCnxns = 0
	}
	if c.MaxOutstanding <= 0 {
		c.MaxOutstanding = defaultMaxOutstanding
	}
	if c.SessionlessTimeout <= 0 {
		c.SessionlessTimeout = defaultSessionlessTimeout
	}
	if c.ContainerMaxPerMinute <= 0 {
		c.ContainerMaxPerMinute = defaultContainerMaxPerMinute
	}
	if c.BuildTime.IsZero() {
		c.BuildTime = buildTime()
	}
	if c.SnapCount <= 0 {
		c.SnapCount = defaultSnapCount
	}
	if c.LogRetention == 0 {
		c.LogRetention = compactionOverhead
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.InitLimit <= 0 {
		c.InitLimit = 10
	}
	if c.SyncLimit <= 0 {
		c.SyncLimit = 5
	}
	if c.ensemble() {
		if _, ok := c.member(c.ServerID); !ok {
			return fmt.Errorf("paddock/actors: server id %d is not one of the ensemble's members", c.ServerID)
		}
		seen := map[uint64]bool{}
		for _, m := range c.Members {
			if m.ID == 0 || seen[m.ID] || m.QuorumAddr == "" || m.ElectionAddr == "" {
				return fmt.Errorf("paddock/actors: bad member %+v (ids positive and distinct, both addresses set)", m)
			}
			seen[m.ID] = true
		}
	}
	if c.QuorumAuth != nil {
		if c.QuorumAuth.Mechanism == nil {
			return errors.New("paddock/actors: Config.QuorumAuth has no mechanism")
		}
		qa := *c.QuorumAuth
		if len(qa.Hosts) == 0 {
			for _, m := range c.Members {
				for _, addr := range []string{m.QuorumAddr, m.ElectionAddr} {
					if host, _, err := net.SplitHostPort(addr); err == nil && !slices.Contains(qa.Hosts, host) {
						qa.Hosts = append(qa.Hosts, host)
					}
				}
			}
		}
		c.QuorumAuth = &qa
	}
	return nil
}

// Server is a running single-node Paddock: one NodeHost with the meta
// shard, the actors in front of it and the client listener.
type Server struct {
	cfg     Config
	log     *slog.Logger
	dbLog   *slog.Logger // the sink of Dragonboat's lines (logging.go)
	started time.Time

	nh *dragonboat.NodeHost
	// running is nh once the meta shard's replica has started: the member
	// channel, which listens before that, reads it (join.go).
	running atomic.Pointer[dragonboat.NodeHost]
	// meta is the meta shard's state (shard.go); the only shard until
	// subtrees are sharded.
	meta shard

	system  *actor.ActorSystem
	root    *actor.RootContext
	tracker *actor.PID

	// watchers maps a watcher id (one per session actor) to its PID (for
	// the path actors' fan-out) and counters.
	watchers sync.Map // uint64 -> *watcherRef
	// watchStats are the watch counters mntr and wchs print, kept by the
	// path actors (watch.go).
	watchStats watchStats
	nextID     atomic.Uint64
	// sessionSeq is the last session id handed out (newSessionID).
	sessionSeq atomic.Int64

	ln   net.Listener
	wg   sync.WaitGroup
	stop chan struct{}
	// admin and adminLn are the AdminServer's, nil when it is off;
	// commands run under adminRunning's read lock (admin.go).
	admin        *http.Server
	adminLn      net.Listener
	adminRunning sync.RWMutex

	mu     sync.Mutex
	conns  map[*conn]struct{}
	perIP  map[string]int
	closed bool

	// sessionConns maps a session id to its current connection, so a
	// resume closes the old one.
	sessionConns sync.Map // int64 -> *conn
	// writeSpans holds traced writes' span contexts until applied
	// (tracing.go).
	writeSpans sync.Map // writeKey -> *trace.SpanContext
	// live holds the session tracker's liveness records.
	live sync.Map // int64 -> *liveness
	// resuming holds the sessions whose resume is in a handshake here:
	// alive, though not yet in sessionConns.
	resuming sync.Map // int64 -> *conn

	stats serverStats
	white map[string]bool

	// leaderlessDropped is the ticker's: the connections were closed for
	// this loss of the meta shard's leader (ensemble.go).
	leaderlessDropped bool
	// members is the member channel (members.go); nil for a single server.
	members *memberChannel
	// pendingSyncs counts the syncs waiting to catch up (mntr).
	pendingSyncs atomic.Int64
	// readOnlyConns counts the read-only connections ever opened; the
	// ticker looks for them only when there were some.
	readOnlyConns atomic.Int64

	// failed is closed (once, failErr set first) when an actor that cannot
	// be restarted panicked (supervise.go).
	failed    chan struct{}
	closeDone chan struct{} // closed when Close has finished
	failOnce  sync.Once
	failErr   error
}

// Start opens (or reopens) the data in cfg.DataDir, starts the meta shard
// and the actors, and listens for clients. Cancelling ctx only bounds the
// start-up; use Close to stop the server.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "actors"),
		started:   time.Now(),
		stop:      make(chan struct{}),
		failed:    make(chan struct{}),
		closeDone: make(chan struct{}),
		conns:     map[*conn]struct{}{},
		perIP:     map[string]int{},
		white:     map[string]bool{},
	}
	s.meta.id = MetaShard
	s.meta.snapReq = make(chan struct{}, 1)
	s.meta.lead.changed = make(chan struct{})
	s.stats.reset()
	for _, w := range cfg.FourLetterWords {
		s.white[strings.TrimSpace(w)] = true
	}
	s.nextID.Store(0)
	s.sessionSeq.Store(firstSessionID(cfg.ServerID, s.started))

	// Actors first: the replica's onApply sends to them, also while the
	// log is replayed at start-up.
	s.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(minLevel{cfg.Logger.Handler(), slog.LevelWarn}).With("lib", "protoactor")
	}))
	s.root = s.system.Root
	// Dragonboat's lines go to this server's log until stopActors (logging.go).
	s.dbLog = slog.New(cfg.Logger.Handler())
	addDragonboatSink(s.dbLog)
	s.meta.router = s.root.Spawn(actor.PropsFromProducer(func() actor.Actor { return newRouter(s) }))
	s.tracker = s.root.Spawn(actor.PropsFromProducer(func() actor.Actor { return newTracker(s) }))
	s.meta.proposer = s.root.Spawn(actor.PropsFromProducer(func() actor.Actor { return newProposer(s) }))

	// A member's channel listens before its replica starts: a member on
	// an empty data directory asks the others whether the ensemble has
	// run before it starts its own (join.go).
	if cfg.ensemble() {
		if err := s.startMembers(); err != nil {
			s.stopActors()
			return nil, err
		}
	}
	stopMembers := func() {
		if s.members != nil {
			close(s.stop)
			s.members.close()
			s.wg.Wait()
		}
	}
	if err := s.startShard(ctx); err != nil {
		stopMembers()
		s.stopActors()
		return nil, err
	}

	ln, err := net.Listen("tcp", cfg.ClientAddr)
	if err != nil {
		stopMembers()
		s.nh.Close()
		s.stopActors()
		return nil, fmt.Errorf("paddock/actors: listen %s: %w", cfg.ClientAddr, err)
	}
	s.ln = ln
	if err := s.startAdmin(); err != nil {
		ln.Close()
		stopMembers()
		s.nh.Close()
		s.stopActors()
		return nil, err
	}
	s.wg.Add(3)
	go s.acceptLoop()
	go s.ticker()
	go s.snapshotLoop()
	s.log.Info("serving", "addr", ln.Addr().String(), "dataDir", cfg.DataDir, "members", len(cfg.Members))
	return s, nil
}

// checkWAL refuses a Raft log whose replay would silently drop records
// that follow a corrupted one (walcheck), saying what the operator can do.
func (s *Server) checkWAL(walDir string) error {
	err := walcheck.Check(walDir)
	var c *walcheck.Corruption
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &c):
		return fmt.Errorf("paddock/actors: checking the Raft log: %w", err)
	case s.cfg.ensemble():
		return fmt.Errorf("paddock/actors: refusing to start: %w. Move this member's data directory aside (dataDir, and dataLogDir if it is set) and start it again: on an empty data directory it rejoins the ensemble as a new replica and is sent the data by the leader", err)
	default:
		return fmt.Errorf("paddock/actors: refusing to start: %w. Restore the data directory from a backup", err)
	}
}

func (s *Server) startShard(ctx context.Context) error {
	for _, d := range []string{s.cfg.DataDir, s.cfg.DataLogDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("paddock/actors: %w", err)
		}
	}
	nhDir, walDir := filepath.Join(s.cfg.DataDir, "nodehost"), filepath.Join(s.cfg.DataLogDir, "wal")
	// The data directory is Paddock's, not the machine's (hostdir.go).
	rep, err := prepareHostDirs(nhDir, walDir)
	if err != nil {
		return err
	}
	switch {
	case rep.tookOver != "":
		s.log.Info("data directory of the previous layout (a tree named after the hostname it was written under) taken over where it is",
			"tree", rep.tookOver, "dirs", rep.tookOverDirs)
	case rep.renamed != "":
		s.log.Info("hostname changed since the last start; same data directory", "was", rep.renamed)
	}
	if len(rep.aside) > 0 {
		s.log.Warn("moved aside what a refused start of an older paddock left under this hostname; it holds no data and may be removed",
			"moved_to", rep.aside)
	}
	if err := s.checkWAL(walDir); err != nil {
		return err
	}
	nhc := config.NodeHostConfig{
		NodeHostDir:       nhDir,
		WALDir:            walDir,
		RaftEventListener: s,
		Expert: config.ExpertConfig{
			LogDB: config.GetTinyMemLogDBConfig(),
		},
	}
	rc := config.Config{
		ShardID:     MetaShard,
		CheckQuorum: true,
		// Snapshots are requested by transaction count (snapshot.go).
		// Dragonboat's own trigger, by entries, stays as a backstop: an
		// entry holds at least one transaction, so it rarely fires first.
		SnapshotEntries:    uint64(max(s.cfg.SnapCount, 10000)),
		CompactionOverhead: s.cfg.LogRetention,
	}
	members := map[uint64]dragonboat.Target{}
	if s.cfg.ensemble() {
		if err := s.ensembleConfig(&nhc, &rc); err != nil {
			return err
		}
	} else {
		addr, err := raftAddress(s.cfg.DataDir)
		if err != nil {
			return err
		}
		nhc.RaftAddress = addr
		nhc.RTTMillisecond = 1
		// One replica: nothing travels between hosts, so an in-process
		// transport replaces the TCP one (no port).
		nhc.Expert.TransportFactory = &localTransport{}
		rc.ReplicaID, rc.ElectionRTT, rc.HeartbeatRTT = 1, 10, 1
	}
	// The storage fault layer of the fault suite: nil unless the binary
	// was built with the faults tag and $PADDOCK_FAULTS is set (faults).
	if on, err := faults.Setup(&nhc); err != nil {
		return fmt.Errorf("paddock/actors: storage fault layer: %w", err)
	} else if on {
		s.log.Warn("storage fault layer active: this binary is built for the fault suite", "env", faults.EnvVar)
	}
	nh, err := dragonboat.NewNodeHost(nhc)
	if err != nil {
		return fmt.Errorf("paddock/actors: start NodeHost: %w", err)
	}
	if nh == nil {
		// NewNodeHost recovers a panic whose value is not an error into
		// a nil NodeHost and a nil error.
		return errors.New("paddock/actors: start NodeHost: dragonboat failed without an error (see its log above)")
	}
	s.nh = nh
	join := false
	if !nh.HasNodeInfo(MetaShard, rc.ReplicaID) {
		// First start, or a data directory emptied: in an ensemble, ask
		// the others whether to bootstrap the shard or to rejoin it as
		// a new replica (join.go).
		if s.cfg.ensemble() {
			if rc.ReplicaID, join, err = s.decideStart(ctx); err != nil {
				nh.Close()
				return err
			}
			if join {
				if err := writeReplicaID(s.cfg.DataDir, rc.ReplicaID); err != nil {
					nh.Close()
					return err
				}
			} else {
				if err := os.Remove(filepath.Join(s.cfg.DataDir, replicaFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
					nh.Close()
					return fmt.Errorf("paddock/actors: %w", err)
				}
				for _, m := range s.cfg.Members {
					members[m.ID] = m.QuorumAddr
				}
			}
		} else {
			members[1] = nhc.RaftAddress
		}
	}
	create := func(shardID, replicaID uint64) sm.IConcurrentStateMachine {
		s.meta.replica = statemachine.NewReplica(shardID, replicaID, s.onApply)
		s.meta.replica.Configure(func(t *statemachine.Tree) {
			t.SuperDigest = s.cfg.SuperDigest
			t.EnforceQuota = s.cfg.EnforceQuota
			t.MaxNeverUsedIntervalMs = s.cfg.ContainerMaxNeverUsed.Milliseconds()
			s.meta.apply.tree = t // used only inside onApply, under the write lock (readgate.go)
		})
		s.meta.replica.OnRecover(s.onRecover)
		return faults.WrapStateMachine(s.meta.replica) // crash points (faults build tag only)
	}
	if err := nh.StartConcurrentReplica(members, join, create, rc); err != nil {
		nh.Close()
		return fmt.Errorf("paddock/actors: start meta shard: %w", err)
	}
	s.running.Store(nh)
	if s.cfg.ensemble() {
		// A member serves its clients once a quorum has a leader; the
		// others may not be up yet, so start-up does not wait for one.
		return nil
	}
	// Wait until the replica has a leader (itself) and has replayed its log.
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	for {
		if _, _, valid, err := nh.GetLeaderID(MetaShard); err == nil && valid {
			if rs, err := nh.ReadIndex(MetaShard, 5*time.Second); err == nil {
				r := <-rs.ResultC()
				rs.Release()
				if r.Completed() {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			nh.Close()
			return errors.New("paddock/actors: meta shard did not elect a leader in time")
		}
		select {
		case <-ctx.Done():
			nh.Close()
			return ctx.Err()
		case <-time.After(5 * time.Millisecond): // polling dragonboat, not a test sync
		}
	}
}

// raftAddress returns the Raft address recorded in dir, choosing one on
// first start. Dragonboat refuses to reopen a NodeHost dir under another
// address.
func raftAddress(dir string) (string, error) {
	f := filepath.Join(dir, "raft-address")
	if b, err := os.ReadFile(f); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	var r [2]byte
	_, _ = rand.Read(r[:])
	addr := "127.0.0.1:" + strconv.Itoa(20000+int(binary.BigEndian.Uint16(r[:]))%40000)
	if err := os.WriteFile(f, []byte(addr+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("paddock/actors: %w", err)
	}
	return addr, nil
}

// localTransport is dragonboat's in-process channel transport; its
// Validate is for tests only and panics, so we answer it.
type localTransport struct {
	chantransport.ChanTransportFactory
}

func (localTransport) Validate(string) bool { return true }

// Addr returns the client listener's address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the listener, every connection and actor and the NodeHost,
// and waits for the goroutines it started.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.closeDone // a concurrent Close (e.g. after a fatal panic) finishes first
		return nil
	}
	defer close(s.closeDone)
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	close(s.stop)
	err := s.ln.Close()
	s.stopAdmin()
	if s.members != nil {
		s.members.close()
	}
	for _, c := range conns {
		c.close("server closing")
	}
	s.wg.Wait()
	s.nh.Close()
	s.stopActors()
	return err
}

func (s *Server) stopActors() {
	for _, pid := range []*actor.PID{s.meta.proposer, s.tracker, s.meta.router} {
		if pid != nil {
			_ = s.root.StopFuture(pid).Wait()
		}
	}
	s.system.Shutdown()
	removeDragonboatSink(s.dbLog)
}

// onApply is the replica's apply hook: it runs inside Update on
// dragonboat's apply goroutine and must not block, so it only sends.
// Triggers go to the router in apply order; results go to the proposer;
// reads parked behind the applied writes are served (readgate.go).
func (s *Server) onApply(a *statemachine.Applied) {
	mine := a.Origin.Member == s.cfg.ServerID
	if mine || a.Admission == statemachine.Admitted {
		s.root.Send(s.meta.proposer, &appliedBatch{index: a.Index, origin: a.Origin, admission: a.Admission, txns: a.Txns, results: a.Results})
	}
	if a.Admission != statemachine.Admitted {
		return
	}
	s.root.Send(s.meta.router, &appliedTriggers{results: a.Results, links: s.writeLinks(a.Txns)})
	s.releaseReads(a.Txns, a.Results, mine)
	s.countApplied(len(a.Txns))
}

// lastOrigin is the last entry of this member the replica admitted.
func (s *Server) lastOrigin() statemachine.Origin {
	var o statemachine.Origin
	s.meta.replica.Read(func(t *statemachine.Tree) { o = t.LastOrigin(s.cfg.ServerID) })
	return o
}

// proposeTimeout bounds one proposal of an entry: past it, the entry and
// the later ones are proposed again (a forwarded proposal can be lost
// without a leader change, for instance while Dragonboat's transport holds
// a link after a failure). Two ticks: a commit takes a few heartbeats at
// most, and a copy proposed too early is only a duplicate that apply skips.
func (s *Server) proposeTimeout() time.Duration { return max(2*s.cfg.TickTime, 500*time.Millisecond) }

// retryInterval is the pause before entries are proposed again after a
// proposal was not taken or failed.
func (s *Server) retryInterval() time.Duration {
	return min(max(s.cfg.TickTime/10, 10*time.Millisecond), 200*time.Millisecond)
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.stop:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("accept", "err", err)
			continue
		}
		ip, _, _ := net.SplitHostPort(nc.RemoteAddr().String())
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		if s.cfg.MaxCnxns > 0 && len(s.conns) >= s.cfg.MaxCnxns {
			// ZooKeeper's NIOServerCnxnFactory.doAccept: accepted, then
			// closed before anything is read.
			n := len(s.conns)
			s.mu.Unlock()
			s.log.Warn("too many connections, closing", "connections", n, "max", s.cfg.MaxCnxns, "ip", ip)
			s.reject(nc)
			continue
		}
		if s.cfg.MaxClientCnxns > 0 && s.perIP[ip] >= s.cfg.MaxClientCnxns {
			s.mu.Unlock()
			s.log.Warn("too many connections from one address, closing", "ip", ip, "max", s.cfg.MaxClientCnxns)
			s.reject(nc)
			continue
		}
		c := newConn(s, nc, ip)
		s.conns[c] = struct{}{}
		s.perIP[ip]++
		s.mu.Unlock()
		s.wg.Add(2)
		go c.readLoop()
		go c.writeLoop()
	}
}

// reject closes a connection over a limit as ZooKeeper's fastCloseSock
// does: with SO_LINGER 0, so the client sees a reset.
func (s *Server) reject(nc net.Conn) {
	s.stats.rejected.Add(1)
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	nc.Close()
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	if _, ok := s.conns[c]; ok {
		delete(s.conns, c)
		if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
			delete(s.perIP, c.ip)
		}
	}
	s.mu.Unlock()
}

// ticker drives the session tracker and the container reaper.
func (s *Server) ticker() {
	defer s.wg.Done()
	tick := s.cfg.TickTime / 2
	if tick < 10*time.Millisecond {
		tick = 10 * time.Millisecond
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	reap := time.NewTicker(s.cfg.ContainerCheckInterval)
	defer reap.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.root.Send(s.tracker, &trackerTick{now: now})
			s.dropLeaderless(now)
			s.closeReadOnly()
		case now := <-reap.C:
			if s.isLeader() {
				s.reapContainers(now)
			}
		}
	}
}

func defaultContainerInterval(tick time.Duration) time.Duration {
	// ZooKeeper checks every znode.container.checkIntervalMs (60s); we
	// scale with the tick so small-tick deployments (tests) reap sooner.
	d := 30 * tick
	if d > time.Minute {
		d = time.Minute
	}
	return d
}

func (s *Server) reapContainers(now time.Time) {
	var paths []string
	s.meta.replica.Read(func(t *statemachine.Tree) {
		paths = t.ContainerCandidates(now.UnixMilli(), s.cfg.ExtendedTypes)
	})
	maxPerRun := reapBudget(s.cfg.ContainerMaxPerMinute, s.cfg.ContainerCheckInterval)
	for i, p := range paths {
		if i >= maxPerRun {
			break
		}
		s.root.Send(s.meta.proposer, &proposeInternal{txn: statemachine.Txn{Type: wire.OpDeleteContainer, Path: p}})
	}
}

// reapBudget is how many containers one reaper run may delete: ZooKeeper's
// ContainerManager spaces its deletions to stay within maxPerMinute, so a
// run gets its interval's share of them, and at least one.
func reapBudget(perMinute int, interval time.Duration) int {
	return int(max(1, int64(perMinute)*int64(interval)/int64(time.Minute)))
}

// lastZxid reads the replica's last applied zxid.
func (s *Server) lastZxid() int64 {
	var z int64
	s.meta.replica.Read(func(t *statemachine.Tree) { z = t.LastZxid() })
	return z
}

// serverStats are the counters the four-letter words report.
type serverStats struct {
	received, sent, rejected atomic.Int64
	slowClosed               atomic.Int64 // connections closed for not taking their watch events (conn.go)
	latMin, latMax, latSum   atomic.Int64
	latCount                 atomic.Int64
	outstanding              atomic.Int64
	handshaking              atomic.Int64 // connections before their handshake
	// mntr's byte counters, as ZooKeeper 3.8 counts them:
	// bytesReceived, every frame with its length prefix (and a
	// four-letter word's 4 bytes); respBytes, replies to requests but
	// ping, auth and closeSession; watchBytes, notifications; and the
	// last/min/max size of any frame sent to a session (replies and
	// notifications, -1 before the first). Sizes without the prefix.
	bytesReceived, respBytes, watchBytes atomic.Int64
	respLast, respMin, respMax           atomic.Int64
}

func (st *serverStats) reset() {
	st.received.Store(0)
	st.sent.Store(0)
	st.latMin.Store(-1)
	st.latMax.Store(0)
	st.latSum.Store(0)
	st.latCount.Store(0)
	st.bytesReceived.Store(0)
	st.respBytes.Store(0)
	st.watchBytes.Store(0)
	st.respLast.Store(-1)
	st.respMin.Store(-1)
	st.respMax.Store(-1)
}

// recordReplies adds one flush's replies (latency, as ZooKeeper's
// ServerStats.updateLatency: the requests FinalRequestProcessor answers)
// and frames (mntr's byte counters) to the server's figures: a few atomic
// operations per flush, none per reply.
func (st *serverStats) recordReplies(r *replyStats) {
	if r.n > 0 {
		st.latSum.Add(r.sum)
		st.latCount.Add(r.n)
		lower(&st.latMin, r.min)
		raise(&st.latMax, r.max)
	}
	if r.frames > 0 {
		st.respBytes.Add(r.respBytes)
		st.watchBytes.Add(r.watchBytes)
		st.respLast.Store(r.lastSize)
		lower(&st.respMin, r.minSize)
		raise(&st.respMax, r.maxSize)
	}
}

// lower makes a hold v if v is smaller or a holds -1 (nothing yet).
func lower(a *atomic.Int64, v int64) {
	for {
		m := a.Load()
		if m >= 0 && v >= m || a.CompareAndSwap(m, v) {
			return
		}
	}
}

// raise makes a hold v if v is larger.
func raise(a *atomic.Int64, v int64) {
	for {
		m := a.Load()
		if v <= m || a.CompareAndSwap(m, v) {
			return
		}
	}
}

// minLevel filters a slog handler to records at or above a level.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.min}
}
func (h minLevel) WithGroup(n string) slog.Handler { return minLevel{h.Handler.WithGroup(n), h.min} }
