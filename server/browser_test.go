//go:build browser

package server_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/seed-6461fa00/trellis/relations/relationstest"
	"github.com/seed-6461fa00/trellis/server"
)

// TestGraphiQLInBrowser loads the GraphiQL page in headless Chromium, as a
// developer would in --dev mode, runs a mutation and a query from it, and
// a subscription that shows another client's change as it happens.
// It needs Debian's chromium and `npm ci` in testdata/browser; .ci/run
// installs both and runs it with -tags browser.
func TestGraphiQLInBrowser(t *testing.T) {
	env := relationstest.Open(t)
	auth, err := server.NewAuthenticator(server.AuthConfig{Secret: []byte(strings.Repeat("b", 32))})
	if err != nil {
		t.Fatal(err)
	}
	devToken, err := auth.Mint("alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	h, err := server.NewHandler(env.Graph, server.Options{Auth: auth, DevToken: devToken})
	if err != nil {
		t.Fatal(err)
	}
	srv := listen(t, h)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "graphiql.mjs", "http://"+srv.Addr())
	cmd.Dir = "testdata/browser"
	cmd.Env = append(cmd.Environ(), "DEV_TOKEN="+devToken)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("browser: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "graphiql ok") {
		t.Fatalf("browser said:\n%s", out)
	}
}
