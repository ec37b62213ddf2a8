package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestGraphiQLAssetsMatchIntegrity: the committed assets are byte for byte
// the npm releases the page's integrity hashes name.
func TestGraphiQLAssetsMatchIntegrity(t *testing.T) {
	url, _ := startServer(t)
	base := strings.TrimSuffix(url, "/graphql")
	page := get(t, base+"/")
	if strings.Contains(page, "cdn.") || strings.Contains(page, "https://") {
		t.Fatalf("the GraphiQL page loads something from outside: %s", page)
	}
	refs := regexp.MustCompile(`(?s)(?:src|href)="(/graphiql/[^"]+)"\s+integrity="(sha256-[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) != 4 {
		t.Fatalf("the page references %d local assets with integrity, want 4:\n%s", len(refs), page)
	}
	for _, ref := range refs {
		body := get(t, base+ref[1])
		sum := sha256.Sum256([]byte(body))
		if got := "sha256-" + base64.StdEncoding.EncodeToString(sum[:]); got != html.UnescapeString(ref[2]) {
			t.Errorf("%s: integrity %s, page says %s", ref[1], got, ref[2])
		}
		onDisk, err := os.ReadFile(filepath.Join("graphiql", filepath.Base(ref[1])))
		if err != nil || string(onDisk) != body {
			t.Errorf("%s is not the committed file (%v)", ref[1], err)
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
