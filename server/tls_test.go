package server_test

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/seed-6461fa00/trellis/relations/relationstest"
	"github.com/seed-6461fa00/trellis/server"
)

// TestHTTPSAndCORS: with a certificate, the API speaks HTTPS and HTTP/2;
// cross-origin requests are answered for allowed origins only.
func TestHTTPSAndCORS(t *testing.T) {
	env := relationstest.Open(t)
	auth, err := server.NewAuthenticator(server.AuthConfig{Secret: []byte(strings.Repeat("s", 32))})
	if err != nil {
		t.Fatal(err)
	}
	h, err := server.NewHandler(env.Graph, server.Options{Auth: auth, CORSOrigins: []string{"https://console.example"}})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, pool := relationstest.SelfSignedCert(t)
	srv := listen(t, h, server.WithTLS(certFile, keyFile))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	base := "https://" + srv.Addr()

	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("served over %s, want HTTP/2", resp.Proto)
	}

	preflight := func(origin string) string {
		req, _ := http.NewRequest(http.MethodOptions, base+"/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Access-Control-Allow-Origin")
	}
	if got := preflight("https://console.example"); got != "https://console.example" {
		t.Fatalf("allowed origin got %q", got)
	}
	if got := preflight("https://evil.example"); got != "" {
		t.Fatalf("a foreign origin was allowed: %q", got)
	}
}
