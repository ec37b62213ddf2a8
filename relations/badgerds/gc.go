package badgerds

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/tuple"
	"github.com/dgraph-io/badger/v4"
)

// gcState is the background collector's bookkeeping.
type gcState struct {
	ran            atomic.Bool
	running        sync.Mutex
	cancel         context.CancelFunc
	done           chan struct{}
	discardedBelow atomic.Uint64 // versions below this may be gone

	// Open snapshots, counted by read timestamp. In managed mode Badger
	// discards versions below its discard timestamp whatever reads are
	// open, so the collector never sets it above the oldest of these; and
	// admitting a read and raising discardedBelow exclude each other, so
	// no read slips in under a watermark it was not checked against.
	pinMu  sync.Mutex
	pinned map[uint64]int
}

// pin admits a read at revision at that needs every version since
// revision needs, and keeps them from compaction until unpin(at); it
// reports false if the collector has already passed needs.
func (g *gcState) pin(at, needs uint64) bool {
	g.pinMu.Lock()
	defer g.pinMu.Unlock()
	if needs < g.discardedBelow.Load() {
		return false
	}
	if g.pinned == nil {
		g.pinned = map[uint64]int{}
	}
	g.pinned[at]++
	return true
}

func (g *gcState) unpin(at uint64) {
	g.pinMu.Lock()
	defer g.pinMu.Unlock()
	if g.pinned[at] <= 1 {
		delete(g.pinned, at)
		return
	}
	g.pinned[at]--
}

// raise moves the watermark up to rev: reads needing older versions are
// refused from then on.
func (g *gcState) raise(rev uint64) {
	g.pinMu.Lock()
	defer g.pinMu.Unlock()
	if rev > g.discardedBelow.Load() {
		g.discardedBelow.Store(rev)
	}
}

// discardFloor is how far Badger may discard: the watermark, or the
// oldest snapshot still open if that is older.
func (g *gcState) discardFloor() uint64 {
	g.pinMu.Lock()
	defer g.pinMu.Unlock()
	floor := g.discardedBelow.Load()
	for at := range g.pinned {
		floor = min(floor, at)
	}
	return floor
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

// deleteInBatches deletes, a batch per transaction, every key in r and
// the keys related names with it, until none are left. related also says
// by how much each deletion changes the relationship count. Each batch is
// a validated transaction, so it never deletes what a concurrent writer
// just changed. It returns how many keys of r it deleted, and how many
// relationships.
func (ds *Datastore) deleteInBatches(ctx context.Context, r keyRange, related func(v view, key []byte) ([][]byte, int64, error)) (keys, relationships int64, err error) {
	for attempt := 0; ctx.Err() == nil; {
		var doomed [][]byte
		n, delta, err := ds.internalTx(func(v view, w *keyRecorder) (int, int64, error) {
			doomed = doomed[:0]
			err := v.scan(r, true, func(key, _ []byte, _ uint64) (bool, error) {
				doomed = append(doomed, append([]byte(nil), key...))
				return len(doomed) < gcBatch, ctx.Err()
			})
			if err != nil {
				return 0, 0, err
			}
			var delta int64
			for _, k := range doomed {
				with, d, err := related(v, k)
				if err != nil {
					return 0, 0, err
				}
				delta += d
				for _, key := range with {
					if err := w.delete(key); err != nil {
						return 0, 0, err
					}
				}
			}
			return len(doomed), delta, nil
		})
		switch {
		case errors.Is(err, badger.ErrConflict) && attempt < ds.cfg.maxRetries:
			attempt++
			continue
		case err != nil:
			return keys, relationships, err
		case n == 0:
			return keys, relationships, nil
		}
		// The retry budget is per batch: a long run through a busy store
		// may meet many conflicts in all.
		attempt = 0
		keys += int64(n)
		relationships -= delta
		// The next batch starts past this one rather than walk again over
		// the deletion markers it left.
		r.start = append(doomed[len(doomed)-1], 0)
	}
	return keys, relationships, ctx.Err()
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
		ds.gc.raise(uint64(rev))
	}
	n, _, err := ds.deleteInBatches(ctx, keyRange{start: []byte{tagChangelog}, end: changelogKey(uint64(rev))},
		func(_ view, key []byte) ([][]byte, int64, error) { return [][]byte{key}, 0, nil })
	counts := datastore.DeletionCounts{Transactions: n}
	if err != nil {
		return counts, err
	}
	// Versions older than rev are no longer needed by any valid reader,
	// unless a snapshot admitted before the watermark moved is still open:
	// then the discard waits for a later run.
	ds.db.SetDiscardTs(ds.gc.discardFloor())
	for !ds.cfg.inMemory && ctx.Err() == nil { // in memory, there is no value log
		err := ds.db.RunValueLogGC(0.5)
		switch {
		case err == nil:
			continue
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
			// Nothing worth rewriting, or a rewrite already under way.
			return counts, nil
		default:
			return counts, fmt.Errorf("badgerds: value log collection: %w", err)
		}
	}
	return counts, nil
}

// DeleteExpiredRels deletes relationships that expired before the GC
// window began; readers within the window still see them as expired.
func (c collector) DeleteExpiredRels(ctx context.Context) (int64, error) {
	ds := c.ds
	cutoff := time.Now().Add(-ds.cfg.gcWindow)
	if cutoff.Unix() <= 0 {
		return 0, nil
	}
	_, deleted, err := ds.deleteInBatches(ctx, keyRange{start: []byte{tagExpiry}, end: expiryKey(cutoff, nil)},
		func(v view, key []byte) ([][]byte, int64, error) {
			rel, current, err := indexedExpiry(v, key)
			if err != nil || !current {
				return [][]byte{key}, 0, err
			}
			return [][]byte{key, key[9:], reverseKey(rel.RelationshipReference)}, -1, nil
		})
	return deleted, err
}

// indexedExpiry reads the relationship an expiry index key names, and
// whether the key is that relationship's current entry. The index alone is
// not trusted: an entry left behind by a rewrite (or written by a build
// whose stamps wrapped past 2262) must not delete a relationship that
// lives on. The read is logged, so a concurrent write to the relationship
// conflicts with the collector.
func indexedExpiry(v view, key []byte) (*tuple.Relationship, bool, error) {
	rel, err := v.relationship(key[9:])
	if err != nil || rel == nil {
		return nil, false, err
	}
	current := rel.OptionalExpiration != nil && expiryStamp(*rel.OptionalExpiration) == binary.BigEndian.Uint64(key[1:9])
	return rel, current, nil
}
