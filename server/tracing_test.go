package server_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/seed-6461fa00/trellis/server"
)

// TestTracingOverHTTP: an http(s) endpoint is a collector's base URL, as
// OTEL_EXPORTER_OTLP_ENDPOINT is: traces are posted to /v1/traces under
// it, whatever the base path.
func TestTracingOverHTTP(t *testing.T) {
	for base, want := range map[string]string{"": "/v1/traces", "/": "/v1/traces", "/otlp": "/otlp/v1/traces", "/otlp/v1/traces": "/otlp/v1/traces"} {
		var mu sync.Mutex
		var paths []string
		collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			paths = append(paths, r.URL.Path)
			mu.Unlock()
			w.Header().Set("Content-Type", "application/x-protobuf")
		}))
		provider, stop, err := server.StartTracing(t.Context(), server.TracingConfig{Endpoint: collector.URL + base, SampleRatio: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, span := provider.Tracer("test").Start(t.Context(), "probe")
		span.End()
		if err := stop(t.Context()); err != nil {
			t.Fatal(err)
		}
		collector.Close()
		mu.Lock()
		if len(paths) == 0 || paths[0] != want {
			t.Errorf("base %q: posted to %v, want %s", base, paths, want)
		}
		mu.Unlock()
	}
}
