package actors

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/paddockdb/paddock/statemachine"
)

// Version is what the four-letter words report as the server version.
const Version = "3.8.0-paddock"

var fourLetterWords = map[string]bool{
	"ruok": true, "srvr": true, "stat": true, "conf": true, "cons": true, "crst": true, "dump": true,
	"envi": true, "mntr": true, "srst": true, "wchs": true, "wchc": true, "wchp": true, "dirs": true,
	"isro": true, "hash": true,
}

// fourLetter answers a four-letter word and closes the connection, as
// ZooKeeper's NIOServerCnxn does.
func (c *conn) fourLetter(w string) {
	s := c.s
	var out string
	if !s.white["*"] && !s.white[w] {
		out = w + " is not executed because it is not in the whitelist.\n"
	} else {
		out = s.fourLetterOutput(w)
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, _ = c.nc.Write([]byte(out))
}

func (s *Server) fourLetterOutput(w string) string {
	var b strings.Builder
	var nodes int
	var zxid int64
	var eph int
	var size int64
	var sessions []statemachine.SessionInfo
	s.replica.Read(func(t *statemachine.Tree) {
		nodes, zxid, eph, size = t.NodeCount(), t.LastZxid(), t.EphemeralCount(), t.ApproximateDataSize()
		if w == "dump" {
			sessions = t.Sessions()
		}
	})
	min := s.stats.latMin.Load()
	if s.stats.latCount.Load() == 0 {
		min = 0
	}
	avg := 0.0
	if n := s.stats.latCount.Load(); n > 0 {
		avg = float64(s.stats.latSum.Load()) / float64(n)
	}
	conns := s.connList()
	switch w {
	case "ruok":
		return "imok"
	case "isro":
		return "rw"
	case "srvr", "stat":
		fmt.Fprintf(&b, "Zookeeper version: %s, built on paddock\n", Version)
		if w == "stat" {
			b.WriteString("Clients:\n")
			for _, c := range conns {
				fmt.Fprintf(&b, " /%s[1](queued=0,recved=%d,sent=%d)\n", c.nc.RemoteAddr(), c.recv.Load(), c.sent.Load())
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "Latency min/avg/max: %d/%.4f/%d\n", min, avg, s.stats.latMax.Load())
		fmt.Fprintf(&b, "Received: %d\nSent: %d\nConnections: %d\nOutstanding: %d\n",
			s.stats.received.Load(), s.stats.sent.Load(), len(conns), s.stats.outstanding.Load())
		fmt.Fprintf(&b, "Zxid: 0x%x\nMode: standalone\nNode count: %d\n", uint64(zxid), nodes)
	case "mntr":
		kv := [][2]string{
			{"zk_version", Version + ", built on paddock"},
			{"zk_server_state", "standalone"},
			{"zk_ephemerals_count", fmt.Sprint(eph)},
			{"zk_num_alive_connections", fmt.Sprint(len(conns))},
			{"zk_avg_latency", fmt.Sprintf("%.4f", avg)},
			{"zk_outstanding_requests", fmt.Sprint(s.stats.outstanding.Load())},
			{"zk_znode_count", fmt.Sprint(nodes)},
			{"zk_global_sessions", fmt.Sprint(s.liveCount())},
			{"zk_packets_sent", fmt.Sprint(s.stats.sent.Load())},
			{"zk_packets_received", fmt.Sprint(s.stats.received.Load())},
			{"zk_watch_count", "0"},
			{"zk_min_latency", fmt.Sprint(min)},
			{"zk_max_latency", fmt.Sprint(s.stats.latMax.Load())},
			{"zk_approximate_data_size", fmt.Sprint(size)},
			{"zk_open_file_descriptor_count", fmt.Sprint(openFDs())},
			{"zk_max_file_descriptor_count", fmt.Sprint(maxFDs())},
			{"zk_uptime", fmt.Sprint(time.Since(s.started).Milliseconds())},
			{"zk_connection_rejected", fmt.Sprint(s.stats.rejected.Load())},
		}
		for _, p := range kv {
			b.WriteString(p[0] + "\t" + p[1] + "\n")
		}
	case "conf":
		fmt.Fprintf(&b, "clientPort=%d\nsecureClientPort=-1\ndataDir=%s\ndataDirSize=%d\ndataLogDir=%s\ndataLogSize=%d\n",
			s.port(), s.cfg.DataDir, dirSize(s.cfg.DataDir), s.cfg.DataLogDir, dirSize(s.cfg.DataLogDir))
		fmt.Fprintf(&b, "tickTime=%d\nmaxClientCnxns=%d\nminSessionTimeout=%d\nmaxSessionTimeout=%d\nclientPortListenBacklog=-1\nserverId=%d\n",
			s.cfg.TickTime.Milliseconds(), s.cfg.MaxClientCnxns, s.cfg.MinSessionTimeout.Milliseconds(), s.cfg.MaxSessionTimeout.Milliseconds(), s.cfg.ServerID)
	case "cons":
		for _, c := range conns {
			fmt.Fprintf(&b, " /%s[1](queued=0,recved=%d,sent=%d,sid=%s,lop=NA,est=%d,to=%d,lzxid=%s)\n",
				c.nc.RemoteAddr(), c.recv.Load(), c.sent.Load(), sid(c.sessionID.Load()), c.started.UnixMilli(), c.timeout.Load(), zx(c.lastZxid.Load()))
		}
		b.WriteString("\n")
	case "crst":
		for _, c := range conns {
			c.recv.Store(0)
			c.sent.Store(0)
		}
		return "Connection stats reset.\n"
	case "srst":
		s.stats.reset()
		return "Server stats reset.\n"
	case "envi":
		host, _ := os.Hostname()
		wd, _ := os.Getwd()
		fmt.Fprintf(&b, "Environment:\nzookeeper.version=%s, built on paddock\nhost.name=%s\ngo.version=%s\nos.name=%s\nos.arch=%s\nuser.dir=%s\n",
			Version, host, runtime.Version(), runtime.GOOS, runtime.GOARCH, wd)
	case "dirs":
		fmt.Fprintf(&b, "datadir_size: %d\nlogdir_size: %d\n", dirSize(s.cfg.DataDir), dirSize(s.cfg.DataLogDir))
	case "dump":
		b.WriteString("SessionTracker dump:\n")
		fmt.Fprintf(&b, "Session Sets (%d):\n", len(sessions))
		sort.Slice(sessions, func(i, j int) bool { return sessions[i].ID < sessions[j].ID })
		for _, si := range sessions {
			fmt.Fprintf(&b, "\t%s\n", sid(si.ID))
		}
		b.WriteString("ephemeral nodes dump:\n")
		fmt.Fprintf(&b, "Sessions with Ephemerals (%d):\n", eph)
		s.replica.Read(func(t *statemachine.Tree) {
			for _, si := range sessions {
				if eps := t.Ephemerals(si.ID, "/"); len(eps) > 0 {
					fmt.Fprintf(&b, "%s:\n", sid(si.ID))
					for _, p := range eps {
						fmt.Fprintf(&b, "\t%s\n", p)
					}
				}
			}
		})
	case "wchs":
		fmt.Fprintf(&b, "%d connections watching %d paths\nTotal watches:%d\n", 0, 0, 0)
	case "wchc", "wchp":
		b.WriteString("\n")
	case "hash":
		b.WriteString("\n")
	}
	return b.String()
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

func dirSize(dir string) int64 {
	var n int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && !e.IsDir() {
			n += info.Size()
		}
	}
	return n
}

func openFDs() int {
	e, _ := os.ReadDir("/proc/self/fd")
	return len(e)
}

func maxFDs() uint64 {
	var b []byte
	b, _ = os.ReadFile("/proc/self/limits")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Max open files") {
			var soft uint64
			f := strings.Fields(strings.TrimPrefix(l, "Max open files"))
			if len(f) > 0 {
				fmt.Sscanf(f[0], "%d", &soft)
			}
			return soft
		}
	}
	return 0
}
