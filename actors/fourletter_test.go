package actors

import (
	"fmt"
	"os"
	"regexp"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/paddockdb/paddock/wire/zktest"
)

// The four-letter-word tests run the same workload against a real
// ZooKeeper 3.8 and against Paddock and compare the answers word by word:
// the set of lines or keys, the shape of each line, and the values that
// must agree. Zxids, latencies, sizes of directories, timestamps and
// versions differ by nature and are compared by shape only.

// dialZK connects go-zookeeper to addr and waits for the session.
func dialZK(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	return dialZKTimeout(t, addr, 4*time.Second)
}

// dialZKTimeout is dialZK with a session timeout.
func dialZKTimeout(t *testing.T, addr string, timeout time.Duration) *zk.Conn {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, timeout, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(testTimeout)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				go func() {
					for range ev {
					}
				}()
				t.Cleanup(c.Close)
				return c
			}
		case <-deadline:
			t.Fatalf("no session with %s within %v", addr, testTimeout)
		}
	}
}

// fourLetterWorkload creates a few nodes (one ephemeral) and sets watches
// from two sessions. Every call returns only after the server answered,
// so the registrations are in place. It returns a map from each session
// id (as "0x..") to a stable name.
func fourLetterWorkload(t *testing.T, addr string, timeout time.Duration) map[string]string {
	t.Helper()
	c1, c2 := dialZKTimeout(t, addr, timeout), dialZKTimeout(t, addr, timeout)
	acl := zk.WorldACL(zk.PermAll)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := c1.Create("/a", []byte("hello"), 0, acl)
	must(err)
	_, err = c1.Create("/a/b", []byte("xy"), 0, acl)
	must(err)
	_, err = c1.Create("/e", nil, zk.FlagEphemeral, acl)
	must(err)
	_, _, _, err = c1.GetW("/a")
	must(err)
	_, _, _, err = c1.ChildrenW("/a")
	must(err)
	_, _, _, err = c1.ExistsW("/nope")
	must(err)
	_, _, _, err = c2.ExistsW("/a/b")
	must(err)
	_, _, _, err = c2.GetW("/a")
	must(err)
	return map[string]string{
		fmt.Sprintf("0x%x", c1.SessionID()): "S1",
		fmt.Sprintf("0x%x", c2.SessionID()): "S2",
	}
}

type fourLetterPeer struct {
	name string
	ask  func(w string) string // trimmed answer
	sids map[string]string
}

func zkPeer(t *testing.T, z *zktest.Server) *fourLetterPeer {
	return &fourLetterPeer{name: "zookeeper", ask: func(w string) string {
		t.Helper()
		out, err := z.FourLetter(w)
		if err != nil {
			t.Fatalf("zookeeper %s: %v", w, err)
		}
		return out
	}}
}

func paddockPeer(t *testing.T, s *Server) *fourLetterPeer {
	return &fourLetterPeer{name: "paddock", ask: func(w string) string {
		t.Helper()
		return strings.TrimSpace(fourLetter(t, s, w))
	}}
}

