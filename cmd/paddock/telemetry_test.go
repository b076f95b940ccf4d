package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

func clearOTELEnv(t *testing.T) {
	for _, k := range []string{"OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED", "OTEL_TRACES_SAMPLER",
		"OTEL_TRACES_SAMPLER_ARG", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		t.Setenv(k, "")
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestTelemetryOffByDefault(t *testing.T) {
	clearOTELEnv(t)
	tp, err := newTracerProvider(context.Background(), io.Discard)
	if tp != nil || err != nil {
		t.Fatalf("tracer provider %v, %v; want none", tp, err)
	}
	shutdown, err := setupTelemetry(context.Background(), io.Discard, quiet)
	if err != nil || shutdown(context.Background()) != nil {
		t.Fatal(err)
	}
	// The W3C propagator is installed even with tracing off.
	fields := otel.GetTextMapPropagator().Fields()
	if !strings.Contains(strings.Join(fields, ","), "traceparent") {
		t.Errorf("propagator fields %v lack traceparent", fields)
	}
	for _, v := range []string{"none", " none , "} {
		t.Setenv("OTEL_TRACES_EXPORTER", v)
		if tp, err := newTracerProvider(context.Background(), io.Discard); tp != nil || err != nil {
			t.Errorf("%q: %v, %v", v, tp, err)
		}
	}
	t.Setenv("OTEL_TRACES_EXPORTER", "console")
	t.Setenv("OTEL_SDK_DISABLED", "true")
	if tp, err := newTracerProvider(context.Background(), io.Discard); tp != nil || err != nil {
		t.Errorf("OTEL_SDK_DISABLED: %v, %v", tp, err)
	}
}

func TestTelemetryConsole(t *testing.T) {
	clearOTELEnv(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "console")
	t.Setenv("OTEL_SERVICE_NAME", "paddock-test")
	var buf bytes.Buffer
	ctx := context.Background()
	shutdown, err := setupTelemetry(ctx, &buf, quiet)
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(ctx, "zk.getData")
	if !span.SpanContext().IsSampled() {
		t.Error("span not sampled by the default sampler")
	}
	// The global propagator carries the span as a W3C traceparent.
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(trace.ContextWithSpan(ctx, span), carrier)
	if !strings.HasPrefix(carrier.Get("traceparent"), "00-"+span.SpanContext().TraceID().String()) {
		t.Errorf("traceparent %q", carrier.Get("traceparent"))
	}
	span.End()
	if buf.Len() != 0 {
		t.Errorf("span exported before shutdown: batching expected")
	}
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`"Name":"zk.getData"`, `"Value":"paddock-test"`} {
		if !strings.Contains(out, want) {
			t.Errorf("console output lacks %s:\n%s", want, out)
		}
	}
}

func TestTelemetrySampler(t *testing.T) {
	clearOTELEnv(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "console")
	t.Setenv("OTEL_TRACES_SAMPLER", "traceidratio")
	t.Setenv("OTEL_TRACES_SAMPLER_ARG", "0")
	var buf bytes.Buffer
	tp, err := newTracerProvider(context.Background(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("test").Start(context.Background(), "zk.exists")
	if span.SpanContext().IsSampled() || span.IsRecording() {
		t.Error("span sampled with ratio 0")
	}
	span.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("unsampled span exported: %s", buf.String())
	}
}

func TestTelemetryOTLPHTTP(t *testing.T) {
	clearOTELEnv(t)
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			posts.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	tp, err := newTracerProvider(context.Background(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("test").Start(context.Background(), "zk.create")
	span.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if posts.Load() == 0 {
		t.Error("no OTLP export reached the collector")
	}
}

func TestTelemetryErrors(t *testing.T) {
	for _, tt := range []struct{ exporter, protocol, want string }{
		{"zipkin", "", `unknown exporter "zipkin"`},
		{"console,jaeger", "", `unknown exporter "jaeger"`},
		{"otlp", "grpc", "http/protobuf only"},
	} {
		clearOTELEnv(t)
		t.Setenv("OTEL_TRACES_EXPORTER", tt.exporter)
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", tt.protocol)
		_, err := setupTelemetry(context.Background(), io.Discard, quiet)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s/%s: %v, want %q", tt.exporter, tt.protocol, err, tt.want)
		}
	}
}
