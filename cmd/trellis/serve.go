package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v3"

	"github.com/seed-6461fa00/trellis/relations/badgerds"
	"github.com/seed-6461fa00/trellis/relations/embedded"
	"github.com/seed-6461fa00/trellis/server"
)

// devUser is the user GraphiQL acts as in development mode.
const devUser = "alice"

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:   "serve",
		Usage:  "serve the GraphQL API over a data directory",
		Before: loadConfigFile,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: configFlag, Usage: "YAML file of these options, keyed by their names (addr: 0.0.0.0:8080); flags and TRELLIS_* variables override it", Sources: cli.EnvVars("TRELLIS_CONFIG")},
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", Usage: "HTTP listen address", Sources: cli.EnvVars("TRELLIS_ADDR")},
			&cli.StringFlag{Name: "data", Value: "./data", Usage: "data directory (created if missing)", Sources: cli.EnvVars("TRELLIS_DATA")},
			&cli.BoolFlag{Name: "dev", Usage: "development mode: print a token, and mint tokens for any user at /dev/token", Sources: cli.EnvVars("TRELLIS_DEV")},
			&cli.StringFlag{Name: "jwt-secret-file", Usage: "file holding the HS256 secret that signs user tokens", Sources: cli.EnvVars("TRELLIS_JWT_SECRET_FILE")},
			&cli.StringFlag{Name: "jwks-file", Usage: "JSON Web Key Set file with the RS256/ES256 keys that sign user tokens", Sources: cli.EnvVars("TRELLIS_JWKS_FILE")},
			&cli.StringFlag{Name: "jwks-url", Usage: "URL of the JSON Web Key Set that signs user tokens (cached, refreshed hourly)", Sources: cli.EnvVars("TRELLIS_JWKS_URL")},
			&cli.StringFlag{Name: "jwt-issuer", Usage: "required iss claim of user tokens", Sources: cli.EnvVars("TRELLIS_JWT_ISSUER")},
			&cli.StringFlag{Name: "jwt-audience", Usage: "required aud claim of user tokens", Sources: cli.EnvVars("TRELLIS_JWT_AUDIENCE")},
			&cli.StringFlag{Name: "jwt-user-claim", Value: "sub", Usage: "claim that names the user", Sources: cli.EnvVars("TRELLIS_JWT_USER_CLAIM")},
			&cli.StringFlag{Name: "tls-cert", Usage: "TLS certificate file for HTTPS (and HTTP/2)", Sources: cli.EnvVars("TRELLIS_TLS_CERT")},
			&cli.StringFlag{Name: "tls-key", Usage: "TLS key file for HTTPS", Sources: cli.EnvVars("TRELLIS_TLS_KEY")},
			&cli.BoolFlag{Name: "no-introspection", Usage: "refuse GraphQL schema introspection", Sources: cli.EnvVars("TRELLIS_NO_INTROSPECTION")},
			&cli.IntFlag{Name: "max-subscriptions-per-user", Value: 20, Usage: "GraphQL subscriptions one user may hold open at once, over all connections", Sources: cli.EnvVars("TRELLIS_MAX_SUBSCRIPTIONS_PER_USER")},
			&cli.StringSliceFlag{Name: "cors-origin", Usage: "browser origin allowed to call /graphql cross-site (repeatable)", Sources: cli.EnvVars("TRELLIS_CORS_ORIGINS")},
			&cli.StringFlag{Name: "grpc-addr", Value: "127.0.0.1:50051", Usage: "listen address of the SpiceDB v1 gRPC API for services (empty: off)", Sources: cli.EnvVars("TRELLIS_GRPC_ADDR")},
			&cli.StringFlag{Name: "grpc-preshared-key-file", Usage: "file with the preshared keys services present to the gRPC API, one per line; without one the gRPC API is off (--dev makes one)", Sources: cli.EnvVars("TRELLIS_GRPC_PRESHARED_KEY_FILE")},
			&cli.StringFlag{Name: "grpc-tls-cert", Usage: "TLS certificate file for the gRPC API", Sources: cli.EnvVars("TRELLIS_GRPC_TLS_CERT")},
			&cli.StringFlag{Name: "grpc-tls-key", Usage: "TLS key file for the gRPC API", Sources: cli.EnvVars("TRELLIS_GRPC_TLS_KEY")},
			&cli.StringFlag{Name: "metrics-addr", Usage: "serve /metrics on this address alone, not on --addr (e.g. 127.0.0.1:9090 when --addr is public)", Sources: cli.EnvVars("TRELLIS_METRICS_ADDR")},
			&cli.StringFlag{Name: "otel-endpoint", Usage: "send OpenTelemetry traces to this collector: host:port for OTLP/gRPC, an http(s):// URL for OTLP/HTTP (empty: no tracing)", Sources: cli.EnvVars("TRELLIS_OTEL_ENDPOINT")},
			&cli.BoolFlag{Name: "otel-insecure", Usage: "send OTLP/gRPC traces without TLS", Sources: cli.EnvVars("TRELLIS_OTEL_INSECURE")},
			&cli.Float64Flag{Name: "otel-sample-ratio", Value: 1, Usage: "share of new traces kept, in (0, 1]; requests with a sampled traceparent are always kept", Sources: cli.EnvVars("TRELLIS_OTEL_SAMPLE_RATIO")},
			&cli.StringFlag{Name: "otel-service-name", Value: "trellis", Usage: "service.name of this process in traces", Sources: cli.EnvVars("TRELLIS_OTEL_SERVICE_NAME")},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if n := cmd.Int("max-subscriptions-per-user"); n < 1 {
				return fmt.Errorf("--max-subscriptions-per-user must be at least 1, not %d", n)
			}
			if cmd.Args().Present() {
				// A mistyped flag (one dash, a missing =) would otherwise
				// be dropped without a word.
				return fmt.Errorf("serve takes flags only, not %q", cmd.Args().Slice())
			}
			return serve(ctx, readServeConfig(cmd))
		},
	}
}

