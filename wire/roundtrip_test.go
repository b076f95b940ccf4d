package wire_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/paddockdb/paddock/wire"
)

var testStat = wire.Stat{
	Czxid: 0x100000001, Mzxid: -2, Ctime: 1700000000123, Mtime: -1700000000123,
	Version: 7, Cversion: -3, Aversion: 2, EphemeralOwner: 0x7fffffffffffffff,
	DataLength: 11, NumChildren: -5, Pzxid: -0x8000000000000000,
}

var testACL = []wire.ACL{
	{Perms: wire.PermAll, ID: wire.ID{Scheme: "world", ID: "anyone"}},
	{Perms: wire.PermRead | wire.PermAdmin, ID: wire.ID{Scheme: "digest", ID: "u:hash="}},
	{Perms: -1, ID: wire.ID{}},
}

// roundTrip marshals r, unmarshals into fresh (a new record of the same
// shape) and requires the two to be equal and the encoding fully consumed.
func roundTrip(t *testing.T, name string, r, fresh wire.Record) {
	t.Helper()
	b := wire.Marshal(r)
	d := wire.NewDecoder(b)
	fresh.Decode(d)
	if d.Err() != nil {
		t.Errorf("%s: decode: %v (bytes %x)", name, d.Err(), b)
		return
	}
	if d.Remaining() != 0 {
		t.Errorf("%s: %d bytes left after decode", name, d.Remaining())
	}
	if !reflect.DeepEqual(r, fresh) {
		t.Errorf("%s: round trip changed the record:\n got %#v\nwant %#v", name, fresh, r)
	}
	if again := wire.Marshal(fresh); string(again) != string(b) {
		t.Errorf("%s: re-encoding differs: %x vs %x", name, again, b)
	}
}

// recordCases holds populated values of every record type, in several
// variants (nil versus empty buffers and vectors, negative values). Each
// fresh func returns an empty record of the same shape.
type recordCase struct {
	name  string
	rec   wire.Record
	fresh func() wire.Record
}

