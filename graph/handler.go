package graph

import (
	"context"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/trace"

	"github.com/seed-6461fa00/trellis/relations"
)

// Options bound what one request may ask for.
type Options struct {
	// ComplexityLimit caps a query's computed complexity (default 2000).
	ComplexityLimit int
	// DepthLimit caps how deeply fields nest (default 12).
	DepthLimit int
	// MaxBatch caps the operations of one batched POST (default 10).
	MaxBatch int
	// MaxSubscriptionsPerUser caps the subscriptions one user has open at
	// once, over all their connections (default 20).
	MaxSubscriptionsPerUser int
	// DisableIntrospection turns off schema introspection.
	DisableIntrospection bool
	// Metrics, if set, measures operations and errors.
	Metrics *Metrics
	// TracerProvider, if set, gives every operation a span.
	TracerProvider trace.TracerProvider
	// WebsocketAuth, if set, enables subscriptions over WebSocket and
	// authenticates each connection from its connection_init payload,
	// returning a context that carries the viewer (WithViewer).
	WebsocketAuth func(ctx context.Context, payload map[string]any) (context.Context, error)
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
	if opts.MaxBatch == 0 {
		opts.MaxBatch = 10
	}
	if opts.MaxSubscriptionsPerUser == 0 {
		opts.MaxSubscriptionsPerUser = 20
	}
	resolver := &Resolver{Graph: g, subscriptions: &subscriptionSlots{limit: opts.MaxSubscriptionsPerUser, open: map[string]int{}}}
	schema := NewExecutableSchema(Config{Resolvers: resolver, Complexity: complexity()})
	srv := handler.New(schema)
	if opts.WebsocketAuth != nil {
		srv.AddTransport(transport.Websocket{
			KeepAlivePingInterval: 15 * time.Second,
			InitTimeout:           10 * time.Second,
			InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
				authed, err := opts.WebsocketAuth(ctx, payload)
				if err != nil {
					// graphql-transport-ws's code for a refused
					// connection_init, so clients know to sign in again.
					return transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, 4403), "Forbidden"), nil, err
				}
				return authed, nil, nil
			},
		})
	}
	srv.AddTransport(httpTransport{maxBatch: opts.MaxBatch, complexityLimit: opts.ComplexityLimit})
	parsed := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(parsed)
	srv.SetParserTokenLimit(maxTokens)
	if !opts.DisableIntrospection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	// After persisted queries have filled in the text, before gqlgen
	// parses and validates it.
	srv.Use(selectionLimit{max: opts.ComplexityLimit, parsed: parsed})
	// Before gqlgen's complexity, which expands every fragment spread.
	srv.Use(newOperationLimits(schema.Schema(), 10*opts.ComplexityLimit, opts.DepthLimit, !opts.DisableIntrospection))
	srv.Use(&extension.ComplexityLimit{Func: func(ctx context.Context, _ *graphql.OperationContext) int {
		return complexityLimitFor(ctx, opts.ComplexityLimit)
	}})
	if opts.Metrics != nil {
		srv.Use(opts.Metrics)
	}
	if opts.TracerProvider != nil {
		srv.Use(tracing{tracer: opts.TracerProvider.Tracer("github.com/seed-6461fa00/trellis/graph")})
	}
	srv.Use(failedEventErrors{})
	srv.SetErrorPresenter(presentError)
	srv.SetRecoverFunc(recoverPanic)
	srv.AroundOperations(withLoaders(g))
	return srv
}
