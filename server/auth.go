package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seed-6461fa00/trellis/relations"
)

// Authenticator verifies bearer JWTs signed with a shared HS256 secret and
// maps their subject to a user.
type Authenticator struct {
	secret   []byte
	issuer   string
	audience string
	// userClaim names the claim that identifies the user (default "sub").
	userClaim string
}

// AuthConfig configures an Authenticator.
type AuthConfig struct {
	// Secret is the HS256 shared secret; at least 32 bytes.
	Secret []byte
	// Issuer and Audience, when set, must match the token's iss and aud.
	Issuer   string
	Audience string
	// UserClaim names the claim that identifies the user; default "sub".
	UserClaim string
}

// NewAuthenticator checks cfg and returns an Authenticator.
func NewAuthenticator(cfg AuthConfig) (*Authenticator, error) {
	if len(cfg.Secret) < 32 {
		return nil, errors.New("auth: the HS256 secret must be at least 32 bytes")
	}
	if cfg.UserClaim == "" {
		cfg.UserClaim = "sub"
	}
	return &Authenticator{secret: cfg.Secret, issuer: cfg.Issuer, audience: cfg.Audience, userClaim: cfg.UserClaim}, nil
}

// errUnauthenticated is what every rejected token becomes for the client;
// the reason is not shown, so a probe learns nothing about the keys.
var errUnauthenticated = &relations.Error{Code: relations.CodeUnauthenticated, Message: "a valid bearer token is required"}

// Authenticate returns the user of the request's bearer token.
func (a *Authenticator) Authenticate(r *http.Request) (relations.User, error) {
	h := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || strings.TrimSpace(raw) == "" {
		return relations.User{}, errUnauthenticated
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
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
	if _, err := jwt.ParseWithClaims(strings.TrimSpace(raw), claims, func(*jwt.Token) (any, error) { return a.secret, nil }, opts...); err != nil {
		return relations.User{}, errUnauthenticated
	}
	subject, _ := claims[a.userClaim].(string)
	u, err := relations.UserFromSubject(subject)
	if err != nil {
		return relations.User{}, errUnauthenticated
	}
	return u, nil
}

// Mint signs a token for subject valid for ttl. Trellis issues tokens only
// in development mode; production tokens come from the platform's issuer.
func (a *Authenticator) Mint(subject string, ttl time.Duration) (string, error) {
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
