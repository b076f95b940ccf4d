package actors

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/paddockdb/paddock/statemachine"
)

// Watch events link back to the write that fired them (DESIGN.md,
// Tracing). A traced write's span context waits in Server.writeSpans,
// keyed by session and xid, from the moment the session hands the write
// to the proposer; onApply takes it out for the write's result and sends
// it with the triggers (appliedTriggers.links), the router and the path
// actors carry it on each event, and the session that delivers an event
// records a watch.event span linked to the write. Events a late
// registration gets from the router's window carry no link. A write whose
// proposal fails (proposer.fail) is forgotten there instead, and its
// session ends its spans when it closes the connection. With tracing off
// nothing is stored and onApply does one atomic load per entry.

// writeKey identifies a write in Server.writeSpans.
type writeKey struct {
	session int64
	xid     int32
}

// tracingOn reports whether a tracer provider is installed.
func tracingOn() bool { return otel.GetTracerProvider() != defaultTracerProvider }

// rememberWrite keeps the span context of a traced write until onApply.
func (s *Server) rememberWrite(session int64, xid int32, sc trace.SpanContext) {
	s.writeSpans.Store(writeKey{session, xid}, &sc)
}

// writeLinks returns, per result, the span context of the traced write
// that made it (nil for others), or nil when tracing is off. It runs in
// onApply.
func (s *Server) writeLinks(txns []statemachine.Txn) []*trace.SpanContext {
	if !tracingOn() {
		return nil
	}
	var links []*trace.SpanContext
	for i := range txns {
		v, ok := s.writeSpans.LoadAndDelete(writeKey{txns[i].SessionID, txns[i].Cxid})
		if !ok {
			continue
		}
		if links == nil {
			links = make([]*trace.SpanContext, len(txns))
		}
		links[i] = v.(*trace.SpanContext)
	}
	return links
}

// eventSpan records the delivery of a watch event fired by a traced write.
func (ss *session) eventSpan(e *watchEvent) {
	_, span := tracer.Start(context.Background(), "watch.event",
		trace.WithSpanKind(trace.SpanKindServer), trace.WithLinks(trace.Link{SpanContext: *e.link}))
	if span.IsRecording() {
		span.SetAttributes(attribute.Int64("zk.session_id", ss.id), attribute.String("zk.path", e.path),
			attribute.String("zk.event", e.typ.String()), attribute.Int64("zk.zxid", e.zxid))
	}
	span.End()
}
