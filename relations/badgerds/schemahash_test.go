package badgerds_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/datastore/options"
	core "github.com/authzed/spicedb/pkg/proto/core/v1"
	"github.com/authzed/spicedb/pkg/tuple"

	"github.com/seed-6461fa00/trellis/relations/badgerds"
)

func storedSchema(hash string) *core.StoredSchema {
	return &core.StoredSchema{Version: 1, VersionOneof: &core.StoredSchema_V1{V1: &core.StoredSchema_V1StoredSchema{
		SchemaText: "definition user {} // " + hash, SchemaHash: hash,
	}}}
}

func writeSchemaHash(ctx context.Context, ds datastore.Datastore, hash string, opts ...options.RWTOptionsOption) (datastore.Revision, error) {
	return ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		return rwt.WriteStoredSchema(ctx, storedSchema(hash))
	}, opts...)
}

func headHash(t *testing.T, ds datastore.Datastore) string {
	t.Helper()
	head, err := ds.HeadRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	opt, err := ds.OptimizedRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if opt.Revision.Equal(head.Revision) && opt.SchemaHash != head.SchemaHash {
		t.Fatalf("one revision, two schema hashes: head %q, optimized %q", head.SchemaHash, opt.SchemaHash)
	}
	return head.SchemaHash
}

// TestSchemaHashFollowsWrites: the schema hash revisions carry, and the
// precondition writes are held to, is always the one stored at that
// revision: after each schema write, after a reopen, and when a schema
// write lands while a transaction holding an older hash is in flight.
func TestSchemaHashFollowsWrites(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	ds, err := badgerds.New(ctx, dir, badgerds.WithRevisionQuantization(0))
	if err != nil {
		t.Fatal(err)
	}
	if h := headHash(t, ds); h != "" {
		t.Fatalf("an empty store has schema hash %q", h)
	}
	if _, err := writeSchemaHash(ctx, ds, "a", options.WithSchemaHashPrecondition("a")); !errors.Is(err, datastore.ErrSchemaNotFound) {
		t.Fatalf("precondition on an empty store: got %v, want ErrSchemaNotFound", err)
	}
	revA, err := writeSchemaHash(ctx, ds, "a")
	if err != nil {
		t.Fatal(err)
	}
	if h := headHash(t, ds); h != "a" {
		t.Fatalf("after writing a, head hash is %q", h)
	}
	if _, err := writeSchemaHash(ctx, ds, "b", options.WithSchemaHashPrecondition("a")); err != nil {
		t.Fatalf("precondition a holds: %v", err)
	}
	if h := headHash(t, ds); h != "b" {
		t.Fatalf("after writing b, head hash is %q", h)
	}
	if _, err := writeSchemaHash(ctx, ds, "c", options.WithSchemaHashPrecondition("a")); !errors.Is(err, datastore.ErrSchemaHashPreconditionFailed) {
		t.Fatalf("stale precondition a: got %v, want ErrSchemaHashPreconditionFailed", err)
	}

	// A transaction checks its precondition, then a schema write commits
	// before it does: it must not commit on the hash it read.
	interleaved := false
	_, err = ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		if !interleaved {
			interleaved = true
			if _, err := writeSchemaHash(ctx, ds, "d"); err != nil {
				return err
			}
		}
		return rwt.WriteStoredSchema(ctx, storedSchema("e"))
	}, options.WithSchemaHashPrecondition("b"))
	if !errors.Is(err, datastore.ErrSchemaHashPreconditionFailed) {
		t.Fatalf("a schema write between the precondition and the commit: got %v, want ErrSchemaHashPreconditionFailed", err)
	}
	if h := headHash(t, ds); h != "d" {
		t.Fatalf("after the interleaved write, head hash is %q, want d", h)
	}

	// Removing the hash (a stored schema without one) is seen too.
	if _, err := writeSchemaHash(ctx, ds, ""); err != nil {
		t.Fatal(err)
	}
	if h := headHash(t, ds); h != "" {
		t.Fatalf("after removing the hash, head hash is %q", h)
	}
	revF, err := writeSchemaHash(ctx, ds, "f")
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}

	ds, err = badgerds.New(ctx, dir, badgerds.WithRevisionQuantization(0))
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if h := headHash(t, ds); h != "f" {
		t.Fatalf("after a reopen, head hash is %q, want f", h)
	}
	if head, _ := ds.HeadRevision(ctx); !head.Revision.Equal(revF) {
		t.Fatalf("head %s, want the last schema write %s", head.Revision, revF)
	}
	// Schema read at an older revision is that revision's.
	s, err := ds.SnapshotReader(revA).ReadStoredSchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Get().GetV1().GetSchemaHash(); got != "a" {
		t.Fatalf("schema at the first write's revision has hash %q, want a", got)
	}
}

