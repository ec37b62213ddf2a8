package badgerds_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/tuple"
	"github.com/dgraph-io/badger/v4"

	"github.com/seed-6461fa00/trellis/relations/badgerds"
	"github.com/seed-6461fa00/trellis/relations/graphbench"
)

// BenchmarkDurableWrite measures one single-relationship transaction on
// disk, acknowledged after fsync, without SpiceDB's engine in front. Each
// iteration also commits, in another directory, a Badger transaction alone
// with as many keys (two index entries, the change log entry, the count)
// and sync writes on: the disk's cost of that moment, which varies several
// fold on this machine over a day, measured in the same run.
func BenchmarkDurableWrite(b *testing.B) {
	ds, err := badgerds.New(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer ds.Close()
	db, err := badger.OpenManaged(badger.DefaultOptions(b.TempDir()).WithLogger(nil).WithSyncWrites(true).WithDetectConflicts(false))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	i := 0
	lat := make(graphbench.Latencies, 0, b.N)
	alone := make(graphbench.Latencies, 0, b.N)
	for b.Loop() {
		rel := tuple.MustParse(fmt.Sprintf("document:d%d#viewer@user:u%d", i, i))
		start := time.Now()
		if _, err := ds.ReadWriteTx(b.Context(), func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
			return rwt.WriteRelationships(ctx, []tuple.RelationshipUpdate{tuple.Touch(rel)})
		}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))

		b.StopTimer()
		start = time.Now()
		txn := db.NewTransactionAt(uint64(i+1), true)
		for k, size := range []int{40, 40, 80, 8} {
			if err := txn.Set(fmt.Appendf(nil, "%d-%d", k, i), make([]byte, size)); err != nil {
				b.Fatal(err)
			}
		}
		if err := txn.CommitAt(uint64(i+2), nil); err != nil {
			b.Fatal(err)
		}
		alone = append(alone, time.Since(start))
		b.StartTimer()
		i++
	}
	b.ReportMetric(float64(lat.Percentile(50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat.Percentile(99).Microseconds()), "p99-µs")
	b.ReportMetric(float64(alone.Percentile(50).Microseconds()), "badger-alone-p50-µs")
}

// BenchmarkPointQuery measures the query each branch of a Check makes:
// one resource, one relation, one subject (relation included), among 100k
// relationships, flushed to Badger's levels as a loaded store is. Most
// branches of a Check look for a relationship that is absent.
func BenchmarkPointQuery(b *testing.B) {
	ds, err := badgerds.New(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer ds.Close()
	const n = 100_000
	for start := 0; start < n; start += 10_000 {
		if _, err := ds.ReadWriteTx(b.Context(), func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
			var updates []tuple.RelationshipUpdate
			for i := start; i < start+10_000; i++ {
				updates = append(updates, tuple.Create(tuple.MustParse(fmt.Sprintf("document:d%d#viewer@user:u%d", i, i%977))))
			}
			return rwt.WriteRelationships(ctx, updates)
		}); err != nil {
			b.Fatal(err)
		}
	}
	head, err := ds.HeadRevision(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	query := func(b *testing.B, relation string, want int) {
		i := 0
		for b.Loop() {
			d := i % n
			it, err := ds.SnapshotReader(head.Revision).QueryRelationships(b.Context(), datastore.RelationshipsFilter{
				OptionalResourceType: "document", OptionalResourceIds: []string{fmt.Sprintf("d%d", d)}, OptionalResourceRelation: relation,
				OptionalSubjectsSelectors: []datastore.SubjectsSelector{{
					OptionalSubjectType: "user", OptionalSubjectIds: []string{fmt.Sprintf("u%d", d%977)},
					RelationFilter: datastore.SubjectRelationFilter{}.WithEllipsisRelation(),
				}},
			})
			if err != nil {
				b.Fatal(err)
			}
			found := 0
			for _, err := range it {
				if err != nil {
					b.Fatal(err)
				}
				found++
			}
			if found != want {
				b.Fatalf("found %d, want %d", found, want)
			}
			i++
		}
	}
	b.Run("present", func(b *testing.B) { query(b, "viewer", 1) })
	b.Run("absent", func(b *testing.B) { query(b, "editor", 0) })
}