// anon replaces session ids by their workload names.
func (p *fourLetterPeer) anon(s string) string {
	for id, n := range p.sids {
		s = strings.ReplaceAll(s, id, n)
	}
	return s
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// keyed splits "key<sep>value" lines into a map; lines without sep are
// kept under their whole text with value "".
func keyed(s, sep string) map[string]string {
	m := map[string]string{}
	for _, l := range lines(s) {
		k, v, _ := strings.Cut(l, sep)
		m[k] = v
	}
	return m
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// matchEach checks every line of out against the first pattern whose
// name prefix it starts with, or against any pattern.
func matchEach(t *testing.T, who, word, out string, pats []*regexp.Regexp) {
	t.Helper()
	for _, l := range lines(out) {
		ok := false
		for _, p := range pats {
			if p.MatchString(l) {
				ok = true
				break
			}
		}
		if !ok {
			t.Errorf("%s %s: line %q has an unexpected shape", who, word, l)
		}
	}
}

var (
	reSrvr = []*regexp.Regexp{
		regexp.MustCompile(`^Zookeeper version: 3\.8\.[^,]+, built on \d{4}-\d\d-\d\d \d\d:\d\d UTC$`),
		regexp.MustCompile(`^Latency min/avg/max: \d+/\d+\.\d{1,4}/\d+$`),
		regexp.MustCompile(`^(Received|Sent|Connections|Outstanding|Node count): \d+$`),
		regexp.MustCompile(`^Zxid: 0x[0-9a-f]+$`),
		regexp.MustCompile(`^Mode: standalone$`),
		regexp.MustCompile(`^Clients:$`),
		regexp.MustCompile(`^ ?/127\.0\.0\.1:\d+\[[01]\]\(queued=\d+,recved=\d+,sent=\d+\)$`),
		regexp.MustCompile(`^$`),
	}
	reCons = []*regexp.Regexp{
		regexp.MustCompile(`^ ?/127\.0\.0\.1:\d+\[0\]\(queued=0,recved=\d+,sent=\d+\)$`),
		regexp.MustCompile(`^ ?/127\.0\.0\.1:\d+\[1\]\(queued=\d+,recved=\d+,sent=\d+,sid=0x[0-9a-f]+,lop=[A-Z]+,est=\d+,to=\d+,(lcxid=0x[0-9a-f]+,)?lzxid=0x[0-9a-f]+,lresp=\d+,llat=\d+,minlat=\d+,avglat=\d+,maxlat=\d+\)$`),
	}
	reDump = []*regexp.Regexp{
		regexp.MustCompile(`^(SessionTracker dump|ephemeral nodes dump|Connections dump):$`),
		regexp.MustCompile(`^(Session|Connections) Sets \(\d+\)/\(\d+\):$`),
		regexp.MustCompile(`^\d+ expire at [A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d [A-Z]+ \d{4}:$`),
		regexp.MustCompile(`^\t0x[0-9a-f]+$`),
		regexp.MustCompile(`^Sessions with Ephemerals \(\d+\):$`),
		regexp.MustCompile(`^0x[0-9a-f]+:$`),
		regexp.MustCompile(`^\t/.*$`),
		regexp.MustCompile(`^\tip: /127\.0\.0\.1:\d+ sessionId: 0x[0-9a-f]+$`),
	}
	reBuiltOn = regexp.MustCompile(`, built on \d{4}-\d\d-\d\d \d\d:\d\d UTC$`)
	reNum     = regexp.MustCompile(`^-?\d+$`)
	reDouble  = regexp.MustCompile(`^\d+\.\d{1,4}$`)
)

// mntrOmitted are the ZooKeeper 3.8 mntr keys Paddock leaves out, with
// the reason (see fourletter.go). A ZooKeeper key that matches none of
// these and that Paddock lacks fails the test.
var mntrOmitted = []struct{ re, why string }{
	{`^zk_(avg|min|max|cnt|sum|p50|p95|p99|p999)_(?:[a-z0-9_]+)$`, "summary metrics of ZooKeeper's pipeline stages, JVM, quorum and per-namespace traffic"},
	{`^zk_(non_mtls_(remote|local)_conn_count|outstanding_tls_handshake|tls_handshake_exceeded|insecure_admin_count|auth_failed_count|ensemble_auth_(success|fail|skip))$`, "no TLS (client port or AdminServer) and no SASL failure or ensemble-auth counters"},
	{`^zk_(connection_drop_probability|connection_drop_count|connection_request_count|connection_revalidate_count|revalidate_count|unsuccessful_handshake|sessionless_connections_expired|stale_sessions_expired|cnxn_closed_without_zk_server_running)$`, "connection bookkeeping of ZooKeeper's NIO layer"},
	{`^zk_(proposal_count|outstanding_changes_(removed|queued)|throttled_ops|stale_requests(_dropped)?|large_requests_rejected|request_throttle_wait_count|requests_not_forwarded_to_commit_processor|prep_processor_request_queued|sync_processor_request_queued|request_commit_queued|stale_replies|commit_count|snap_count|diff_count|looking_count|quit_leading_due_to_disloyal_voter|unrecoverable_error_count|skip_learner_request_to_next_processor_count|learner_(proposal|commit)_received_count|digest_mismatches_count)$`, "ZooKeeper's request processors, Zab and digest"},
	{`^zk_(dead_watchers_(queued|cleared)|add_dead_watcher_stall_time)$`, "no dead-watcher cleaner: a session's watches go with its actor"},
	{`^zk_response_packet_(get_children_)?cache_(hits|misses)$`, "no response cache"},
}

// mntrPaddockOnly are Paddock's mntr keys that ZooKeeper 3.8 lacks, with
// the reason (design.md, Divergences).
var mntrPaddockOnly = map[string]string{
	"zk_slow_connections_closed": "connections closed for not taking their watch events (conn.go, flow control)",
}

func TestFourLetterMatchesZooKeeper(t *testing.T) {
	// Sessions of 60 s on both: their clients ping after 20 s idle, so
	// no ping lands in the counters cons and srst compare, however slowly
	// a loaded machine runs the test.
	z := zktest.Start(t, zktest.WithConfig("maxSessionTimeout=60000"))
	s := startServer(t, t.TempDir(), func(c *Config) { c.MaxSessionTimeout = time.Minute })
	defer s.Close()
	zp, pp := zkPeer(t, z), paddockPeer(t, s)
	zp.sids = fourLetterWorkload(t, z.Addr, time.Minute)
	pp.sids = fourLetterWorkload(t, s.Addr().String(), time.Minute)
	peers := []*fourLetterPeer{zp, pp}
	ask := func(w string) (zOut, pOut string) { return zp.ask(w), pp.ask(w) }

	t.Run("ruok_isro_hash", func(t *testing.T) {
		for _, w := range []string{"ruok", "isro", "hash"} {
			if zo, po := ask(w); zo != po {
				t.Errorf("%s: zookeeper %q, paddock %q", w, zo, po)
			}
		}
		// crst reset each connection's fields too (lop=NA, no lcxid).
		zc, pc := ask("cons")
		if zs, ps := consSessions(zc), consSessions(pc); !slices.Equal(zs, ps) {
			t.Errorf("cons after crst: zookeeper %q, paddock %q", zs, ps)
		}
	})

	t.Run("srvr_stat", func(t *testing.T) {
		for _, w := range []string{"srvr", "stat"} {
			zo, po := ask(w)
			zm, pm := keyed(zo, ": "), keyed(po, ": ")
			if fmt.Sprint(len(lines(zo))) != fmt.Sprint(len(lines(po))) || !sameKeys(zm, pm, func(k string) bool { return strings.HasPrefix(k, " /") || strings.HasPrefix(k, "/") }) {
				t.Errorf("%s lines differ:\nzookeeper:\n%s\npaddock:\n%s", w, zo, po)
			}
			for _, p := range peers {
				out := zo
				if p == pp {
					out = po
				}
				matchEach(t, p.name, w, out, reSrvr)
			}
			for _, k := range []string{"Mode", "Node count", "Connections", "Outstanding"} {
				if zm[k] != pm[k] {
					t.Errorf("%s %s: zookeeper %q, paddock %q", w, k, zm[k], pm[k])
				}
			}
		}
	})

	t.Run("mntr", func(t *testing.T) {
		zo, po := ask("mntr")
		zm, pm := keyed(zo, "\t"), keyed(po, "\t")
		for _, k := range keysOf(pm) {
			_, extra := mntrPaddockOnly[k]
			if _, ok := zm[k]; !ok && !extra {
				t.Errorf("paddock mntr has %s, which ZooKeeper 3.8 does not", k)
			}
		}
	zkKeys:
		for _, k := range keysOf(zm) {
			if _, ok := pm[k]; ok {
				continue
			}
			for _, o := range mntrOmitted {
				if regexp.MustCompile(o.re).MatchString(k) {
					continue zkKeys
				}
			}
			t.Errorf("paddock mntr lacks %s and it is not in mntrOmitted", k)
		}
		for _, k := range []string{"zk_version", "zk_server_state", "zk_ephemerals_count", "zk_num_alive_connections",
			"zk_avg_latency", "zk_min_latency", "zk_max_latency", "zk_outstanding_requests", "zk_znode_count",
			"zk_watch_count", "zk_packets_sent", "zk_packets_received", "zk_approximate_data_size",
			"zk_open_file_descriptor_count", "zk_max_file_descriptor_count", "zk_global_sessions", "zk_local_sessions",
			"zk_uptime", "zk_connection_rejected"} {
			if _, ok := pm[k]; !ok {
				t.Errorf("paddock mntr lacks %s", k)
			}
		}
		for _, k := range []string{"zk_server_state", "zk_ephemerals_count", "zk_num_alive_connections", "zk_znode_count",
			"zk_watch_count", "zk_global_sessions", "zk_local_sessions", "zk_outstanding_requests",
			"zk_approximate_data_size", "zk_connection_rejected",
			// Byte counters that pings (timing) do not move; the others
			// (bytes received, last and min response size) they do.
			"zk_response_bytes", "zk_watch_bytes", "zk_max_client_response_size"} {
			if zm[k] != pm[k] {
				t.Errorf("mntr %s: zookeeper %q, paddock %q", k, zm[k], pm[k])
			}
		}
		for k, v := range pm {
			switch {
			case k == "zk_version":
				if !strings.HasPrefix(v, "3.8.") || !reBuiltOn.MatchString(v) {
					t.Errorf("mntr zk_version %q", v)
				}
			case k == "zk_server_state":
			case k == "zk_avg_latency":
				if !reDouble.MatchString(v) || !reDouble.MatchString(zm[k]) {
					t.Errorf("mntr %s: zookeeper %q, paddock %q", k, zm[k], v)
				}
			case mntrPaddockOnly[k] != "":
				if !reNum.MatchString(v) {
					t.Errorf("mntr %s: paddock %q", k, v)
				}
			default:
				if !reNum.MatchString(v) || !reNum.MatchString(zm[k]) {
					t.Errorf("mntr %s: zookeeper %q, paddock %q", k, zm[k], v)
				}
			}
		}
		if n := pm["zk_open_file_descriptor_count"]; n == "0" || n == "-1" {
			t.Errorf("zk_open_file_descriptor_count %s", n)
		}
	})

	t.Run("conf", func(t *testing.T) {
		zo, po := ask("conf")
		zm, pm := keyed(zo, "="), keyed(po, "=")
		if !sameKeys(zm, pm, nil) {
			t.Errorf("conf keys: zookeeper %v, paddock %v", keysOf(zm), keysOf(pm))
		}
		for _, k := range []string{"secureClientPort", "clientPortListenBacklog"} {
			if zm[k] != pm[k] {
				t.Errorf("conf %s: zookeeper %q, paddock %q", k, zm[k], pm[k])
			}
		}
		for _, k := range []string{"clientPort", "dataDirSize", "dataLogSize", "tickTime", "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout", "serverId"} {
			if !reNum.MatchString(pm[k]) {
				t.Errorf("conf %s=%q", k, pm[k])
			}
		}
		if pm["clientPort"] != fmt.Sprint(s.port()) {
			t.Errorf("conf clientPort=%s, listening on %d", pm["clientPort"], s.port())
		}
	})

	t.Run("cons", func(t *testing.T) {
		zo, po := ask("cons")
		if len(lines(zo)) != len(lines(po)) {
			t.Errorf("cons: zookeeper %d lines, paddock %d:\n%s\n---\n%s", len(lines(zo)), len(lines(po)), zo, po)
		}
		matchEach(t, "zookeeper", "cons", zo, reCons)
		matchEach(t, "paddock", "cons", po, reCons)
		// The same clients did the same things on both: each session's
		// counters, last operation and last xid agree.
		if zs, ps := consSessions(zo), consSessions(po); !slices.Equal(zs, ps) {
			t.Errorf("cons per session: zookeeper %q, paddock %q", zs, ps)
		}
		for _, p := range peers {
			out := zo
			if p == pp {
				out = po
			}
			for id := range p.sids {
				if !strings.Contains(out, ",sid="+id+",") {
					t.Errorf("%s cons lacks session %s:\n%s", p.name, id, out)
				}
			}
		}
	})

	t.Run("dump", func(t *testing.T) {
		zo, po := ask("dump")
		matchEach(t, "zookeeper", "dump", zo, reDump)
		matchEach(t, "paddock", "dump", po, reDump)
		ephemerals := func(p *fourLetterPeer, out string) string {
			_, after, _ := strings.Cut(out, "ephemeral nodes dump:\n")
			before, _, _ := strings.Cut(after, "Connections dump:")
			return p.anon(strings.TrimSpace(before))
		}
		if ze, pe := ephemerals(zp, zo), ephemerals(pp, po); ze != pe {
			t.Errorf("dump ephemerals: zookeeper\n%s\npaddock\n%s", ze, pe)
		}
		sessions := func(p *fourLetterPeer, out string) []string {
			var ids []string
			_, after, _ := strings.Cut(out, "SessionTracker dump:\n")
			before, _, _ := strings.Cut(after, "ephemeral nodes dump:")
			for _, l := range lines(before) {
				if strings.HasPrefix(l, "\t0x") {
					ids = append(ids, p.anon(strings.TrimSpace(l)))
				}
			}
			sort.Strings(ids)
			return ids
		}
		if zs, ps := sessions(zp, zo), sessions(pp, po); fmt.Sprint(zs) != fmt.Sprint(ps) {
			t.Errorf("dump sessions: zookeeper %v, paddock %v", zs, ps)
		}
		if !strings.Contains(po, "Session Sets (") || !strings.Contains(po, ")/(2):") {
			t.Errorf("paddock dump session sets:\n%s", po)
		}
	})

	t.Run("envi", func(t *testing.T) {
		zo, po := ask("envi")
		zm, pm := keyed(zo, "="), keyed(po, "=")
		for k := range zm {
			if strings.HasPrefix(k, "java.") {
				continue // Paddock reports go.version instead
			}
			if _, ok := pm[k]; !ok {
				t.Errorf("paddock envi lacks %s", k)
			}
		}
		for _, k := range []string{"os.name", "os.arch", "os.version", "user.name", "user.home"} { // not host.name: Java canonicalises it
			if zm[k] != pm[k] {
				t.Errorf("envi %s: zookeeper %q, paddock %q", k, zm[k], pm[k])
			}
		}
		for _, k := range []string{"os.memory.free", "os.memory.max", "os.memory.total"} {
			if !regexp.MustCompile(`^\d+MB$`).MatchString(pm[k]) {
				t.Errorf("envi %s=%q", k, pm[k])
			}
		}
	})

	t.Run("watches", func(t *testing.T) {
		if zo, po := ask("wchs"); zo != po {
			t.Errorf("wchs: zookeeper %q, paddock %q", zo, po)
		}
		for _, w := range []string{"wchc", "wchp"} {
			zo, po := ask(w)
			if zb, pb := watchBlocks(zp.anon(zo)), watchBlocks(pp.anon(po)); zb != pb {
				t.Errorf("%s: zookeeper\n%s\npaddock\n%s", w, zb, pb)
			}
		}
	})

	t.Run("dirs", func(t *testing.T) {
		re := regexp.MustCompile(`^(datadir|logdir)_size: \d+$`)
		zo, po := ask("dirs")
		matchEach(t, "zookeeper", "dirs", zo, []*regexp.Regexp{re})
		matchEach(t, "paddock", "dirs", po, []*regexp.Regexp{re})
		if len(lines(zo)) != len(lines(po)) {
			t.Errorf("dirs: zookeeper %q, paddock %q", zo, po)
		}
		if strings.Contains(po, "datadir_size: 0") {
			t.Errorf("paddock dirs: %q", po)
		}
	})

	t.Run("reset", func(t *testing.T) {
		for _, w := range []string{"crst", "srst"} {
			if zo, po := ask(w); zo != po {
				t.Errorf("%s: zookeeper %q, paddock %q", w, zo, po)
			}
		}
		// crst reset each connection's fields too (lop=NA, no lcxid).
		zc, pc := ask("cons")
		if zs, ps := consSessions(zc), consSessions(pc); !slices.Equal(zs, ps) {
			t.Errorf("cons after crst: zookeeper %q, paddock %q", zs, ps)
		}
		zm, pm := ask("mntr")
		for _, k := range []string{"zk_response_bytes", "zk_watch_bytes"} {
			if z, p := keyed(zm, "\t")[k], keyed(pm, "\t")[k]; z != "0" || p != "0" {
				t.Errorf("mntr %s after srst: zookeeper %q, paddock %q", k, z, p)
			}
		}
		zo, po := ask("srvr")
		if zr, pr := keyed(zo, ": ")["Received"], keyed(po, ": ")["Received"]; zr != pr {
			t.Errorf("Received after srst: zookeeper %s, paddock %s", zr, pr)
		}
	})

	t.Run("unknown_word", func(t *testing.T) {
		if zo, po := ask("xyzw"); zo != po {
			t.Errorf("unknown word: zookeeper %q, paddock %q", zo, po)
		}
	})
}

// sameKeys reports whether a and b have the same keys, ignoring keys for
// which skip is true.
func sameKeys(a, b map[string]string, skip func(string) bool) bool {
	norm := func(m map[string]string) string {
		var ks []string
		for k := range m {
			if skip == nil || !skip(k) {
				ks = append(ks, k)
			}
		}
		sort.Strings(ks)
		return strings.Join(ks, ",")
	}
	return norm(a) == norm(b)
}

// watchBlocks normalises wchc/wchp output (a header line, then tab-indented
// members; ZooKeeper prints both in hash order) to sorted text.
func watchBlocks(out string) string {
	var blocks []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			members := cur[1:]
			sort.Strings(members)
			blocks = append(blocks, cur[0]+"{"+strings.Join(members, ",")+"}")
		}
		cur = nil
	}
	for _, l := range lines(out) {
		if strings.HasPrefix(l, "\t") {
			cur = append(cur, strings.TrimSpace(l))
			continue
		}
		flush()
		if l != "" {
			cur = []string{l}
		}
	}
	flush()
	sort.Strings(blocks)
	return strings.Join(blocks, "\n")
}

