package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Telemetry is configured by the standard OpenTelemetry environment
// variables, with one deliberate difference: tracing is OFF unless
// OTEL_TRACES_EXPORTER names an exporter (the specification's default is
// otlp; a server that starts exporting to localhost:4318 on its own would
// surprise an operator and cost a failed connection per batch).
//
//   - OTEL_TRACES_EXPORTER: comma-separated list of "otlp", "console",
//     "none". "otlp" is OTLP over HTTP/protobuf (otlptracehttp: no gRPC
//     stack in the binary); OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL may be
//     unset or "http/protobuf", anything else is refused.
//     OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS, _TIMEOUT,
//     _COMPRESSION, _CERTIFICATE... are read by the exporter. "console"
//     writes spans as JSON lines to standard output.
//   - OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG: read by the SDK
//     (default parentbased_always_on).
//   - OTEL_SERVICE_NAME (default "paddock"), OTEL_RESOURCE_ATTRIBUTES.
//   - OTEL_BSP_*: batch span processor settings, read by the SDK.
//   - OTEL_SDK_DISABLED=true turns everything off.
//
// The W3C trace-context and baggage propagators are installed globally
// in every case; with tracing off the global tracer provider stays the
// no-op one, so an unsampled request costs a few atomic operations.

const (
	envTracesExporter = "OTEL_TRACES_EXPORTER"
	serviceName       = "paddock"
)

// setupTelemetry installs the global tracer provider and propagator from
// the environment. console is where the console exporter writes. The
// returned shutdown flushes and stops the exporters; it is never nil.
func setupTelemetry(ctx context.Context, console io.Writer, logger *slog.Logger) (shutdown func(context.Context) error, err error) {
	tp, err := newTracerProvider(ctx, console)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if err != nil || tp == nil {
		return func(context.Context) error { return nil }, err
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("opentelemetry", "err", err)
	}))
	otel.SetTracerProvider(tp)
	logger.Info("tracing on", envTracesExporter, os.Getenv(envTracesExporter))
	return tp.Shutdown, nil
}

// newTracerProvider builds the tracer provider the environment asks for,
// or returns nil when tracing is off.
func newTracerProvider(ctx context.Context, console io.Writer) (*sdktrace.TracerProvider, error) {
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		return nil, nil
	}
	var exporters []sdktrace.SpanExporter
	closeAll := func() {
		for _, e := range exporters {
			_ = e.Shutdown(ctx)
		}
	}
	for name := range strings.SplitSeq(os.Getenv(envTracesExporter), ",") {
		var exp sdktrace.SpanExporter
		var err error
		switch name = strings.ToLower(strings.TrimSpace(name)); name {
		case "", "none":
			continue
		case "otlp":
			exp, err = newOTLPExporter(ctx)
		case "console":
			exp, err = stdouttrace.New(stdouttrace.WithWriter(console))
		default:
			err = fmt.Errorf("%s: unknown exporter %q (want otlp, console or none)", envTracesExporter, name)
		}
		if err != nil {
			closeAll()
			return nil, err
		}
		exporters = append(exporters, exp)
	}
	if len(exporters) == 0 {
		return nil, nil
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(
			attribute.String("service.name", serviceName),
			attribute.String("service.version", versionString()),
		),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil && res == nil {
		closeAll()
		return nil, fmt.Errorf("opentelemetry resource: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	for _, e := range exporters {
		opts = append(opts, sdktrace.WithBatcher(e))
	}
	// No WithSampler: the SDK reads OTEL_TRACES_SAMPLER(_ARG).
	return sdktrace.NewTracerProvider(opts...), nil
}

func newOTLPExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	protocol := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch strings.TrimSpace(protocol) {
	case "", "http/protobuf":
	default:
		return nil, errors.New("OTLP protocol " + protocol + " is not supported: paddock exports OTLP over http/protobuf only")
	}
	return otlptracehttp.New(ctx)
}
