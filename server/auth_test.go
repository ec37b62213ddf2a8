package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/server"
)

// TestJWTAcceptReject: exactly the well-formed, correctly signed, current
// tokens for this issuer and audience are accepted.
func TestJWTAcceptReject(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	auth, err := server.NewAuthenticator(server.AuthConfig{Secret: secret, Issuer: "https://id.example", Audience: "trellis"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sign := func(key []byte, method jwt.SigningMethod, claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "alice", "iss": "https://id.example", "aud": "trellis", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
	}
	with := func(k string, v any) jwt.MapClaims {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	unsigned, err := jwt.NewWithClaims(jwt.SigningMethodNone, good()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		header string
		want   string // user ID, or "" for rejected
	}{
		{"valid", "Bearer " + sign(secret, jwt.SigningMethodHS256, good()), "alice"},
		{"scheme in lower case", "bearer " + sign(secret, jwt.SigningMethodHS256, good()), "alice"},
		{"subject that is no SpiceDB ID", "Bearer " + sign(secret, jwt.SigningMethodHS256, with("sub", "alice@example.com")), "=YWxpY2VAZXhhbXBsZS5jb20="},
		{"expired", "Bearer " + sign(secret, jwt.SigningMethodHS256, with("exp", now.Add(-time.Hour).Unix())), ""},
		{"no expiry", "Bearer " + sign(secret, jwt.SigningMethodHS256, with("exp", nil)), ""},
		{"not yet valid", "Bearer " + sign(secret, jwt.SigningMethodHS256, with("nbf", now.Add(time.Hour).Unix())), ""},
		{"wrong issuer", "Bearer " + sign(secret, jwt.SigningMethodHS256, with("iss", "https://evil.example")), ""},
		{"wrong audience", "Bearer " + sign(secret, jwt.SigningMethodHS256, with("aud", "another-app")), ""},
		{"wrong key", "Bearer " + sign([]byte(strings.Repeat("x", 32)), jwt.SigningMethodHS256, good()), ""},
		{"other HMAC algorithm", "Bearer " + sign(secret, jwt.SigningMethodHS512, good()), ""},
		{"alg none", "Bearer " + unsigned, ""},
		{"no subject", "Bearer " + sign(secret, jwt.SigningMethodHS256, with("sub", nil)), ""},
		{"malformed", "Bearer not.a.jwt", ""},
		{"not bearer", "Basic YWxpY2U6cGFzcw==", ""},
		{"none", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPost, "/graphql", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			u, err := auth.Authenticate(r)
			switch {
			case tc.want == "" && err == nil:
				t.Fatalf("accepted as %q", u.ID)
			case tc.want == "" && relations.ErrorCode(err) != relations.CodeUnauthenticated:
				t.Fatalf("rejected with %v, want UNAUTHENTICATED", err)
			case tc.want != "" && (err != nil || u.ID != tc.want):
				t.Fatalf("got %q, %v; want %q", u.ID, err, tc.want)
			}
		})
	}
}
