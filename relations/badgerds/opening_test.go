package badgerds_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authzed/spicedb/pkg/datastore"
	core "github.com/authzed/spicedb/pkg/proto/core/v1"
	"github.com/authzed/spicedb/pkg/tuple"
	"github.com/dgraph-io/badger/v4"

	"github.com/seed-6461fa00/trellis/relations/badgerds"
)

func mustWrite(t *testing.T, ds datastore.Datastore, rels ...string) datastore.Revision {
	t.Helper()
	rev, err := ds.ReadWriteTx(t.Context(), func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		var updates []tuple.RelationshipUpdate
		for _, r := range rels {
			updates = append(updates, tuple.Touch(tuple.MustParse(r)))
		}
		return rwt.WriteRelationships(ctx, updates)
	})
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

func countRelationships(t *testing.T, ds datastore.Datastore, rev datastore.Revision) int {
	t.Helper()
	it, err := ds.SnapshotReader(rev).QueryRelationships(t.Context(), datastore.RelationshipsFilter{OptionalResourceType: "document"})
	if err != nil {
		t.Fatal(err)
	}
	rels, err := datastore.IteratorToSlice(it)
	if err != nil {
		t.Fatal(err)
	}
	return len(rels)
}

// TestRefusesBadDirectories: each way a directory can be wrong is a clear
// error naming it, never a panic and never a silently emptied store.
func TestRefusesBadDirectories(t *testing.T) {
	t.Run("another program's files", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := badgerds.New(t.Context(), dir)
		wantError(t, err, "holds no relationship store")
		if b, _ := os.ReadFile(filepath.Join(dir, "notes.txt")); string(b) != "mine" {
			t.Fatal("the foreign file was changed")
		}
	})

	t.Run("another program's Badger store", func(t *testing.T) {
		dir := t.TempDir()
		db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("their-key"), []byte("v")) }); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		_, err = badgerds.New(t.Context(), dir)
		wantError(t, err, "another program")
	})

	t.Run("damaged manifest", func(t *testing.T) {
		dir := t.TempDir()
		ds, err := badgerds.New(t.Context(), dir)
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, ds, "document:d1#viewer@user:alice")
		if err := ds.Close(); err != nil {
			t.Fatal(err)
		}
		manifest := filepath.Join(dir, "MANIFEST")
		raw, err := os.ReadFile(manifest)
		if err != nil {
			t.Fatal(err)
		}
		for i := range raw {
			raw[i] ^= 0x5a
		}
		if err := os.WriteFile(manifest, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = badgerds.New(t.Context(), dir)
		wantError(t, err, "damaged")
	})

	t.Run("read-only directory", func(t *testing.T) {
		dir := t.TempDir()
		ds, err := badgerds.New(t.Context(), dir)
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, ds, "document:d1#viewer@user:alice")
		if err := ds.Close(); err != nil {
			t.Fatal(err)
		}
		makeReadOnly(t, dir)
		_, err = badgerds.New(t.Context(), dir)
		wantError(t, err, "not writable")
	})

	t.Run("second user of the directory", func(t *testing.T) {
		dir := t.TempDir()
		first, err := badgerds.New(t.Context(), dir)
		if err != nil {
			t.Fatal(err)
		}
		defer first.Close()
		rev := mustWrite(t, first, "document:d1#viewer@user:alice")
		_, err = badgerds.New(t.Context(), dir)
		wantError(t, err, "in use by another process")
		if n := countRelationships(t, first, rev); n != 1 {
			t.Fatalf("the first user's store lost data: %d relationships", n)
		}
	})
}

// makeReadOnly takes away write access to dir for the rest of the test.
// Root ignores permission bits, so for root the directory is made
// immutable instead.
func makeReadOnly(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
		return
	}
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Fatalf("chattr +i: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", dir).Run() })
}

func wantError(t *testing.T, err error, fragment string) {
	t.Helper()
	if err == nil {
		t.Fatalf("opened without error; want an error mentioning %q", fragment)
	}
	if !strings.Contains(err.Error(), fragment) {
		t.Fatalf("error %q does not mention %q", err, fragment)
	}
}

// TestReopenKeepsEverything: relationships, revisions and the store's
// identity survive a restart, and a revision from before it still reads
// the same answer.
func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	ds, err := badgerds.New(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := ds.UniqueID(t.Context())
	before := mustWrite(t, ds, "document:d1#viewer@user:alice", "document:d2#viewer@user:bob")
	mustWrite(t, ds, "document:d3#viewer@user:carol")
	serialized := before.String()
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}

	ds, err = badgerds.New(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if again, _ := ds.UniqueID(t.Context()); again != id {
		t.Fatalf("unique ID changed across restart: %s, then %s", id, again)
	}
	rev, err := ds.RevisionFromString(serialized)
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.CheckRevision(t.Context(), rev); err != nil {
		t.Fatalf("a revision from before the restart is refused: %v", err)
	}
	if n := countRelationships(t, ds, rev); n != 2 {
		t.Fatalf("at the old revision: %d relationships, want 2", n)
	}
	head, err := ds.HeadRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n := countRelationships(t, ds, head.Revision); n != 3 {
		t.Fatalf("at head: %d relationships, want 3", n)
	}
	after := mustWrite(t, ds, "document:d4#viewer@user:dave")
	if !after.GreaterThan(head.Revision) {
		t.Fatalf("a write after restart got revision %s, not after %s", after, head.Revision)
	}
}