func recordCases() []recordCase {
	var cs []recordCase
	add := func(name string, rec wire.Record, fresh func() wire.Record) {
		cs = append(cs, recordCase{name, rec, fresh})
	}
	add("Stat", &testStat, func() wire.Record { return &wire.Stat{} })
	add("Stat/zero", &wire.Stat{}, func() wire.Record { return &wire.Stat{} })
	add("ID", &wire.ID{Scheme: "ip", ID: "10.0.0.1/8"}, func() wire.Record { return &wire.ID{} })
	add("ACL", &testACL[1], func() wire.Record { return &wire.ACL{} })
	for _, ro := range []bool{false, true} {
		for _, has := range []bool{false, true} {
			if ro && !has {
				continue
			}
			sfx := fmt.Sprintf("/hasRO=%v,ro=%v", has, ro)
			add("ConnectRequest"+sfx, &wire.ConnectRequest{ProtocolVersion: 0, LastZxidSeen: -1, TimeOut: 30000, SessionID: -0x1234, Passwd: []byte("0123456789abcdef"), ReadOnly: ro, HasReadOnly: has},
				func() wire.Record { return &wire.ConnectRequest{} })
			add("ConnectResponse"+sfx, &wire.ConnectResponse{ProtocolVersion: 0, TimeOut: 4000, SessionID: 0x100, Passwd: []byte{}, ReadOnly: ro, HasReadOnly: has},
				func() wire.Record { return &wire.ConnectResponse{} })
		}
	}
	add("ConnectRequest/nilPasswd", &wire.ConnectRequest{TimeOut: -1}, func() wire.Record { return &wire.ConnectRequest{} })
	add("ConnectResponse/expired", &wire.ConnectResponse{}, func() wire.Record { return &wire.ConnectResponse{} })
	add("RequestHeader", &wire.RequestHeader{Xid: -8, Type: wire.OpSetWatches}, func() wire.Record { return &wire.RequestHeader{} })
	add("RequestHeader/unknownOp", &wire.RequestHeader{Xid: 7, Type: 9999}, func() wire.Record { return &wire.RequestHeader{} })
	add("ReplyHeader", &wire.ReplyHeader{Xid: -1, Zxid: -1, Err: wire.ErrSessionMoved}, func() wire.Record { return &wire.ReplyHeader{} })
	add("PathRequest", &wire.PathRequest{Path: "/a/b"}, func() wire.Record { return &wire.PathRequest{} })
	add("PathRequest/empty", &wire.PathRequest{}, func() wire.Record { return &wire.PathRequest{} })
	add("PathRequest/utf8", &wire.PathRequest{Path: "/é/日本\x00"}, func() wire.Record { return &wire.PathRequest{} })
	add("PathWatchRequest", &wire.PathWatchRequest{Path: "/w", Watch: true}, func() wire.Record { return &wire.PathWatchRequest{} })
	add("CreateRequest", &wire.CreateRequest{Path: "/c", Data: []byte("d"), ACL: testACL, Flags: wire.ModeEphemeralSequential}, func() wire.Record { return &wire.CreateRequest{} })
	add("CreateRequest/nil", &wire.CreateRequest{Path: "/c", Flags: -1}, func() wire.Record { return &wire.CreateRequest{} })
	add("CreateRequest/empty", &wire.CreateRequest{Path: "/c", Data: []byte{}, ACL: []wire.ACL{}, Flags: wire.ModeContainer}, func() wire.Record { return &wire.CreateRequest{} })
	add("CreateRequest/ttl", &wire.CreateRequest{Path: "/t", Data: []byte{0}, ACL: wire.WorldACL, Flags: wire.ModePersistentWithTTL, TTL: -5, HasTTL: true}, func() wire.Record { return &wire.CreateRequest{HasTTL: true} })
	add("Create2Response", &wire.Create2Response{Path: "/c0000000001", Stat: testStat}, func() wire.Record { return &wire.Create2Response{} })
	add("PathVersionRequest", &wire.PathVersionRequest{Path: "/d", Version: -1}, func() wire.Record { return &wire.PathVersionRequest{} })
	add("StatResponse", &wire.StatResponse{Stat: testStat}, func() wire.Record { return &wire.StatResponse{} })
	add("GetDataResponse", &wire.GetDataResponse{Data: []byte{0, 1, 2, 255}, Stat: testStat}, func() wire.Record { return &wire.GetDataResponse{} })
	add("GetDataResponse/nil", &wire.GetDataResponse{Stat: testStat}, func() wire.Record { return &wire.GetDataResponse{} })
	add("GetDataResponse/empty", &wire.GetDataResponse{Data: []byte{}}, func() wire.Record { return &wire.GetDataResponse{} })
	add("SetDataRequest", &wire.SetDataRequest{Path: "/s", Data: []byte("v"), Version: -1}, func() wire.Record { return &wire.SetDataRequest{} })
	add("SetDataRequest/nil", &wire.SetDataRequest{Path: "/s", Version: 3}, func() wire.Record { return &wire.SetDataRequest{} })
	add("GetACLResponse", &wire.GetACLResponse{ACL: testACL, Stat: testStat}, func() wire.Record { return &wire.GetACLResponse{} })
	add("GetACLResponse/nil", &wire.GetACLResponse{}, func() wire.Record { return &wire.GetACLResponse{} })
	add("GetACLResponse/empty", &wire.GetACLResponse{ACL: []wire.ACL{}}, func() wire.Record { return &wire.GetACLResponse{} })
	add("SetACLRequest", &wire.SetACLRequest{Path: "/a", ACL: testACL, Version: -1}, func() wire.Record { return &wire.SetACLRequest{} })
	add("ChildrenResponse", &wire.ChildrenResponse{Children: []string{"a", "", "c"}}, func() wire.Record { return &wire.ChildrenResponse{} })
	add("ChildrenResponse/nil", &wire.ChildrenResponse{}, func() wire.Record { return &wire.ChildrenResponse{} })
	add("ChildrenResponse/empty", &wire.ChildrenResponse{Children: []string{}}, func() wire.Record { return &wire.ChildrenResponse{} })
	add("Children2Response", &wire.Children2Response{Children: []string{"x"}, Stat: testStat}, func() wire.Record { return &wire.Children2Response{} })
	add("CountResponse", &wire.CountResponse{Count: -7}, func() wire.Record { return &wire.CountResponse{} })
	add("WatchesRequest", &wire.WatchesRequest{Path: "/w", Type: wire.WatcherRecursive}, func() wire.Record { return &wire.WatchesRequest{} })
	add("AddWatchRequest", &wire.AddWatchRequest{Path: "/w", Mode: wire.WatchPersistentRecursive}, func() wire.Record { return &wire.AddWatchRequest{} })
	add("SetWatchesRequest", &wire.SetWatchesRequest{RelativeZxid: -1, DataWatches: []string{"/a"}, ExistWatches: []string{}, ChildWatches: nil}, func() wire.Record { return &wire.SetWatchesRequest{} })
	add("SetWatchesRequest/v2", &wire.SetWatchesRequest{RelativeZxid: 9, DataWatches: []string{"/a", "/b"}, ExistWatches: nil, ChildWatches: []string{"/"}, PersistentWatches: []string{}, PersistentRecursive: []string{"/r"}, V2: true}, func() wire.Record { return &wire.SetWatchesRequest{V2: true} })
	add("WatcherEvent", &wire.WatcherEvent{Type: wire.EventNone, State: wire.StateExpired, Path: ""}, func() wire.Record { return &wire.WatcherEvent{} })
	add("WatcherEvent/created", &wire.WatcherEvent{Type: wire.EventNodeCreated, State: wire.StateSyncConnected, Path: "/n"}, func() wire.Record { return &wire.WatcherEvent{} })
	add("AuthPacket", &wire.AuthPacket{Type: 0, Scheme: "digest", Auth: []byte("user:pw")}, func() wire.Record { return &wire.AuthPacket{} })
	add("AuthPacket/nil", &wire.AuthPacket{Type: -1, Scheme: "x"}, func() wire.Record { return &wire.AuthPacket{} })
	add("WhoAmIResponse", &wire.WhoAmIResponse{ClientInfo: []wire.ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}, {}}}, func() wire.Record { return &wire.WhoAmIResponse{} })
	add("WhoAmIResponse/nil", &wire.WhoAmIResponse{}, func() wire.Record { return &wire.WhoAmIResponse{} })
	add("WhoAmIResponse/empty", &wire.WhoAmIResponse{ClientInfo: []wire.ClientInfo{}}, func() wire.Record { return &wire.WhoAmIResponse{} })
	add("ReconfigRequest", &wire.ReconfigRequest{JoiningServers: "server.4=h:1:2;3", LeavingServers: "2", NewMembers: "", CurConfigID: -1}, func() wire.Record { return &wire.ReconfigRequest{} })
	add("SASLPacket", &wire.SASLPacket{Token: []byte{9, 9}}, func() wire.Record { return &wire.SASLPacket{} })
	add("SASLPacket/nil", &wire.SASLPacket{}, func() wire.Record { return &wire.SASLPacket{} })
	add("ErrorResponse", &wire.ErrorResponse{Err: wire.ErrNotEmpty}, func() wire.Record { return &wire.ErrorResponse{} })
	add("MultiHeader", &wire.MultiHeader{Type: wire.OpError, Done: true, Err: wire.ErrBadVersion}, func() wire.Record { return &wire.MultiHeader{} })
	add("Empty", wire.Empty{}, func() wire.Record { return wire.Empty{} })
	add("MultiRequest", allMultiOps(), func() wire.Record { return &wire.MultiRequest{} })
	add("MultiRequest/read", &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpGetData, Body: &wire.PathWatchRequest{Path: "/a"}},
		{Type: wire.OpGetChildren, Body: &wire.PathWatchRequest{Path: "/b", Watch: true}},
	}}, func() wire.Record { return &wire.MultiRequest{} })
	add("MultiRequest/none", &wire.MultiRequest{}, func() wire.Record { return &wire.MultiRequest{} })
	add("MultiResponse", allMultiResults(), func() wire.Record { return &wire.MultiResponse{} })
	add("MultiResponse/none", &wire.MultiResponse{}, func() wire.Record { return &wire.MultiResponse{} })
	return cs
}

