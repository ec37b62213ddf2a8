package badgerds_test

import (
	"context"
	"testing"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/tuple"

	"github.com/seed-6461fa00/trellis/relations/badgerds"
)

// TestPointReadSeesItsOwnWrites: a query naming every field of one
// relationship, inside the transaction that just wrote it, returns it
// whole, caveat and expiration included, as the stored one would be.
// (Such a query is read with a Get, which answers from the transaction's
// pending writes.)
func TestPointReadSeesItsOwnWrites(t *testing.T) {
	ds, err := badgerds.New(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	written := []string{
		"document:d1#viewer@user:u1[expiration:2999-01-01T00:00:00Z]",
		`document:d1#editor@user:u1[only_on_tuesday:{"day":"tuesday"}]`,
		"document:d1#owner@user:u1",
	}
	query := func(ctx context.Context, r datastore.Reader, rel tuple.Relationship) string {
		t.Helper()
		it, err := r.QueryRelationships(ctx, datastore.RelationshipsFilter{
			OptionalResourceType: rel.Resource.ObjectType, OptionalResourceIds: []string{rel.Resource.ObjectID},
			OptionalResourceRelation: rel.Resource.Relation,
			OptionalSubjectsSelectors: []datastore.SubjectsSelector{{
				OptionalSubjectType: rel.Subject.ObjectType, OptionalSubjectIds: []string{rel.Subject.ObjectID},
				RelationFilter: datastore.SubjectRelationFilter{}.WithEllipsisRelation(),
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		rels, err := datastore.IteratorToSlice(it)
		if err != nil {
			t.Fatal(err)
		}
		if len(rels) != 1 {
			t.Fatalf("%s: found %d relationships", tuple.MustString(rel), len(rels))
		}
		return tuple.MustString(rels[0])
	}
	rev, err := ds.ReadWriteTx(t.Context(), func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		for _, s := range written {
			rel := tuple.MustParse(s)
			if err := rwt.WriteRelationships(ctx, []tuple.RelationshipUpdate{tuple.Touch(rel)}); err != nil {
				return err
			}
			if got, want := query(ctx, rwt, rel), tuple.MustString(rel); got != want {
				t.Errorf("read back in its own transaction: %s, want %s", got, want)
			}
		}
		// A range over several keys is read with an iterator: the same.
		it, err := rwt.QueryRelationships(ctx, datastore.RelationshipsFilter{OptionalResourceType: "document", OptionalResourceIds: []string{"d1"}})
		if err != nil {
			return err
		}
		rels, err := datastore.IteratorToSlice(it)
		if err != nil {
			return err
		}
		got := map[string]bool{}
		for _, rel := range rels {
			got[tuple.MustString(rel)] = true
		}
		for _, s := range written {
			if !got[tuple.MustString(tuple.MustParse(s))] {
				t.Errorf("range read in its own transaction lacks %s; got %v", s, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range written {
		rel := tuple.MustParse(s)
		if got, want := query(t.Context(), ds.SnapshotReader(rev), rel), tuple.MustString(rel); got != want {
			t.Errorf("read back after the commit: %s, want %s", got, want)
		}
	}
}