func TestFourLetterWhitelistMatchesZooKeeper(t *testing.T) {
	z := zktest.Start(t, zktest.WithConfig("4lw.commands.whitelist=srvr,ruok"))
	s := startServer(t, t.TempDir(), func(c *Config) { c.FourLetterWords = []string{"srvr", "ruok"} })
	defer s.Close()
	zp, pp := zkPeer(t, z), paddockPeer(t, s)
	for _, w := range []string{"ruok", "mntr", "stat", "wchs", "cons", "isro", "hash", "dump"} {
		if zo, po := zp.ask(w), pp.ask(w); zo != po {
			t.Errorf("%s off the whitelist: zookeeper %q, paddock %q", w, zo, po)
		}
	}
	if out := pp.ask("srvr"); !strings.Contains(out, "\nMode: standalone\n") {
		t.Errorf("srvr: %q", out)
	}
}

// reConsSession picks the fields of a cons session line that two servers
// given the same requests agree on.
var reConsSession = regexp.MustCompile(`\(queued=\d+,(recved=\d+,sent=\d+),sid=0x[0-9a-f]+,(lop=[A-Z]+),est=\d+,to=\d+,(lcxid=0x[0-9a-f]+,)?`)

// consSessions lists, sorted, the agreed fields of each session in cons.
func consSessions(out string) []string {
	var r []string
	for _, m := range reConsSession.FindAllStringSubmatch(out, -1) {
		r = append(r, m[1]+","+m[2]+","+m[3])
	}
	slices.Sort(r)
	return r
}

