package embedded

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/authzed/grpcutil"
	"github.com/authzed/spicedb/pkg/cmd/server"
	"github.com/authzed/spicedb/pkg/cmd/util"
	"github.com/authzed/spicedb/pkg/datalayer"
	"github.com/authzed/spicedb/pkg/datastore"
	spiceembedded "github.com/authzed/spicedb/pkg/embedded"
	"github.com/authzed/spicedb/pkg/query"
	"github.com/authzed/spicedb/pkg/tuple"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
)

// Config says how to run the engine. Its zero value, plus a Datastore, is a
// private in-process engine with small caches.
type Config struct {
	// Datastore holds the relationships. Required; the caller closes it
	// after Close returns.
	Datastore datastore.Datastore
	// PresharedKeys authenticate clients of the engine's gRPC API. When
	// empty, a random key only this process knows is used.
	PresharedKeys []string
	// DispatchCacheSize caps SpiceDB's dispatch cache, e.g. "64MiB"
	// (default); SpiceDB's own default would take 30 % of the machine.
	DispatchCacheSize string
	// Logger receives SpiceDB's logs; the zero value discards them.
	Logger *zerolog.Logger
	// GRPCAddress, when set, also serves SpiceDB's v1 API over TCP there
	// (e.g. "127.0.0.1:50051") for services using authzed-go or zed. It
	// requires PresharedKeys: the listener accepts no one else.
	GRPCAddress string
	// TLSCertFile and TLSKeyFile, when both set, serve the TCP listener
	// over TLS.
	TLSCertFile, TLSKeyFile string
	// Tracing carries the caller's trace into the engine's calls, so
	// SpiceDB's spans join the trace of the request that made them. It
	// reports through OpenTelemetry's global tracer provider.
	Tracing bool
}

// maxCheckDepth is how many nested permissions and arrows an in-process
// check may follow: SpiceDB's own default for its API and its in-process
// checker.
const maxCheckDepth = 50

// Engine is a running in-process SpiceDB.
type Engine struct {
	conn   *grpc.ClientConn
	checks *spiceembedded.Permissions
	plans  checkPlans
	// data is SpiceDB's data layer over the datastore, in the schema mode
	// the servers use, for writes in this process.
	data    datalayer.DataLayer
	cancel  context.CancelFunc
	done    chan error
	servers int
	once    sync.Once
	err     error
}

