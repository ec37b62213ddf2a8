package badgerds

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/datastore/options"
	"github.com/authzed/spicedb/pkg/tuple"
)

// TestSubjectPagesResumeInOrder: a subject's relationships, across
// resource types and relations, read page by page from cursors, come out
// each exactly once, whether the pages leave the order to the datastore
// (ChooseEfficient, as SpiceDB's ReadRelationships pages) or ask for none
// (a reverse query without a resource relation).
func TestSubjectPagesResumeInOrder(t *testing.T) {
	ctx := t.Context()
	ds := openStore(t)
	var want []string
	for i := range 12 {
		for _, r := range []string{"project:p%02d#reader@user:u", "project:p%02d#admin@user:u", "job:j%02d#viewer@user:u", "job:j%02d#owner@user:u"} {
			want = append(want, fmt.Sprintf(r, i))
		}
	}
	if err := bulkLoad(ctx, ds, rels(want...)); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	head, err := ds.HeadRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reader := ds.SnapshotReader(head.Revision)
	limit := uint64(5)
	for _, c := range []struct {
		name string
		page func(after options.Cursor) (datastore.RelationshipIterator, error)
	}{
		{"subject filter, ChooseEfficient", func(after options.Cursor) (datastore.RelationshipIterator, error) {
			return reader.QueryRelationships(ctx, datastore.RelationshipsFilter{
				OptionalSubjectsSelectors: []datastore.SubjectsSelector{{OptionalSubjectType: "user", OptionalSubjectIds: []string{"u"}}},
			}, options.WithSort(options.ChooseEfficient), options.WithLimit(&limit), options.WithAfter(after))
		}},
		{"reverse query, no resource relation, no order", func(after options.Cursor) (datastore.RelationshipIterator, error) {
			return reader.ReverseQueryRelationships(ctx, datastore.SubjectsFilter{SubjectType: "user", OptionalSubjectIds: []string{"u"}},
				options.WithLimitForReverse(&limit), options.WithAfterForReverse(after))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := pageThrough(t, int(limit), c.page)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("paged %v\nwant each of %v once", got, want)
			}
		})
	}
}

// TestTypedSubjectQueries: resources of one type found by their subject
// (a project's jobs, say) come out exactly, page by page in the order
// asked for; and a transaction reading them conflicts with a write to
// that subject's rows, not with one to another subject's.
func TestTypedSubjectQueries(t *testing.T) {
	ctx := t.Context()
	ds := openStore(t)
	var all, want []string
	for i := range 12 {
		mine := []string{fmt.Sprintf("job:j%02d#viewer@user:u", i), fmt.Sprintf("job:j%02d#owner@user:u", i)}
		want = append(want, mine...)
		all = append(all, mine...)
		all = append(all, fmt.Sprintf("job:j%02d#viewer@user:other", i), fmt.Sprintf("project:p%02d#reader@user:u", i))
	}
	if err := bulkLoad(ctx, ds, rels(all...)); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want) // by resource, as these IDs spell it
	filter := datastore.RelationshipsFilter{
		OptionalResourceType:      "job",
		OptionalSubjectsSelectors: []datastore.SubjectsSelector{{OptionalSubjectType: "user", OptionalSubjectIds: []string{"u"}}},
	}
	head, err := ds.HeadRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reader := ds.SnapshotReader(head.Revision)
	limit := uint64(5)
	for _, sort := range []options.SortOrder{options.ByResource, options.ChooseEfficient} {
		got := pageThrough(t, int(limit), func(after options.Cursor) (datastore.RelationshipIterator, error) {
			return reader.QueryRelationships(ctx, filter, options.WithSort(sort), options.WithLimit(&limit), options.WithAfter(after))
		})
		if sort == options.ChooseEfficient {
			slices.Sort(got)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("sort %v: paged %v\nwant %v", sort, got, want)
		}
	}

	for _, c := range []struct {
		concurrent string
		attempts   int
	}{
		{"job:new1#viewer@user:other", 1}, // another subject's row: no conflict
		{"job:new2#viewer@user:u", 2},     // a row the query would have read
	} {
		attempts := 0
		_, err := ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
			attempts++
			it, err := rwt.QueryRelationships(ctx, filter)
			if err != nil {
				return err
			}
			collect(t, it)
			if attempts == 1 {
				touch(t, ds, c.concurrent)
			}
			return rwt.WriteRelationships(ctx, []tuple.RelationshipUpdate{tuple.Touch(tuple.MustParse(fmt.Sprintf("doc:d%d#viewer@user:u", attempts)))})
		})
		if err != nil {
			t.Fatal(err)
		}
		if attempts != c.attempts {
			t.Errorf("with %s committed meanwhile: %d attempts, want %d", c.concurrent, attempts, c.attempts)
		}
	}
}