// allMultiOps has one op of every type a multi may carry.
func allMultiOps() *wire.MultiRequest {
	return &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpCreate, Body: &wire.CreateRequest{Path: "/m", Data: []byte("x"), ACL: testACL, Flags: wire.ModeEphemeral}},
		{Type: wire.OpCreate2, Body: &wire.CreateRequest{Path: "/m2", ACL: wire.WorldACL}},
		{Type: wire.OpCreateContainer, Body: &wire.CreateRequest{Path: "/mc", Data: []byte{}, ACL: wire.WorldACL, Flags: wire.ModeContainer}},
		{Type: wire.OpCreateTTL, Body: &wire.CreateRequest{Path: "/mt", ACL: wire.WorldACL, Flags: wire.ModePersistentSequentialWithTTL, TTL: 60000, HasTTL: true}},
		{Type: wire.OpDelete, Body: &wire.PathVersionRequest{Path: "/m", Version: -1}},
		{Type: wire.OpCheck, Body: &wire.PathVersionRequest{Path: "/m", Version: 4}},
		{Type: wire.OpSetData, Body: &wire.SetDataRequest{Path: "/m", Data: nil, Version: -1}},
		{Type: wire.OpGetData, Body: &wire.PathWatchRequest{Path: "/g"}},
		{Type: wire.OpGetChildren, Body: &wire.PathWatchRequest{Path: "/g", Watch: true}},
	}}
}

