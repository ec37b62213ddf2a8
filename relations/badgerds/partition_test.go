package badgerds_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/datastore/options"
	v1services "github.com/authzed/spicedb/pkg/services/v1"
	"github.com/authzed/spicedb/pkg/tuple"

	"github.com/seed-6461fa00/trellis/relations/badgerds"
)

// TestPartitionedExport: SpiceDB's partitioned export over the store
// streams, across all its parts, every relationship at the revision once,
// in order; the parts are about even; a deleted relationship is in none.
func TestPartitionedExport(t *testing.T) {
	ctx := t.Context()
	ds, err := badgerds.New(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	write := func(updates []tuple.RelationshipUpdate) datastore.Revision {
		t.Helper()
		rev, err := ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
			return rwt.WriteRelationships(ctx, updates)
		})
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	var updates []tuple.RelationshipUpdate
	for i := range 3000 {
		typ := []string{"document", "folder", "job"}[i%3]
		updates = append(updates, tuple.Create(tuple.MustParse(fmt.Sprintf("%s:r%04d#viewer@user:u%d", typ, i, i%97))))
	}
	write(updates)
	// Deleted: present in older versions, absent at the head.
	var deletes []tuple.RelationshipUpdate
	for i := 0; i < 3000; i += 10 {
		deletes = append(deletes, tuple.Delete(updates[i].Relationship))
	}
	rev := write(deletes)

	it, err := ds.SnapshotReader(rev).QueryRelationships(ctx, datastore.RelationshipsFilter{}, options.WithSort(options.ByResource))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for r, err := range it {
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, tuple.MustString(r))
	}
	if len(want) != 2700 {
		t.Fatalf("the store holds %d relationships, want 2700", len(want))
	}

	for _, asked := range []uint32{1, 2, 7, 16} {
		plan, err := v1services.PlanPartitionedExport(ctx, ds, asked)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Partitions) != int(asked) {
			t.Fatalf("asked for %d parts, planned %d", asked, len(plan.Partitions))
		}
		var got []string
		for _, p := range plan.Partitions {
			it, err := v1services.StreamPartitionedExport(ctx, ds, v1services.StreamRequest{Partition: p, Revision: rev})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for r, err := range it {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, tuple.MustString(r))
				n++
			}
			if even := len(want) / int(asked); n < even*9/10 || n > even*11/10+1 {
				t.Errorf("%d parts: part %d holds %d relationships, about %d expected", asked, p.Index, n, even)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%d parts streamed %d relationships, not the %d stored, in order", asked, len(got), len(want))
		}
	}

	// More parts than relationships: one relationship a part at most.
	small, err := badgerds.New(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if _, err := small.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		return rwt.WriteRelationships(ctx, updates[:3])
	}); err != nil {
		t.Fatal(err)
	}
	plan, err := v1services.PlanPartitionedExport(ctx, small, 10)
	if err != nil || len(plan.Partitions) != 3 {
		t.Fatalf("10 parts of 3 relationships: %v, %v", plan, err)
	}
}
