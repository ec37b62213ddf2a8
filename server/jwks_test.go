package server_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/seed-6461fa00/trellis/server"
)

// jwks returns a JSON Web Key Set of the public halves of keys, by key ID.
func jwks(t *testing.T, keys map[string]crypto.Signer) []byte {
	t.Helper()
	set := jwkset.JWKSMarshal{}
	for kid, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, USE: jwkset.UseSig}})
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	raw, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestJWKS: RS256 and ES256 tokens verify against a key set from a file
// or a URL; a token signed by another key, with an unknown key ID, or made
// with HMAC over the public key is refused.
func TestJWKS(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	set := jwks(t, map[string]crypto.Signer{"rsa-1": rsaKey, "ec-1": ecKey})

	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, set, 0o600); err != nil {
		t.Fatal(err)
	}
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(set)
	}))
	defer site.Close()

	sign := func(method jwt.SigningMethod, kid string, key any) string {
		tok := jwt.NewWithClaims(method, jwt.MapClaims{"sub": "alice", "aud": "trellis", "exp": time.Now().Add(time.Hour).Unix()})
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	pubDER, _ := json.Marshal(set) // any bytes an attacker knows
	cases := []struct {
		name  string
		token string
		ok    bool
	}{
		{"RS256", sign(jwt.SigningMethodRS256, "rsa-1", rsaKey), true},
		{"ES256", sign(jwt.SigningMethodES256, "ec-1", ecKey), true},
		{"another key", sign(jwt.SigningMethodRS256, "rsa-1", stranger), false},
		{"unknown key ID", sign(jwt.SigningMethodRS256, "rsa-9", rsaKey), false},
		{"HMAC with public bytes", sign(jwt.SigningMethodHS256, "rsa-1", pubDER), false},
	}
	for source, cfg := range map[string]server.AuthConfig{
		"file": {JWKSFile: file, Audience: "trellis"},
		"url":  {JWKSURL: site.URL, Audience: "trellis"},
	} {
		auth, err := server.NewAuthenticatorCtx(t.Context(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		for _, tc := range cases {
			r, _ := http.NewRequest(http.MethodPost, "/graphql", nil)
			r.Header.Set("Authorization", "Bearer "+tc.token)
			u, err := auth.Authenticate(r)
			if got := err == nil && u.ID == "alice"; got != tc.ok {
				t.Errorf("%s/%s: accepted=%v (%v), want %v", source, tc.name, got, err, tc.ok)
			}
		}
		if _, err := auth.Mint("alice", time.Hour); err == nil {
			t.Errorf("%s: a JWKS authenticator minted a token", source)
		}
	}
	if _, err := server.NewAuthenticator(server.AuthConfig{JWKSFile: file, Secret: []byte("0123456789abcdef0123456789abcdef")}); err == nil {
		t.Error("two key sources were accepted")
	}
	for name, cfg := range map[string]server.AuthConfig{
		"neither audience nor issuer": {JWKSFile: file},
		"an issuer alone":             {JWKSFile: file, Issuer: "https://id.example"},
	} {
		if _, err := server.NewAuthenticator(cfg); err == nil {
			t.Errorf("a JWKS with %s was accepted: tokens the provider issued any application would do", name)
		}
	}
}
