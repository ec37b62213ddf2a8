package badgerds_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/tuple"

	"github.com/seed-6461fa00/trellis/relations/badgerds"
	"github.com/seed-6461fa00/trellis/relations/graphbench"
)

// BenchmarkDurableWrite measures one single-relationship transaction on
// disk, acknowledged after fsync, without SpiceDB's engine in front.
func BenchmarkDurableWrite(b *testing.B) {
	ds, err := badgerds.New(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer ds.Close()
	i := 0
	lat := make(graphbench.Latencies, 0, b.N)
	for b.Loop() {
		rel := tuple.MustParse(fmt.Sprintf("document:d%d#viewer@user:u%d", i, i))
		start := time.Now()
		if _, err := ds.ReadWriteTx(b.Context(), func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
			return rwt.WriteRelationships(ctx, []tuple.RelationshipUpdate{tuple.Touch(rel)})
		}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		i++
	}
	b.ReportMetric(float64(lat.Percentile(50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat.Percentile(99).Microseconds()), "p99-µs")
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
