package badgerds_test

import (
	"context"
	"errors"
	"testing"

	"github.com/authzed/spicedb/pkg/datastore"

	"github.com/seed-6461fa00/trellis/relations/badgerds"
)

// TestCancelledQueryIsAnError: a query whose context has ended says so,
// also when it would have found nothing; a check reading its silence as
// "no relationship" would deny where it should fail.
func TestCancelledQueryIsAnError(t *testing.T) {
	ds, err := badgerds.New(t.Context(), "", badgerds.WithInMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	rev := mustWrite(t, ds, "document:d1#viewer@user:u1")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := ds.SnapshotReader(rev)
	for _, id := range []string{"d1", "absent"} {
		it, err := r.QueryRelationships(ctx, datastore.RelationshipsFilter{OptionalResourceType: "document", OptionalResourceIds: []string{id}})
		if err == nil {
			_, err = datastore.IteratorToSlice(it)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("query of document:%s with its context cancelled: %v", id, err)
		}
	}
	it, err := r.ReverseQueryRelationships(ctx, datastore.SubjectsFilter{SubjectType: "user", OptionalSubjectIds: []string{"nobody"}})
	if err == nil {
		_, err = datastore.IteratorToSlice(it)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("reverse query with its context cancelled: %v", err)
	}
}
