package graph

import (
	"net/http"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/seed-6461fa00/trellis/relations"
)

// Options bound what one request may ask for.
type Options struct {
	// ComplexityLimit caps a query's computed complexity (default 2000).
	ComplexityLimit int
	// DepthLimit caps how deeply fields nest (default 12).
	DepthLimit int
	// DisableIntrospection turns off schema introspection.
	DisableIntrospection bool
	// Metrics, if set, measures operations and errors.
	Metrics *Metrics
}

// NewHandler returns the GraphQL endpoint over g. It expects package server
// to have authenticated the request (WithViewer) beforehand.
func NewHandler(g *relations.Graph, opts Options) http.Handler {
	if opts.ComplexityLimit == 0 {
		opts.ComplexityLimit = 2000
	}
	if opts.DepthLimit == 0 {
		opts.DepthLimit = 12
	}
	srv := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{Graph: g}, Complexity: complexity()}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if !opts.DisableIntrospection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	srv.Use(extension.FixedComplexityLimit(opts.ComplexityLimit))
	srv.Use(depthLimit{max: opts.DepthLimit})
	if opts.Metrics != nil {
		srv.Use(opts.Metrics)
	}
	srv.SetErrorPresenter(presentError)
	srv.SetRecoverFunc(recoverPanic)
	return withLoaders(g, srv)
}