// readServeConfig gathers the options of serve, wherever each came from.
func readServeConfig(cmd *cli.Command) serveConfig {
	return serveConfig{
		addr: cmd.String("addr"), data: cmd.String("data"), dev: cmd.Bool("dev"),
		secretFile: cmd.String("jwt-secret-file"), issuer: cmd.String("jwt-issuer"),
		jwksFile: cmd.String("jwks-file"), jwksURL: cmd.String("jwks-url"),
		audience: cmd.String("jwt-audience"), userClaim: cmd.String("jwt-user-claim"),
		grpcAddr: cmd.String("grpc-addr"), grpcKeyFile: cmd.String("grpc-preshared-key-file"),
		grpcCert: cmd.String("grpc-tls-cert"), grpcKey: cmd.String("grpc-tls-key"),
		tlsCert: cmd.String("tls-cert"), tlsKey: cmd.String("tls-key"), corsOrigins: cmd.StringSlice("cors-origin"),
		noIntrospection: cmd.Bool("no-introspection"), metricsAddr: cmd.String("metrics-addr"),
		maxSubscriptions: int(cmd.Int("max-subscriptions-per-user")),
		tracing: server.TracingConfig{
			Endpoint: cmd.String("otel-endpoint"), Insecure: cmd.Bool("otel-insecure"),
			SampleRatio: cmd.Float64("otel-sample-ratio"), ServiceName: cmd.String("otel-service-name"),
		},
	}
}

// serveConfig is the whole configuration of serve: flags, TRELLIS_*
// variables and the config file all land here.
type serveConfig struct {
	addr, data, secretFile, issuer, audience, userClaim string
	grpcAddr, grpcKeyFile, grpcCert, grpcKey            string
	tlsCert, tlsKey, jwksFile, jwksURL, metricsAddr     string
	corsOrigins                                         []string
	dev, noIntrospection                                bool
	maxSubscriptions                                    int
	tracing                                             server.TracingConfig
	// listening, if set, is told the HTTP base URL once requests are served.
	listening func(base string)
}

