package graph

import (
	"context"

	"github.com/seed-6461fa00/trellis/relations"
)

type viewerKey struct{}

type tokenKey struct{}

// WithViewer returns ctx carrying the authenticated user.
func WithViewer(ctx context.Context, u relations.User) context.Context {
	return context.WithValue(ctx, viewerKey{}, u)
}

// WithConsistencyToken returns ctx carrying the token of the request's
// X-Consistency-Token header: reads are at least as fresh as it.
func WithConsistencyToken(ctx context.Context, t relations.Token) context.Context {
	return context.WithValue(ctx, tokenKey{}, t)
}

// viewer returns the authenticated user; without one, nothing is allowed.
func viewer(ctx context.Context) (relations.User, error) {
	u, ok := ctx.Value(viewerKey{}).(relations.User)
	if !ok || u.ID == "" {
		return relations.User{}, &relations.Error{Code: relations.CodeUnauthenticated, Message: "authentication required"}
	}
	return u, nil
}

// consistency picks the token a read must be at least as fresh as: the
// field's argument, else the token its parent was read with, else the
// request header.
func consistency(ctx context.Context, arg *string, parent ...relations.Token) relations.Token {
	if arg != nil && *arg != "" {
		return relations.Token(*arg)
	}
	for _, t := range parent {
		if t != "" {
			return t
		}
	}
	t, _ := ctx.Value(tokenKey{}).(relations.Token)
	return t
}
