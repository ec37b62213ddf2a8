package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/cors"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/seed-6461fa00/trellis/graph"
	"github.com/seed-6461fa00/trellis/relations"
)

// Options configure the HTTP handler.
type Options struct {
	// Auth verifies bearer tokens. Required: nothing is served
	// unauthenticated.
	Auth *Authenticator
	// DevToken, when set (--dev), is shown pre-filled in GraphiQL, and
	// /dev/token mints tokens for any user name.
	DevToken string
	// GraphQL bounds queries.
	GraphQL graph.Options
	// MaxBodyBytes caps a request body (default 1 MiB).
	MaxBodyBytes int64
	// Ready, if set, backs /readyz: nil means ready.
	Ready func(context.Context) error
	// CORSOrigins lists the browser origins allowed to call /graphql from
	// another site (e.g. "https://console.example.com"); none by default.
	CORSOrigins []string
	// Registry receives the handler's GraphQL metrics; nil makes one of
	// its own. Share one with MetricsHandler to serve them elsewhere.
	Registry *prometheus.Registry
	// NoMetricsEndpoint leaves /metrics off this handler, for a program
	// that serves MetricsHandler on a listener of its own (--metrics-addr).
	NoMetricsEndpoint bool
	// TracerProvider, if set, traces every authenticated GraphQL request
	// (continuing the caller's W3C traceparent) and operation; see
	// StartTracing.
	TracerProvider trace.TracerProvider
}

// NewHandler returns Trellis's HTTP API over g.
func NewHandler(g *relations.Graph, opts Options) (http.Handler, error) {
	if opts.Auth == nil {
		return nil, errors.New("server: an authenticator is required")
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	// Trellis's own metrics live in a registry of this handler, so several
	// handlers can live in one process; SpiceDB's are in the default one.
	registry := opts.Registry
	if registry == nil {
		registry = prometheus.NewRegistry()
	}
	metrics, err := graph.NewMetrics(registry)
	if err != nil {
		return nil, err
	}
	opts.GraphQL.Metrics = metrics
	opts.GraphQL.TracerProvider = opts.TracerProvider
	opts.GraphQL.WebsocketAuth = func(ctx context.Context, payload map[string]any) (context.Context, error) {
		h, _ := payload["Authorization"].(string)
		if h == "" {
			h, _ = payload["authorization"].(string)
		}
		u, expires, err := opts.Auth.authenticateUntil(h)
		if err != nil {
			return ctx, err
		}
		if !time.Now().Before(expires) {
			// Within the clock-skew leeway a request may still pass, but a
			// connection would end as soon as it was acknowledged.
			return ctx, errors.New("the token has expired: connect with a fresh one")
		}
		// The token is checked once, when the connection opens: the
		// connection ends when it expires, and the client opens another
		// with a fresh one.
		ctx, cancel := context.WithDeadline(ctx, expires)
		context.AfterFunc(ctx, cancel)
		if t, _ := payload["X-Consistency-Token"].(string); t != "" {
			ctx = graph.WithConsistencyToken(ctx, relations.Token(t))
		}
		return graph.WithViewer(ctx, u), nil
	}
	mux := http.NewServeMux()
	if !opts.NoMetricsEndpoint {
		mux.Handle("GET /metrics", MetricsHandler(registry))
	}
	gql := graph.NewHandler(g, opts.GraphQL)
	if opts.TracerProvider != nil {
		gql = traced(opts.TracerProvider, gql)
	}
	mux.Handle("/graphql", corsFor(opts.CORSOrigins, limitBody(opts.MaxBodyBytes, authenticate(opts.Auth, gql))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if opts.Ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := opts.Ready(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = fmt.Fprintln(w, "not ready:", err)
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})

	headers := map[string]string{"Authorization": "Bearer <your token>", "X-Consistency-Token": ""}
	if opts.DevToken != "" {
		headers["Authorization"] = "Bearer " + opts.DevToken
		mux.HandleFunc("GET /dev/token", devToken(opts.Auth))
	}
	mux.Handle("GET /{$}", graphiqlPage("/graphql", headers))
	mux.Handle("GET "+assetPath, graphiqlFiles())
	return logRequests(mux), nil
}

// traced gives every authenticated GraphQL request a span. It sits behind
// authentication: a caller's traceparent decides sampling, so only callers
// Trellis knows may continue their trace here, and anonymous requests
// cannot force every request to be traced. WebSocket connections are left
// out: a span as long as a subscription says nothing.
func traced(tp trace.TracerProvider, next http.Handler) http.Handler {
	return otelhttp.NewHandler(next, "trellis.graphql",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(propagation.TraceContext{}),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }),
		// authenticate lets preflights and WebSocket upgrades through
		// unauthenticated; neither may open a trace.
		otelhttp.WithFilter(func(r *http.Request) bool {
			return r.Method != http.MethodOptions && !strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
		}))
}

