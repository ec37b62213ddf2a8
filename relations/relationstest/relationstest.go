// Package relationstest starts a complete relation graph for tests: SpiceDB
// embedded in the test process over a fresh in-memory datastore, with an
// in-memory catalog. Nothing is mocked.
package relationstest

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/relations/badgercatalog"
	"github.com/seed-6461fa00/trellis/relations/embedded"
)

// Env is a running graph and the pieces it is made of.
type Env struct {
	Graph   *relations.Graph
	Conn    grpc.ClientConnInterface
	Catalog *badgercatalog.Catalog
	// Engine is the engine under Graph, for a second graph over the same
	// data wired the same way (WithHeadChecker, WithLocalWriter).
	Engine *embedded.Engine
}

// Option adjusts the graph Open starts.
type Option func(*options)

type options struct {
	wrapConn    func(grpc.ClientConnInterface) grpc.ClientConnInterface
	wrapChecker func(relations.HeadChecker) relations.HeadChecker
	wrapWriter  func(relations.LocalWriter) relations.LocalWriter
}

// WrapConn wraps the connection relations uses (to count calls, say).
func WrapConn(f func(grpc.ClientConnInterface) grpc.ClientConnInterface) Option {
	return func(o *options) { o.wrapConn = f }
}

// WrapChecker wraps the in-process checker relations uses, as WrapConn does
// the connection.
func WrapChecker(f func(relations.HeadChecker) relations.HeadChecker) Option {
	return func(o *options) { o.wrapChecker = f }
}

// WrapWriter wraps the in-process writer relations uses, as WrapConn does
// the connection.
func WrapWriter(f func(relations.LocalWriter) relations.LocalWriter) Option {
	return func(o *options) { o.wrapWriter = f }
}

// Open starts a graph that lives until the test ends, wired as `trellis
// serve` wires it: relationship writes and deletions, and the checks that
// may read the newest revision, run in process; everything else goes over
// the engine's connection.
func Open(tb testing.TB, opts ...Option) *Env {
	tb.Helper()
	ctx := context.Background()
	ds, err := NewDatastore(ctx)
	if err != nil {
		tb.Fatalf("datastore: %v", err)
	}
	tb.Cleanup(func() { _ = ds.Close() })

	engine, err := embedded.Start(ctx, embedded.Config{Datastore: ds})
	if err != nil {
		tb.Fatalf("start engine: %v", err)
	}
	tb.Cleanup(func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := engine.Close(closeCtx); err != nil {
			tb.Errorf("stop engine: %v", err)
		}
	})

	catalog, err := badgercatalog.Open("")
	if err != nil {
		tb.Fatalf("catalog: %v", err)
	}
	tb.Cleanup(func() { _ = catalog.Close() })

	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	var conn grpc.ClientConnInterface = engine.Conn()
	if o.wrapConn != nil {
		conn = o.wrapConn(conn)
	}
	var checker relations.HeadChecker = engine
	if o.wrapChecker != nil {
		checker = o.wrapChecker(checker)
	}
	var writer relations.LocalWriter = engine
	if o.wrapWriter != nil {
		writer = o.wrapWriter(writer)
	}
	g, err := relations.Open(ctx, conn, catalog, relations.WithHeadChecker(checker), relations.WithLocalWriter(writer))
	if err != nil {
		tb.Fatalf("open graph: %v", err)
	}
	return &Env{Graph: g, Conn: conn, Catalog: catalog, Engine: engine}
}

// MustUser returns the user with the given subject.
func MustUser(tb testing.TB, subject string) relations.User {
	tb.Helper()
	u, err := relations.UserFromSubject(subject)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}