func serve(ctx context.Context, cfg serveConfig) error {
	slog.SetDefault(slog.New(server.LogHandler(slog.NewJSONHandler(os.Stderr, nil))))
	authCfg := server.AuthConfig{JWKSFile: cfg.jwksFile, JWKSURL: cfg.jwksURL, Issuer: cfg.issuer, Audience: cfg.audience, UserClaim: cfg.userClaim}
	if cfg.dev && cfg.secretFile != "" {
		// /dev/token would hand anyone a token for any user, signed with
		// the secret real tokens are checked against.
		return errors.New("--dev mints its own tokens with a development secret; it does not combine with --jwt-secret-file")
	}
	if cfg.jwksFile == "" && cfg.jwksURL == "" {
		secret, err := loadSecret(cfg)
		if err != nil {
			return err
		}
		authCfg.Secret = secret
	} else if cfg.dev {
		return errors.New("--dev mints its own HS256 tokens; it does not combine with --jwks-file or --jwks-url")
	}
	auth, err := server.NewAuthenticatorCtx(ctx, authCfg)
	if err != nil {
		return err
	}

	engine, grpcNote, err := engineConfig(cfg)
	if err != nil {
		return err
	}
	opts := server.Options{Auth: auth, CORSOrigins: cfg.corsOrigins}
	traceNote := "Tracing: off (no --otel-endpoint)"
	if cfg.tracing.Endpoint != "" {
		provider, stopTracing, err := server.StartTracing(ctx, cfg.tracing)
		if err != nil {
			return err
		}
		// Deferred first, so it runs last: after the engine's final spans.
		defer func() {
			flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := stopTracing(flushCtx); err != nil {
				fmt.Fprintln(os.Stderr, "trellis: flush traces:", err)
			}
		}()
		opts.TracerProvider = provider
		engine.Tracing = true
		traceNote = "Tracing: OTLP to " + cfg.tracing.Endpoint
	}
	stack, err := server.OpenStack(ctx, server.StackConfig{DataDir: cfg.data, OpenDatastore: openDatastore, Engine: engine})
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := stack.Close(closeCtx); err != nil {
			fmt.Fprintln(os.Stderr, "trellis: close:", err)
		}
	}()

	opts.Ready = stack.Ready
	opts.GraphQL.DisableIntrospection = cfg.noIntrospection
	opts.GraphQL.MaxSubscriptionsPerUser = cfg.maxSubscriptions
	if cfg.dev {
		if opts.DevToken, err = auth.Mint(devUser, 24*time.Hour); err != nil {
			return err
		}
	}
	var metricsSrv *server.HTTPServer
	serving := false
	metricsNote := "Metrics: /metrics on the address above"
	if cfg.metricsAddr != "" {
		opts.Registry, opts.NoMetricsEndpoint = prometheus.NewRegistry(), true
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", server.MetricsHandler(opts.Registry))
		if metricsSrv, err = server.Listen(cfg.metricsAddr, mux); err != nil {
			return err
		}
		// Until serving starts, a failure must not leave it listening.
		defer func() {
			if !serving {
				_ = metricsSrv.Close()
			}
		}()
		metricsNote = "Metrics: http://" + metricsSrv.Addr() + "/metrics"
	}
	h, err := server.NewHandler(stack.Graph, opts)
	if err != nil {
		return err
	}
	var listenOpts []server.ListenOption
	if cfg.tlsCert != "" || cfg.tlsKey != "" {
		listenOpts = append(listenOpts, server.WithTLS(cfg.tlsCert, cfg.tlsKey))
	}
	srv, err := server.Listen(cfg.addr, h, listenOpts...)
	if err != nil {
		return err
	}
	base := srv.Scheme() + "://" + srv.Addr()
	fmt.Printf("Trellis serves %s/graphql (GraphiQL at %s/), data in %s\n", base, base, cfg.data)
	fmt.Println(grpcNote)
	fmt.Println(traceNote)
	fmt.Println(metricsNote)
	if cfg.dev {
		fmt.Printf("Development mode: GraphiQL acts as user %q with this token:\n  %s\n", devUser, opts.DevToken)
		fmt.Printf("A token for any other user:\n  curl '%s/dev/token?user=bob'\n", base)
	}

	errc := make(chan error, 2)
	serving = true
	go func() { errc <- srv.Serve() }()
	if metricsSrv != nil {
		go func() { errc <- metricsSrv.Serve() }()
	}
	if cfg.listening != nil {
		cfg.listening(base)
	}
	select {
	case err = <-errc:
		// One listener failed: the other stops too, before the store closes.
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = errors.Join(err, srv.Shutdown(shutdownCtx))
	if metricsSrv != nil {
		err = errors.Join(err, metricsSrv.Shutdown(shutdownCtx))
	}
	return err
}

