package server

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

// TracingConfig says where traces go. Tracing is off unless Endpoint is
// set.
type TracingConfig struct {
	// Endpoint of an OpenTelemetry collector: host:port speaks OTLP over
	// gRPC; an http:// or https:// URL is the collector's base URL for
	// OTLP over HTTP (traces go to its /v1/traces).
	Endpoint string
	// Insecure sends OTLP/gRPC without TLS (a collector on the same host
	// or in the same pod).
	Insecure bool
	// SampleRatio is the share of traces started here that are kept
	// (0 < r ≤ 1); a request carrying a sampled traceparent is always kept.
	SampleRatio float64
	// ServiceName names this process in traces (default "trellis").
	ServiceName string
}

// StartTracing installs an OpenTelemetry tracer provider for the whole
// process — SpiceDB's engine and datastore report through the global one —
// and W3C trace-context propagation. The returned stop flushes what is
// buffered; call it on shutdown.
func StartTracing(ctx context.Context, cfg TracingConfig) (trace.TracerProvider, func(context.Context) error, error) {
	if cfg.Endpoint == "" {
		return nil, nil, errors.New("tracing: no collector endpoint")
	}
	if cfg.SampleRatio <= 0 || cfg.SampleRatio > 1 {
		return nil, nil, fmt.Errorf("tracing: sample ratio %v is not in (0, 1]", cfg.SampleRatio)
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = "trellis"
	}
	var client otlptrace.Client
	if strings.HasPrefix(cfg.Endpoint, "http://") || strings.HasPrefix(cfg.Endpoint, "https://") {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil {
			return nil, nil, fmt.Errorf("tracing: endpoint: %w", err)
		}
		// A collector's base URL, as OTEL_EXPORTER_OTLP_ENDPOINT has it:
		// traces go to /v1/traces under it.
		if !strings.HasSuffix(u.Path, "/v1/traces") {
			u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
		}
		client = otlptracehttp.NewClient(otlptracehttp.WithEndpointURL(u.String()))
	} else {
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(cfg.Endpoint)}
		if cfg.Insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		client = otlptracegrpc.NewClient(opts...)
	}
	exporter, err := otlptrace.New(ctx, client)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(cfg.ServiceName)))
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: %w", err)
	}
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	)
	otel.SetTracerProvider(provider)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return provider, provider.Shutdown, nil
}
