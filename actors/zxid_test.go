package actors

import (
	"bufio"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire"
)

// Guarantee 4 starts on one session: the zxids of its replies never go
// back, or a Java client (which keeps every positive reply zxid as its
// lastZxidSeen) would present an older zxid on reconnect. Requests that
// answer with the delivery watermark taken at their start (ping, whoAmI,
// failures, watch operations) are pipelined behind writes and reads that
// answer with later zxids, while another session keeps writing.
func TestReplyZxidsNeverGoBack(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	defer s.Close()
	other := dialRaw(t, s, 0, nil)
	other.send(1, wire.OpCreate, &wire.CreateRequest{Path: "/z", ACL: wire.WorldACL})
	if h, _ := other.read(); h.Err != wire.Ok {
		t.Fatalf("create /z: %v", h.Err)
	}
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() { // another session's writes move the tree's zxid meanwhile
		for xid := int32(2); ; xid++ {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			other.send(xid, wire.OpSetData, &wire.SetDataRequest{Path: "/z", Data: []byte("x"), Version: -1})
			if _, err := wire.ReadFrame(other.nc, nil, wire.DefaultMaxPacket); err != nil {
				writerDone <- err
				return
			}
		}
	}()
	defer func() {
		close(stop)
		if err := <-writerDone; err != nil {
			t.Errorf("writer: %v", err)
		}
	}()

	c := dialRaw(t, s, 0, nil)
	rng := rand.New(rand.NewSource(1))
	const n = 4000
	var out []byte
	kinds := make([]string, n)
	for j := range n {
		h := wire.RequestHeader{Xid: int32(j + 1)}
		var body wire.Record
		switch r := rng.Intn(9); r {
		case 0:
			h.Type, body, kinds[j] = wire.OpSetData, &wire.SetDataRequest{Path: "/z", Data: []byte("y"), Version: -1}, "setData"
		case 1:
			h.Type, body, kinds[j] = wire.OpGetData, &wire.PathWatchRequest{Path: "/z"}, "getData"
		case 2:
			h.Type, kinds[j] = wire.OpPing, "ping"
		case 3:
			h.Type, kinds[j] = wire.OpWhoAmI, "whoAmI"
		case 4:
			h.Type, body, kinds[j] = wire.OpCheck, &wire.PathVersionRequest{Path: "bad", Version: -1}, "check (fails)"
		case 5:
			h.Type, body, kinds[j] = wire.OpCheckWatches, &wire.WatchesRequest{Path: "/z", Type: wire.WatcherData}, "checkWatches"
		case 6:
			h.Type, body, kinds[j] = wire.OpAddWatch, &wire.AddWatchRequest{Path: "/nowhere", Mode: wire.WatchPersistent}, "addWatch"
		case 7:
			h.Type, body, kinds[j] = wire.OpExists, &wire.PathWatchRequest{Path: "/z"}, "exists"
		default:
			h.Type, body, kinds[j] = wire.OpReconfig, &wire.ReconfigRequest{CurConfigID: -1}, "reconfig (fails)"
		}
		recs := []wire.Record{&h}
		if body != nil {
			recs = append(recs, body)
		}
		out = wire.AppendFrame(out, recs...)
	}
	_ = c.nc.SetDeadline(time.Now().Add(testTimeout))
	go func() { _, _ = c.nc.Write(out) }()
	r := bufio.NewReader(c.nc)
	var last int64
	lastKind := "the handshake"
	for j := 0; j < n; {
		frame, err := wire.ReadFrame(r, nil, wire.DefaultMaxPacket)
		if err != nil {
			t.Fatalf("reply %d: %v", j, err)
		}
		d := wire.NewDecoder(frame)
		var h wire.ReplyHeader
		h.Decode(d)
		if h.Xid == wire.XidNotification {
			continue
		}
		if h.Xid != int32(j+1) {
			t.Fatalf("reply %d: xid %d, want %d", j, h.Xid, j+1)
		}
		if h.Zxid < last {
			t.Fatalf("reply %d (%s) has zxid 0x%x, below the 0x%x of an earlier reply (%s)", j, kinds[j], h.Zxid, last, lastKind)
		}
		last, lastKind = h.Zxid, fmt.Sprintf("%d, %s", j, kinds[j])
		j++
	}
}
