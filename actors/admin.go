package actors

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The AdminServer answers ZooKeeper 3.8's AdminServer commands over HTTP
// with JSON (org.apache.zookeeper.server.admin.Commands): the same
// command names and aliases, the same keys and value types, the same
// answers to what it does not know. It computes nothing of its own: each
// command reads what the matching four-letter word reads (fourletter.go).
// admin_test.go compares it, command by command, with a real ZooKeeper's.
//
//   - GET <commandURL>/<name or alias> answers 200 with a JSON object that
//     has "command" (the primary name, whatever alias was asked) and
//     "error" (null on success) beside the command's keys; an unknown
//     name answers 200 with "error": "Unknown command: <name>", as
//     ZooKeeper does. The query string is ignored.
//   - GET <commandURL> (or with a trailing slash) lists the commands as
//     ZooKeeper's HTML links do.
//   - Any method but GET and HEAD answers 405 (ZooKeeper 3.8's commands
//     are all GET; snapshot and restore, its POST commands, are off by
//     default there and absent here). A URL that does not parse answers
//     400, a path outside commandURL 404.
//   - The four-letter-word whitelist does not apply, as in ZooKeeper.
//   - A port that cannot be bound fails Start, as it stops a standalone
//     ZooKeeper (a ZooKeeper ensemble member only warns).
//
// Where the keys differ from ZooKeeper's (admin_test.go holds the lists):
// server_stats and stats leave out fsync_threshold_exceed_count,
// provider_null, auth_failed_count and the non_mtls connection counts
// (nothing in Paddock measures them); monitor's keys are mntr's (see
// there); environment reports go.version instead of the java.* keys;
// voting_view's clientAddress is "" (the member list holds no client
// addresses); interest_ops is 1 (reading) for every connection.

// AdminConfig turns the AdminServer on (Config.Admin).
type AdminConfig struct {
	// Addr is host:port to listen on (admin.serverAddress,
	// admin.serverPort); port 0 picks a free one.
	Addr string
	// CommandURL is the path prefix of the commands (admin.commandURL),
	// "/commands" if empty.
	CommandURL string
}

// adminCommand is one command: its primary name, aliases and answer.
type adminCommand struct {
	names []string
	run   func(s *Server) map[string]any
}

// adminCommands are Paddock's AdminServer commands, in ZooKeeper's order
// of the listing (by primary name).
var adminCommands = []adminCommand{
	{[]string{"configuration", "conf", "config"}, (*Server).adminConf},
	{[]string{"connection_stat_reset", "crst"}, func(s *Server) map[string]any { s.resetConnStats(); return nil }},
	{[]string{"connections", "cons"}, func(s *Server) map[string]any {
		return map[string]any{"connections": s.adminConns(true), "secure_connections": []any{}}
	}},
	{[]string{"dirs"}, func(s *Server) map[string]any {
		return map[string]any{"datadir_size": dirSize(s.cfg.DataDir), "logdir_size": dirSize(s.cfg.DataLogDir)}
	}},
	{[]string{"dump"}, (*Server).adminDump},
	{[]string{"environment", "envi", "env"}, func(s *Server) map[string]any {
		m := map[string]any{}
		for _, p := range s.environment() {
			m[p[0]] = p[1]
		}
		return m
	}},
	{[]string{"hash"}, func(*Server) map[string]any { return map[string]any{"digests": []any{}} }},
	{[]string{"is_read_only", "isro"}, func(s *Server) map[string]any {
		return map[string]any{"read_only": s.servingReadOnly(time.Now())}
	}},
	{[]string{"leader", "lead"}, (*Server).adminLeader},
	{[]string{"monitor", "mntr"}, func(s *Server) map[string]any {
		m := map[string]any{}
		for _, p := range s.mntr() {
			m[strings.TrimPrefix(p.key, "zk_")] = p.val
		}
		return m
	}},
	{[]string{"ruok"}, func(*Server) map[string]any { return nil }},
	{[]string{"server_stats", "srvr"}, func(s *Server) map[string]any { return s.adminSrvr(false) }},
	{[]string{"stat_reset", "srst"}, func(s *Server) map[string]any { s.stats.reset(); return nil }},
	{[]string{"stats", "stat"}, func(s *Server) map[string]any { return s.adminSrvr(true) }},
	{[]string{"voting_view"}, (*Server).adminVotingView},
	{[]string{"watch_summary", "wchs"}, func(s *Server) map[string]any {
		sessions, paths, total, _ := s.watchSummary()
		return map[string]any{"num_connections": sessions, "num_paths": paths, "num_total_watches": total}
	}},
	{[]string{"watches", "wchc"}, func(s *Server) map[string]any {
		_, bySession := s.watchTables("watches")
		m := map[string][]string{}
		for id, ps := range bySession {
			m[strconv.FormatInt(id, 10)] = ps
		}
		return map[string]any{"session_id_to_watched_paths": m}
	}},
	{[]string{"watches_by_path", "wchp"}, func(s *Server) map[string]any {
		byPath, _ := s.watchTables("watches_by_path")
		return map[string]any{"path_to_session_ids": byPath}
	}},
}

