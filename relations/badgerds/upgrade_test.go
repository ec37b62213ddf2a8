package badgerds

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/datastore/options"
	"github.com/authzed/spicedb/pkg/tuple"
	"github.com/dgraph-io/badger/v4"
)

// v1Store copies testdata/v1store, a store written by the build before
// format 2 (its revisions are in v1store-revisions.json), into a fresh
// directory.
func v1Store(t *testing.T) (dir string, revisions map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "v1store-revisions.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &revisions); err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "v1store"))); err != nil {
		t.Fatal(err)
	}
	return dir, revisions
}

// reverse lists what the subject reaches through resType#resRel at rev, as
// relationship strings, caveats and expirations included.
func reverse(t *testing.T, ds datastore.Datastore, rev datastore.Revision, subject, resType, resRel string) []string {
	t.Helper()
	sub := tuple.MustParseSubjectONR(subject)
	filter := datastore.SubjectsFilter{SubjectType: sub.ObjectType, OptionalSubjectIds: []string{sub.ObjectID}}
	if sub.Relation == tuple.Ellipsis {
		filter.RelationFilter = datastore.SubjectRelationFilter{}.WithEllipsisRelation()
	} else {
		filter.RelationFilter = datastore.SubjectRelationFilter{}.WithNonEllipsisRelation(sub.Relation)
	}
	it, err := ds.SnapshotReader(rev).ReverseQueryRelationships(t.Context(), filter,
		options.WithResRelation(&options.ResourceRelation{Namespace: resType, Relation: resRel}),
		options.WithSortForReverse(options.BySubject))
	if err != nil {
		t.Fatal(err)
	}
	return collect(t, it)
}

// TestUpgradeFromFormat1: a store written before reverse keys led with the
// resource relation is rewritten when first opened for writing, and then
// answers every reverse query as before, at its old revisions too; a
// read-only open of the old format is refused with what to do instead.
func TestUpgradeFromFormat1(t *testing.T) {
	dir, revs := v1Store(t)
	if _, err := New(t.Context(), dir, WithReadOnly()); err == nil || !strings.Contains(err.Error(), "open it once for writing") {
		t.Fatalf("read-only open of a format-1 store: %v, want a refusal saying to open it for writing", err)
	}
	ds, err := New(t.Context(), dir, WithGCWindow(100*365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	head, err := ds.HeadRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	first, err := ds.RevisionFromString(revs["first"])
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		rev                      datastore.Revision
		subject, resType, resRel string
		want                     []string
	}{
		{head.Revision, "user:ann", "project", "reader", []string{"project:apollo#reader@user:ann", "project:gemini#reader@user:ann"}},
		{head.Revision, "user:ann", "project", "writer", nil},
		{first, "user:ann", "project", "writer", []string{"project:gemini#writer@user:ann"}},
		{first, "user:ann", "project", "manager", nil},
		{head.Revision, "user:ann", "project", "manager", []string{"project:mercury#manager@user:ann"}},
		{head.Revision, "user:bob", "project", "admin", []string{"project:apollo#admin@user:bob"}},
		{head.Revision, "project:apollo", "job", "project", []string{"job:j1#project@project:apollo"}},
		{head.Revision, "group:h#member", "group", "member", []string{"group:g#member@group:h#member"}},
		{head.Revision, "user:ann", "document", "viewer", []string{
			`document:d#viewer@user:ann[test:{"x":1}]`,
			"document:e#viewer@user:ann[expiration:2300-01-01T00:00:00Z]",
		}},
	} {
		got := reverse(t, ds, c.rev, c.subject, c.resType, c.resRel)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s reaching %s#%s at %v: %v, want %v", c.subject, c.resType, c.resRel, c.rev, got, c.want)
		}
	}
	var format string
	err = ds.(*Datastore).db.View(func(txn *badger.Txn) error {
		v, err := getValue(txn, keyFormat)
		format = string(v)
		if err != nil {
			return err
		}
		opts := badger.DefaultIteratorOptions
		opts.AllVersions = true
		opts.Prefix = []byte{tagReverseV1}
		it := txn.NewIterator(opts)
		defer it.Close()
		if it.Rewind(); it.Valid() {
			t.Errorf("format-1 reverse key %q left after the upgrade", it.Item().Key())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if format != formatVersion {
		t.Errorf("store format %q after the upgrade, want %q", format, formatVersion)
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := New(t.Context(), dir, WithReadOnly())
	if err != nil {
		t.Fatalf("upgraded store, opened read-only: %v", err)
	}
	if got := reverse(t, again, first, "user:ann", "project", "writer"); len(got) != 1 {
		t.Errorf("after reopening, ann's old writer role at the first revision: %v", got)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeDiscardsAnEarlierAttempt: reverse keys an interrupted upgrade
// left behind do not survive the next one, whatever a format-1 build did
// to the store in between.
func TestUpgradeDiscardsAnEarlierAttempt(t *testing.T) {
	dir, _ := v1Store(t)
	db, err := badger.OpenManaged(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	ghost := tuple.MustParse("project:vanished#reader@user:ann").RelationshipReference
	txn := db.NewTransactionAt(db.MaxVersion(), true)
	if err := txn.Set(reverseKey(ghost), nil); err != nil {
		t.Fatal(err)
	}
	if err := txn.CommitAt(db.MaxVersion(), nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ds, err := New(t.Context(), dir, WithGCWindow(100*365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	head, err := ds.HeadRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"project:apollo#reader@user:ann", "project:gemini#reader@user:ann"}
	if got := reverse(t, ds, head.Revision, "user:ann", "project", "reader"); !slices.Equal(got, want) {
		t.Fatalf("ann's reader roles after the upgrade: %v, want %v", got, want)
	}
}

// TestLeftoverFormat1KeysAreDropped: format-1 reverse keys in a format-2
// store, as an upgrade that stopped between its stamp and its drop leaves
// them, are gone after the next open for writing.
func TestLeftoverFormat1KeysAreDropped(t *testing.T) {
	dir := t.TempDir()
	ds, err := New(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := badger.OpenManaged(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	leftover := append([]byte{tagReverseV1}, "user\x00ann\x00...\x00project\x00apollo\x00reader"...)
	txn := db.NewTransactionAt(db.MaxVersion(), true)
	if err := txn.Set(leftover, nil); err != nil {
		t.Fatal(err)
	}
	if err := txn.CommitAt(db.MaxVersion(), nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ds, err = New(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	err = ds.(*Datastore).db.View(func(txn *badger.Txn) error {
		if _, err := txn.Get(leftover); !errors.Is(err, badger.ErrKeyNotFound) {
			t.Errorf("leftover format-1 key after reopening: %v, want it gone", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
