package actors

import (
	"context"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// testSpans installs, once per test process, a global tracer provider that
// records spans in memory: otel's global tracers bind to the first
// provider set, so it cannot be swapped per test.
var testSpans = sync.OnceValue(func() *tracetest.InMemoryExporter {
	exp := tracetest.NewInMemoryExporter()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	return exp
})

// TestSpanPerRequest: with a tracer provider installed (cmd/paddock does it
// from OTEL_* variables), every request gets a server span named after its
// opcode with the zk.* attributes.
func TestSpanPerRequest(t *testing.T) {
	exp := testSpans()
	s := startServer(t, t.TempDir(), nil)
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := client.Connect(ctx, s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Create(ctx, "/traced", []byte("x"), wire.ModePersistent, wire.WorldACL); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get(ctx, "/missing"); err == nil {
		t.Fatal("get /missing succeeded")
	}

	find := func(op string) map[attribute.Key]attribute.Value {
		for _, sp := range exp.GetSpans() {
			attrs := map[attribute.Key]attribute.Value{}
			for _, kv := range sp.Attributes {
				attrs[kv.Key] = kv.Value
			}
			if sp.Name == op && attrs["zk.session_id"].AsInt64() == c.SessionID() {
				return attrs
			}
		}
		t.Fatalf("no span %q among %d spans", op, len(exp.GetSpans()))
		return nil
	}
	create := find("create")
	for _, k := range []attribute.Key{"zk.op", "zk.path", "zk.session_id", "zk.xid", "zk.zxid", "zk.err"} {
		if _, ok := create[k]; !ok {
			t.Errorf("create span lacks %s: %v", k, create)
		}
	}
	if got := create["zk.path"].AsString(); got != "/traced" {
		t.Errorf("zk.path = %q", got)
	}
	if got := find("getData")["zk.err"].AsInt64(); got != int64(wire.ErrNoNode) {
		t.Errorf("getData zk.err = %d, want %d", got, wire.ErrNoNode)
	}

	// The write has a child span for its way through Raft, with the
	// create span as parent and the same zxid.
	var createSpan, propose *tracetest.SpanStub
	spans := exp.GetSpans()
	for i := range spans {
		sp := &spans[i]
		for _, kv := range sp.Attributes {
			if kv.Key == "zk.session_id" && kv.Value.AsInt64() == c.SessionID() {
				switch sp.Name {
				case "create":
					createSpan = sp
				case "raft.propose":
					propose = sp
				}
			}
		}
	}
	if createSpan == nil || propose == nil {
		t.Fatalf("create span %v, raft.propose span %v", createSpan != nil, propose != nil)
	}
	if propose.Parent.SpanID() != createSpan.SpanContext.SpanID() || propose.SpanContext.TraceID() != createSpan.SpanContext.TraceID() {
		t.Errorf("raft.propose is not a child of the create span")
	}
	zxidOf := func(sp *tracetest.SpanStub) int64 {
		for _, kv := range sp.Attributes {
			if kv.Key == "zk.zxid" {
				return kv.Value.AsInt64()
			}
		}
		return 0
	}
	if z := zxidOf(propose); z == 0 || z != zxidOf(createSpan) {
		t.Errorf("raft.propose zk.zxid %d, create %d", z, zxidOf(createSpan))
	}
}

// TestWatchEventLinksToWrite: the delivery of a watch event records a
// watch.event span in the watcher's session, linked to the span of the
// write that fired it (another session's).
func TestWatchEventLinksToWrite(t *testing.T) {
	exp := testSpans()
	s := startServer(t, t.TempDir(), nil)
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	watcher, err := client.Connect(ctx, s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	writer, err := client.Connect(ctx, s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	if _, err := writer.Create(ctx, "/watched", []byte("a"), wire.ModePersistent, wire.WorldACL); err != nil {
		t.Fatal(err)
	}
	_, _, events, err := watcher.GetW(ctx, "/watched")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writer.Set(ctx, "/watched", []byte("b"), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-events:
	case <-ctx.Done():
		t.Fatal("no watch event")
	}

	attr := func(sp tracetest.SpanStub, k attribute.Key) attribute.Value {
		for _, kv := range sp.Attributes {
			if kv.Key == k {
				return kv.Value
			}
		}
		return attribute.Value{}
	}
	var set, event *tracetest.SpanStub
	spans := exp.GetSpans()
	for i := range spans {
		sp := spans[i]
		switch {
		case sp.Name == "setData" && attr(sp, "zk.session_id").AsInt64() == writer.SessionID():
			set = &spans[i]
		case sp.Name == "watch.event" && attr(sp, "zk.session_id").AsInt64() == watcher.SessionID():
			event = &spans[i]
		}
	}
	if set == nil || event == nil {
		t.Fatalf("setData span found %v, watch.event span found %v", set != nil, event != nil)
	}
	if len(event.Links) != 1 || event.Links[0].SpanContext.SpanID() != set.SpanContext.SpanID() {
		t.Fatalf("watch.event links %v, want the setData span %v", event.Links, set.SpanContext.SpanID())
	}
	if got := attr(*event, "zk.path").AsString(); got != "/watched" {
		t.Errorf("watch.event zk.path %q", got)
	}
	if attr(*event, "zk.zxid").AsInt64() != attr(*set, "zk.zxid").AsInt64() {
		t.Errorf("watch.event zxid %d, setData zxid %d", attr(*event, "zk.zxid").AsInt64(), attr(*set, "zk.zxid").AsInt64())
	}
}

// TestEventDedupeIgnoresLink: an event the router's window replays (no
// link) and the same event from the live fan-out (linked to its write)
// are one event for the client (guarantee 5: each event once, in order).
func TestEventDedupeIgnoresLink(t *testing.T) {
	ss := &session{}
	sc := trace.SpanContext{}
	e := watchEvent{zxid: 7, ord: 1, typ: wire.EventNodeDataChanged, path: "/x"}
	ss.addEvent(e)
	linked := e
	linked.link = &sc
	ss.addEvent(linked)
	ss.addEvent(watchEvent{zxid: 7, ord: 0, typ: wire.EventNodeCreated, path: "/x"})
	if len(ss.events) != 2 || ss.events[0].ord != 0 || ss.events[1].ord != 1 {
		t.Fatalf("events %+v, want the two distinct events in order", ss.events)
	}
}

// TestFailedWriteForgetsItsSpan: a traced write whose proposal fails
// (here: the shard is gone, so Propose refuses it) leaves nothing in
// writeSpans; otherwise each failed write would pin its entry for the
// server's life.
func TestFailedWriteForgetsItsSpan(t *testing.T) {
	exp := testSpans()
	s := startServer(t, t.TempDir(), nil)
	t.Cleanup(func() { s.Close() })
	c := dialRaw(t, s, 0, nil)
	if err := s.nh.StopShard(MetaShard); err != nil {
		t.Fatal(err)
	}
	c.send(1, wire.OpCreate, &wire.CreateRequest{Path: "/lost", ACL: wire.WorldACL})
	// The proposer forgets the span before it reports the failure, and
	// the session closes the connection on that report.
	if _, err := wire.ReadFrame(c.nc, nil, wire.DefaultMaxPacket); err == nil {
		t.Fatal("the failed write was answered; want the connection closed")
	}
	n := 0
	s.writeSpans.Range(func(k, _ any) bool {
		t.Errorf("writeSpans still holds %+v", k)
		n++
		return true
	})
	if n > 0 {
		t.Fatalf("%d span contexts of failed writes leaked", n)
	}
	// And the write's spans end (with the session, once it sees the
	// connection closed).
	ended := func(name string) bool {
		for _, sp := range exp.GetSpans() {
			for _, kv := range sp.Attributes {
				if sp.Name == name && kv.Key == "zk.session_id" && kv.Value.AsInt64() == c.sid {
					return true
				}
			}
		}
		return false
	}
	waitFor(t, "the failed write's spans to end", func() bool { return ended("create") && ended("raft.propose") })
}
