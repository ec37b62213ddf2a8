package server_test

import (
	"strings"
	"testing"
)

// TestMetrics: /metrics exposes GraphQL latency by operation type and
// errors by code, next to SpiceDB's own metrics.
func TestMetrics(t *testing.T) {
	url, auth := startServer(t)
	alice := userClient(t, url, auth, "alice")
	alice.ok(`mutation { createProject(input: {name: "metrics"}) { consistencyToken } }`, nil)
	alice.ok(`{ viewer { id } }`, nil)
	if code := alice.code(`{ project(name: "nothing-here") { name } }`, nil); code != "NOT_FOUND" {
		t.Fatalf("code %q", code)
	}
	page := get(t, strings.TrimSuffix(url, "/graphql")+"/metrics")
	for _, want := range []string{
		`trellis_graphql_operation_duration_seconds_count{operation="mutation"} 1`,
		`trellis_graphql_operation_duration_seconds_count{operation="query"} 2`,
		`trellis_graphql_errors_total{code="NOT_FOUND"} 1`,
		`spicedb_`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
