package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/seed-6461fa00/trellis/relations"
)

// Authenticator verifies bearer JWTs — HS256 with a shared secret, or
// RS256/ES256 with keys from a JWKS — and maps their user claim to a user.
type Authenticator struct {
	secret   []byte
	keys     jwt.Keyfunc // set for JWKS
	methods  []string
	issuer   string
	audience string
	// userClaim names the claim that identifies the user (default "sub").
	userClaim string
}

// AuthConfig configures an Authenticator: exactly one of Secret, JWKSFile
// and JWKSURL.
type AuthConfig struct {
	// Secret is the HS256 shared secret; at least 32 bytes.
	Secret []byte
	// JWKSFile is a JSON Web Key Set file of RS256/ES256 public keys.
	JWKSFile string
	// JWKSURL is where to fetch the key set; it is cached, refreshed
	// hourly, and refetched (rate-limited) for an unknown key ID.
	JWKSURL string
	// Issuer and Audience, when set, must match the token's iss and aud.
	Issuer   string
	Audience string
	// UserClaim names the claim that identifies the user; default "sub".
	UserClaim string
}

// NewAuthenticator checks cfg and returns an Authenticator. ctx bounds the
// background refresh of a JWKS URL.
func NewAuthenticator(cfg AuthConfig) (*Authenticator, error) {
	return NewAuthenticatorCtx(context.Background(), cfg)
}

// NewAuthenticatorCtx is NewAuthenticator whose JWKS refresh stops with ctx.
func NewAuthenticatorCtx(ctx context.Context, cfg AuthConfig) (*Authenticator, error) {
	if cfg.UserClaim == "" {
		cfg.UserClaim = "sub"
	}
	a := &Authenticator{issuer: cfg.Issuer, audience: cfg.Audience, userClaim: cfg.UserClaim}
	sources := 0
	for _, set := range []bool{len(cfg.Secret) > 0, cfg.JWKSFile != "", cfg.JWKSURL != ""} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return nil, errors.New("auth: give exactly one of an HS256 secret, a JWKS file and a JWKS URL")
	}
	switch {
	case len(cfg.Secret) > 0:
		if len(cfg.Secret) < 32 {
			return nil, errors.New("auth: the HS256 secret must be at least 32 bytes")
		}
		a.secret, a.methods = cfg.Secret, []string{jwt.SigningMethodHS256.Alg()}
		a.keys = func(*jwt.Token) (any, error) { return a.secret, nil }
	case cfg.Audience == "":
		// A key set is usually an identity provider's, shared by many
		// applications, and often so is its issuer: only the audience
		// tells a token meant for Trellis from one meant for another.
		return nil, errors.New("auth: with a JWKS, require the audience Trellis's tokens carry (--jwt-audience)")
	case cfg.JWKSFile != "":
		raw, err := os.ReadFile(cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("auth: JWKS file: %w", err)
		}
		kf, err := keyfunc.NewJWKSetJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("auth: JWKS file %s: %w", cfg.JWKSFile, err)
		}
		a.keys, a.methods = kf.Keyfunc, asymmetricMethods
	default:
		kf, err := keyfunc.NewDefaultCtx(ctx, []string{cfg.JWKSURL})
		if err != nil {
			return nil, fmt.Errorf("auth: JWKS URL %s: %w", cfg.JWKSURL, err)
		}
		a.keys, a.methods = kf.Keyfunc, asymmetricMethods
	}
	return a, nil
}

// asymmetricMethods are what a JWKS verifies; never HMAC, so a public key
// can never be used as a shared secret.
var asymmetricMethods = []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg()}

// errUnauthenticated is what every rejected token becomes for the client;
// the reason is not shown, so a probe learns nothing about the keys.
var errUnauthenticated = &relations.Error{Code: relations.CodeUnauthenticated, Message: "a valid bearer token is required"}

// Authenticate returns the user of the request's bearer token.
func (a *Authenticator) Authenticate(r *http.Request) (relations.User, error) {
	return a.AuthenticateHeader(r.Header.Get("Authorization"))
}

// AuthenticateHeader returns the user of an Authorization value
// ("Bearer <token>"), as sent in a header or a WebSocket init payload.
func (a *Authenticator) AuthenticateHeader(h string) (relations.User, error) {
	u, _, err := a.authenticateUntil(h)
	return u, err
}

// authenticateUntil is AuthenticateHeader, also saying when the token
// expires.
func (a *Authenticator) authenticateUntil(h string) (relations.User, time.Time, error) {
	// The scheme's name is case-insensitive (RFC 9110, section 11.1).
	scheme, raw, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return relations.User{}, time.Time{}, errUnauthenticated
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(a.methods),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(30 * time.Second),
	}
	if a.issuer != "" {
		opts = append(opts, jwt.WithIssuer(a.issuer))
	}
	if a.audience != "" {
		opts = append(opts, jwt.WithAudience(a.audience))
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(strings.TrimSpace(raw), claims, a.keys, opts...); err != nil {
		return relations.User{}, time.Time{}, errUnauthenticated
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return relations.User{}, time.Time{}, errUnauthenticated
	}
	subject, _ := claims[a.userClaim].(string)
	u, err := relations.UserFromSubject(subject)
	if err != nil {
		return relations.User{}, time.Time{}, errUnauthenticated
	}
	return u, exp.Time, nil
}

// Mint signs a token for subject valid for ttl. Trellis issues tokens only
// in development mode; production tokens come from the platform's issuer.
func (a *Authenticator) Mint(subject string, ttl time.Duration) (string, error) {
	if a.secret == nil {
		return "", errors.New("auth: only an HS256 authenticator mints development tokens")
	}
	if _, err := relations.UserFromSubject(subject); err != nil {
		return "", err
	}
	now := time.Now()
	claims := jwt.MapClaims{
		a.userClaim: subject,
		"iat":       now.Unix(),
		"exp":       now.Add(ttl).Unix(),
	}
	if a.issuer != "" {
		claims["iss"] = a.issuer
	}
	if a.audience != "" {
		claims["aud"] = a.audience
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(a.secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return tok, nil
}
