package wire_test

// Golden frames captured from real Apache ZooKeeper traffic (see
// capture_test.go). Each testdata/golden/<name>.hex file holds one
// conversation fragment, one frame per line:
//
//	# comment
//	<dir> <kind> <hex of the frame, 4-byte length included>
//
// dir is c (client to server) or s (server to client); kind is connect
// (ConnectRequest / ConnectResponse), request (RequestHeader + body chosen
// by RequestBody) or reply (ReplyHeader + the body ResponseBody gives for
// the request with the same xid earlier in the file; a notification,
// xid -1, carries a WatcherEvent; an error reply carries no body).

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/paddockdb/paddock/wire"
)

// requiredGolden are the files the capture must produce and TestGolden
// checks field by field.
var requiredGolden = []string{
	"handshake", "handshake_noreadonly", "create", "create2", "create_nodeexists",
	"getData", "getData_watch", "setData", "setData_firewatch", "exists_nonode",
	"getChildren2", "delete", "multi", "multi_failed", "notification", "ping",
	"closeSession", "closeSession_noreadonly",
}

// goldenFrame is one line of a golden file.
type goldenFrame struct {
	file   string
	line   int
	client bool   // sent by the client
	kind   string // connect, request or reply
	raw    []byte // the whole frame, length included
}

// decodedFrame is a golden frame decoded into its records.
type decodedFrame struct {
	goldenFrame
	records []wire.Record // header first, then the body (if any)
	op      wire.OpCode   // the request's opcode (for replies: of the matching request)
}

func readGoldenFile(path string) ([]goldenFrame, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []goldenFrame
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	n := 0
	for sc.Scan() {
		n++
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		fields := strings.Fields(l)
		if len(fields) != 3 || (fields[0] != "c" && fields[0] != "s") {
			return nil, fmt.Errorf("%s:%d: want `<c|s> <kind> <hex>`", path, n)
		}
		raw, err := hex.DecodeString(fields[2])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		out = append(out, goldenFrame{file: filepath.Base(path), line: n, client: fields[0] == "c", kind: fields[1], raw: raw})
	}
	return out, sc.Err()
}

// loadGolden reads every golden file, keyed by name without ".hex".
func loadGolden(t testing.TB) map[string][]goldenFrame {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "golden", "*.hex"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no golden files in testdata/golden (regenerate with -capture)")
	}
	out := map[string][]goldenFrame{}
	for _, p := range paths {
		frames, err := readGoldenFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".hex")] = frames
	}
	return out
}

// decodeGolden decodes a file's frames in order, pairing replies with
// requests by xid, and checks that every frame is consumed exactly.
func decodeGolden(frames []goldenFrame) ([]decodedFrame, error) {
	pending := map[int32]wire.OpCode{}
	var out []decodedFrame
	for _, f := range frames {
		where := fmt.Sprintf("%s:%d", f.file, f.line)
		body, err := wire.ReadFrame(bytes.NewReader(f.raw), nil, wire.DefaultMaxPacket)
		if err != nil {
			return nil, fmt.Errorf("%s: ReadFrame: %w", where, err)
		}
		if len(body)+4 != len(f.raw) {
			return nil, fmt.Errorf("%s: frame length %d but line holds %d bytes", where, len(body), len(f.raw)-4)
		}
		d := wire.NewDecoder(body)
		df := decodedFrame{goldenFrame: f}
		decode := func(r wire.Record) {
			r.Decode(d)
			df.records = append(df.records, r)
		}
		switch {
		case f.kind == "connect" && f.client:
			decode(&wire.ConnectRequest{})
		case f.kind == "connect":
			decode(&wire.ConnectResponse{})
		case f.kind == "request" && f.client:
			var h wire.RequestHeader
			decode(&h)
			df.op = h.Type
			b := wire.RequestBody(h.Type)
			if b == nil {
				return nil, fmt.Errorf("%s: RequestBody(%s) is nil", where, h.Type)
			}
			decode(b)
			pending[h.Xid] = h.Type
		case f.kind == "reply" && !f.client:
			var h wire.ReplyHeader
			decode(&h)
			switch {
			case h.Xid == wire.XidNotification:
				df.op = wire.OpNotification
				decode(&wire.WatcherEvent{})
			default:
				op, ok := pending[h.Xid]
				if !ok {
					return nil, fmt.Errorf("%s: reply xid %d has no request before it", where, h.Xid)
				}
				delete(pending, h.Xid)
				df.op = op
				if h.Err == wire.Ok {
					b := wire.ResponseBody(op)
					if b == nil {
						return nil, fmt.Errorf("%s: ResponseBody(%s) is nil", where, op)
					}
					decode(b)
				}
			}
		default:
			return nil, fmt.Errorf("%s: unknown kind %q for this direction", where, f.kind)
		}
		if d.Err() != nil {
			return nil, fmt.Errorf("%s: decode: %w", where, d.Err())
		}
		if d.Remaining() != 0 {
			return nil, fmt.Errorf("%s: %d bytes left after decoding", where, d.Remaining())
		}
		if again := wire.AppendFrame(nil, df.records...); !bytes.Equal(again, f.raw) {
			return nil, fmt.Errorf("%s: re-encoding differs:\n got %x\nwant %x", where, again, f.raw)
		}
		out = append(out, df)
	}
	return out, nil
}

