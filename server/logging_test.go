package server_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/seed-6461fa00/trellis/server"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRequestLogs: each request is logged once with its request ID, the ID
// is echoed to the client, and no token appears in the logs.
func TestRequestLogs(t *testing.T) {
	var logs syncBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(server.LogHandler(slog.NewJSONHandler(&logs, nil))))
	t.Cleanup(func() { slog.SetDefault(old) })

	url, auth := startServer(t)
	alice := userClient(t, url, auth, "alice")
	body, _ := json.Marshal(map[string]any{"query": `{ viewer { id } }`})
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+alice.token)
	req.Header.Set("X-Request-Id", "req-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Request-Id") != "req-42" {
		t.Fatalf("request ID not echoed: %q", resp.Header.Get("X-Request-Id"))
	}
	out := logs.String()
	if !strings.Contains(out, `"request_id":"req-42"`) || !strings.Contains(out, `"path":"/graphql"`) {
		t.Fatalf("no request log line with its ID:\n%s", out)
	}
	if strings.Contains(out, alice.token) || strings.Contains(out, "Bearer") {
		t.Fatalf("a token was logged:\n%s", out)
	}
}
