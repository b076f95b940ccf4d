package actors

import (
	"context"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

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