func TestGolden(t *testing.T) {
	all := loadGolden(t)
	for _, name := range requiredGolden {
		if _, ok := all[name]; !ok {
			t.Errorf("golden file %s.hex is missing", name)
		}
	}
	for name, frames := range all {
		t.Run(name, func(t *testing.T) {
			dec, err := decodeGolden(frames)
			if err != nil {
				t.Fatal(err)
			}
			check, ok := goldenChecks[name]
			if !ok {
				t.Fatalf("no field checks for %s.hex: add them to goldenChecks", name)
			}
			check(&goldenT{T: t, frames: dec})
		})
	}
}

// goldenT finds frames of a decoded golden file for the field checks.
type goldenT struct {
	*testing.T
	frames []decodedFrame
}

// frame returns the i-th frame, which must come from the client (or not)
// and hold n records.
func (g *goldenT) frame(i int, client bool) decodedFrame {
	g.Helper()
	if i >= len(g.frames) {
		g.Fatalf("want frame %d, file has %d", i, len(g.frames))
	}
	f := g.frames[i]
	if f.client != client {
		g.Fatalf("frame %d: client=%v, want %v", i, f.client, client)
	}
	return f
}

func (g *goldenT) count(n int) {
	g.Helper()
	if len(g.frames) != n {
		g.Fatalf("file has %d frames, want %d", len(g.frames), n)
	}
}

// request checks frame i is a request with this xid and opcode and
// returns its body.
func (g *goldenT) request(i int, xid int32, op wire.OpCode) wire.Record {
	g.Helper()
	f := g.frame(i, true)
	h := f.records[0].(*wire.RequestHeader)
	if h.Xid != xid || h.Type != op {
		g.Fatalf("request header = %+v, want xid %d op %s", *h, xid, op)
	}
	return f.records[1]
}

// reply checks frame i is a reply with this xid and code and returns its
// body (nil for an error reply).
func (g *goldenT) reply(i int, xid int32, code wire.Code) wire.Record {
	g.Helper()
	f := g.frame(i, false)
	h := f.records[0].(*wire.ReplyHeader)
	if h.Xid != xid || h.Err != code {
		g.Fatalf("reply header = %+v, want xid %d err %v", *h, xid, code)
	}
	if xid >= 0 && h.Zxid <= 0 {
		g.Errorf("reply zxid = %d, want > 0", h.Zxid)
	}
	if len(f.records) < 2 {
		return nil
	}
	return f.records[1]
}