// allMultiResults has one result of every type a multi response carries.
func allMultiResults() *wire.MultiResponse {
	return &wire.MultiResponse{Results: []wire.MultiResult{
		{Type: wire.OpCreate, Path: "/m"},
		{Type: wire.OpCreate2, Path: "/m2", Stat: testStat},
		{Type: wire.OpDelete},
		{Type: wire.OpCheck},
		{Type: wire.OpSetData, Stat: testStat},
		{Type: wire.OpGetData, Data: []byte("data"), Stat: testStat},
		{Type: wire.OpGetData, Stat: testStat},
		{Type: wire.OpGetChildren, Children: []string{"a", "b"}},
		{Type: wire.OpGetChildren, Children: []string{}},
		{Type: wire.OpGetChildren},
		{Type: wire.OpError, Err: wire.Ok},
		{Type: wire.OpError, Err: wire.ErrNodeExists},
		{Type: wire.OpError, Err: wire.ErrRuntimeInconsistency},
	}}
}

func TestRoundTripRecords(t *testing.T) {
	for _, c := range recordCases() {
		roundTrip(t, c.name, c.rec, c.fresh())
	}
}

// opSamples gives populated request and response bodies for an opcode,
// shaped as RequestBody(op) and ResponseBody(op) are.
func opSamples(op wire.OpCode) (req, resp wire.Record) {
	switch op {
	case wire.OpCreate:
		return &wire.CreateRequest{Path: "/c", Data: []byte("v"), ACL: testACL, Flags: wire.ModePersistentSequential}, &wire.CreateResponse{Path: "/c0000000000"}
	case wire.OpCreate2:
		return &wire.CreateRequest{Path: "/c", ACL: wire.WorldACL, Flags: wire.ModeEphemeral}, &wire.Create2Response{Path: "/c", Stat: testStat}
	case wire.OpCreateContainer:
		return &wire.CreateRequest{Path: "/c", Data: []byte{}, ACL: wire.WorldACL, Flags: wire.ModeContainer}, &wire.Create2Response{Path: "/c", Stat: testStat}
	case wire.OpCreateTTL:
		return &wire.CreateRequest{Path: "/t", ACL: wire.WorldACL, Flags: wire.ModePersistentWithTTL, TTL: 1000, HasTTL: true}, &wire.Create2Response{Path: "/t", Stat: testStat}
	case wire.OpDelete, wire.OpCheck:
		return &wire.PathVersionRequest{Path: "/d", Version: -1}, wire.Empty{}
	case wire.OpExists:
		return &wire.PathWatchRequest{Path: "/e", Watch: true}, &wire.StatResponse{Stat: testStat}
	case wire.OpGetData:
		return &wire.PathWatchRequest{Path: "/g", Watch: true}, &wire.GetDataResponse{Data: []byte("x"), Stat: testStat}
	case wire.OpSetData:
		return &wire.SetDataRequest{Path: "/s", Data: []byte("y"), Version: 2}, &wire.StatResponse{Stat: testStat}
	case wire.OpGetACL:
		return &wire.PathRequest{Path: "/a"}, &wire.GetACLResponse{ACL: testACL, Stat: testStat}
	case wire.OpSetACL:
		return &wire.SetACLRequest{Path: "/a", ACL: testACL, Version: -1}, &wire.StatResponse{Stat: testStat}
	case wire.OpGetChildren:
		return &wire.PathWatchRequest{Path: "/p"}, &wire.ChildrenResponse{Children: []string{"a", "b"}}
	case wire.OpGetChildren2:
		return &wire.PathWatchRequest{Path: "/p", Watch: true}, &wire.Children2Response{Children: []string{}, Stat: testStat}
	case wire.OpSync:
		return &wire.PathRequest{Path: "/s"}, &wire.SyncResponse{Path: "/s"}
	case wire.OpPing, wire.OpCloseSession:
		return wire.Empty{}, wire.Empty{}
	case wire.OpMulti:
		return allMultiOps(), allMultiResults()
	case wire.OpMultiRead:
		return &wire.MultiRequest{Ops: []wire.MultiOp{{Type: wire.OpGetData, Body: &wire.PathWatchRequest{Path: "/r"}}}},
			&wire.MultiResponse{Results: []wire.MultiResult{{Type: wire.OpGetData, Data: []byte("r"), Stat: testStat}, {Type: wire.OpError, Err: wire.ErrNoNode}}}
	case wire.OpReconfig:
		return &wire.ReconfigRequest{JoiningServers: "j", LeavingServers: "l", NewMembers: "n", CurConfigID: 5}, &wire.GetDataResponse{Data: []byte("server.1=..."), Stat: testStat}
	case wire.OpCheckWatches, wire.OpRemoveWatches:
		return &wire.WatchesRequest{Path: "/w", Type: wire.WatcherAny}, wire.Empty{}
	case wire.OpDeleteContainer:
		return &wire.PathRequest{Path: "/dc"}, wire.Empty{}
	case wire.OpAuth:
		return &wire.AuthPacket{Scheme: "digest", Auth: []byte("u:p")}, wire.Empty{}
	case wire.OpSetWatches:
		return &wire.SetWatchesRequest{RelativeZxid: 3, DataWatches: []string{"/d"}, ExistWatches: []string{"/e"}, ChildWatches: []string{"/c"}}, wire.Empty{}
	case wire.OpSetWatches2:
		return &wire.SetWatchesRequest{RelativeZxid: 3, DataWatches: []string{"/d"}, ExistWatches: []string{}, ChildWatches: nil, PersistentWatches: []string{"/p"}, PersistentRecursive: []string{"/r"}, V2: true}, wire.Empty{}
	case wire.OpSASL:
		return &wire.SASLPacket{Token: []byte("tok")}, &wire.SASLPacket{Token: []byte{}}
	case wire.OpGetEphemerals:
		return &wire.GetEphemeralsRequest{Path: "/prefix"}, &wire.GetEphemeralsResponse{Children: []string{"/prefix/e"}}
	case wire.OpGetAllChildrenNumber:
		return &wire.GetAllChildrenNumberRequest{Path: "/"}, &wire.CountResponse{Count: 42}
	case wire.OpAddWatch:
		return &wire.AddWatchRequest{Path: "/w", Mode: wire.WatchPersistent}, &wire.ErrorResponse{Err: wire.Ok}
	case wire.OpWhoAmI:
		return wire.Empty{}, &wire.WhoAmIResponse{ClientInfo: []wire.ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}}}
	}
	return nil, nil
}

