package badgerds

import (
	"context"
	"errors"
	"testing"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/datastore/options"
	"github.com/authzed/spicedb/pkg/tuple"
	"github.com/dgraph-io/badger/v4"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestContendedTransactionIsAborted: a transaction that loses every
// attempt to concurrent writers fails as Aborted, a status the client is
// to retry on, and still as Badger's conflict underneath.
func TestContendedTransactionIsAborted(t *testing.T) {
	ctx := t.Context()
	ds := openStore(t)
	rel := "doc:a#viewer@user:u"
	_, err := ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		it, err := rwt.QueryRelationships(ctx, datastore.RelationshipsFilter{OptionalResourceType: "doc"})
		if err != nil {
			return err
		}
		collect(t, it)
		touch(t, ds, rel) // commits inside what this transaction read
		return rwt.WriteRelationships(ctx, []tuple.RelationshipUpdate{tuple.Touch(tuple.MustParse("doc:b#viewer@user:u"))})
	}, options.WithDisableRetries(true))
	if !errors.Is(err, badger.ErrConflict) || status.Code(err) != codes.Aborted {
		t.Fatalf("a transaction that lost its only attempt: %v (code %v), want a conflict answered as Aborted", err, status.Code(err))
	}
}

// TestLimitedQueryRecordsOnlyWhatItRead: a query that reached its limit in
// its first range does not read (and so conflict on) the next.
func TestLimitedQueryRecordsOnlyWhatItRead(t *testing.T) {
	ctx := t.Context()
	ds := openStore(t)
	touch(t, ds, "doc:a#viewer@user:u")
	limit := uint64(1)
	attempts := 0
	_, err := ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		attempts++
		it, err := rwt.QueryRelationships(ctx, datastore.RelationshipsFilter{OptionalResourceType: "doc", OptionalResourceIds: []string{"a", "b"}}, options.WithLimit(&limit))
		if err != nil {
			return err
		}
		if got := collect(t, it); len(got) != 1 {
			t.Fatalf("limit 1 read %v", got)
		}
		if attempts == 1 {
			touch(t, ds, "doc:b#viewer@user:u")
		}
		return rwt.WriteRelationships(ctx, []tuple.RelationshipUpdate{tuple.Touch(tuple.MustParse("doc:c#viewer@user:u"))})
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 1 {
		t.Errorf("%d attempts: a write to a range the query never needed conflicted with it", attempts)
	}
}
