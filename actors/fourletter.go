package actors

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/paddockdb/paddock/statemachine"
)

// Version is what the four-letter words report as the server version.
const Version = "3.8.0-paddock"

// builtOnLayout is how ZooKeeper prints its build date after "built on"
// (srvr, stat, mntr's zk_version, envi's zookeeper.version).
const builtOnLayout = "2006-01-02 15:04 UTC"

// fullVersion is ZooKeeper's Version.getFullVersion: the version and the
// build time, "3.8.0-paddock, built on 2022-02-25 08:49 UTC".
func (s *Server) fullVersion() string { return fullVersion(s.cfg.BuildTime) }

func fullVersion(built time.Time) string {
	if built.IsZero() {
		return Version + ", built on unknown"
	}
	return Version + ", built on " + built.UTC().Format(builtOnLayout)
}

// buildTime is when this binary was made: the commit time the Go
// toolchain stamps into a build from a version-controlled tree (vcs.time),
// else the executable's modification time; zero if neither is known.
func buildTime() time.Time {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if t, ok := vcsTime(bi.Settings); ok {
			return t
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return time.Time{}
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// vcsTime finds the vcs.time build setting (RFC 3339).
func vcsTime(settings []debug.BuildSetting) (time.Time, bool) {
	for _, kv := range settings {
		if kv.Key == "vcs.time" {
			t, err := time.Parse(time.RFC3339, kv.Value)
			return t, err == nil
		}
	}
	return time.Time{}, false
}

// The four-letter words answer as ZooKeeper 3.8's NIO server does
// (org.apache.zookeeper.server.command.*): same words, same line formats,
// same whitelist message; fourletter_test.go checks them against a real
// ZooKeeper. Where Paddock differs:
//
//   - mntr reports the keys Paddock has a meaningful value for. Left out:
//     the JVM, quorum/leader/learner, TLS/SASL/ensemble-auth, request
//     throttling, netty, commit/prep/sync-processor pipeline and digest
//     metrics (no such component here), the per-namespace and per-watch-
//     type summaries, read/update latency splits, zk_last_proposal_size
//     and friends.
//     fourletter_test.go holds the list, so a new ZooKeeper key fails the
//     test until it is classified.
//   - cons's lresp is the wall clock in ms since the epoch; ZooKeeper
//     prints its monotonic clock (ms since an arbitrary origin). lzxid is
//     a Paddock zxid (a hybrid logical clock, statemachine/doc.go).
//   - envi reports the Go runtime (go.version) instead of the java.* keys.
//   - hash prints ZooKeeper's digest log, which Paddock does not keep (Raft
//     and the determinism test cover what the digest is for): always empty,
//     which is also what a ZooKeeper with fewer than 128 transactions says.
//   - dump's Connections section buckets by the session's expiry (and 10s
//     (Config.SessionlessTimeout for connections without a session, as
//     ZooKeeper's sessionlessCnxnTimeout).
var fourLetterWords = map[string]bool{
	"ruok": true, "srvr": true, "stat": true, "conf": true, "cons": true, "crst": true, "dump": true,
	"envi": true, "mntr": true, "srst": true, "wchs": true, "wchc": true, "wchp": true, "dirs": true,
	"isro": true, "hash": true,
}

// javaDate is the layout of Java's Date.toString.
const javaDate = "Mon Jan 02 15:04:05 MST 2006"

// fourLetter answers a four-letter word and closes the connection, as
// ZooKeeper's NIOServerCnxn does. The word counts as one packet received
// and the answer as one sent, as in ZooKeeper.
func (c *conn) fourLetter(w string) {
	s := c.s
	c.recv.Add(1)
	s.stats.received.Add(1)
	s.stats.bytesReceived.Add(4)
	var out string
	if !s.white["*"] && !s.white[w] {
		out = w + " is not executed because it is not in the whitelist.\n"
	} else {
		out = s.fourLetterOutput(w)
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write([]byte(out)); err == nil {
		c.sent.Add(1)
		s.stats.sent.Add(1)
	}
}

// fourLetterOutput computes the answer to a whitelisted word.
func (s *Server) fourLetterOutput(w string) string {
	var b strings.Builder
	switch w {
	case "ruok":
		return "imok"
	case "isro":
		if s.servingReadOnly(time.Now()) {
			return "ro"
		}
		return "rw"
	case "srvr", "stat":
		s.writeSrvr(&b, w == "stat")
	case "mntr":
		s.writeMntr(&b)
	case "conf":
		fmt.Fprintf(&b, "clientPort=%d\nsecureClientPort=-1\ndataDir=%s\ndataDirSize=%d\ndataLogDir=%s\ndataLogSize=%d\n",
			s.port(), s.cfg.DataDir, dirSize(s.cfg.DataDir), s.cfg.DataLogDir, dirSize(s.cfg.DataLogDir))
		fmt.Fprintf(&b, "tickTime=%d\nmaxClientCnxns=%d\nminSessionTimeout=%d\nmaxSessionTimeout=%d\nclientPortListenBacklog=-1\nserverId=%d\n",
			s.cfg.TickTime.Milliseconds(), s.cfg.MaxClientCnxns, s.cfg.MinSessionTimeout.Milliseconds(), s.cfg.MaxSessionTimeout.Milliseconds(), s.cfg.ServerID)
	case "cons":
		for _, c := range s.sortedConns() {
			id := c.sessionID.Load()
			if id == 0 {
				fmt.Fprintf(&b, " /%s[0](queued=0,recved=%d,sent=%d)\n", c.nc.RemoteAddr(), c.recv.Load(), c.sent.Load())
				continue
			}
			fmt.Fprintf(&b, " /%s[1](queued=%d,recved=%d,sent=%d,sid=%s", c.nc.RemoteAddr(), c.pending.Load(), c.recv.Load(), c.sent.Load(), sid(id))
			c.cstats.write(&b, c.started, c.timeout.Load())
			b.WriteString(")\n")
		}
		b.WriteString("\n")
	case "crst":
		s.resetConnStats()
		return "Connection stats reset.\n"
	case "srst":
		s.stats.reset()
		return "Server stats reset.\n"
	case "envi":
		s.writeEnvi(&b)
	case "dirs":
		fmt.Fprintf(&b, "datadir_size: %d\nlogdir_size: %d\n", dirSize(s.cfg.DataDir), dirSize(s.cfg.DataLogDir))
	case "dump":
		s.writeDump(&b)
	case "wchs", "wchc", "wchp":
		s.writeWatches(&b, w)
	case "hash":
		// No digest log; see the package notes above.
	}
	return b.String()
}

// latencies returns min/avg/max request latency in ms as ZooKeeper's
// ServerStats reports them (min 0 before the first request).
func (s *Server) latencies() (lo int64, avg float64, hi int64) {
	n := s.stats.latCount.Load()
	if n == 0 {
		return 0, 0, s.stats.latMax.Load()
	}
	return s.stats.latMin.Load(), float64(s.stats.latSum.Load()) / float64(n), s.stats.latMax.Load()
}

type treeStats struct {
	nodes, eph int
	zxid, size int64
}

func (s *Server) treeStats() treeStats {
	var ts treeStats
	s.meta.replica.Read(func(t *statemachine.Tree) {
		ts = treeStats{nodes: t.NodeCount(), eph: t.EphemeralCount(), zxid: t.LastZxid(), size: t.ApproximateDataSize()}
	})
	return ts
}

func (s *Server) writeSrvr(b *strings.Builder, withClients bool) {
	ts := s.treeStats()
	conns := s.sortedConns()
	fmt.Fprintf(b, "Zookeeper version: %s\n", s.fullVersion())
	if withClients {
		b.WriteString("Clients:\n")
		for _, c := range conns {
			ops := 1
			if c.sessionID.Load() == 0 {
				ops = 0
			}
			fmt.Fprintf(b, " /%s[%d](queued=%d,recved=%d,sent=%d)\n", c.nc.RemoteAddr(), ops, c.pending.Load(), c.recv.Load(), c.sent.Load())
		}
		b.WriteString("\n")
	}
	lo, avg, hi := s.latencies()
	fmt.Fprintf(b, "Latency min/avg/max: %d/%s/%d\n", lo, javaDouble(avg), hi)
	fmt.Fprintf(b, "Received: %d\nSent: %d\nConnections: %d\nOutstanding: %d\n",
		s.stats.received.Load(), s.stats.sent.Load(), len(conns), s.stats.outstanding.Load())
	fmt.Fprintf(b, "Zxid: 0x%x\nMode: %s\nNode count: %d\n", uint64(ts.zxid), s.mode(), ts.nodes)
}

// stat is one mntr key and its value: an int64, a float64 (a latency
// average) or a string. The four-letter word prints it as text; the
// AdminServer's monitor command sends it as a JSON number or string under
// the key without its zk_ prefix.
type stat struct {
	key string
	val any
}

func (s *Server) writeMntr(b *strings.Builder) {
	for _, p := range s.mntr() {
		v := fmt.Sprint(p.val)
		if f, ok := p.val.(float64); ok {
			v = javaDouble(f)
		}
		b.WriteString(p.key + "\t" + v + "\n")
	}
}

// mntr is what mntr and monitor report, in mntr's order.
func (s *Server) mntr() []stat {
	ts := s.treeStats()
	conns := s.connList()
	lo, avg, hi := s.latencies()
	_, _, _, watches := s.watchSummary()
	kv := []stat{
		{"zk_version", s.fullVersion()},
		{"zk_server_state", s.mode()},
		{"zk_ephemerals_count", int64(ts.eph)},
		{"zk_num_alive_connections", int64(len(conns))},
		{"zk_avg_latency", avg},
		{"zk_outstanding_requests", s.stats.outstanding.Load()},
		{"zk_znode_count", int64(ts.nodes)},
		{"zk_global_sessions", int64(s.liveCount())},
		{"zk_local_sessions", int64(0)}, // Paddock has no local sessions
		{"zk_packets_sent", s.stats.sent.Load()},
		{"zk_packets_received", s.stats.received.Load()},
		{"zk_watch_count", int64(watches)},
		{"zk_min_latency", lo},
		{"zk_max_latency", hi},
		{"zk_approximate_data_size", ts.size},
		{"zk_open_file_descriptor_count", int64(openFDs())},
		{"zk_max_file_descriptor_count", int64(maxFDs())},
		{"zk_uptime", time.Since(s.started).Milliseconds()},
		{"zk_connection_rejected", s.stats.rejected.Load()},
		{"zk_slow_connections_closed", s.stats.slowClosed.Load()},
		{"zk_bytes_received_count", s.stats.bytesReceived.Load()},
		{"zk_response_bytes", s.stats.respBytes.Load()},
		{"zk_watch_bytes", s.stats.watchBytes.Load()},
		{"zk_last_client_response_size", s.stats.respLast.Load()},
		{"zk_min_client_response_size", s.stats.respMin.Load()},
		{"zk_max_client_response_size", s.stats.respMax.Load()},
	}
	if s.members != nil && s.isLeader() {
		// The leader's view of its followers, as ZooKeeper's leader
		// prints it (learners: the followers heard from within
		// syncLimit ticks; synced: those as far as the leader or heard
		// from within a tick).
		n, synced := s.members.followerCounts(time.Now(), ts.zxid)
		kv = append(kv,
			stat{"zk_learners", int64(n)},
			stat{"zk_followers", int64(n)},
			stat{"zk_synced_followers", int64(synced)},
			stat{"zk_synced_non_voting_followers", int64(0)},
			stat{"zk_synced_observers", int64(0)},
			stat{"zk_pending_syncs", s.pendingSyncs.Load()})
	}
	return kv
}

// mode is srvr's Mode and mntr's zk_server_state: standalone for a single
// server; leader or follower in an ensemble, and, while the member has no
// leader, "looking" (ZooKeeper's state then; it does not answer srvr at
// all, Paddock does).
func (s *Server) mode() string {
	if !s.cfg.ensemble() {
		return "standalone"
	}
	switch id, _ := s.leaderID(); id {
	case 0:
		return "looking"
	case s.cfg.ServerID:
		return "leader"
	}
	return "follower"
}

func (s *Server) writeEnvi(b *strings.Builder) {
	b.WriteString("Environment:\n")
	for _, p := range s.environment() {
		b.WriteString(p[0] + "=" + p[1] + "\n")
	}
}

// environment is what envi and the AdminServer's environment report, in
// envi's order.
func (s *Server) environment() [][2]string {
	host, _ := os.Hostname()
	wd, _ := os.Getwd()
	osVersion := "unknown"
	if v, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		osVersion = strings.TrimSpace(string(v))
	}
	userName, userHome := "?", os.Getenv("HOME")
	if u, err := user.Current(); err == nil {
		userName, userHome = u.Username, u.HomeDir
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	const mb = 1 << 20
	// os.memory.max is the Go memory limit if set, else physical memory
	// (the JVM's default max heap is a share of it).
	max := uint64(memTotalMB())
	if lim := debug.SetMemoryLimit(-1); lim > 0 && lim < 1<<62 {
		max = uint64(lim) / mb
	}
	return [][2]string{
		{"zookeeper.version", s.fullVersion()}, {"host.name", host}, {"go.version", runtime.Version()},
		{"os.name", osName()}, {"os.arch", runtime.GOARCH}, {"os.version", osVersion},
		{"user.name", userName}, {"user.home", userHome}, {"user.dir", wd},
		{"os.memory.free", fmt.Sprintf("%dMB", (ms.HeapIdle-ms.HeapReleased)/mb)},
		{"os.memory.max", fmt.Sprintf("%dMB", max)},
		{"os.memory.total", fmt.Sprintf("%dMB", ms.Sys/mb)},
	}
}

// osName spells GOOS as Java's os.name does for the common cases.
func osName() string {
	switch runtime.GOOS {
	case "linux":
		return "Linux"
	case "darwin":
		return "Mac OS X"
	case "freebsd":
		return "FreeBSD"
	case "windows":
		return "Windows"
	}
	return runtime.GOOS
}

// writeDump answers dump as ZooKeeper's DumpCommand: sessions bucketed by
// expiry time (rounded up to the tick, as its ExpiryQueue), the
// ephemerals of each session, and the connections.
func (s *Server) writeDump(b *strings.Builder) {
	d := s.dump()
	b.WriteString("SessionTracker dump:\n")
	expiry := map[int64][]string{}
	for at, ids := range d.expiry {
		for _, id := range ids {
			expiry[at] = append(expiry[at], sid(id))
		}
	}
	writeExpirySets(b, "Session", expiry, len(d.sessions))
	b.WriteString("ephemeral nodes dump:\n")
	fmt.Fprintf(b, "Sessions with Ephemerals (%d):\n", len(d.eph))
	for _, id := range d.sessions {
		if ps := d.eph[id]; len(ps) > 0 {
			fmt.Fprintf(b, "%s:\n", sid(id))
			for _, p := range ps {
				fmt.Fprintf(b, "\t%s\n", p)
			}
		}
	}
	b.WriteString("Connections dump:\n")
	tick := s.cfg.TickTime.Milliseconds()
	cx := map[int64][]string{}
	conns := s.sortedConns()
	for _, c := range conns {
		id := c.sessionID.Load()
		at := c.started.Add(s.cfg.SessionlessTimeout).UnixMilli()
		if v, ok := s.live.Load(id); ok && id != 0 {
			at = v.(*liveness).lastSeen.Load() + int64(c.timeout.Load())
		}
		at = roundToTick(at, tick)
		cx[at] = append(cx[at], fmt.Sprintf("ip: /%s sessionId: %s", c.nc.RemoteAddr(), sid(id)))
	}
	writeExpirySets(b, "Connections", cx, len(conns))
}

// dumpData is the session tracker's view that dump and the AdminServer's
// dump report: the sessions (sorted by id), their expiry times (ms since
// the epoch, rounded up to the tick as ZooKeeper's ExpiryQueue) and each
// session's ephemerals.
type dumpData struct {
	sessions []int64
	expiry   map[int64][]int64
	eph      map[int64][]string
}

func (s *Server) dump() dumpData {
	tick := s.cfg.TickTime.Milliseconds()
	var sessions []statemachine.SessionInfo
	d := dumpData{expiry: map[int64][]int64{}, eph: map[int64][]string{}}
	s.meta.replica.Read(func(t *statemachine.Tree) {
		sessions = t.Sessions()
		for _, si := range sessions {
			if ps := t.Ephemerals(si.ID, "/"); len(ps) > 0 {
				d.eph[si.ID] = ps
			}
		}
	})
	sort.Slice(sessions, func(i, j int) bool { return sessions[i].ID < sessions[j].ID })
	for _, si := range sessions {
		at := time.Now().UnixMilli() + int64(si.Timeout)
		if v, ok := s.live.Load(si.ID); ok {
			l := v.(*liveness)
			at = l.lastSeen.Load() + l.timeoutMs
		}
		at = roundToTick(at, tick)
		d.expiry[at] = append(d.expiry[at], si.ID)
		d.sessions = append(d.sessions, si.ID)
	}
	return d
}

// writeExpirySets prints an expiry queue as ZooKeeper's ExpiryQueue.dump.
func writeExpirySets(b *strings.Builder, what string, sets map[int64][]string, total int) {
	fmt.Fprintf(b, "%s Sets (%d)/(%d):\n", what, len(sets), total)
	keys := make([]int64, 0, len(sets))
	for k := range sets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		fmt.Fprintf(b, "%d expire at %s:\n", len(sets[k]), time.UnixMilli(k).Format(javaDate))
		for _, e := range sets[k] {
			fmt.Fprintf(b, "\t%s\n", e)
		}
	}
}

func roundToTick(ms, tick int64) int64 {
	if tick <= 0 {
		return ms
	}
	return (ms/tick + 1) * tick
}

// writeWatches answers wchs, wchc and wchp from ZooKeeper's data-watch
// table view (see inDataTable), sorted where ZooKeeper uses hash order:
// wchs from the counters, wchc and wchp from every registration.
func (s *Server) writeWatches(b *strings.Builder, w string) {
	if w == "wchs" {
		sessions, paths, total, _ := s.watchSummary()
		fmt.Fprintf(b, "%d connections watching %d paths\nTotal watches:%d\n", sessions, paths, total)
		return
	}
	byPath, bySession := s.watchTables(w)
	switch w {
	case "wchp":
		paths := make([]string, 0, len(byPath))
		for p := range byPath {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			b.WriteString(p + "\n")
			for _, id := range byPath[p] {
				b.WriteString("\t" + sid(id) + "\n")
			}
		}
		b.WriteString("\n")
	case "wchc":
		ids := make([]int64, 0, len(bySession))
		for id := range bySession {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			b.WriteString(sid(id) + "\n")
			for _, p := range bySession[id] {
				b.WriteString("\t" + p + "\n")
			}
		}
		b.WriteString("\n")
	}
}

// watchTables is every data-table registration (see inDataTable) by
// path and by session, for wchc and wchp (cmd names the asker in the log).
func (s *Server) watchTables(cmd string) (byPath map[string][]int64, bySession map[int64][]string) {
	regs, err := s.watchRegs()
	if err != nil {
		s.log.Warn(cmd+": reading watch registrations", "err", err)
	}
	byPath, bySession = map[string][]int64{}, map[int64][]string{}
	for _, r := range regs {
		if !inDataTable(r.kind) {
			continue
		}
		byPath[r.path] = append(byPath[r.path], r.session)
		bySession[r.session] = append(bySession[r.session], r.path)
	}
	return byPath, bySession
}

// resetConnStats is crst: every connection's counters and cons fields.
func (s *Server) resetConnStats() {
	for _, c := range s.connList() {
		c.recv.Store(0)
		c.sent.Store(0)
		c.cstats.reset()
	}
}

func (s *Server) connList() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// sortedConns is connList in start order, for stable output.
func (s *Server) sortedConns() []*conn {
	cs := s.connList()
	sort.Slice(cs, func(i, j int) bool { return cs[i].started.Before(cs[j].started) })
	return cs
}

func (s *Server) liveCount() int {
	n := 0
	s.live.Range(func(any, any) bool { n++; return true })
	return n
}

func (s *Server) port() int {
	if a, ok := s.ln.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}
