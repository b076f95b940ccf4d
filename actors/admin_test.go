package actors

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire/zktest"
)

// The AdminServer tests run the four-letter-word workload against a real
// ZooKeeper 3.8 with its AdminServer and against Paddock's, then ask both
// every command by name and alias and compare the JSON: the same keys
// (but for the lists below), the same JSON type for each, and the values
// that two servers given the same requests agree on.

// adminOmitted are ZooKeeper's keys Paddock's AdminServer leaves out, per
// command (admin.go).
var adminOmitted = map[string][]string{
	"server_stats": serverStatsOmitted,
	"stats":        serverStatsOmitted,
	"environment":  {"java.version", "java.vendor", "java.home", "java.class.path", "java.library.path", "java.io.tmpdir", "java.compiler"},
}

// serverStatsOmitted: nothing in Paddock measures these.
var serverStatsOmitted = []string{"fsync_threshold_exceed_count", "provider_null", "auth_failed_count", "non_mtlsremote_conn_count", "non_mtlslocal_conn_count"}

// adminPaddockOnly are Paddock's keys ZooKeeper lacks, per command.
var adminPaddockOnly = map[string][]string{
	"environment": {"go.version"},
}

// adminGet asks addr for path and returns the status and body.
func adminGet(t *testing.T, method, addr, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = path // sent as it is, even when it does not decode
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, addr, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// adminJSON asks for a command and decodes its answer.
func adminJSON(t *testing.T, addr, cmd string) map[string]any {
	t.Helper()
	code, body := adminGet(t, http.MethodGet, addr, "/commands/"+cmd)
	if code != http.StatusOK {
		t.Fatalf("%s /commands/%s: status %d: %s", addr, cmd, code, body)
	}
	m, err := decodeJSON(body)
	if err != nil {
		t.Fatalf("%s /commands/%s: %v: %s", addr, cmd, err, body)
	}
	return m
}

// decodeJSON decodes an object keeping numbers exact (session ids pass
// 2^53).
func decodeJSON(body string) (map[string]any, error) {
	d := json.NewDecoder(strings.NewReader(body))
	d.UseNumber()
	var m map[string]any
	err := d.Decode(&m)
	return m, err
}

// jsonKind names a decoded JSON value's type.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// compareShape checks that z and p have the same keys (but for the
// listed ones) and the same kind of value under each, recursing into
// objects under fixed keys (not maps keyed by ids or paths: those are
// compared by value where it matters).
func compareShape(t *testing.T, where string, z, p map[string]any, omitted, extra []string) {
	t.Helper()
	for k, zv := range z {
		pv, ok := p[k]
		switch {
		case !ok && !slices.Contains(omitted, k):
			t.Errorf("%s: paddock lacks %q (zookeeper: %v)", where, k, zv)
		case ok && jsonKind(zv) != jsonKind(pv):
			t.Errorf("%s %q: zookeeper %s %v, paddock %s %v", where, k, jsonKind(zv), zv, jsonKind(pv), pv)
		case ok && k != "current_config" && !strings.HasSuffix(k, "_ids") && !strings.HasSuffix(k, "_paths") && jsonKind(zv) == "object":
			compareShape(t, where+"."+k, zv.(map[string]any), pv.(map[string]any), omitted, extra)
		}
	}
	for k := range p {
		if _, ok := z[k]; !ok && !slices.Contains(extra, k) {
			t.Errorf("%s: paddock has %q, which zookeeper lacks", where, k)
		}
	}
}

// anonIDs rewrites a map keyed by decimal session ids to workload names.
func anonIDs(m any, sids map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m.(map[string]any) {
		out[decimalName(k, sids)] = v
	}
	return out
}

// decimalName is the workload name of a decimal session id, or the id.
func decimalName(dec string, sids map[string]string) string {
	for hex, n := range sids {
		var id uint64
		fmt.Sscanf(hex, "0x%x", &id)
		if fmt.Sprint(id) == dec {
			return n
		}
	}
	return dec
}

// sortedJSON prints v with every array sorted, for an order-free compare.
func sortedJSON(v any) string {
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = sortedJSON(e)
		}
		sort.Strings(parts)
		return "[" + strings.Join(parts, ",") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + sortedJSON(x[k])
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestAdminServerMatchesZooKeeper(t *testing.T) {
	z := zktest.Start(t, zktest.WithAdminServer(), zktest.WithConfig("maxSessionTimeout=60000"))
	s := startServer(t, t.TempDir(), func(c *Config) {
		c.MaxSessionTimeout = time.Minute
		c.Admin = &AdminConfig{Addr: "127.0.0.1:0"}
	})
	defer s.Close()
	za, pa := z.AdminAddr, s.AdminAddr().String()
	zsids := fourLetterWorkload(t, z.Addr, time.Minute)
	psids := fourLetterWorkload(t, s.Addr().String(), time.Minute)

	// Every name and alias answers under the primary name, with no error,
	// and the same shape on both.
	for _, c := range adminCommands {
		for _, name := range c.names {
			zm, pm := adminJSON(t, za, name), adminJSON(t, pa, name)
			if zm["command"] != c.names[0] || pm["command"] != c.names[0] {
				t.Errorf("%s: command zookeeper %v, paddock %v, want %s", name, zm["command"], pm["command"], c.names[0])
			}
			if fmt.Sprint(zm["error"]) != fmt.Sprint(pm["error"]) {
				t.Errorf("%s: error zookeeper %v, paddock %v", name, zm["error"], pm["error"])
			}
			if c.names[0] == "monitor" {
				continue // below, against mntr's classification
			}
			compareShape(t, name, zm, pm, adminOmitted[c.names[0]], adminPaddockOnly[c.names[0]])
		}
	}

	same := func(cmd string, keys ...string) {
		t.Helper()
		zm, pm := adminJSON(t, za, cmd), adminJSON(t, pa, cmd)
		for _, k := range keys {
			if sortedJSON(zm[k]) != sortedJSON(pm[k]) {
				t.Errorf("%s %s: zookeeper %v, paddock %v", cmd, k, zm[k], pm[k])
			}
		}
	}
	t.Run("values", func(t *testing.T) {
		same("ruok", "error")
		same("is_read_only", "read_only")
		same("hash", "digests")
		same("leader", "error", "is_leader")
		same("voting_view", "current_config")
		same("watch_summary", "num_connections", "num_paths", "num_total_watches")
		same("server_stats", "read_only", "node_count")
		same("configuration", "client_port_listen_backlog")
		for _, cmd := range []string{"server_stats", "stats"} {
			zs, ps := adminJSON(t, za, cmd)["server_stats"].(map[string]any), adminJSON(t, pa, cmd)["server_stats"].(map[string]any)
			for _, k := range []string{"server_state", "outstanding_requests", "num_alive_client_connections"} {
				if zs[k] != ps[k] {
					t.Errorf("%s server_stats.%s: zookeeper %v, paddock %v", cmd, k, zs[k], ps[k])
				}
			}
		}
		conf := adminJSON(t, pa, "configuration")
		if conf["client_port"] != json.Number(fmt.Sprint(s.port())) || conf["data_dir"] != s.cfg.DataDir {
			t.Errorf("paddock configuration: %v", conf)
		}
		for cmd, key := range map[string]string{"watches": "session_id_to_watched_paths", "dump": "session_id_to_ephemeral_paths"} {
			zv, pv := anonIDs(adminJSON(t, za, cmd)[key], zsids), anonIDs(adminJSON(t, pa, cmd)[key], psids)
			if sortedJSON(zv) != sortedJSON(pv) {
				t.Errorf("%s %s: zookeeper %v, paddock %v", cmd, key, zv, pv)
			}
		}
		byPath := func(addr string, sids map[string]string) string {
			m := adminJSON(t, addr, "watches_by_path")["path_to_session_ids"].(map[string]any)
			out := map[string]any{}
			for p, ids := range m {
				var names []any
				for _, id := range ids.([]any) {
					names = append(names, decimalName(id.(json.Number).String(), sids))
				}
				out[p] = names
			}
			return sortedJSON(out)
		}
		if zb, pb := byPath(za, zsids), byPath(pa, psids); zb != pb {
			t.Errorf("watches_by_path: zookeeper %s, paddock %s", zb, pb)
		}
		// The same clients did the same things: per session, the
		// counters and the last operation and xid agree.
		conns := func(addr string) []string {
			var r []string
			for _, c := range adminJSON(t, addr, "connections")["connections"].([]any) {
				m := c.(map[string]any)
				r = append(r, fmt.Sprintf("recv=%v,sent=%v,lop=%v,lcxid=%v", m["packets_received"], m["packets_sent"], m["last_operation"], m["last_cxid"]))
			}
			slices.Sort(r)
			return r
		}
		if zc, pc := conns(za), conns(pa); !slices.Equal(zc, pc) {
			t.Errorf("connections: zookeeper %v, paddock %v", zc, pc)
		}
		// A reset through the AdminServer shows in cons.
		adminJSON(t, za, "crst")
		adminJSON(t, pa, "crst")
		if zc, pc := conns(za), conns(pa); !slices.Equal(zc, pc) {
			t.Errorf("connections after crst: zookeeper %v, paddock %v", zc, pc)
		}
	})

	t.Run("monitor", func(t *testing.T) {
		zm, pm := adminJSON(t, za, "monitor"), adminJSON(t, pa, "monitor")
		for k, pv := range pm {
			if k == "command" || k == "error" {
				continue
			}
			zv, ok := zm[k]
			if _, extra := mntrPaddockOnly["zk_"+k]; !ok && !extra {
				t.Errorf("paddock monitor has %s, which ZooKeeper 3.8 does not", k)
			} else if ok && jsonKind(zv) != jsonKind(pv) {
				t.Errorf("monitor %s: zookeeper %s %v, paddock %s %v", k, jsonKind(zv), zv, jsonKind(pv), pv)
			}
		}
	zkKeys:
		for k := range zm {
			if _, ok := pm[k]; ok {
				continue
			}
			for _, o := range mntrOmitted {
				if regexp.MustCompile(o.re).MatchString("zk_" + k) {
					continue zkKeys
				}
			}
			t.Errorf("paddock monitor lacks %s and it is not in mntrOmitted", k)
		}
		for _, k := range []string{"server_state", "ephemerals_count", "num_alive_connections", "znode_count", "watch_count", "global_sessions", "outstanding_requests", "approximate_data_size"} {
			if zm[k] != pm[k] {
				t.Errorf("monitor %s: zookeeper %v, paddock %v", k, zm[k], pm[k])
			}
		}
	})

	t.Run("bad_input", func(t *testing.T) {
		for _, path := range []string{"/commands/nosuch", "/commands/RUOK", "/commands/ruok/", "/commands/ruok/extra", "/commands/snapshot"} {
			_, zb := adminGet(t, http.MethodGet, za, path)
			_, pb := adminGet(t, http.MethodGet, pa, path)
			zm, err := decodeJSON(zb)
			if err != nil {
				t.Fatalf("zookeeper %s: %v", path, err)
			}
			pm, err := decodeJSON(pb)
			if err != nil {
				t.Fatalf("paddock %s: %v: %s", path, err, pb)
			}
			if sortedJSON(zm) != sortedJSON(pm) {
				t.Errorf("%s: zookeeper %v, paddock %v", path, zm, pm)
			}
		}
		for _, tc := range []struct{ method, path string }{
			{http.MethodPost, "/commands/ruok"}, {http.MethodPost, "/commands/nosuch"}, {http.MethodPut, "/commands/srvr"},
			{http.MethodDelete, "/commands/ruok"}, {http.MethodGet, "/"}, {http.MethodGet, "/elsewhere/ruok"},
			{http.MethodGet, "/commands?x=1"}, {http.MethodGet, "/commands/ruok?x=1"},
		} {
			zc, _ := adminGet(t, tc.method, za, tc.path)
			pc, _ := adminGet(t, tc.method, pa, tc.path)
			if zc != pc {
				t.Errorf("%s %s: zookeeper %d, paddock %d", tc.method, tc.path, zc, pc)
			}
		}
		// A request line whose path does not decode: 400 from both.
		for _, addr := range []string{za, pa} {
			if got, _ := adminGet(t, http.MethodGet, addr, "/commands/%zz"); got != http.StatusBadRequest {
				t.Errorf("%s: malformed URL answered %d, want 400", addr, got)
			}
		}
		// The listing names every Paddock command as ZooKeeper's does.
		_, zl := adminGet(t, http.MethodGet, za, "/commands")
		_, pl := adminGet(t, http.MethodGet, pa, "/commands/")
		for _, c := range adminCommands {
			link := fmt.Sprintf("<a href=\"/commands/%s\">%s</a>", c.names[0], c.names[0])
			if !strings.Contains(zl, link) || !strings.Contains(pl, link) {
				t.Errorf("listing: %s missing (zookeeper %v, paddock %v)", link, strings.Contains(zl, link), strings.Contains(pl, link))
			}
		}
		// Clients are still served.
		if out := fourLetter(t, s, "ruok"); out != "imok" {
			t.Errorf("ruok after bad admin requests: %q", out)
		}
	})
}

// TestAdminServerLifecycle: off unless configured; a taken port fails the
// start with the address named; Close frees the port; a custom
// commandURL moves the commands.
func TestAdminServerLifecycle(t *testing.T) {
	off := startServer(t, t.TempDir(), nil)
	if off.AdminAddr() != nil {
		t.Errorf("AdminServer on without Config.Admin: %v", off.AdminAddr())
	}
	off.Close()

	s := startServer(t, t.TempDir(), func(c *Config) { c.Admin = &AdminConfig{Addr: "127.0.0.1:0", CommandURL: "/cmds/"} })
	addr := s.AdminAddr().String()
	if code, body := adminGet(t, http.MethodGet, addr, "/cmds/ruok"); code != 200 || !strings.Contains(body, `"command": "ruok"`) {
		t.Errorf("/cmds/ruok: %d %s", code, body)
	}
	if code, _ := adminGet(t, http.MethodGet, addr, "/commands/ruok"); code != http.StatusNotFound {
		t.Errorf("/commands/ruok with commandURL /cmds: %d, want 404", code)
	}

	root := startServer(t, t.TempDir(), func(c *Config) { c.Admin = &AdminConfig{Addr: "127.0.0.1:0", CommandURL: "/"} })
	if code, body := adminGet(t, http.MethodGet, root.AdminAddr().String(), "/ruok"); code != 200 || !strings.Contains(body, `"command": "ruok"`) {
		t.Errorf("commandURL /: /ruok answered %d %s", code, body)
	}
	root.Close()

	_, err := Start(t.Context(), Config{DataDir: t.TempDir(), ClientAddr: "127.0.0.1:0", Admin: &AdminConfig{Addr: addr}})
	if err == nil || !strings.Contains(err.Error(), "AdminServer") || !strings.Contains(err.Error(), addr) {
		t.Errorf("start on a taken admin port: %v", err)
	}
	// A client that never finishes its request does not hold Close up,
	// and its connection is closed.
	half, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	if _, err := io.WriteString(half, "GET /cmds/ruok HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	closed := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(closed); d > 5*time.Second {
		t.Errorf("Close took %v with a half-sent request", d)
	}
	_ = half.SetReadDeadline(time.Now().Add(testTimeout))
	if _, err := io.ReadAll(half); err != nil {
		t.Errorf("half-sent request's connection: %v, want it closed by the server", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("admin port still taken after Close: %v", err)
	}
	ln.Close()
}

// TestAdminServerEnsemble: in an ensemble, leader names the same leader
// on every member (ZooKeeper's keys: is_leader, leader_id, leader_ip),
// voting_view lists every member with its addresses, and server_stats
// says leader or follower.
func TestAdminServerEnsemble(t *testing.T) {
	e := startEnsembleWith(t, 3, 500*time.Millisecond, func(c *Config) { c.Admin = &AdminConfig{Addr: "127.0.0.1:0"} })
	// Retried: a loaded machine may move the leadership meanwhile.
	eventually(t, "every member's AdminServer names the leader", func() error {
		leader := e.waitLeader()
		for i, s := range e.servers {
			addr := s.AdminAddr().String()
			lead := adminJSON(t, addr, "lead")
			if lead["error"] != nil || lead["is_leader"] != (i == leader) ||
				lead["leader_id"] != json.Number(fmt.Sprint(leader+1)) || lead["leader_ip"] != "127.0.0.1" {
				return fmt.Errorf("member %d leader: %v (leader is member %d)", i+1, lead, leader+1)
			}
			state := "follower"
			if i == leader {
				state = "leader"
			}
			if st := adminJSON(t, addr, "srvr")["server_stats"].(map[string]any); st["server_state"] != state {
				return fmt.Errorf("member %d server_state %v, want %s", i+1, st["server_state"], state)
			}
		}
		return nil
	})
	for i, s := range e.servers {
		addr := s.AdminAddr().String()
		view := adminJSON(t, addr, "voting_view")["current_config"].(map[string]any)
		if len(view) != len(e.members) {
			t.Errorf("member %d voting_view: %v", i+1, view)
		}
		for _, m := range e.members {
			got := sortedJSON(view[fmt.Sprint(m.ID)])
			want := sortedJSON(map[string]any{"serverAddresses": []any{m.QuorumAddr}, "electionAddresses": []any{m.ElectionAddr},
				"clientAddress": "", "learnerType": "participant"})
			if got != want {
				t.Errorf("member %d voting_view[%d] = %s, want %s", i+1, m.ID, got, want)
			}
		}
	}
}