func (g *goldenT) eq(what string, got, want any) {
	g.Helper()
	if !reflect.DeepEqual(got, want) {
		g.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

var goldenChecks = map[string]func(g *goldenT){
	"handshake": func(g *goldenT) {
		g.count(2)
		req := g.frame(0, true).records[0].(*wire.ConnectRequest)
		g.eq("request", *req, wire.ConnectRequest{TimeOut: 1000, Passwd: make([]byte, 16), HasReadOnly: true})
		resp := g.frame(1, false).records[0].(*wire.ConnectResponse)
		g.eq("timeout", resp.TimeOut, int32(1000))
		g.eq("has readOnly", resp.HasReadOnly, true)
		g.eq("readOnly", resp.ReadOnly, false)
		g.eq("password length", len(resp.Passwd), wire.PasswordLen)
		if resp.SessionID == 0 {
			g.Error("session id is 0")
		}
	},
	"handshake_noreadonly": func(g *goldenT) {
		g.count(2)
		req := g.frame(0, true).records[0].(*wire.ConnectRequest)
		g.eq("request", *req, wire.ConnectRequest{TimeOut: 1000, Passwd: make([]byte, 16)})
		resp := g.frame(1, false).records[0].(*wire.ConnectResponse)
		g.eq("has readOnly", resp.HasReadOnly, false) // ZooKeeper answers in kind
		g.eq("password length", len(resp.Passwd), wire.PasswordLen)
	},
	"create": func(g *goldenT) {
		g.count(2)
		req := g.request(0, 1, wire.OpCreate).(*wire.CreateRequest)
		g.eq("request", *req, wire.CreateRequest{Path: "/golden", Data: []byte("hello"), ACL: wire.WorldACL, Flags: wire.ModePersistent})
		g.eq("reply", g.reply(1, 1, wire.Ok), &wire.CreateResponse{Path: "/golden"})
	},
	"create_nodeexists": func(g *goldenT) {
		g.count(2)
		req := g.request(0, 2, wire.OpCreate).(*wire.CreateRequest)
		g.eq("path", req.Path, "/golden")
		g.eq("reply body", g.reply(1, 2, wire.ErrNodeExists), nil)
	},
	"create2": func(g *goldenT) {
		g.count(2)
		req := g.request(0, 3, wire.OpCreate2).(*wire.CreateRequest)
		g.eq("path", req.Path, "/golden/c2")
		resp := g.reply(1, 3, wire.Ok).(*wire.Create2Response)
		g.eq("path", resp.Path, "/golden/c2")
		g.eq("data length", resp.Stat.DataLength, int32(3))
		g.eq("czxid = mzxid", resp.Stat.Czxid, resp.Stat.Mzxid)
	},
	"getData": func(g *goldenT) {
		g.count(2)
		g.eq("request", g.request(0, 4, wire.OpGetData), &wire.GetDataRequest{Path: "/golden"})
		resp := g.reply(1, 4, wire.Ok).(*wire.GetDataResponse)
		g.eq("data", string(resp.Data), "hello")
		g.eq("children", resp.Stat.NumChildren, int32(1))
	},
	"setData": func(g *goldenT) {
		g.count(2)
		g.eq("request", g.request(0, 5, wire.OpSetData), &wire.SetDataRequest{Path: "/golden", Data: []byte("world"), Version: 0})
		g.eq("version", g.reply(1, 5, wire.Ok).(*wire.SetDataResponse).Stat.Version, int32(1))
	},
	"exists_nonode": func(g *goldenT) {
		g.count(2)
		g.eq("request", g.request(0, 6, wire.OpExists), &wire.ExistsRequest{Path: "/golden/missing"})
		g.eq("reply body", g.reply(1, 6, wire.ErrNoNode), nil)
	},
	"getChildren2": func(g *goldenT) {
		g.count(2)
		g.eq("request", g.request(0, 7, wire.OpGetChildren2), &wire.GetChildren2Request{Path: "/golden"})
		resp := g.reply(1, 7, wire.Ok).(*wire.Children2Response)
		g.eq("children", resp.Children, []string{"c2"})
		g.eq("numChildren", resp.Stat.NumChildren, int32(1))
	},
	"getData_watch": func(g *goldenT) {
		g.count(2)
		g.eq("request", g.request(0, 8, wire.OpGetData), &wire.GetDataRequest{Path: "/golden/c2", Watch: true})
		g.eq("data", string(g.reply(1, 8, wire.Ok).(*wire.GetDataResponse).Data), "two")
	},
	"setData_firewatch": func(g *goldenT) {
		g.count(2)
		g.eq("request", g.request(0, 9, wire.OpSetData), &wire.SetDataRequest{Path: "/golden/c2", Data: []byte("changed"), Version: -1})
		g.eq("data length", g.reply(1, 9, wire.Ok).(*wire.SetDataResponse).Stat.DataLength, int32(7))
	},
	"notification": func(g *goldenT) {
		g.count(1)
		f := g.frame(0, false)
		g.eq("header", *f.records[0].(*wire.ReplyHeader), wire.ReplyHeader{Xid: wire.XidNotification, Zxid: -1})
		g.eq("event", f.records[1], &wire.WatcherEvent{Type: wire.EventNodeDataChanged, State: wire.StateSyncConnected, Path: "/golden/c2"})
	},
	"delete": func(g *goldenT) {
		g.count(2)
		g.eq("request", g.request(0, 10, wire.OpDelete), &wire.DeleteRequest{Path: "/golden/c2", Version: -1})
		g.eq("reply", g.reply(1, 10, wire.Ok), wire.Empty{})
	},
	"multi": func(g *goldenT) {
		g.count(2)
		req := g.request(0, 11, wire.OpMulti).(*wire.MultiRequest)
		g.eq("ops", req.Ops, []wire.MultiOp{
			{Type: wire.OpCreate, Body: &wire.CreateRequest{Path: "/golden/m1", Data: []byte("m"), ACL: wire.WorldACL}},
			{Type: wire.OpSetData, Body: &wire.SetDataRequest{Path: "/golden/m1", Data: []byte("mm"), Version: -1}},
			{Type: wire.OpCheck, Body: &wire.CheckVersionRequest{Path: "/golden/m1", Version: 1}},
			{Type: wire.OpDelete, Body: &wire.DeleteRequest{Path: "/golden/m1", Version: -1}},
		})
		resp := g.reply(1, 11, wire.Ok).(*wire.MultiResponse)
		var types []wire.OpCode
		for _, r := range resp.Results {
			types = append(types, r.Type)
		}
		g.eq("result types", types, []wire.OpCode{wire.OpCreate, wire.OpSetData, wire.OpCheck, wire.OpDelete})
		g.eq("created path", resp.Results[0].Path, "/golden/m1")
		g.eq("setData version", resp.Results[1].Stat.Version, int32(1))
	},
	"multi_failed": func(g *goldenT) {
		g.count(2)
		req := g.request(0, 12, wire.OpMulti).(*wire.MultiRequest)
		g.eq("op count", len(req.Ops), 2)
		// ZooKeeper answers a failed multi with reply err 0 and one error
		// result per op: Ok for those before the failure.
		g.eq("results", g.reply(1, 12, wire.Ok), &wire.MultiResponse{Results: []wire.MultiResult{
			{Type: wire.OpError, Err: wire.Ok},
			{Type: wire.OpError, Err: wire.ErrBadVersion},
		}})
	},
	"ping": func(g *goldenT) {
		g.count(2)
		g.eq("request", g.request(0, wire.XidPing, wire.OpPing), wire.Empty{})
		g.eq("reply", g.reply(1, wire.XidPing, wire.Ok), wire.Empty{})
	},
	"closeSession": func(g *goldenT) {
		g.count(2)
		g.eq("request", g.request(0, 13, wire.OpCloseSession), wire.Empty{})
		g.eq("reply", g.reply(1, 13, wire.Ok), wire.Empty{})
	},
	"closeSession_noreadonly": func(g *goldenT) {
		g.count(2)
		g.eq("request", g.request(0, 1, wire.OpCloseSession), wire.Empty{})
		g.eq("reply", g.reply(1, 1, wire.Ok), wire.Empty{})
	},
}