// adminCommandByName maps every name and alias to its command.
var adminCommandByName = func() map[string]*adminCommand {
	m := map[string]*adminCommand{}
	for i := range adminCommands {
		for _, n := range adminCommands[i].names {
			m[n] = &adminCommands[i]
		}
	}
	return m
}()

// startAdmin listens on cfg.Admin.Addr and serves the commands on a
// goroutine that Close stops (stopAdmin).
func (s *Server) startAdmin() error {
	a := s.cfg.Admin
	if a == nil {
		return nil
	}
	ln, err := net.Listen("tcp", a.Addr)
	if err != nil {
		return fmt.Errorf("paddock/actors: AdminServer: listen %s: %w", a.Addr, err)
	}
	prefix := a.CommandURL
	if prefix == "" {
		prefix = "/commands"
	}
	prefix = strings.TrimSuffix(prefix, "/") // "/" serves the commands at the root
	s.adminLn = ln
	s.admin = &http.Server{
		Handler:           s.adminHandler(prefix),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.wg.Add(1)
	go func() { // owned by the Server; ends when stopAdmin shuts it down
		defer s.wg.Done()
		if err := s.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("AdminServer stopped", "err", err)
		}
	}()
	s.log.Info("AdminServer serving", "addr", ln.Addr().String(), "commandURL", prefix)
	return nil
}

// stopAdmin closes the AdminServer's listener and connections, half-sent
// requests included, and waits for the commands in flight (each bounded:
// the slowest, watches and watches_by_path, by probeTimeout); the
// connections' goroutines then end with their closed sockets.
func (s *Server) stopAdmin() {
	if s.admin == nil {
		return
	}
	if err := s.admin.Close(); err != nil {
		s.log.Warn("AdminServer close", "err", err)
	}
	s.adminRunning.Lock() // held for good: no command runs after Close
}

// AdminAddr is the AdminServer's address, nil when it is off.
func (s *Server) AdminAddr() net.Addr {
	if s.adminLn == nil {
		return nil
	}
	return s.adminLn.Addr()
}

// adminHandler serves the commands under prefix (no trailing slash).
func (s *Server) adminHandler(prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.adminRunning.TryRLock() { // the server is closing
			http.Error(w, "server closing", http.StatusServiceUnavailable)
			return
		}
		defer s.adminRunning.RUnlock()
		p := r.URL.Path
		if p != prefix && !strings.HasPrefix(p, prefix+"/") {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "HTTP method "+r.Method+" is not supported by this URL", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(strings.TrimPrefix(p, prefix), "/")
		if name == "" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			for _, c := range adminCommands {
				fmt.Fprintf(w, "<a href=\"%s/%s\">%s</a>\n<br/>\n", html.EscapeString(prefix), c.names[0], c.names[0])
			}
			return
		}
		out := s.adminRun(name)
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil { // only plain maps, slices, numbers and strings
			s.log.Error("AdminServer: encoding "+name, "err", err)
			http.Error(w, "encoding the answer failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(append(b, '\n'))
	})
}

// adminRun answers the command called name (a name or an alias).
func (s *Server) adminRun(name string) map[string]any {
	c, ok := adminCommandByName[name]
	if !ok {
		return map[string]any{"command": name, "error": "Unknown command: " + name}
	}
	out := c.run(s)
	if out == nil {
		out = map[string]any{}
	}
	out["command"] = c.names[0]
	if _, failed := out["error"]; !failed {
		out["error"] = nil
	}
	return out
}

func (s *Server) adminConf() map[string]any {
	return map[string]any{
		"client_port":                s.port(),
		"data_dir":                   s.cfg.DataDir,
		"data_log_dir":               s.cfg.DataLogDir,
		"tick_time":                  s.cfg.TickTime.Milliseconds(),
		"max_client_cnxns":           s.cfg.MaxClientCnxns,
		"min_session_timeout":        s.cfg.MinSessionTimeout.Milliseconds(),
		"max_session_timeout":        s.cfg.MaxSessionTimeout.Milliseconds(),
		"server_id":                  s.cfg.ServerID,
		"client_port_listen_backlog": -1,
	}
}