// TestBuiltOn: srvr, stat, mntr and envi print the build time in
// ZooKeeper's form ("built on 2022-02-25 08:49 UTC"), in UTC whatever the
// zone of the time given.
func TestBuiltOn(t *testing.T) {
	built := time.Date(2022, 2, 25, 9, 49, 30, 0, time.FixedZone("CET", 3600))
	s := startServer(t, t.TempDir(), func(c *Config) { c.BuildTime = built })
	t.Cleanup(func() { s.Close() })
	const want = "3.8.0-paddock, built on 2022-02-25 08:49 UTC"
	for w, line := range map[string]string{
		"srvr": "Zookeeper version: " + want + "\n",
		"stat": "Zookeeper version: " + want + "\n",
		"mntr": "zk_version\t" + want + "\n",
		"envi": "zookeeper.version=" + want + "\n",
	} {
		if out := fourLetter(t, s, w); !strings.Contains(out, line) {
			t.Errorf("%s lacks %q:\n%s", w, line, out)
		}
	}
	if got := fullVersion(time.Time{}); got != "3.8.0-paddock, built on unknown" {
		t.Errorf("unknown build time: %q", got)
	}
}

func TestBuildTime(t *testing.T) {
	settings := []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.time", Value: "2024-12-29T17:54:03Z"}}
	if got, ok := vcsTime(settings); !ok || !got.Equal(time.Date(2024, 12, 29, 17, 54, 3, 0, time.UTC)) {
		t.Errorf("vcsTime = %v, %v", got, ok)
	}
	if _, ok := vcsTime([]debug.BuildSetting{{Key: "vcs.time", Value: "yesterday"}}); ok {
		t.Error("a malformed vcs.time was accepted")
	}
	if _, ok := vcsTime(nil); ok {
		t.Error("no vcs.time, yet found")
	}
	// A test binary has no vcs.time: the executable's modification time.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(exe)
	if err != nil {
		t.Fatal(err)
	}
	if got := buildTime(); !got.Equal(fi.ModTime()) {
		t.Errorf("buildTime = %v, want the test binary's mtime %v", got, fi.ModTime())
	}
}
