package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"

	"github.com/seed-6461fa00/trellis/server"
)

// collector is an OpenTelemetry collector's trace endpoint (OTLP/gRPC)
// that keeps what it receives.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
	names map[string]bool // service.name values seen
}

func (c *collector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				c.names[a.GetValue().GetStringValue()] = true
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			c.spans = append(c.spans, ss.GetSpans()...)
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// TestServeExportsTraces: with --otel-endpoint, a GraphQL request that
// carries a traceparent yields one trace, continued from the caller's, in
// which the HTTP request, the GraphQL operation and the engine's work all
// appear; stopping serve flushes it to the collector.
func TestServeExportsTraces(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := &collector{names: map[string]bool{}}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, got)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()

	base, stop := startServe(t, t.TempDir(), func(c *serveConfig) {
		c.tracing = server.TracingConfig{Endpoint: ln.Addr().String(), Insecure: true, SampleRatio: 1, ServiceName: "trellis-under-test"}
	})
	token := devToken(t, base, "alice")
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql",
		bytes.NewReader([]byte(`{"query":"mutation Create { createProject(input: {name: \"traced\"}) { project { name } } }"}`)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("traced request: %v %v", resp, err)
	}
	resp.Body.Close()
	// A caller without a valid token cannot start or continue a trace.
	const strangerTrace = "0af7651916cd43dd8448eb211c80319c"
	anon, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader([]byte(`{"query":"{ viewer { id } }"}`)))
	anon.Header.Set("Content-Type", "application/json")
	anon.Header.Set("traceparent", "00-"+strangerTrace+"-b7ad6b7169203331-01")
	if resp, err := http.DefaultClient.Do(anon); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous request: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	preflight, _ := http.NewRequest(http.MethodOptions, base+"/graphql", nil)
	preflight.Header.Set("traceparent", "00-"+strangerTrace+"-b7ad6b7169203331-01")
	if resp, err := http.DefaultClient.Do(preflight); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	got.mu.Lock()
	defer got.mu.Unlock()
	if !got.names["trellis-under-test"] {
		t.Fatalf("no spans from service trellis-under-test; services seen: %v", got.names)
	}
	var inTrace []string
	for _, s := range got.spans {
		switch hex.EncodeToString(s.GetTraceId()) {
		case traceID:
			inTrace = append(inTrace, s.GetName())
		case strangerTrace:
			t.Errorf("an anonymous caller's trace got span %q", s.GetName())
		}
	}
	t.Logf("%d spans in the caller's trace: %v", len(inTrace), inTrace)
	for _, want := range []string{"POST /graphql", "graphql.mutation"} {
		if !slices.Contains(inTrace, want) {
			t.Errorf("span %q missing from the caller's trace: %v", want, inTrace)
		}
	}
	// The mutation's write runs in process, in a span of its own, and
	// SpiceDB's data layer reads the schema within it.
	for _, want := range []string{"WriteRelationships (in process)", "ReadStoredSchema"} {
		if !slices.Contains(inTrace, want) {
			t.Errorf("span %q missing from the caller's trace: %v", want, inTrace)
		}
	}
}
