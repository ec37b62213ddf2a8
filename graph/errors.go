package graph

import (
	"context"
	"errors"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/seed-6461fa00/trellis/relations"
)

// codeBadRequest is the code of a request refused before its GraphQL
// could be read or run: a body that is not a GraphQL request, one too
// large, a persisted query that does not match its hash.
const codeBadRequest = "BAD_REQUEST"

// presentError is the one table from domain errors to GraphQL errors. A
// domain error keeps its message and gets its code; anything else is a bug
// or an outage, logged here and shown without internals.
func presentError(ctx context.Context, err error) *gqlerror.Error {
	gqlErr := graphql.DefaultErrorPresenter(ctx, err)
	// A failed subscription stream answers every field with its failure;
	// forward logs it once.
	logIt := !errors.As(err, new(*streamFailure))
	var domain *relations.Error
	if !errors.As(err, &domain) {
		var already *gqlerror.Error
		if errors.As(err, &already) && already.Extensions["code"] != nil {
			return gqlErr
		}
		if already != nil && already.Err == nil {
			// Made by gqlgen about the request itself (a persisted query's
			// hash that does not match its text, say), wrapping no failure.
			gqlErr.Extensions = map[string]any{"code": codeBadRequest}
			return gqlErr
		}
		if logIt {
			slog.ErrorContext(ctx, "graphql: unexpected error", "path", gqlErr.Path.String(), "err", err)
		}
		gqlErr.Message = "internal error"
		gqlErr.Extensions = map[string]any{"code": string(relations.CodeInternal)}
		return gqlErr
	}
	if logIt && (domain.Code == relations.CodeInternal || domain.Code == relations.CodeUnavailable) {
		slog.ErrorContext(ctx, "graphql: request failed", "path", gqlErr.Path.String(), "err", err)
	}
	gqlErr.Message = domain.Message
	gqlErr.Extensions = map[string]any{"code": string(domain.Code)}
	if domain.Field != "" {
		gqlErr.Extensions["field"] = domain.Field
	}
	return gqlErr
}

// recoverPanic turns a resolver panic into an internal error instead of a
// crashed server.
func recoverPanic(ctx context.Context, p any) error {
	slog.ErrorContext(ctx, "graphql: resolver panic", "panic", p)
	return &relations.Error{Code: relations.CodeInternal, Message: "internal error"}
}