// clientOps are the opcodes a client sends: every known one but the
// notification, createSession (the handshake) and error.
func clientOps() []wire.OpCode {
	var out []wire.OpCode
	for _, op := range wire.OpCodes() {
		switch op {
		case wire.OpNotification, wire.OpCreateSession, wire.OpError:
			continue
		}
		out = append(out, op)
	}
	return out
}

func TestRoundTripOpcodes(t *testing.T) {
	for _, op := range clientOps() {
		req, resp := opSamples(op)
		if req == nil {
			t.Errorf("%s: no sample bodies: add them to opSamples", op)
			continue
		}
		fresh := wire.RequestBody(op)
		if reflect.TypeOf(fresh) != reflect.TypeOf(req) {
			t.Errorf("%s: RequestBody is %T, sample is %T", op, fresh, req)
			continue
		}
		roundTrip(t, op.String()+"/request", req, fresh)
		fresh = wire.ResponseBody(op)
		if reflect.TypeOf(fresh) != reflect.TypeOf(resp) {
			t.Errorf("%s: ResponseBody is %T, sample is %T", op, fresh, resp)
			continue
		}
		roundTrip(t, op.String()+"/response", resp, fresh)

		// The whole frame: header and body behind a length.
		frame := wire.AppendFrame(nil, &wire.RequestHeader{Xid: 5, Type: op}, req)
		body, err := wire.ReadFrame(strings.NewReader(string(frame)), nil, wire.DefaultMaxPacket)
		if err != nil {
			t.Errorf("%s: ReadFrame: %v", op, err)
			continue
		}
		d := wire.NewDecoder(body)
		var h wire.RequestHeader
		h.Decode(d)
		got := wire.RequestBody(h.Type)
		got.Decode(d)
		if d.Err() != nil || d.Remaining() != 0 || h != (wire.RequestHeader{Xid: 5, Type: op}) || !reflect.DeepEqual(got, req) {
			t.Errorf("%s: framed request: header %+v err %v left %d body %#v", op, h, d.Err(), d.Remaining(), got)
		}
	}
}

