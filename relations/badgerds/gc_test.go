package badgerds

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/tuple"
	"github.com/dgraph-io/badger/v4"
)

// TestCollectorDeletesOnlyExpiredRelationships: of relationships with an
// expiration, the collector deletes the one that expired before the GC
// window began, and not one that expires past 2262 (where nanoseconds
// since 1970 overflow, and 2555 wrapped to 1970 in the expiry index), nor
// one whose entry in that index is stale.
func TestCollectorDeletesOnlyExpiredRelationships(t *testing.T) {
	ctx := t.Context()
	ds := openUncollected(t, WithGCWindow(time.Millisecond))

	live := tuple.MustParse("doc:live#viewer@user:a[expiration:2100-01-01T00:00:00Z]")
	written := rels(
		"doc:expired#viewer@user:a[expiration:2020-01-01T00:00:00Z]",
		"doc:far#viewer@user:a[expiration:2600-01-01T00:00:00Z]",
		"doc:wraps#viewer@user:a[expiration:2555-01-01T00:00:00Z]",
		"doc:forever#viewer@user:a",
	)
	written = append(written, live)
	var updates []tuple.RelationshipUpdate
	for _, r := range written {
		updates = append(updates, tuple.Create(r))
	}
	if _, err := ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		return rwt.WriteRelationships(ctx, updates)
	}); err != nil {
		t.Fatal(err)
	}
	// An index entry a rewrite left behind, long past, for a relationship
	// that lives on.
	stale := expiryKey(time.Unix(0, 1000), forwardKey(live.RelationshipReference))
	if _, err := ds.commitInternal(func(w *keyRecorder) error { return w.set(stale, nil) }); err != nil {
		t.Fatal(err)
	}
	before := ds.relationships.Load()
	time.Sleep(5 * time.Millisecond) // past the GC window

	n, err := collector{ds}.DeleteExpiredRels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("the collector reports %d relationships deleted, want 1", n)
	}
	if got := ds.relationships.Load(); got != before-1 {
		t.Errorf("relationship count went from %d to %d, want %d", before, got, before-1)
	}

	head, err := ds.HeadRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	it, err := ds.SnapshotReader(head.Revision).QueryRelationships(ctx, datastore.RelationshipsFilter{OptionalResourceType: "doc"})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, it)
	want := []string{
		"doc:far#viewer@user:a[expiration:2600-01-01T00:00:00Z]",
		"doc:forever#viewer@user:a",
		"doc:live#viewer@user:a[expiration:2100-01-01T00:00:00Z]",
		"doc:wraps#viewer@user:a[expiration:2555-01-01T00:00:00Z]",
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("after collection the store holds %q, want %q", got, want)
	}

	// The expired relationship is gone from both indexes, not just hidden,
	// and the stale index entry is gone too.
	expired := written[0].RelationshipReference
	for _, key := range [][]byte{forwardKey(expired), reverseKey(expired), stale} {
		txn := ds.db.NewTransactionAt(math.MaxUint64, false)
		_, err := txn.Get(key)
		txn.Discard()
		if !errors.Is(err, badger.ErrKeyNotFound) {
			t.Errorf("key %q is still stored (%v)", key, err)
		}
	}
}

// TestReaderRefusesARevisionTheCollectorPassed: a reader made before the
// collector moved past its revision is refused from then on, rather than
// read versions compaction may have removed.
func TestReaderRefusesARevisionTheCollectorPassed(t *testing.T) {
	ctx := t.Context()
	ds := openUncollected(t)
	old := touch(t, ds, "doc:a#viewer@user:a")
	reader := ds.SnapshotReader(old)
	newer := touch(t, ds, "doc:b#viewer@user:a")
	if _, err := (collector{ds}).DeleteBeforeTx(ctx, newer); err != nil {
		t.Fatal(err)
	}
	it, err := reader.QueryRelationships(ctx, datastore.RelationshipsFilter{OptionalResourceType: "doc"})
	if err != nil {
		t.Fatal(err)
	}
	refused := false
	for rel, err := range it {
		var invalid datastore.InvalidRevisionError
		if !errors.As(err, &invalid) || invalid.Reason() != datastore.RevisionStale {
			t.Fatalf("read %v, %v at a revision the collector passed; want it refused as stale", rel, err)
		}
		refused = true
	}
	if !refused {
		t.Fatal("the read at a revision the collector passed returned nothing, not a refusal")
	}
}

