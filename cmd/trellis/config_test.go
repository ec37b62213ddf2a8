package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"
)

// resolveServe runs serve's option handling on args and returns the
// configuration serve would start with.
func resolveServe(t *testing.T, args ...string) (serveConfig, error) {
	t.Helper()
	cmd := serveCommand()
	var got serveConfig
	cmd.Action = func(_ context.Context, c *cli.Command) error {
		got = readServeConfig(c)
		return nil
	}
	err := cmd.Run(t.Context(), append([]string{"serve"}, args...))
	return got, err
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trellis.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigFile: the file fills options; the environment overrides the
// file, and flags override both.
func TestConfigFile(t *testing.T) {
	path := writeConfig(t, `
addr: 0.0.0.0:9000
data: /from/file
dev: true
jwt-user-claim: email
cors-origin: [https://app.example.com, https://admin.example.com]
grpc-addr: ""
`)
	t.Setenv("TRELLIS_DATA", "/from/env")
	cfg, err := resolveServe(t, "--config", path, "--jwt-user-claim", "preferred_username")
	if err != nil {
		t.Fatal(err)
	}
	want := serveConfig{
		addr: "0.0.0.0:9000", data: "/from/env", dev: true, userClaim: "preferred_username",
		corsOrigins: []string{"https://app.example.com", "https://admin.example.com"},
	}
	if cfg.addr != want.addr || cfg.data != want.data || cfg.dev != want.dev || cfg.userClaim != want.userClaim ||
		!slices.Equal(cfg.corsOrigins, want.corsOrigins) || cfg.grpcAddr != "" {
		t.Fatalf("resolved %+v, want %+v", cfg, want)
	}

	// Without a file every option keeps its default.
	cfg, err = resolveServe(t)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.addr != "127.0.0.1:8080" || cfg.grpcAddr != "127.0.0.1:50051" || cfg.userClaim != "sub" || cfg.dev {
		t.Fatalf("defaults: %+v", cfg)
	}

	// The file may be named by the environment too.
	t.Setenv("TRELLIS_CONFIG", writeConfig(t, "addr: 127.0.0.1:7000\n"))
	if cfg, err = resolveServe(t); err != nil || cfg.addr != "127.0.0.1:7000" {
		t.Fatalf("TRELLIS_CONFIG: %+v, %v", cfg, err)
	}
}

// TestConfigFileErrors: a file that cannot be right is refused with the
// file and the option named, before anything starts.
func TestConfigFileErrors(t *testing.T) {
	cases := map[string]struct{ text, want string }{
		"unknown option":    {"adress: 0.0.0.0:80\n", `unknown option "adress"`},
		"not a bool":        {"dev: maybe\n", "dev"},
		"a mapping":         {"addr: {host: x}\n", "addr: takes a plain value"},
		"no value":          {"data:\n", "data: has no value"},
		"not YAML":          {"addr: [unclosed\n", "config file"},
		"config names file": {"config: other.yaml\n", `unknown option "config"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			path := writeConfig(t, c.text)
			_, err := resolveServe(t, "--config", path)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want an error naming %s and %q", err, path, c.want)
			}
		})
	}
	if _, err := resolveServe(t, "--config", filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("a missing file: %v", err)
	}
	// An empty file is an empty configuration.
	if _, err := resolveServe(t, "--config", writeConfig(t, "")); err != nil {
		t.Fatalf("an empty file: %v", err)
	}
}