// engineConfig sets up the SpiceDB gRPC API for services: on only with a
// preshared key, which --dev makes up (and prints) when none is given.
func engineConfig(cfg serveConfig) (embedded.Config, string, error) {
	if cfg.grpcAddr == "" {
		return embedded.Config{}, "SpiceDB gRPC API: off (--grpc-addr is empty)", nil
	}
	var keys []string
	if cfg.grpcKeyFile != "" {
		raw, err := os.ReadFile(cfg.grpcKeyFile)
		if err != nil {
			return embedded.Config{}, "", fmt.Errorf("grpc preshared keys: %w", err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if k := strings.TrimSpace(line); k != "" {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			return embedded.Config{}, "", fmt.Errorf("grpc preshared keys: %s holds no key", cfg.grpcKeyFile)
		}
	}
	if len(keys) == 0 && !cfg.dev {
		return embedded.Config{}, "SpiceDB gRPC API: off (no --grpc-preshared-key-file)", nil
	}
	note := "SpiceDB gRPC API on " + cfg.grpcAddr
	if len(keys) == 0 {
		k := make([]byte, 16)
		if _, err := rand.Read(k); err != nil {
			return embedded.Config{}, "", err
		}
		keys = []string{hex.EncodeToString(k)}
		transport := "--insecure"
		if cfg.grpcCert != "" {
			transport = "--certificate-path " + cfg.grpcCert
		}
		note += fmt.Sprintf(" (development key: zed --endpoint %s %s --token %s)", cfg.grpcAddr, transport, keys[0])
	}
	if (cfg.grpcCert == "") != (cfg.grpcKey == "") {
		return embedded.Config{}, "", errors.New("gRPC TLS needs both --grpc-tls-cert and --grpc-tls-key")
	}
	return embedded.Config{GRPCAddress: cfg.grpcAddr, PresharedKeys: keys, TLSCertFile: cfg.grpcCert, TLSKeyFile: cfg.grpcKey}, note, nil
}

// loadSecret reads the token secret. In development mode without one, a
// random secret is kept in the data directory so tokens survive restarts.
func loadSecret(cfg serveConfig) ([]byte, error) {
	if cfg.secretFile != "" {
		s, err := os.ReadFile(cfg.secretFile)
		if err != nil {
			return nil, fmt.Errorf("jwt secret: %w", err)
		}
		// The line end an editor or `echo` leaves after a secret written
		// as text is not part of the secret the issuer signs with; a
		// binary secret is taken whole, whatever its last bytes.
		if text := bytes.TrimRight(s, "\r\n"); isText(text) {
			s = text
		}
		if len(s) == 0 {
			return nil, fmt.Errorf("jwt secret: %s is empty", cfg.secretFile)
		}
		return s, nil
	}
	if !cfg.dev {
		return nil, errors.New("no way to authenticate users: pass --jwt-secret-file, --jwks-file or --jwks-url, or --dev to try Trellis out")
	}
	path := filepath.Join(cfg.data, "dev-secret")
	s, err := os.ReadFile(path)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("dev secret: %w", err)
	}
	s = make([]byte, 32)
	if _, err := rand.Read(s); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.data, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if err := os.WriteFile(path, s, 0o600); err != nil {
		return nil, fmt.Errorf("dev secret: %w", err)
	}
	return s, nil
}

// openDatastore is the one line that picks the relationship store: SpiceDB
// on a Badger directory, durable, with no database to run.
func openDatastore(ctx context.Context, dir string) (datastore.Datastore, error) {
	return badgerds.New(ctx, dir)
}

// isText reports whether b is printable UTF-8 text on one line.
func isText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
