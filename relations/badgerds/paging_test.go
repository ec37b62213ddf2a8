package badgerds

import (
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
			var got []string
			var after options.Cursor
			for pages := 0; pages < 20; pages++ {
				it, err := c.page(after)
				if err != nil {
					t.Fatal(err)
				}
				page := collect(t, it)
				got = append(got, page...)
				if len(page) < int(limit) {
					break
				}
				after = options.ToCursor(tuple.MustParse(page[len(page)-1]))
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("paged %v\nwant each of %v once", got, want)
			}
		})
	}
}
