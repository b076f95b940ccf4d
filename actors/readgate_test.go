package actors

import (
	"bufio"
	"fmt"
	"math/rand"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/paddockdb/paddock/wire"
)

// Guarantee 2 with a deep mixed pipeline: several sessions each send, in
// one go, a random mix of setData and reads of their own znode. Writes flow
// past reads waiting for earlier writes (readgate.go), so this checks that
// every read sees exactly the session's writes before it — never an
// earlier value, never a later one — that replies come back in request
// order, and that their zxids never go backwards.
func TestPipelinedReadsSeeExactlyEarlierWrites(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	defer s.Close()
	setup := dialRaw(t, s, 0, nil)
	setup.send(1, wire.OpCreate, &wire.CreateRequest{Path: "/rw", ACL: wire.WorldACL})
	if h, _ := setup.read(); h.Err != wire.Ok {
		t.Fatalf("create /rw: %v", h.Err)
	}
	const sessions, ops = 4, 3000
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for i := 0; i < sessions; i++ {
		c := dialRaw(t, s, 0, nil)
		path := fmt.Sprintf("/rw/s%d", i)
		c.send(1, wire.OpCreate, &wire.CreateRequest{Path: path, Data: []byte("0"), ACL: wire.WorldACL})
		if h, _ := c.read(); h.Err != wire.Ok {
			t.Fatalf("create %s: %v", path, h.Err)
		}
		rng := rand.New(rand.NewSource(int64(i) + 1))
		ops2 := make([]wire.OpCode, ops)
		var out []byte
		for j := range ops2 {
			xid := int32(j + 2)
			switch r := rng.Intn(10); {
			case r < 5:
				ops2[j] = wire.OpSetData
				out = wire.AppendFrame(out, &wire.RequestHeader{Xid: xid, Type: wire.OpSetData},
					&wire.SetDataRequest{Path: path, Data: []byte(strconv.Itoa(j)), Version: -1})
			case r < 8:
				ops2[j] = wire.OpGetData
				out = wire.AppendFrame(out, &wire.RequestHeader{Xid: xid, Type: wire.OpGetData}, &wire.PathWatchRequest{Path: path})
			default:
				ops2[j] = wire.OpExists
				out = wire.AppendFrame(out, &wire.RequestHeader{Xid: xid, Type: wire.OpExists}, &wire.PathWatchRequest{Path: path})
			}
		}
		_ = c.nc.SetDeadline(time.Now().Add(testTimeout))
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := c.nc.Write(out); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			errs <- checkPipeline(c, ops2)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func checkPipeline(c *rawClient, ops []wire.OpCode) error {
	r := bufio.NewReader(c.nc)
	last := "0"
	version := int32(0)
	var zxid int64
	var buf []byte
	for j, op := range ops {
		frame, err := wire.ReadFrame(r, buf, wire.DefaultMaxPacket)
		if err != nil {
			return fmt.Errorf("reply %d: %w", j, err)
		}
		buf = frame
		d := wire.NewDecoder(frame)
		var h wire.ReplyHeader
		h.Decode(d)
		if h.Xid != int32(j+2) || h.Err != wire.Ok {
			return fmt.Errorf("reply %d: xid %d err %v, want xid %d Ok", j, h.Xid, h.Err, j+2)
		}
		if h.Zxid < zxid {
			return fmt.Errorf("reply %d: zxid went back from %d to %d", j, zxid, h.Zxid)
		}
		zxid = h.Zxid
		switch op {
		case wire.OpSetData:
			last = strconv.Itoa(j)
			version++
		case wire.OpGetData:
			var resp wire.GetDataResponse
			resp.Decode(d)
			if string(resp.Data) != last || resp.Stat.Version != version {
				return fmt.Errorf("reply %d (getData): %q version %d, want %q version %d", j, resp.Data, resp.Stat.Version, last, version)
			}
		case wire.OpExists:
			var resp wire.StatResponse
			resp.Decode(d)
			if resp.Stat.Version != version {
				return fmt.Errorf("reply %d (exists): version %d, want %d", j, resp.Stat.Version, version)
			}
		}
	}
	return nil
}
