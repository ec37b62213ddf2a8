package badgerds

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/dgraph-io/badger/v4"
)

// gcState is the background collector's bookkeeping.
type gcState struct {
	ran            atomic.Bool
	running        sync.Mutex
	cancel         context.CancelFunc
	done           chan struct{}
	discardedBelow atomic.Uint64 // versions below this may be gone
}

// startGC runs SpiceDB's collector loop until Close.
func (ds *Datastore) startGC() {
	if ds.cfg.gcInterval <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	ds.gc.cancel = cancel
	ds.gc.done = make(chan struct{})
	go func() {
		defer close(ds.gc.done)
		_ = datastore.StartGarbageCollector(ctx, ds, ds.cfg.gcInterval, ds.cfg.gcWindow, 10*time.Minute)
	}()
}

func (ds *Datastore) stopGC() {
	if ds.gc.cancel != nil {
		ds.gc.cancel()
		<-ds.gc.done
	}
}

// HasGCRun implements datastore.GarbageCollectableDatastore.
func (ds *Datastore) HasGCRun() bool { return ds.gc.ran.Load() }

// MarkGCCompleted implements datastore.GarbageCollectableDatastore.
func (ds *Datastore) MarkGCCompleted() { ds.gc.ran.Store(true) }

// ResetGCCompleted implements datastore.GarbageCollectableDatastore.
func (ds *Datastore) ResetGCCompleted() { ds.gc.ran.Store(false) }

// BuildGarbageCollector implements datastore.GarbageCollectableDatastore.
func (ds *Datastore) BuildGarbageCollector(context.Context) (datastore.GarbageCollector, error) {
	if err := ds.checkOpen(); err != nil {
		return nil, err
	}
	return collector{ds}, nil
}

// collector removes what no reader within the GC window can see: old
// versions (by moving Badger's discard timestamp), old change log entries,
// and relationships that expired before the window.
type collector struct{ ds *Datastore }

func (c collector) LockForGCRun(context.Context) (bool, error) { return c.ds.gc.running.TryLock(), nil }

func (c collector) UnlockAfterGCRun() error {
	c.ds.gc.running.Unlock()
	return nil
}

func (c collector) Now(context.Context) (time.Time, error) { return time.Now(), nil }

func (c collector) Close() {}

// TxIDBefore returns the newest revision at or before t.
func (c collector) TxIDBefore(_ context.Context, t time.Time) (datastore.Revision, error) {
	n := t.UnixNano()
	if n <= 0 {
		return revision(1), nil
	}
	return revision(min(uint64(n), c.ds.marks.headRev())), nil
}

// gcBatch bounds the deletions of one collector transaction.
const gcBatch = 2000

// deleteInBatches deletes, a batch per transaction, the keys in r that
// doomed picks, until none are left. Each batch is a validated
// transaction, so it never deletes what a concurrent writer just changed.
//
// perKey is how many relationships each deleted key accounts for.
func (ds *Datastore) deleteInBatches(ctx context.Context, r keyRange, perKey int64, related func(key []byte) ([][]byte, error)) (int64, error) {
	var deleted int64
	for attempt := 0; ctx.Err() == nil; {
		n, err := ds.internalTx(perKey, func(v view, w *keyRecorder) (int, error) {
			var doomed [][]byte
			err := v.scan(r, true, func(key, _ []byte, _ uint64) (bool, error) {
				doomed = append(doomed, append([]byte(nil), key...))
				return len(doomed) < gcBatch, ctx.Err()
			})
			if err != nil {
				return 0, err
			}
			for _, k := range doomed {
				keys, err := related(k)
				if err != nil {
					return 0, err
				}
				for _, key := range keys {
					if err := w.delete(key); err != nil {
						return 0, err
					}
				}
			}
			return len(doomed), nil
		})
		switch {
		case errors.Is(err, badger.ErrConflict) && attempt < ds.cfg.maxRetries:
			attempt++
			continue
		case err != nil:
			return deleted, err
		case n == 0:
			return deleted, nil
		}
		deleted += int64(n)
	}
	return deleted, ctx.Err()
}

// DeleteBeforeTx drops versions and change log entries older than rev.
func (c collector) DeleteBeforeTx(ctx context.Context, r datastore.Revision) (datastore.DeletionCounts, error) {
	rev, ok := r.(revision)
	if !ok {
		return datastore.DeletionCounts{}, errors.New("badgerds: gc watermark is not a badger revision")
	}
	ds := c.ds
	// Raise (and persist) the watermark before deleting anything, so a
	// Watch or a read that starts meanwhile is refused instead of missing
	// what is being deleted, and a restart still knows.
	if uint64(rev) > ds.gc.discardedBelow.Load() {
		if _, err := ds.commitInternal(func(w *keyRecorder) error {
			return w.set(keyGCWatermark, binary.BigEndian.AppendUint64(nil, uint64(rev)))
		}); err != nil {
			return datastore.DeletionCounts{}, err
		}
		ds.gc.discardedBelow.Store(uint64(rev))
	}
	n, err := ds.deleteInBatches(ctx, keyRange{start: []byte{tagChangelog}, end: changelogKey(uint64(rev))}, 0,
		func(key []byte) ([][]byte, error) { return [][]byte{key}, nil })
	counts := datastore.DeletionCounts{Transactions: n}
	if err != nil {
		return counts, err
	}
	// Versions older than rev are no longer needed by any valid reader.
	ds.db.SetDiscardTs(uint64(rev))
	for ctx.Err() == nil {
		if err := ds.db.RunValueLogGC(0.5); err != nil {
			break // badger.ErrNoRewrite: nothing worth rewriting
		}
	}
	return counts, nil
}

// DeleteExpiredRels deletes relationships that expired before the GC
// window began; readers within the window still see them as expired.
func (c collector) DeleteExpiredRels(ctx context.Context) (int64, error) {
	ds := c.ds
	cutoff := time.Now().Add(-ds.cfg.gcWindow).UnixNano()
	if cutoff <= 0 {
		return 0, nil
	}
	return ds.deleteInBatches(ctx, keyRange{start: []byte{tagExpiry}, end: expiryKey(cutoff, nil)}, -1,
		func(key []byte) ([][]byte, error) {
			fwd := key[9:]
			ref, err := parseRelationshipKey(fwd)
			if err != nil {
				return nil, err
			}
			return [][]byte{key, fwd, reverseKey(ref)}, nil
		})
}
