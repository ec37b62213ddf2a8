package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// startServe runs `trellis serve --dev` in-process on a free port and
// returns its base URL and a function that stops it (as SIGTERM would)
// and returns serve's error. adjust, if given, changes the configuration.
func startServe(t *testing.T, data string, adjust ...func(*serveConfig)) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	baseCh := make(chan string, 1)
	errc := make(chan error, 1)
	cfg := serveConfig{
		addr: "127.0.0.1:0", data: data, dev: true, userClaim: "sub",
		listening: func(base string) { baseCh <- base },
	}
	for _, a := range adjust {
		a(&cfg)
	}
	go func() { errc <- serve(ctx, cfg) }()
	select {
	case base := <-baseCh:
		return base, func() error { cancel(); return <-errc }
	case err := <-errc:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	return "", nil
}

func graphql(t *testing.T, base, token, query string) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out["errors"] != nil {
		t.Fatalf("%s: %v", query, out["errors"])
	}
	return out["data"].(map[string]any)
}

func devToken(t *testing.T, base, user string) string {
	t.Helper()
	resp, err := http.Get(base + "/dev/token?user=" + user)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(raw))
}

// TestServeEndToEnd: the real serve command answers /healthz and /readyz,
// serves GraphQL, shuts down cleanly when told to, and a restart over the
// same data directory finds everything (dev tokens included) where it was.
func TestServeEndToEnd(t *testing.T) {
	data := t.TempDir()
	base, stop := startServe(t, data)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(base + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	alice := devToken(t, base, "alice")
	graphql(t, base, alice, `mutation { createProject(input: {name: "apollo"}) { consistencyToken } }`)
	graphql(t, base, alice, `mutation { addMember(input: {project: "apollo", user: "bob", role: WRITER}) { consistencyToken } }`)
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	base, stop = startServe(t, data)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	got := graphql(t, base, alice, `{ project(name: "apollo") { members { edges { node { user { id } role } } } } }`)
	edges := got["project"].(map[string]any)["members"].(map[string]any)["edges"].([]any)
	if len(edges) != 2 {
		t.Fatalf("after restart the project has %d members, want 2: %v", len(edges), edges)
	}
}

// TestMetricsOnTheirOwnAddress: with --metrics-addr, /metrics (SpiceDB's
// and GraphQL's) is served there and no longer on the public address.
func TestMetricsOnTheirOwnAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	_ = ln.Close()
	base, stop := startServe(t, t.TempDir(), func(c *serveConfig) { c.metricsAddr = metricsAddr })
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	graphql(t, base, devToken(t, base, "alice"), `{ viewer { id } }`)

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics on the public address: %d, want 404", resp.StatusCode)
	}
	resp, err = http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`trellis_graphql_operation_duration_seconds_count{operation="query"} 1`, "spicedb_"} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Fatalf("metrics address: %d, missing %q", resp.StatusCode, want)
		}
	}
}

// TestServeFailureReleasesListeners: when the HTTPS listener cannot start
// (its certificate does not load), serve returns the error and leaves no
// listener behind, the metrics one included.
func TestServeFailureReleasesListeners(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	_ = ln.Close()
	missing := t.TempDir() + "/missing.pem"
	done := make(chan error, 1)
	go func() {
		done <- serve(t.Context(), serveConfig{
			addr: "127.0.0.1:0", data: t.TempDir(), dev: true, userClaim: "sub",
			tlsCert: missing, tlsKey: missing, metricsAddr: metricsAddr,
		})
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "missing.pem") {
			t.Fatalf("serve with a certificate that does not exist: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve kept running without its HTTPS listener")
	}
	again, err := net.Listen("tcp", metricsAddr)
	if err != nil {
		t.Fatalf("the metrics address is still held: %v", err)
	}
	_ = again.Close()
}

// TestDevRefusesARealSecret: development mode mints a token for any user
// at /dev/token, so it refuses to sign them with a real secret.
func TestDevRefusesARealSecret(t *testing.T) {
	secret := t.TempDir() + "/jwt.key"
	if err := os.WriteFile(secret, bytes.Repeat([]byte("k"), 32), 0o600); err != nil {
		t.Fatal(err)
	}
	err := serve(t.Context(), serveConfig{addr: "127.0.0.1:0", data: t.TempDir(), dev: true, userClaim: "sub", secretFile: secret})
	if err == nil || !strings.Contains(err.Error(), "--jwt-secret-file") {
		t.Fatalf("serve --dev --jwt-secret-file: %v", err)
	}
}

// TestSecretFileLineEndIsNotTheSecret: a secret file saved with a line
// end holds the secret without it, as the issuer signing with it reads it.
func TestSecretFileLineEndIsNotTheSecret(t *testing.T) {
	path := t.TempDir() + "/jwt.key"
	secret := bytes.Repeat([]byte("k"), 32)
	if err := os.WriteFile(path, append(secret, "\r\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := loadSecret(serveConfig{secretFile: path})
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("loaded %q, %v; want %q", got, err, secret)
	}
	// A binary secret is taken whole, a last byte that reads as a line end
	// included.
	binary := append(bytes.Repeat([]byte{0x80, 0x01}, 16), '\n')
	if err := os.WriteFile(path, binary, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := loadSecret(serveConfig{secretFile: path}); err != nil || !bytes.Equal(got, binary) {
		t.Fatalf("loaded %x, %v; want the binary secret %x whole", got, err, binary)
	}
	// An empty file, or one of a line end alone, is said to be empty.
	for _, content := range []string{"", "\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadSecret(serveConfig{secretFile: path}); err == nil || !strings.Contains(err.Error(), "is empty") {
			t.Fatalf("a secret file holding %q: %v", content, err)
		}
	}
}

// TestServeRefusesArguments: serve takes flags only; a stray argument (a
// flag mistyped) is an error, not ignored; so is a subscription cap that
// would refuse every subscription.
func TestServeRefusesArguments(t *testing.T) {
	if _, err := run(t, "serve", "--dev", "-data=x", "extra"); err == nil || !strings.Contains(err.Error(), "flags only") {
		t.Fatalf("serve with a stray argument: %v", err)
	}
	if _, err := run(t, "serve", "--dev", "--max-subscriptions-per-user", "0"); err == nil || !strings.Contains(err.Error(), "at least 1") {
		t.Fatalf("serve with no subscriptions allowed: %v", err)
	}
}
