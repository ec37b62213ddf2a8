package badgerds

import (
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// upgradeReverseKeys brings a format-1 store to format 2, whose reverse
// keys put the resource relation before the resource ID (see reverseKey).
// Every version of every old reverse key, deletions included, is written
// again in the new layout at its own revision, so a read at a revision
// from before the upgrade answers as it did. The store is then stamped
// format 2, and the old keys are dropped.
//
// A crash midway is harmless: until the stamp, the store is still
// format 1 and the next open starts over from no new keys at all (a
// format-1 build may have changed the store in between); after the stamp,
// every open for writing finishes the drop (dropTag).
func (ds *Datastore) upgradeReverseKeys() error {
	if err := ds.dropTag(tagReverse); err != nil {
		return err
	}
	wb := ds.db.NewManagedWriteBatch()
	defer wb.Cancel()
	// Two batches in flight keep the upgrade's memory to a few of them.
	wb.SetMaxPendingTxns(2)
	txn := ds.db.NewTransactionAt(ds.marks.headRev(), false)
	defer txn.Discard()
	opts := badger.DefaultIteratorOptions
	opts.AllVersions = true
	opts.Prefix = []byte{tagReverseV1}
	it := txn.NewIterator(opts)
	var keys keyDecoder
	rewrite := func(item *badger.Item) error {
		ref, err := keys.parse(item.Key())
		if err != nil {
			return err
		}
		if item.IsDeletedOrExpired() {
			return wb.DeleteAt(reverseKey(ref), item.Version())
		}
		val, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		return wb.SetEntryAt(badger.NewEntry(reverseKey(ref), val), item.Version())
	}
	for it.Rewind(); it.Valid(); it.Next() {
		if err := rewrite(it.Item()); err != nil {
			it.Close()
			return fmt.Errorf("badgerds: upgrade %s to %s: %w", ds.dir, formatVersion, err)
		}
	}
	it.Close()
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("badgerds: upgrade %s to %s: %w", ds.dir, formatVersion, err)
	}
	if _, err := ds.commitInternal(func(w *keyRecorder) error {
		return w.set(keyFormat, []byte(formatVersion))
	}); err != nil {
		return fmt.Errorf("badgerds: upgrade %s to %s: %w", ds.dir, formatVersion, err)
	}
	return ds.dropTag(tagReverseV1)
}

// dropTag removes every key with the tag, if it has a live one: only live
// keys count, as they do for DropPrefix, which would first stop all
// writes to find out. Deletion markers alone read as nothing, and
// compaction removes them.
func (ds *Datastore) dropTag(tag byte) error {
	txn := ds.db.NewTransactionAt(ds.marks.headRev(), false)
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = []byte{tag}
	it := txn.NewIterator(opts)
	it.Rewind()
	live := it.Valid()
	it.Close()
	txn.Discard()
	if !live {
		return nil
	}
	if err := ds.db.DropPrefix([]byte{tag}); err != nil {
		return fmt.Errorf("badgerds: drop %s's keys tagged %q: %w", ds.dir, tag, err)
	}
	return nil
}