// MetricsHandler serves Prometheus metrics: SpiceDB's (Prometheus's default
// registry) and the GraphQL metrics in reg.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(prometheus.Gatherers{prometheus.DefaultGatherer, reg}, promhttp.HandlerOpts{})
}

// authenticate puts the viewer and the consistency header in the context,
// or answers 401 in GraphQL's error shape.
func authenticate(a *Authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Preflights carry no credentials; WebSocket connections present
		// theirs in the connection_init message, checked by the transport.
		if r.Method == http.MethodOptions || strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			next.ServeHTTP(w, r)
			return
		}
		u, err := a.Authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="trellis"`)
			writeGraphQLError(w, http.StatusUnauthorized, relations.CodeUnauthenticated, "a valid bearer token is required")
			return
		}
		ctx := graph.WithViewer(r.Context(), u)
		if t := r.Header.Get("X-Consistency-Token"); t != "" {
			ctx = graph.WithConsistencyToken(ctx, relations.Token(t))
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// corsFor answers cross-origin requests only from the allowed origins;
// preflights never reach authentication.
func corsFor(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Accept", "X-Consistency-Token", "X-Request-Id"},
		ExposedHeaders: []string{"X-Request-Id"},
		MaxAge:         600,
	}).Handler(next)
}

// limitBody caps request bodies at n bytes; the GraphQL transport answers
// a longer one with 413.
func limitBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
}

func writeGraphQLError(w http.ResponseWriter, status int, code relations.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": code}}},
	})
}

// devToken mints a day-long token for ?user=NAME. Mounted only with --dev.
func devToken(a *Authenticator) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, err := a.Mint(r.URL.Query().Get("user"), 24*time.Hour)
		if err != nil {
			http.Error(w, "give a user name: /dev/token?user=NAME", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprintln(w, tok)
	}
}

// HTTPServer serves a handler on a listener with timeouts on every phase.
type HTTPServer struct {
	srv           *http.Server
	ln            net.Listener
	cert, keyFile string
}

// ListenOption configures Listen.
type ListenOption func(*HTTPServer)

// WithTLS serves HTTPS (and HTTP/2) with a certificate and key file.
func WithTLS(certFile, keyFile string) ListenOption {
	return func(s *HTTPServer) { s.cert, s.keyFile = certFile, keyFile }
}

// Listen binds addr ("127.0.0.1:0" picks a free port).
func Listen(addr string, h http.Handler, opts ...ListenOption) (*HTTPServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	s := &HTTPServer{ln: ln}
	for _, o := range opts {
		o(s)
	}
	if (s.cert == "") != (s.keyFile == "") {
		_ = ln.Close()
		return nil, errors.New("TLS needs both a certificate and a key file")
	}
	s.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	return s, nil
}

// Scheme is "https" with TLS, else "http".
func (s *HTTPServer) Scheme() string {
	if s.cert != "" {
		return "https"
	}
	return "http"
}

// Addr is the address the server listens on.
func (s *HTTPServer) Addr() string { return s.ln.Addr().String() }

// Serve serves until Shutdown; it then returns nil.
func (s *HTTPServer) Serve() error {
	var err error
	if s.cert != "" {
		err = s.srv.ServeTLS(s.ln, s.cert, s.keyFile)
	} else {
		err = s.srv.Serve(s.ln)
	}
	if !errors.Is(err, http.ErrServerClosed) {
		// ServeTLS gives up before serving when its files do not load, and
		// leaves the listener open.
		_ = s.ln.Close()
		return err
	}
	return nil
}

// Shutdown stops accepting requests and waits for in-flight ones until ctx
// ends.
func (s *HTTPServer) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Close releases the listener of a server that never served.
func (s *HTTPServer) Close() error { return s.ln.Close() }