// TestRestartNeverLooksOlder: with revision quantization on (the default),
// an optimized read right after a restart still sees every write
// acknowledged before it, as it would have without the restart.
func TestRestartNeverLooksOlder(t *testing.T) {
	dir := t.TempDir()
	ds, err := badgerds.New(t.Context(), dir, badgerds.WithRevisionQuantization(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	last := mustWrite(t, ds, "document:d1#viewer@user:alice")
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	ds, err = badgerds.New(t.Context(), dir, badgerds.WithRevisionQuantization(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	opt, err := ds.OptimizedRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if opt.Revision.LessThan(last) {
		t.Fatalf("after restart, optimized reads are at %s, before the last acknowledged write %s", opt.Revision, last)
	}
	if n := countRelationships(t, ds, opt.Revision); n != 1 {
		t.Fatalf("after restart an optimized read finds %d relationships, want 1", n)
	}
}

// TestRelationshipCountIsKept: Statistics counts creates, touches of
// existing relationships, deletes and deletes of missing ones exactly, and
// the count survives a restart.
func TestRelationshipCountIsKept(t *testing.T) {
	dir := t.TempDir()
	ds, err := badgerds.New(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	count := func(ds datastore.Datastore) uint64 {
		t.Helper()
		s, err := ds.Statistics(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return s.EstimatedRelationshipCount
	}
	mustWrite(t, ds, "document:d1#viewer@user:a", "document:d2#viewer@user:b", "document:d3#viewer@user:c")
	mustWrite(t, ds, "document:d1#viewer@user:a") // touch of an existing one
	if _, err := ds.ReadWriteTx(t.Context(), func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		return rwt.WriteRelationships(ctx, []tuple.RelationshipUpdate{
			tuple.Delete(tuple.MustParse("document:d2#viewer@user:b")),
			tuple.Delete(tuple.MustParse("document:d9#viewer@user:z")), // missing
		})
	}); err != nil {
		t.Fatal(err)
	}
	if got := count(ds); got != 2 {
		t.Fatalf("count = %d, want 2", got)
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	ds, err = badgerds.New(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if got := count(ds); got != 2 {
		t.Fatalf("after restart count = %d, want 2", got)
	}
}

// TestOptimizedRevisionSeesFreshSchema: a schema written moments ago, well
// inside the quantization window, is visible at the optimized revision, or
// every minimize-latency read right after startup would fail.
func TestOptimizedRevisionSeesFreshSchema(t *testing.T) {
	ds, err := badgerds.New(t.Context(), t.TempDir(), badgerds.WithRevisionQuantization(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	written, err := ds.ReadWriteTx(t.Context(), func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		return rwt.LegacyWriteNamespaces(ctx, &core.NamespaceDefinition{Name: "document"})
	})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, ds, "document:d1#viewer@user:alice")
	opt, err := ds.OptimizedRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if opt.Revision.LessThan(written) {
		t.Fatalf("optimized revision %s precedes the schema write %s", opt.Revision, written)
	}
	if _, _, err := ds.SnapshotReader(opt.Revision).LegacyReadNamespaceByName(t.Context(), "document"); err != nil {
		t.Fatalf("schema missing at the optimized revision: %v", err)
	}
}

// TestRefusesRevisionsAboveHead: a revision no commit has reached (which
// only a forged token can name) is refused, not read.
func TestRefusesRevisionsAboveHead(t *testing.T) {
	ds, err := badgerds.New(t.Context(), "", badgerds.WithInMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	rev := mustWrite(t, ds, "document:d1#viewer@user:alice")
	future, err := ds.RevisionFromString(fmt.Sprint(time.Now().Add(time.Hour).UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ds.SnapshotReader(future).QueryRelationships(t.Context(), datastore.RelationshipsFilter{OptionalResourceType: "document"}); err == nil {
		it, _ := ds.SnapshotReader(future).QueryRelationships(t.Context(), datastore.RelationshipsFilter{OptionalResourceType: "document"})
		if _, err := datastore.IteratorToSlice(it); err == nil {
			t.Fatal("read at a revision above the head")
		}
	}
	if n := countRelationships(t, ds, rev); n != 1 {
		t.Fatalf("at the written revision: %d", n)
	}
}

// TestCloseWaitsForWork: Close while writers and a watcher are busy
// neither panics nor loses an acknowledged write; later calls fail cleanly.
func TestCloseWaitsForWork(t *testing.T) {
	dir := t.TempDir()
	ds, err := badgerds.New(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	head, err := ds.HeadRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	changes, _ := ds.Watch(t.Context(), head.Revision, datastore.WatchJustRelationships())
	go func() {
		for range changes {
		}
	}()
	var acked sync.Map
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				rel := fmt.Sprintf("document:w%d-%d#viewer@user:u", w, i)
				_, err := ds.ReadWriteTx(context.Background(), func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
					return rwt.WriteRelationships(ctx, []tuple.RelationshipUpdate{tuple.Create(tuple.MustParse(rel))})
				})
				if err != nil {
					return
				}
				acked.Store(rel, true)
			}
		}()
	}
	time.Sleep(150 * time.Millisecond)
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if _, err := ds.HeadRevision(t.Context()); err == nil {
		t.Fatal("a closed datastore answered")
	}
	ds, err = badgerds.New(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	head, err = ds.HeadRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	acked.Range(func(k, _ any) bool {
		n++
		r := tuple.MustParse(k.(string))
		it, err := ds.SnapshotReader(head.Revision).QueryRelationships(t.Context(), datastore.RelationshipsFilter{
			OptionalResourceType: r.Resource.ObjectType, OptionalResourceIds: []string{r.Resource.ObjectID},
		})
		if err != nil {
			t.Fatal(err)
		}
		if rels, err := datastore.IteratorToSlice(it); err != nil || len(rels) != 1 {
			t.Fatalf("acknowledged %s lost across Close (%v)", k, err)
		}
		return true
	})
	if n == 0 {
		t.Fatal("nothing was written before Close")
	}
}

// TestReadOnly: a store opened read-only answers reads, refuses writes, and
// leaves every file of the directory as it was; a directory without a
// store is refused and left alone.
func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	ds, err := badgerds.New(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, ds, "document:d1#viewer@user:alice", "document:d2#viewer@user:bob")
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	before := snapshotDir(t, dir)

	ro, err := badgerds.New(t.Context(), dir, badgerds.WithReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	head, err := ro.HeadRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n := countRelationships(t, ro, head.Revision); n != 2 {
		t.Fatalf("read-only store reads %d relationships, want 2", n)
	}
	if _, err := ro.ReadWriteTx(t.Context(), func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		return rwt.WriteRelationships(ctx, []tuple.RelationshipUpdate{tuple.Touch(tuple.MustParse("document:d3#viewer@user:carol"))})
	}); err == nil {
		t.Fatal("a read-only store accepted a write")
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if after := snapshotDir(t, dir); !maps.Equal(before, after) {
		t.Fatalf("opening read-only changed the directory:\nbefore %v\nafter  %v", before, after)
	}

	empty := t.TempDir()
	if _, err := badgerds.New(t.Context(), empty, badgerds.WithReadOnly()); err == nil || !strings.Contains(err.Error(), "no relationship store") {
		t.Fatalf("an empty directory opened read-only: %v", err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Fatalf("opening an empty directory read-only wrote %d files", len(entries))
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := badgerds.New(t.Context(), missing, badgerds.WithReadOnly()); err == nil {
		t.Fatal("a missing directory opened read-only")
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("opening a missing directory read-only created it: %v", err)
	}
}

// snapshotDir maps each file of dir to its size and modification time.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fmt.Sprintf("%d@%s", info.Size(), info.ModTime().Format(time.RFC3339Nano))
	}
	return out
}

// TestReadOnlyAfterACrash: a store whose writer was killed cannot be
// opened read-only; the error says why and what to do, and once a writer
// has opened it, it can.
func TestReadOnlyAfterACrash(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), killDirEnv+"="+dir, "TRELLIS_KILL_START=0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !bufio.NewScanner(stdout).Scan() { // the first acknowledged write
		t.Fatal("the writer acknowledged nothing")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()

	_, err = badgerds.New(t.Context(), dir, badgerds.WithReadOnly())
	if err == nil || !strings.Contains(err.Error(), "not shut down cleanly") {
		t.Fatalf("read-only open of a crashed store: %v", err)
	}
	rw, err := badgerds.New(t.Context(), dir)
	if err != nil {
		t.Fatalf("a writer could not recover the crashed store: %v", err)
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := badgerds.New(t.Context(), dir, badgerds.WithReadOnly())
	if err != nil {
		t.Fatalf("read-only open after recovery: %v", err)
	}
	defer ro.Close()
	head, err := ro.HeadRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	it, err := ro.SnapshotReader(head.Revision).QueryRelationships(t.Context(), datastore.RelationshipsFilter{OptionalResourceType: "document"})
	if err != nil {
		t.Fatal(err)
	}
	if rels, err := datastore.IteratorToSlice(it); err != nil || len(rels) < 3 {
		t.Fatalf("after recovery: %d relationships (%v), want the acknowledged 3 at least", len(rels), err)
	}
}