// TestRequestBodyShapes checks that the opcode picks the record shape
// where one Go type serves two jute records.
func TestRequestBodyShapes(t *testing.T) {
	if r := wire.RequestBody(wire.OpCreateTTL).(*wire.CreateRequest); !r.HasTTL {
		t.Error("RequestBody(createTTL) does not read the ttl")
	}
	for _, op := range []wire.OpCode{wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer} {
		if r := wire.RequestBody(op).(*wire.CreateRequest); r.HasTTL {
			t.Errorf("RequestBody(%s) reads a ttl", op)
		}
	}
	if r := wire.RequestBody(wire.OpSetWatches2).(*wire.SetWatchesRequest); !r.V2 {
		t.Error("RequestBody(setWatches2) is not V2")
	}
	if r := wire.RequestBody(wire.OpSetWatches).(*wire.SetWatchesRequest); r.V2 {
		t.Error("RequestBody(setWatches) is V2")
	}
	// ZooKeeper answers addWatch with ErrorResponse(0), four bytes that the
	// Java client reads; an empty body makes it drop the connection.
	if got := wire.Marshal(wire.ResponseBody(wire.OpAddWatch)); len(got) != 4 {
		t.Errorf("addWatch response body is %d bytes, want 4", len(got))
	}
}

func TestCompleteness(t *testing.T) {
	for _, op := range clientOps() {
		if wire.RequestBody(op) == nil {
			t.Errorf("RequestBody(%s = %d) is nil", op, int32(op))
		}
		if wire.ResponseBody(op) == nil {
			t.Errorf("ResponseBody(%s = %d) is nil", op, int32(op))
		}
	}
	for _, op := range []wire.OpCode{wire.OpNotification, wire.OpCreateSession, wire.OpError, 10, 23, 99, 108, -12} {
		if wire.RequestBody(op) != nil {
			t.Errorf("RequestBody(%s) is not nil", op)
		}
	}
	// Every opcode ZOOKEEPER.md lists is known, with ZooKeeper's name.
	want := map[wire.OpCode]string{
		0: "notification", 1: "create", 2: "delete", 3: "exists", 4: "getData", 5: "setData",
		6: "getACL", 7: "setACL", 8: "getChildren", 9: "sync", 11: "ping", 12: "getChildren2",
		13: "check", 14: "multi", 15: "create2", 16: "reconfig", 17: "checkWatches",
		18: "removeWatches", 19: "createContainer", 20: "deleteContainer", 21: "createTTL",
		22: "multiRead", 100: "auth", 101: "setWatches", 102: "sasl", 103: "getEphemerals",
		104: "getAllChildrenNumber", 105: "setWatches2", 106: "addWatch", 107: "whoAmI",
		-10: "createSession", -11: "closeSession", -1: "error",
	}
	ops := wire.OpCodes()
	if len(ops) != len(want) {
		t.Errorf("OpCodes() has %d opcodes, want %d", len(ops), len(want))
	}
	for i, op := range ops {
		if i > 0 && ops[i-1] >= op {
			t.Errorf("OpCodes() not ascending at %d", i)
		}
		if want[op] != op.String() || !op.Known() {
			t.Errorf("opcode %d: String %q Known %v, want %q", int32(op), op.String(), op.Known(), want[op])
		}
	}
	if wire.OpCode(10).Known() || wire.OpCode(10).String() != "op10" {
		t.Errorf("opcode 10 = %q known=%v", wire.OpCode(10).String(), wire.OpCode(10).Known())
	}
}