// adminConns is the connections' info, with the session's fields when
// full (connections) or without (stats), as ZooKeeper's
// ServerCnxn.getConnectionInfo.
func (s *Server) adminConns(full bool) []map[string]any {
	conns := s.sortedConns()
	out := make([]map[string]any, 0, len(conns))
	for _, c := range conns {
		m := map[string]any{
			"remote_socket_address": c.nc.RemoteAddr().String(),
			"interest_ops":          1,
			"outstanding_requests":  c.pending.Load(),
			"packets_received":      c.recv.Load(),
			"packets_sent":          c.sent.Load(),
		}
		if full {
			v := c.cstats.view()
			m["session_id"] = c.sessionID.Load()
			m["last_operation"] = v.lastOp
			m["established"] = c.started.UnixMilli()
			m["session_timeout"] = c.timeout.Load()
			m["last_cxid"] = v.lastCxid
			m["last_zxid"] = v.lastZxid
			m["last_response_time"] = v.lastResp
			m["last_latency"] = v.lastLat
			m["min_latency"] = v.minLat
			m["avg_latency"] = v.avgLat
			m["max_latency"] = v.maxLat
		}
		out = append(out, m)
	}
	return out
}

// adminSrvr is server_stats, and stats when withConns.
func (s *Server) adminSrvr(withConns bool) map[string]any {
	ts := s.treeStats()
	lo, avg, hi := s.latencies()
	resp := map[string]any{
		"last_buffer_size": s.stats.respLast.Load(),
		"min_buffer_size":  s.stats.respMin.Load(),
		"max_buffer_size":  s.stats.respMax.Load(),
	}
	out := map[string]any{
		"version":   s.fullVersion(),
		"read_only": false,
		"server_stats": map[string]any{
			"packets_sent":                 s.stats.sent.Load(),
			"packets_received":             s.stats.received.Load(),
			"client_response_stats":        resp,
			"data_dir_size":                dirSize(s.cfg.DataDir),
			"log_dir_size":                 dirSize(s.cfg.DataLogDir),
			"server_state":                 s.mode(),
			"last_processed_zxid":          ts.zxid,
			"outstanding_requests":         s.stats.outstanding.Load(),
			"avg_latency":                  avg,
			"max_latency":                  hi,
			"min_latency":                  lo,
			"num_alive_client_connections": len(s.connList()),
			"uptime":                       time.Since(s.started).Milliseconds(),
		},
		"client_response": resp,
		"node_count":      ts.nodes,
	}
	if withConns {
		out["connections"] = s.adminConns(false)
		out["secure_connections"] = []any{}
	}
	return out
}

func (s *Server) adminDump() map[string]any {
	d := s.dump()
	expiry := map[string][]int64{}
	for at, ids := range d.expiry {
		expiry[strconv.FormatInt(at, 10)] = ids
	}
	eph := map[string][]string{}
	for id, ps := range d.eph {
		eph[strconv.FormatInt(id, 10)] = ps
	}
	return map[string]any{"expiry_time_to_session_ids": expiry, "session_id_to_ephemeral_paths": eph}
}

// adminLeader is ZooKeeper's LeaderCommand: an error on a standalone
// server, else whether this member leads, the leader's id (-1 while there
// is none) and the host of its quorum address ("" while none).
func (s *Server) adminLeader() map[string]any {
	if !s.cfg.ensemble() {
		return map[string]any{"error": "server is not initialized"}
	}
	id, _ := s.leaderID()
	out := map[string]any{"is_leader": id != 0 && id == s.cfg.ServerID, "leader_id": int64(-1), "leader_ip": ""}
	if m, ok := s.cfg.member(id); ok && id != 0 {
		out["leader_id"] = int64(id)
		if host, _, err := net.SplitHostPort(m.QuorumAddr); err == nil {
			out["leader_ip"] = host
		}
	}
	return out
}

// adminVotingView is ZooKeeper's VotingViewCommand: the voting members by
// id, empty on a standalone server.
func (s *Server) adminVotingView() map[string]any {
	view := map[string]any{}
	members := append([]Member(nil), s.cfg.Members...)
	sort.Slice(members, func(i, j int) bool { return members[i].ID < members[j].ID })
	for _, m := range members {
		view[strconv.FormatUint(m.ID, 10)] = map[string]any{
			"serverAddresses":   []string{m.QuorumAddr},
			"electionAddresses": []string{m.ElectionAddr},
			"clientAddress":     "",
			"learnerType":       "participant",
		}
	}
	return map[string]any{"current_config": view}
}
