package relationstest

import (
	"context"

	"github.com/authzed/spicedb/pkg/datastore"

	"github.com/seed-6461fa00/trellis/relations/badgerds"
)

// NewDatastore returns an empty in-memory Badger datastore: Trellis's own
// engine, minus durability. Revisions are not quantized, so a read without
// a token sees every write before it and tests need not pass tokens around.
func NewDatastore(ctx context.Context) (datastore.Datastore, error) {
	return badgerds.New(ctx, "", badgerds.WithInMemory(), badgerds.WithRevisionQuantization(0), badgerds.WithBlockCacheMiB(16))
}