// TestCollectorKeepsWhatAnOpenSnapshotReads: a read admitted just before
// the collector moved past its revision (its check passed, its scan not
// yet begun) still finds every version it needs after compaction runs:
// the collector lets Badger discard nothing an open snapshot can read.
func TestCollectorKeepsWhatAnOpenSnapshotReads(t *testing.T) {
	ctx := t.Context()
	ds := openUncollected(t)
	rel := tuple.MustParse("doc:a#viewer@user:a")
	old := uint64(touch(t, ds, tuple.MustString(rel)).(revision))
	if _, err := ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		return rwt.WriteRelationships(ctx, []tuple.RelationshipUpdate{tuple.Delete(rel)})
	}); err != nil {
		t.Fatal(err)
	}
	newer := touch(t, ds, "doc:b#viewer@user:a")

	v, done, err := ds.openSnapshot(old, old)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	if _, err := (collector{ds}).DeleteBeforeTx(ctx, newer); err != nil {
		t.Fatal(err)
	}
	compactEverything(t, ds)

	got, err := v.relationship(forwardKey(rel.RelationshipReference))
	if err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatal("a snapshot open since before the collector ran lost a relationship it could read: compaction discarded its version")
	}
}

// compactEverything moves every version in the store through compaction,
// which drops what Badger's discard timestamp allows: each round flushes
// the memtable (dropping a scratch prefix is what makes Badger flush it),
// and once level 0 holds enough tables they are compacted into one level.
func compactEverything(t *testing.T, ds *Datastore) {
	t.Helper()
	scratch := []byte{0xfe}
	for i := range 8 {
		if _, err := ds.commitInternal(func(w *keyRecorder) error {
			return w.set(append(slices.Clone(scratch), byte(i)), []byte("x"))
		}); err != nil {
			t.Fatal(err)
		}
		if err := ds.db.DropPrefix(scratch); err != nil {
			t.Fatal(err)
		}
	}
	if err := ds.db.Flatten(1); err != nil {
		t.Fatal(err)
	}
}

// TestCollectorDeletesChangeLogOverManyBatches: a change log longer than
// one collector batch is deleted whole, each batch resuming past the last.
func TestCollectorDeletesChangeLogOverManyBatches(t *testing.T) {
	ctx := t.Context()
	ds := openUncollected(t, WithSyncWrites(false))
	const writes = 2*gcBatch + 5
	for i := range writes {
		touch(t, ds, fmt.Sprintf("doc:d%d#viewer@user:a", i))
	}
	head, err := ds.HeadRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counts, err := collector{ds}.DeleteBeforeTx(ctx, head.Revision)
	if err != nil {
		t.Fatal(err)
	}
	// Every write's entry but the newest, at head itself.
	if counts.Transactions != writes-1 {
		t.Errorf("deleted %d change log entries, want %d", counts.Transactions, writes-1)
	}
}

// TestCollectorRunsInMemory: a store kept in memory, which has no value
// log to rewrite, is collected without error.
func TestCollectorRunsInMemory(t *testing.T) {
	ctx := t.Context()
	ds, err := open(ctx, "", WithInMemory(), WithGCInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ds.Close() })
	rev := touch(t, ds, "doc:a#viewer@user:u")
	if _, err := (collector{ds}).DeleteBeforeTx(ctx, rev); err != nil {
		t.Fatalf("collecting a store in memory: %v", err)
	}
}

// openUncollected opens a store in a fresh directory with no background
// collector, for tests that run the collector themselves; it is closed
// with the test.
func openUncollected(t *testing.T, opts ...Option) *Datastore {
	t.Helper()
	ds, err := open(t.Context(), t.TempDir(), append(opts, WithGCInterval(0))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ds.Close() })
	return ds
}

// TestCloseDuringANestedOperation: an operation that starts another while
// it runs (SpiceDB reads a caveat while iterating relationships, on the
// same goroutine) does not deadlock a Close that begins between the two:
// the inner one is refused, the outer one ends, and Close returns.
func TestCloseDuringANestedOperation(t *testing.T) {
	ds := openUncollected(t)
	touch(t, ds, "doc:a#viewer@user:a")
	leave, err := ds.enter()
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- ds.Close() }()
	<-ds.closing                       // Close has begun
	time.Sleep(100 * time.Millisecond) // and, before the fix, was waiting for the lock

	nested := make(chan error, 1)
	go func() {
		innerLeave, err := ds.enter()
		if err == nil {
			innerLeave()
		}
		nested <- err
	}()
	select {
	case err := <-nested:
		if !errors.Is(err, errClosed) {
			t.Errorf("an operation started while Close waits: %v, want it refused as closed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("an operation started while Close waits blocked: nested inside a running one, it would deadlock")
	}
	select {
	case <-closed:
		t.Fatal("Close returned while an operation it admitted was still running")
	default:
	}
	leave()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return once the running operation ended")
	}
}
