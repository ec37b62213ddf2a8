package badgerds

import (
	"context"
	"testing"

	"github.com/authzed/spicedb/pkg/datastore"
	core "github.com/authzed/spicedb/pkg/proto/core/v1"
)

// TestWritesReadTheSchemaFromMemory: once the newest schema has been read,
// a write transaction takes it from memory, not from Badger: it gets the
// very same schema, which decoding anew would not give.
func TestWritesReadTheSchemaFromMemory(t *testing.T) {
	ctx := t.Context()
	ds, err := open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	stored := &core.StoredSchema{Version: 1, VersionOneof: &core.StoredSchema_V1{V1: &core.StoredSchema_V1StoredSchema{
		SchemaText: "definition user {}", SchemaHash: "h1",
	}}}
	rev, err := ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		return rwt.WriteStoredSchema(ctx, stored)
	})
	if err != nil {
		t.Fatal(err)
	}
	first, err := ds.SnapshotReader(rev).ReadStoredSchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		s, err := rwt.ReadStoredSchema(ctx)
		if err == nil && s != first {
			t.Error("the write transaction decoded the schema again")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