// Start runs SpiceDB over cfg.Datastore and connects to it in memory.
func Start(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Datastore == nil {
		return nil, errors.New("embedded: a datastore is required")
	}
	keys := cfg.PresharedKeys
	if cfg.GRPCAddress != "" && len(keys) == 0 {
		return nil, errors.New("embedded: serving gRPC over TCP needs at least one preshared key")
	}
	if len(keys) == 0 {
		k, err := randomKey()
		if err != nil {
			return nil, err
		}
		keys = []string{k}
	}
	if cfg.DispatchCacheSize == "" {
		cfg.DispatchCacheSize = "64MiB"
	}
	logger := zerolog.Nop()
	if cfg.Logger != nil {
		logger = *cfg.Logger
	}
	ctx = logger.WithContext(ctx)
	mode, err := schemaModeFor(ctx, cfg.Datastore)
	if err != nil {
		return nil, err
	}

	servers := []server.RunnableServer{}
	rs, err := newServer(ctx, cfg, mode, keys, util.GRPCServerConfig{Network: util.BufferedNetwork, Enabled: true}, inProcessMiddleware()...)
	if err != nil {
		return nil, err
	}
	servers = append(servers, rs)
	if cfg.GRPCAddress != "" {
		// A second server on the same datastore: ZedTokens and cursors are
		// the datastore's, so they work across both.
		tcp, err := newServer(ctx, cfg, mode, keys, util.GRPCServerConfig{
			Network: "tcp", Address: cfg.GRPCAddress, Enabled: true,
			TLSCertPath: cfg.TLSCertFile, TLSKeyPath: cfg.TLSKeyFile,
		})
		if err != nil {
			return nil, err
		}
		servers = append(servers, tcp)
	}
	dialOpts := []grpc.DialOption{grpcutil.WithInsecureBearerToken(keys[0])}
	if cfg.Tracing {
		dialOpts = append(dialOpts, grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
	}
	conn, err := rs.NewClient(dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("embedded: connect: %w", err)
	}
	checks, err := spiceembedded.NewPermissions(spiceembedded.Config{
		Datastore:               cfg.Datastore,
		SchemaMode:              mode,
		SchemaCacheMaxCostBytes: 16 << 20,
		MaxDepth:                maxCheckDepth,
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("embedded: in-process checks: %w", err), conn.Close())
	}
	// The engine outlives the ctx that started it: Close stops it.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e := &Engine{conn: conn, checks: checks, data: datalayer.NewDataLayer(cfg.Datastore, datalayer.WithSchemaMode(mode)), cancel: cancel, done: make(chan error, len(servers)), servers: len(servers)}
	for _, s := range servers {
		go func() { e.done <- s.Run(runCtx) }()
	}
	return e, nil
}

// schemaModeFor picks how the engine reads the schema. It writes both of
// SpiceDB's forms, and reads the unified one (a single cached, hashed
// document instead of a datastore read per definition per dispatch) ...
// unless the store holds only per-definition schema, as stores written
// before Trellis kept both do. Reading such a store as unified would show
// no schema at all, and the next schema write would skip SpiceDB's checks
// that refuse to drop a relation still in use; so it is read as written
// until that write stores both forms, and from the next start on unified.
// Going back to a build that writes per-definition schema only is not
// supported: its schema writes would leave the unified copy behind.
func schemaModeFor(ctx context.Context, ds datastore.Datastore) (datalayer.SchemaMode, error) {
	head, err := ds.HeadRevision(ctx)
	if err != nil {
		return 0, fmt.Errorf("embedded: read the store's head: %w", err)
	}
	reader := ds.SnapshotReader(head.Revision)
	_, err = reader.ReadStoredSchema(ctx)
	switch {
	case err == nil:
		return datalayer.SchemaModeReadNewWriteBoth, nil
	case !errors.Is(err, datastore.ErrSchemaNotFound):
		return 0, fmt.Errorf("embedded: read the stored schema: %w", err)
	}
	legacy, err := reader.LegacyListAllNamespaces(ctx)
	if err != nil {
		return 0, fmt.Errorf("embedded: read the stored definitions: %w", err)
	}
	if len(legacy) > 0 {
		return datalayer.SchemaModeReadLegacyWriteBoth, nil
	}
	return datalayer.SchemaModeReadNewWriteBoth, nil
}

// newServer configures SpiceDB for life inside another program: no metrics
// listener, no telemetry, no gateway, bounded caches.
func newServer(ctx context.Context, cfg Config, mode datalayer.SchemaMode, keys []string, grpcCfg util.GRPCServerConfig, extra ...server.ConfigOption) (server.RunnableServer, error) {
	cache := func(name, size string) server.CacheConfig {
		return server.CacheConfig{Name: name, MaxCost: size, Enabled: true}
	}
	opts := []server.ConfigOption{
		server.WithDatastore(cfg.Datastore),
		server.SetPresharedSecureKey(keys),
		server.WithGRPCServer(grpcCfg),
		server.WithMetricsAPI(util.HTTPServerConfig{HTTPEnabled: false}),
		server.WithHTTPGateway(util.HTTPServerConfig{HTTPEnabled: false}),
		server.WithDispatchServer(util.GRPCServerConfig{Enabled: false}),
		server.WithSilentlyDisableTelemetry(true),
		server.WithTelemetryEndpoint(""),
		server.WithDispatchCacheConfig(cache("dispatch", cfg.DispatchCacheSize)),
		server.WithNamespaceCacheConfig(cache("namespace", "16MiB")),
		server.WithClusterDispatchCacheConfig(cache("cluster_dispatch", "16MiB")),
		server.WithLR3ResourceChunkCacheConfig(cache("lr3_chunk", "16MiB")),
		server.WithStoredSchemaCacheConfig(cache("stored_schema", "16MiB")),
		server.WithEnableMemoryProtectionMiddleware(false),
		server.WithShutdownGracePeriod(2 * time.Second),
		server.WithExperimentalSchemaMode(mode.String()),
		// LookupResources by SpiceDB's third implementation: the one
		// SpiceDB's consistency suite drives, which TestSpiceDBConsistency
		// runs over Trellis's datastore; the default second one is not what
		// that suite checks. It is also faster: a user's 1,000 projects in
		// 10 ms instead of 15 at a fresh revision (docs/BENCHMARKS.md).
		server.WithExperimentalLookupResourcesVersion("lr3"),
	}
	rs, err := server.NewConfigWithOptionsAndDefaults(append(opts, extra...)...).Complete(ctx)
	if err != nil {
		return nil, fmt.Errorf("embedded: start spicedb: %w", err)
	}
	return rs, nil
}

// Conn is an in-memory connection to the engine's SpiceDB v1 API, already
// authenticated. It is valid until Close.
func (e *Engine) Conn() *grpc.ClientConn { return e.conn }

// CheckAtHead answers one permission check in this process, at the
// datastore's newest revision: SpiceDB's own evaluation (its query plan
// where checkPlans can, its dispatcher otherwise), without the gRPC hop and
// server middleware a call on Conn pays. It does not validate its input the
// way the API does; callers pass names from the schema and valid IDs. A
// conditional answer (a caveat without its context) is no.
func (e *Engine) CheckAtHead(ctx context.Context, resourceType, resourceID, permission, subjectType, subjectID string) (allowed bool, err error) {
	ctx, end := startSpan(ctx, "CheckPermission (in process)")
	defer func() { end(err) }()
	// A wildcard is no subject to check, and an empty ID no object: the
	// dispatcher answers those in SpiceDB's words.
	if subjectID != tuple.PublicWildcard && subjectID != "" && resourceID != "" {
		plan, reader, err := e.planAtHead(ctx, planKey{resourceType: resourceType, permission: permission, subjectType: subjectType})
		if err != nil {
			return false, err
		}
		if plan != nil {
			return checkByPlan(ctx, plan, reader, resourceType, resourceID, subjectType, subjectID)
		}
	}
	res, err := e.checks.Check(ctx, spiceembedded.CheckRequest{
		ResourceType: resourceType, ResourceID: resourceID, Permission: permission,
		SubjectType: subjectType, SubjectID: subjectID,
	})
	if err != nil {
		return false, err
	}
	return res.HasPermission, nil
}

// planAtHead returns the plan for key at the newest revision, with a reader
// there, or a nil plan when the dispatcher is to answer.
func (e *Engine) planAtHead(ctx context.Context, key planKey) (query.Iterator, datalayer.RevisionedReader, error) {
	revision, hash, err := e.data.HeadRevision(ctx)
	if err != nil {
		return nil, nil, err
	}
	reader := e.data.SnapshotReader(revision, hash)
	plan, err := e.plans.planFor(ctx, reader, revision, hash, key)
	return plan, reader, err
}

// Close stops the engine, waiting for in-flight calls until ctx ends. It
// does not close the datastore.
func (e *Engine) Close(ctx context.Context) error {
	e.once.Do(func() {
		errs := []error{e.conn.Close(), e.checks.Close()}
		e.cancel()
		for range e.servers {
			select {
			case err := <-e.done:
				// A server stopped before it began serving says so; that
				// is the stop asked for, not a failure.
				if !errors.Is(err, grpc.ErrServerStopped) {
					errs = append(errs, err)
				}
			case <-ctx.Done():
				errs = append(errs, fmt.Errorf("embedded: stop: %w", ctx.Err()))
				e.err = errors.Join(errs...)
				return
			}
		}
		e.err = errors.Join(errs...)
	})
	return e.err
}

func randomKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("embedded: make key: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// inProcessMiddleware trims SpiceDB's middleware for the in-memory
// connection, whose only client is this process: no gRPC access logs and
// no per-method gRPC metrics (the caller logs and measures its own
// requests), no version header, no memory protection. Authentication,
// request validation, consistency and the datastore stay. It takes
// 10-20 % off a write or a LookupSubjects (docs/BENCHMARKS.md); the TCP
// listener for services keeps SpiceDB's full chain.
func inProcessMiddleware() []server.ConfigOption {
	// Authentication insists that the metrics middleware ran before it, so
	// that one is replaced by a pass-through of the same name.
	unaryPass := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return h(ctx, req)
	}
	streamPass := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return h(srv, ss)
	}
	var unary []server.MiddlewareModification[grpc.UnaryServerInterceptor]
	var stream []server.MiddlewareModification[grpc.StreamServerInterceptor]
	for _, name := range []string{server.DefaultMiddlewareLog, server.DefaultMiddlewareGRPCLog + "-debug", server.DefaultMiddlewareGRPCLog, server.DefaultMiddlewareMemoryProtection, server.DefaultMiddlewareServerVersion} {
		unary = append(unary, server.MiddlewareModification[grpc.UnaryServerInterceptor]{DependencyMiddlewareName: name, Operation: server.OperationReplace})
		stream = append(stream, server.MiddlewareModification[grpc.StreamServerInterceptor]{DependencyMiddlewareName: name, Operation: server.OperationReplace})
	}
	unary = append(unary, server.MiddlewareModification[grpc.UnaryServerInterceptor]{DependencyMiddlewareName: server.DefaultMiddlewareGRPCProm, Operation: server.OperationReplace,
		Middlewares: []server.ReferenceableMiddleware[grpc.UnaryServerInterceptor]{server.NewUnaryMiddleware().WithName(server.DefaultMiddlewareGRPCProm).WithInterceptor(unaryPass).Done()}})
	stream = append(stream, server.MiddlewareModification[grpc.StreamServerInterceptor]{DependencyMiddlewareName: server.DefaultMiddlewareGRPCProm, Operation: server.OperationReplace,
		Middlewares: []server.ReferenceableMiddleware[grpc.StreamServerInterceptor]{server.NewStreamMiddleware().WithName(server.DefaultMiddlewareGRPCProm).WithInterceptor(streamPass).Done()}})
	return []server.ConfigOption{server.SetUnaryMiddlewareModification(unary), server.SetStreamingMiddlewareModification(stream)}
}
