package embedded

import (
	"context"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/spicedb/pkg/datalayer"
	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/schemadsl/compiler"
	"github.com/authzed/spicedb/pkg/schemadsl/input"
	"github.com/authzed/spicedb/pkg/tuple"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed-6461fa00/trellis/relations/badgerds"
	"github.com/seed-6461fa00/trellis/schema"
)

// TestStoreWithOnlyLegacySchema: a store whose schema was written only as
// per-definition namespaces, as before Trellis stored SpiceDB's unified
// schema too, is read as written: its relationships answer checks, and a
// schema write that would drop a relation still in use is refused, as
// SpiceDB refuses it on any store. The next schema write stores both
// forms, and from the following start the engine reads the unified one.
func TestStoreWithOnlyLegacySchema(t *testing.T) {
	ctx := t.Context()
	ds, err := badgerds.New(ctx, "", badgerds.WithInMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	compiled, err := compiler.Compile(compiler.InputSchema{Source: input.Source("schema.zed"), SchemaString: schema.Text}, compiler.AllowUnprefixedObjectType())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		if err := rwt.LegacyWriteNamespaces(ctx, compiled.ObjectDefinitions...); err != nil {
			return err
		}
		return rwt.WriteRelationships(ctx, []tuple.RelationshipUpdate{tuple.Create(tuple.MustParse("project:apollo#reader@user:rita"))})
	}); err != nil {
		t.Fatal(err)
	}
	if mode, err := schemaModeFor(ctx, ds); err != nil || mode != datalayer.SchemaModeReadLegacyWriteBoth {
		t.Fatalf("schema mode for a legacy store: %v, %v", mode, err)
	}

	e, err := Start(ctx, Config{Datastore: ds})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := e.CheckAtHead(ctx, "project", "apollo", "read", "user", "rita"); err != nil || !ok {
		t.Fatalf("in-process check on the legacy store: %v, %v", ok, err)
	}
	schemas := v1.NewSchemaServiceClient(e.Conn())
	if _, err := schemas.ReadSchema(ctx, &v1.ReadSchemaRequest{}); err != nil {
		t.Fatalf("reading the legacy store's schema: %v", err)
	}
	_, err = schemas.WriteSchema(ctx, &v1.WriteSchemaRequest{Schema: "definition user {}\ndefinition project {\n\trelation admin: user\n}\n"})
	if code := status.Code(err); code != codes.FailedPrecondition && code != codes.InvalidArgument {
		t.Fatalf("a schema dropping project#reader, still in use, was not refused: %v", err)
	}
	if _, err := schemas.WriteSchema(ctx, &v1.WriteSchemaRequest{Schema: schema.Text}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}

	if mode, err := schemaModeFor(ctx, ds); err != nil || mode != datalayer.SchemaModeReadNewWriteBoth {
		t.Fatalf("schema mode once both forms are stored: %v, %v", mode, err)
	}
	e, err = Start(ctx, Config{Datastore: ds})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	if ok, err := e.CheckAtHead(ctx, "project", "apollo", "read", "user", "rita"); err != nil || !ok {
		t.Fatalf("in-process check after the upgrade: %v, %v", ok, err)
	}
	got, err := v1.NewSchemaServiceClient(e.Conn()).ReadSchema(ctx, &v1.ReadSchemaRequest{})
	if err != nil || got.GetSchemaText() != schema.Text {
		t.Fatalf("unified schema after the upgrade: %v", err)
	}
}
