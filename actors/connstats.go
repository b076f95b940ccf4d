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

// write appends cons's fields after lop (which comes before est).
func (cs *connStats) write(b *strings.Builder, est time.Time, timeout int32) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	fmt.Fprintf(b, ",lop=%s,est=%d,to=%d", cs.lastOp, est.UnixMilli(), timeout)
	if cs.lastCxid >= 0 {
		fmt.Fprintf(b, ",lcxid=0x%x", cs.lastCxid)
	}
	lo, avg := cs.minLat, int64(0)
	if lo == math.MaxInt64 {
		lo = 0
	}
	if cs.cnt > 0 {
		avg = cs.totalLat / cs.cnt
	}
	fmt.Fprintf(b, ",lzxid=0x%x,lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d",
		uint64(cs.lastZxid), cs.lastResp, cs.lastLat, lo, avg, cs.maxLat)
}

// replyStats accumulates one flush's replies for connStats.record and its
// frames for serverStats.sentFrames.
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
	name, ok := lastOpNames[op]
	if !ok {
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

// lastOpNames are FinalRequestProcessor's lastOp values.
var lastOpNames = map[wire.OpCode]string{
	wire.OpPing: "PING", wire.OpCreateSession: "SESS", wire.OpMulti: "MULT", wire.OpMultiRead: "MLTR",
	wire.OpCreate: "CREA", wire.OpCreate2: "CREA", wire.OpCreateTTL: "CREA", wire.OpCreateContainer: "CREA",
	wire.OpDelete: "DELE", wire.OpDeleteContainer: "DELE", wire.OpSetData: "SETD", wire.OpReconfig: "RECO",
	wire.OpSetACL: "SETA", wire.OpCloseSession: "CLOS", wire.OpSync: "SYNC", wire.OpCheck: "CHEC",
	wire.OpExists: "EXIS", wire.OpGetData: "GETD", wire.OpSetWatches: "SETW", wire.OpSetWatches2: "SETW",
	wire.OpGetACL: "GETA", wire.OpGetChildren: "GETC", wire.OpGetChildren2: "GETC",
	wire.OpGetAllChildrenNumber: "GETACN", wire.OpCheckWatches: "CHKW", wire.OpRemoveWatches: "REMW",
	wire.OpGetEphemerals: "GETE", wire.OpAddWatch: "ADDW", wire.OpWhoAmI: "HOMI",
}
