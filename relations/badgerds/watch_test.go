package badgerds

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/authzed/spicedb/pkg/datastore"
	core "github.com/authzed/spicedb/pkg/proto/core/v1"
	"github.com/authzed/spicedb/pkg/tuple"
)

func touch(t *testing.T, ds datastore.Datastore, rel string) datastore.Revision {
	t.Helper()
	rev, err := ds.ReadWriteTx(t.Context(), func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		return rwt.WriteRelationships(ctx, []tuple.RelationshipUpdate{tuple.Touch(tuple.MustParse(rel))})
	})
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// TestWatchReadsAFarBacklogInOrder: a watcher that starts many pages of
// change log behind receives every change once, in commit order.
func TestWatchReadsAFarBacklogInOrder(t *testing.T) {
	ds := openStore(t)
	start := touch(t, ds, "doc:start#viewer@user:a")
	const writes = 2*watchPage + 7
	var revs []datastore.Revision
	for i := range writes {
		revs = append(revs, touch(t, ds, fmt.Sprintf("doc:d%d#viewer@user:a", i)))
	}
	changes, errs := ds.Watch(t.Context(), start, datastore.WatchOptions{Content: datastore.WatchRelationships | datastore.WatchCheckpoints})
	for i := range writes {
		want := fmt.Sprintf("doc:d%d#viewer@user:a", i)
		for _, kind := range []string{"change", "checkpoint"} {
			select {
			case rc := <-changes:
				if !rc.Revision.Equal(revs[i]) {
					t.Fatalf("%s %d came at revision %v, want %v", kind, i, rc.Revision, revs[i])
				}
				if kind == "checkpoint" {
					if !rc.IsCheckpoint {
						t.Fatalf("after change %d: %+v, want its checkpoint", i, rc)
					}
					continue
				}
				if len(rc.RelationshipChanges) != 1 || tuple.MustString(rc.RelationshipChanges[0].Relationship) != want {
					t.Fatalf("change %d: %v, want the touch of %s", i, rc.RelationshipChanges, want)
				}
			case err := <-errs:
				t.Fatalf("watch ended at %s %d: %v", kind, i, err)
			case <-time.After(30 * time.Second):
				t.Fatalf("no %s %d", kind, i)
			}
		}
	}
}

// TestWatchCheckpointsCommitsWithoutChanges: the collector's commits move
// the head without a change log entry; a watcher asking for checkpoints
// is still told it has reached the new head.
func TestWatchCheckpointsCommitsWithoutChanges(t *testing.T) {
	ctx := t.Context()
	ds := openUncollected(t)
	from := touch(t, ds, "doc:a#viewer@user:a")
	changes, errs := ds.Watch(ctx, from, datastore.WatchOptions{Content: datastore.WatchRelationships | datastore.WatchCheckpoints})
	if _, err := ds.commitInternal(func(w *keyRecorder) error { return w.set(keyGCWatermark, make([]byte, 8)) }); err != nil {
		t.Fatal(err)
	}
	head, err := ds.HeadRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !head.Revision.GreaterThan(from) {
		t.Fatalf("the head did not move: %v, then %v", from, head.Revision)
	}
	select {
	case rc := <-changes:
		if !rc.IsCheckpoint || !rc.Revision.Equal(head.Revision) {
			t.Fatalf("got %+v, want a checkpoint at %v", rc, head.Revision)
		}
	case err := <-errs:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatalf("no checkpoint at the head %v", head.Revision)
	}
}

// TestCloseDoesNotWaitForASlowWatcher: a watcher whose consumer stopped
// reading neither holds Close until its write timeout nor outlives the
// store.
func TestCloseDoesNotWaitForASlowWatcher(t *testing.T) {
	ctx := t.Context()
	ds, err := New(ctx, t.TempDir(), WithWatchBufferWriteTimeout(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	from := touch(t, ds, "doc:a#viewer@user:a")
	changes, errs := ds.Watch(ctx, from, datastore.WatchOptions{Content: datastore.WatchRelationships, WatchBufferLength: 1})
	for i := range 3 { // one fills the buffer, the next blocks its sender
		touch(t, ds, fmt.Sprintf("doc:b%d#viewer@user:a", i))
	}
	closed := make(chan error, 1)
	go func() { closed <- ds.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close is still waiting for the watcher's consumer")
	}
	// Nobody reads changes: the watcher must end on its own.
	select {
	case err := <-errs:
		if err == nil {
			t.Error("the watch ended without an error when the store closed")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the watcher is still waiting for its consumer after Close")
	}
	for range changes {
	}
}

// TestDefinitionRewrittenInOneTransactionIsOneChange: a definition
// deleted and written again by one transaction is reported once.
func TestDefinitionRewrittenInOneTransactionIsOneChange(t *testing.T) {
	var c changeSet
	def := &core.NamespaceDefinition{Name: "doc"}
	c.definition(tagNamespace, def)
	c.deletedDefinition(tagNamespace, "doc")
	c.definition(tagNamespace, def)
	entry, err := c.encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := decodeChanges(revision(1), entry)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.ChangedDefinitions) != 1 || len(rc.DeletedNamespaces) != 0 {
		t.Errorf("changed %v, deleted %v; want doc changed once", rc.ChangedDefinitions, rc.DeletedNamespaces)
	}
}