// TestStoredSchemaDecodedOnce: reads of an unchanged schema share
// one decoded copy, inside transactions too, where SpiceDB caches nothing;
// a schema written since, or written in the very transaction, is read as
// written, and an older revision still reads its own.
func TestStoredSchemaDecodedOnce(t *testing.T) {
	ctx := t.Context()
	ds, err := badgerds.New(ctx, t.TempDir(), badgerds.WithRevisionQuantization(0))
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	read := func(rev datastore.Revision) *datastore.ReadOnlyStoredSchema {
		t.Helper()
		s, err := ds.SnapshotReader(rev).ReadStoredSchema(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	revA, err := writeSchemaHash(ctx, ds, "a")
	if err != nil {
		t.Fatal(err)
	}
	first := read(revA)
	var inTx *datastore.ReadOnlyStoredSchema
	if _, err := ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		inTx, err = rwt.ReadStoredSchema(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if read(revA) != first || inTx != first {
		t.Fatal("an unchanged schema was decoded again")
	}
	var written string
	revB, err := ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		if err := rwt.WriteStoredSchema(ctx, storedSchema("b")); err != nil {
			return err
		}
		s, err := rwt.ReadStoredSchema(ctx)
		written = s.Get().GetV1().GetSchemaHash()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if written != "b" {
		t.Fatalf("the transaction that wrote schema b read %q", written)
	}
	if got := read(revB).Get().GetV1().GetSchemaHash(); got != "b" {
		t.Fatalf("after writing schema b, the head reads %q", got)
	}
	if got := read(revA).Get().GetV1().GetSchemaHash(); got != "a" {
		t.Fatalf("the revision of schema a reads %q", got)
	}
}

// TestSchemaReadConflictsWithASchemaWrite: a transaction that read the
// schema, even from the decoded copy, conflicts with a schema write that
// commits before it, and its retry reads the new schema.
func TestSchemaReadConflictsWithASchemaWrite(t *testing.T) {
	ctx := t.Context()
	ds, err := badgerds.New(ctx, t.TempDir(), badgerds.WithRevisionQuantization(0))
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if _, err := writeSchemaHash(ctx, ds, "a"); err != nil {
		t.Fatal(err)
	}
	// Decoded once, so the transaction below reads the copy.
	head, err := ds.HeadRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ds.SnapshotReader(head.Revision).ReadStoredSchema(ctx); err != nil {
		t.Fatal(err)
	}
	var seen []string
	if _, err := ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		s, err := rwt.ReadStoredSchema(ctx)
		if err != nil {
			return err
		}
		seen = append(seen, s.Get().GetV1().GetSchemaHash())
		if len(seen) == 1 {
			if _, err := writeSchemaHash(ctx, ds, "b"); err != nil {
				return err
			}
		}
		return rwt.WriteRelationships(ctx, []tuple.RelationshipUpdate{tuple.Touch(tuple.MustParse("document:d1#viewer@user:u1"))})
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, []string{"a", "b"}) {
		t.Fatalf("the transaction read the schema as %v; want a, then b on its retry", seen)
	}
}
