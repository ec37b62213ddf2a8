package badgerds_test

import (
	"context"
	"testing"
	"time"

	consistencytest "github.com/authzed/spicedb/pkg/consistency/test"
	"github.com/authzed/spicedb/pkg/datastore"
	dstest "github.com/authzed/spicedb/pkg/datastore/test"
	"github.com/dgraph-io/badger/v4"

	"github.com/seed-6461fa00/trellis/relations/badgerds"
)

// newOnDisk is the suites' tester: a fresh datastore in a real directory
// per test, configured as the suite asks.
func newOnDisk(tb testing.TB, p dstest.RevisionParameters, watchBuffer uint16) (datastore.Datastore, error) {
	opts := []badgerds.Option{
		badgerds.WithRevisionQuantization(p.Quantization),
		badgerds.WithGCWindow(time.Duration(p.GCRetentionWindow)),
		badgerds.WithGCInterval(time.Duration(p.GCRunInterval)),
		// Small caches: the suites open hundreds of stores.
		badgerds.WithBlockCacheMiB(8),
	}
	if watchBuffer > 0 {
		opts = append(opts, badgerds.WithWatchBufferLength(watchBuffer))
	}
	ds, err := badgerds.New(context.Background(), tb.TempDir(), opts...)
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() { _ = ds.Close() })
	return ds, nil
}

// TestSpiceDBConformance runs SpiceDB's datastore suite, unmodified, on
// disk. The one category left out, Migration, checks SQL schema migrations,
// which a Badger store does not have.
func TestSpiceDBConformance(t *testing.T) {
	tester := dstest.NewTesterFactory(badger.ErrConflict).NewTester(dstest.DatastoreTesterFunc(newOnDisk))
	dstest.AllWithExceptions(t, tester, dstest.WithCategories(dstest.MigrationCategory))
}

// TestSpiceDBConsistency runs SpiceDB's system-wide consistency suite over
// its validation files against this datastore.
func TestSpiceDBConsistency(t *testing.T) {
	consistencytest.AllConsistency(t, dstest.DatastoreTesterFunc(newOnDisk))
}