// pageThrough reads pages of size rows, each from the cursor of the last
// row before it, until a page comes out short; it returns every row read.
func pageThrough(t *testing.T, size int, page func(after options.Cursor) (datastore.RelationshipIterator, error)) []string {
	t.Helper()
	var got []string
	var after options.Cursor
	for pages := 0; pages < 20; pages++ {
		it, err := page(after)
		if err != nil {
			t.Fatal(err)
		}
		rows := collect(t, it)
		got = append(got, rows...)
		if len(rows) < size {
			break
		}
		after = options.ToCursor(tuple.MustParse(rows[len(rows)-1]))
	}
	return got
}

// TestQueriesBetweenCursors: a query bounded by After and BeforeOrEqual
// (SpiceDB's partitioned export reads one partition so) returns exactly the
// rows between the two, the upper bound included, whether the index it
// reads holds them in the order asked or they are sorted after reading.
func TestQueriesBetweenCursors(t *testing.T) {
	ctx := t.Context()
	ds := openStore(t)
	var all []string
	for i := range 10 {
		all = append(all, fmt.Sprintf("doc:d%d#viewer@user:u", i))
	}
	if err := bulkLoad(ctx, ds, rels(all...)); err != nil {
		t.Fatal(err)
	}
	head, err := ds.HeadRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reader := ds.SnapshotReader(head.Revision)
	cursor := func(s string) options.Cursor { return options.ToCursor(tuple.MustParse(s)) }
	for _, c := range []struct {
		name   string
		filter datastore.RelationshipsFilter
	}{
		{"forward index", datastore.RelationshipsFilter{OptionalResourceType: "doc"}},
		{"subject-first index, sorted after", datastore.RelationshipsFilter{
			OptionalSubjectsSelectors: []datastore.SubjectsSelector{{OptionalSubjectType: "user", OptionalSubjectIds: []string{"u"}}},
		}},
	} {
		for _, b := range []struct {
			after, upTo string
			want        []string
		}{
			{"doc:d2#viewer@user:u", "doc:d5#viewer@user:u", all[3:6]},
			{"", "doc:d1#viewer@user:u", all[:2]},
			{"doc:d7#viewer@user:u", "", all[8:]},
			{"doc:d4#viewer@user:u", "doc:d4#viewer@user:u", nil},
		} {
			t.Run(fmt.Sprintf("%s, (%s, %s]", c.name, b.after, b.upTo), func(t *testing.T) {
				opts := []options.QueryOptionsOption{options.WithSort(options.ByResource)}
				if b.after != "" {
					opts = append(opts, options.WithAfter(cursor(b.after)))
				}
				if b.upTo != "" {
					opts = append(opts, options.WithBeforeOrEqual(cursor(b.upTo)))
				}
				it, err := reader.QueryRelationships(ctx, c.filter, opts...)
				if err != nil {
					t.Fatal(err)
				}
				if got := collect(t, it); !slices.Equal(got, b.want) {
					t.Fatalf("got %v, want %v", got, b.want)
				}
			})
		}
	}
	if _, err := reader.QueryRelationships(ctx, datastore.RelationshipsFilter{OptionalResourceType: "doc"},
		options.WithBeforeOrEqual(cursor(all[3]))); err == nil {
		t.Fatal("an upper bound on an unsorted query was accepted")
	}
}
