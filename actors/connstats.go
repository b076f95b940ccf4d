package actors

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/paddockdb/paddock/wire"
)

// connStats is what cons prints for a session's connection after its
// packet counters, as ZooKeeper's ServerCnxn keeps it: the last reply's
// operation (lop), xid (lcxid), zxid (lzxid), time (lresp, ms since the
// epoch) and latency (llat), and the latency min/avg/max (ms) of the
// replies since the connection opened or crst. The session actor records
// one flush's replies at a time; cons and crst read and reset it.
type connStats struct {
	mu                    sync.Mutex
	lastOp                string
	lastCxid, lastZxid    int64
	lastResp              int64 // ms since the epoch, 0 before the first reply
	lastLat, minLat       int64
	maxLat, totalLat, cnt int64
}

// reset is ServerCnxn.resetStats.
func (cs *connStats) reset() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.lastOp, cs.lastCxid, cs.lastZxid, cs.lastResp = "NA", -1, -1, 0
	cs.lastLat, cs.minLat, cs.maxLat, cs.totalLat, cs.cnt = 0, math.MaxInt64, 0, 0, 0
}

// record adds the replies one flush sent.
func (cs *connStats) record(r *replyStats) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.lastOp, cs.lastCxid, cs.lastZxid = r.op, r.cxid, r.zxid
	cs.lastResp, cs.lastLat = r.at.UnixMilli(), r.lat
	cs.minLat = min(cs.minLat, r.min)
	cs.maxLat = max(cs.maxLat, r.max)
	cs.totalLat += r.sum
	cs.cnt += r.n
}

// consView is a connection's cons fields after its packet counters, read
// at once (cons prints them, the AdminServer's connections sends them).
type consView struct {
	lastOp                          string
	lastCxid, lastZxid, lastResp    int64 // lastCxid -1 after a reset
	lastLat, minLat, avgLat, maxLat int64
}

// view reads the fields as ZooKeeper's ServerCnxn reports them: min 0
// before the first reply, the average rounded down.
func (cs *connStats) view() consView {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	v := consView{lastOp: cs.lastOp, lastCxid: cs.lastCxid, lastZxid: cs.lastZxid, lastResp: cs.lastResp,
		lastLat: cs.lastLat, minLat: cs.minLat, maxLat: cs.maxLat}
	if v.minLat == math.MaxInt64 {
		v.minLat = 0
	}
	if cs.cnt > 0 {
		v.avgLat = cs.totalLat / cs.cnt
	}
	return v
}

// write appends cons's fields after lop (which comes before est).
func (cs *connStats) write(b *strings.Builder, est time.Time, timeout int32) {
	v := cs.view()
	fmt.Fprintf(b, ",lop=%s,est=%d,to=%d", v.lastOp, est.UnixMilli(), timeout)
	if v.lastCxid >= 0 {
		fmt.Fprintf(b, ",lcxid=0x%x", v.lastCxid)
	}
	fmt.Fprintf(b, ",lzxid=0x%x,lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d",
		uint64(v.lastZxid), v.lastResp, v.lastLat, v.minLat, v.avgLat, v.maxLat)
}

// replyStats accumulates one flush's replies and frames for conn.record.
type replyStats struct {
	n                 int64
	op                string
	cxid, zxid        int64
	lat, min, max     int64
	sum               int64
	at                time.Time
	frames            int64
	respBytes         int64
	watchBytes        int64
	lastSize, minSize int64
	maxSize           int64
}

// frame counts one frame of frameLen bytes (length prefix included) sent
// to the session: a reply to op, or a notification if event.
func (r *replyStats) frame(frameLen int, op wire.OpCode, event bool) {
	n := int64(frameLen - 4)
	if r.frames == 0 {
		r.minSize, r.maxSize = n, n
	}
	r.frames++
	r.lastSize, r.minSize, r.maxSize = n, min(r.minSize, n), max(r.maxSize, n)
	switch {
	case event:
		r.watchBytes += n
	case op != wire.OpPing && op != wire.OpAuth && op != wire.OpCloseSession:
		r.respBytes += n
	}
}

// add counts one reply sent at r.at for a request received at recv. Auth
// replies do not count (ZooKeeper answers auth outside its request
// pipeline).
func (r *replyStats) add(op wire.OpCode, cxid int32, zxid int64, recv time.Time) {
	name := lastOpName(op)
	if name == "" {
		return
	}
	lat := r.at.Sub(recv).Milliseconds()
	if r.n == 0 {
		r.min, r.max = lat, lat
	}
	r.n++
	r.op, r.cxid, r.zxid, r.lat = name, int64(cxid), zxid, lat
	r.min, r.max, r.sum = min(r.min, lat), max(r.max, lat), r.sum+lat
}

// record adds one flush's replies to the connection's and the server's
// figures.
func (c *conn) record(r *replyStats) {
	if r.n > 0 {
		c.cstats.record(r)
	}
	c.s.stats.recordReplies(r)
}

// lastOpName is FinalRequestProcessor's lastOp for op, "" for requests it
// does not answer.
func lastOpName(op wire.OpCode) string {
	switch op {
	case wire.OpPing:
		return "PING"
	case wire.OpCreateSession:
		return "SESS"
	case wire.OpMulti:
		return "MULT"
	case wire.OpMultiRead:
		return "MLTR"
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateTTL, wire.OpCreateContainer:
		return "CREA"
	case wire.OpDelete, wire.OpDeleteContainer:
		return "DELE"
	case wire.OpSetData:
		return "SETD"
	case wire.OpReconfig:
		return "RECO"
	case wire.OpSetACL:
		return "SETA"
	case wire.OpCloseSession:
		return "CLOS"
	case wire.OpSync:
		return "SYNC"
	case wire.OpCheck:
		return "CHEC"
	case wire.OpExists:
		return "EXIS"
	case wire.OpGetData:
		return "GETD"
	case wire.OpSetWatches, wire.OpSetWatches2:
		return "SETW"
	case wire.OpGetACL:
		return "GETA"
	case wire.OpGetChildren, wire.OpGetChildren2:
		return "GETC"
	case wire.OpGetAllChildrenNumber:
		return "GETACN"
	case wire.OpCheckWatches:
		return "CHKW"
	case wire.OpRemoveWatches:
		return "REMW"
	case wire.OpGetEphemerals:
		return "GETE"
	case wire.OpAddWatch:
		return "ADDW"
	case wire.OpWhoAmI:
		return "HOMI"
	}
	return ""
}