func TestCodes(t *testing.T) {
	// KeeperException.Code values.
	want := map[wire.Code]int32{
		wire.Ok: 0, wire.ErrSystemError: -1, wire.ErrRuntimeInconsistency: -2, wire.ErrDataInconsistency: -3,
		wire.ErrConnectionLoss: -4, wire.ErrMarshallingError: -5, wire.ErrUnimplemented: -6,
		wire.ErrOperationTimeout: -7, wire.ErrBadArguments: -8, wire.ErrUnknownSession: -12,
		wire.ErrNewConfigNoQuorum: -13, wire.ErrReconfigInProgress: -14, wire.ErrAPIError: -100,
		wire.ErrNoNode: -101, wire.ErrNoAuth: -102, wire.ErrBadVersion: -103,
		wire.ErrNoChildrenForEphemerals: -108, wire.ErrNodeExists: -110, wire.ErrNotEmpty: -111,
		wire.ErrSessionExpired: -112, wire.ErrInvalidCallback: -113, wire.ErrInvalidACL: -114,
		wire.ErrAuthFailed: -115, wire.ErrSessionMoved: -118, wire.ErrNotReadOnly: -119,
		wire.ErrEphemeralOnLocalSession: -120, wire.ErrNoWatcher: -121, wire.ErrRequestTimeout: -122,
		wire.ErrReconfigDisabled: -123, wire.ErrSessionClosedRequireSasl: -124,
		wire.ErrQuotaExceeded: -125, wire.ErrThrottled: -127,
	}
	codes := wire.Codes()
	if len(codes) != len(want) || codes[0] != wire.Ok {
		t.Errorf("Codes() = %v: want %d codes, Ok first", codes, len(want))
	}
	names := map[string]wire.Code{}
	for _, c := range codes {
		if v, ok := want[c]; !ok || int32(c) != v {
			t.Errorf("unexpected code %d", int32(c))
		}
		s := c.String()
		if s == "" || s == "unknown error "+fmt.Sprint(int32(c)) {
			t.Errorf("code %d has no name: %q", int32(c), s)
		}
		if other, dup := names[s]; dup {
			t.Errorf("codes %d and %d share the name %q", int32(c), int32(other), s)
		}
		names[s] = c
		if c != wire.Ok {
			if c.Err() != c || wire.CodeOf(fmt.Errorf("wrapped: %w", c)) != c {
				t.Errorf("code %d does not survive wrapping", int32(c))
			}
		}
	}
	if wire.Ok.Err() != nil || wire.CodeOf(nil) != wire.Ok || wire.CodeOf(fmt.Errorf("x")) != wire.ErrSystemError {
		t.Error("Ok / CodeOf(nil) / CodeOf(other) wrong")
	}
	if s := wire.Code(-9999).String(); s != "unknown error -9999" {
		t.Errorf("Code(-9999).String() = %q", s)
	}
}

func TestEnumNames(t *testing.T) {
	for m := wire.ModePersistent; m <= wire.ModePersistentSequentialWithTTL; m++ {
		if !m.Valid() || strings.HasPrefix(m.String(), "mode") {
			t.Errorf("create mode %d: valid %v name %q", int32(m), m.Valid(), m.String())
		}
	}
	if wire.CreateMode(7).Valid() || wire.CreateMode(-1).Valid() {
		t.Error("modes 7 and -1 are valid")
	}
	for _, e := range []wire.EventType{-1, 1, 2, 3, 4, 5, 6, 7} {
		if strings.HasPrefix(e.String(), "EventType") {
			t.Errorf("event type %d has no name", int32(e))
		}
	}
	for _, s := range []wire.State{-1, 0, 1, 3, 4, 5, 6, -112, 7} {
		if strings.HasPrefix(s.String(), "State") {
			t.Errorf("state %d has no name", int32(s))
		}
	}
}

func TestRequestPath(t *testing.T) {
	for _, c := range []struct {
		body wire.Record
		want string
	}{
		{&wire.PathRequest{Path: "/a"}, "/a"},
		{&wire.PathWatchRequest{Path: "/b"}, "/b"},
		{&wire.CreateRequest{Path: "/c"}, "/c"},
		{&wire.PathVersionRequest{Path: "/d"}, "/d"},
		{&wire.SetDataRequest{Path: "/e"}, "/e"},
		{&wire.SetACLRequest{Path: "/f"}, "/f"},
		{&wire.WatchesRequest{Path: "/g"}, "/g"},
		{&wire.AddWatchRequest{Path: "/h"}, "/h"},
		{&wire.SetWatchesRequest{}, ""},
		{&wire.MultiRequest{}, ""},
	} {
		if got := wire.RequestPath(c.body); got != c.want {
			t.Errorf("wire.RequestPath(%T) = %q, want %q", c.body, got, c.want)
		}
	}
}
