package badgerds

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/datastore/options"
	core "github.com/authzed/spicedb/pkg/proto/core/v1"
	"github.com/authzed/spicedb/pkg/tuple"
)

type relSource struct{ rels []tuple.Relationship }

func (s *relSource) Next(context.Context) (*tuple.Relationship, error) {
	if len(s.rels) == 0 {
		return nil, nil
	}
	rel := s.rels[0]
	s.rels = s.rels[1:]
	return &rel, nil
}

func rels(ss ...string) []tuple.Relationship {
	out := make([]tuple.Relationship, 0, len(ss))
	for _, s := range ss {
		out = append(out, tuple.MustParse(s))
	}
	return out
}

// openStore opens a store in a fresh directory, closed with the test.
func openStore(t *testing.T) datastore.Datastore {
	t.Helper()
	ds, err := New(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ds.Close() })
	return ds
}

// collect reads an iterator's relationships as strings.
func collect(t *testing.T, it datastore.RelationshipIterator) []string {
	t.Helper()
	var out []string
	for rel, err := range it {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tuple.MustString(rel))
	}
	return out
}

func bulkLoad(ctx context.Context, ds datastore.Datastore, rs []tuple.Relationship) error {
	_, err := ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		_, err := rwt.BulkLoad(ctx, &relSource{rels: rs})
		return err
	})
	return err
}

// TestBulkLoadAmongManyStored: a bulk load whose few relationships span
// thousands of stored ones still finds the one among them that exists,
// and loads those that do not.
func TestBulkLoadAmongManyStored(t *testing.T) {
	ctx := t.Context()
	ds := openStore(t)
	var stored []string
	for i := range 5000 {
		stored = append(stored, fmt.Sprintf("document:d%04d#viewer@user:u", i))
	}
	if err := bulkLoad(ctx, ds, rels(stored...)); err != nil {
		t.Fatal(err)
	}
	err := bulkLoad(ctx, ds, rels("document:a#viewer@user:u", "document:d4990#viewer@user:u", "document:z#viewer@user:u"))
	if !errors.As(err, &datastore.CreateRelationshipExistsError{}) {
		t.Fatalf("loading a stored relationship among new ones: %v, want CreateRelationshipExistsError", err)
	}
	if err := bulkLoad(ctx, ds, rels("document:a#viewer@user:u", "document:d2500#viewer@user:v", "document:z#viewer@user:u")); err != nil {
		t.Fatalf("loading new relationships among stored ones: %v", err)
	}
	head, err := ds.HeadRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	it, err := ds.SnapshotReader(head.Revision).QueryRelationships(ctx, datastore.RelationshipsFilter{OptionalResourceType: "document"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(collect(t, it)); n != 5003 {
		t.Fatalf("%d relationships stored, want 5003", n)
	}
}

// TestBulkLoadConflicts: a bulk load conflicts with a concurrent write of
// a relationship it creates, and with nothing else in its key range.
func TestBulkLoadConflicts(t *testing.T) {
	for _, c := range []struct {
		name, concurrent string
		conflict         bool
	}{
		{"another key in its range", "document:b#viewer@user:u", false},
		{"a key it creates", "document:c#viewer@user:u", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := t.Context()
			ds := openStore(t)
			attempts := 0
			_, err := ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
				attempts++
				if _, err := rwt.BulkLoad(ctx, &relSource{rels: rels("document:a#viewer@user:u", "document:c#viewer@user:u")}); err != nil {
					return err
				}
				if attempts == 1 {
					// Committed between this transaction's reads and its commit.
					_, err := ds.ReadWriteTx(ctx, func(ctx context.Context, other datastore.ReadWriteTransaction) error {
						return other.WriteRelationships(ctx, []tuple.RelationshipUpdate{tuple.Create(tuple.MustParse(c.concurrent))})
					})
					return err
				}
				return nil
			})
			if c.conflict {
				if attempts != 2 || !errors.As(err, &datastore.CreateRelationshipExistsError{}) {
					t.Fatalf("%d attempts, %v: want a retry that finds the relationship the other wrote", attempts, err)
				}
				return
			}
			if err != nil || attempts != 1 {
				t.Fatalf("%d attempts, %v: want one that commits", attempts, err)
			}
		})
	}
}

// reusingSource hands out one relationship value and one caveat, rewritten
// for each row, as SpiceDB's import adapters do.
type reusingSource struct {
	rels   []tuple.Relationship
	cur    tuple.Relationship
	caveat core.ContextualizedCaveat
}

func (s *reusingSource) Next(context.Context) (*tuple.Relationship, error) {
	if len(s.rels) == 0 {
		return nil, nil
	}
	next := s.rels[0]
	s.rels = s.rels[1:]
	s.cur = next
	if next.OptionalCaveat != nil {
		s.caveat.CaveatName = next.OptionalCaveat.CaveatName
		s.caveat.Context = next.OptionalCaveat.Context
		s.cur.OptionalCaveat = &s.caveat
	}
	return &s.cur, nil
}

// TestBulkLoadKeepsEachCaveat: every loaded relationship keeps its own
// caveat, though the source reuses its memory from row to row.
func TestBulkLoadKeepsEachCaveat(t *testing.T) {
	ctx := t.Context()
	ds := openStore(t)
	want := []string{`document:a#viewer@user:u[first:{"n":1}]`, "document:b#viewer@user:u", `document:c#viewer@user:u[second:{"n":2}]`}
	_, err := ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		_, err := rwt.BulkLoad(ctx, &reusingSource{rels: rels(want...)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	head, err := ds.HeadRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	it, err := ds.SnapshotReader(head.Revision).QueryRelationships(ctx, datastore.RelationshipsFilter{OptionalResourceType: "document"}, options.WithSort(options.ByResource))
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(t, it); !slices.Equal(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
}
