package badgerds

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// Datastore is SpiceDB's datastore on Badger. Build it with New; whoever
// builds it closes it.
type Datastore struct {
	db       *badger.DB
	cfg      config
	uniqueID string
	dir      string

	occ    occ
	marks  watermark
	closed atomic.Bool
	// closing is closed when Close begins: a watcher waiting on a slow
	// consumer gives up then, rather than keep Close waiting.
	closing chan struct{}
	// inFlight counts the operations using Badger, plus one reference of
	// the store's own; Close drops that and waits for the count to reach
	// zero (drained) before closing Badger. A counter, not a lock:
	// an operation may start another while it runs (SpiceDB reads a caveat
	// while iterating relationships), and a read lock taken again while
	// Close waits for the write lock would deadlock both.
	inFlight      atomic.Int64
	drained       chan struct{}
	drainedOnce   sync.Once
	relationships atomic.Int64 // stored relationships, for Statistics
	// freshFloor is the oldest revision optimized reads may return: the
	// newest schema change, or the head when the store was opened, so
	// neither a schema written moments ago nor anything acknowledged
	// before a restart is missing from them.
	freshFloor atomic.Uint64
	// schemaHash is the stored schema's hash from a revision on, up to the
	// head: HeadRevision, OptimizedRevision and every write with a schema
	// precondition take it from memory instead of reading the key from
	// Badger, where, written rarely, it sits in a deep level.
	schemaHash atomic.Pointer[hashSince]

	gc gcState
}

// hashSince is the schema hash every revision from since on reads, until a
// later schema write, and the decoded schema they read, once one has.
type hashSince struct {
	hash  string
	since uint64
	// schema spares each write transaction, where SpiceDB keeps no schema
	// cache, a Get of the schema (deep in the levels of a loaded store)
	// and its decoding: together more CPU than the rest of a write.
	// SpiceDB shares a ReadOnlyStoredSchema between readers and never
	// modifies it.
	schema atomic.Pointer[datastore.ReadOnlyStoredSchema]
}

var (
	_ datastore.Datastore                   = (*Datastore)(nil)
	_ datastore.GarbageCollectableDatastore = (*Datastore)(nil)
)

// New opens the datastore in dir, creating it if dir is empty or missing.
// It refuses, with an error naming the problem, a directory that holds
// another program's files, a damaged store, a directory it may not write,
// and a directory another process has open.
func New(ctx context.Context, dir string, opts ...Option) (datastore.Datastore, error) {
	ds, err := open(ctx, dir, opts...)
	if err != nil {
		return nil, err // not a typed nil inside the interface
	}
	return ds, nil
}

func open(_ context.Context, dir string, opts ...Option) (*Datastore, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	bopts := badger.DefaultOptions(dir).
		WithLogger(nil).
		WithSyncWrites(cfg.syncWrites).
		WithDetectConflicts(false). // conflicts are ours to detect: see occ
		WithBlockCacheSize(cfg.blockCacheMiB << 20).
		WithNumVersionsToKeep(1).
		// Badger's own expvar counters, bumped on every read, are about
		// 1 % of a Check's CPU; nothing reads them.
		WithMetricsEnabled(false)
	switch {
	case cfg.inMemory:
		bopts = bopts.WithInMemory(true).WithDir("").WithValueDir("")
	case cfg.readOnly:
		if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
			return nil, fmt.Errorf("badgerds: %s holds no relationship store: %w", dir, err)
		}
		bopts = bopts.WithReadOnly(true)
	default:
		if err := checkDirectory(dir); err != nil {
			return nil, err
		}
	}
	db, err := badger.OpenManaged(bopts)
	if err != nil {
		return nil, explainOpenError(dir, err)
	}
	ds := &Datastore{db: db, cfg: cfg, dir: dir, closing: make(chan struct{}), drained: make(chan struct{})}
	ds.inFlight.Store(1) // the store's own reference, dropped by Close
	ds.marks.init(db.MaxVersion())
	hash, err := readSchemaHash(db, db.MaxVersion())
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("badgerds: read the schema hash: %w", err)
	}
	ds.schemaHash.Store(&hashSince{hash: hash, since: db.MaxVersion()})
	ds.freshFloor.Store(db.MaxVersion())
	ds.occ.init()
	if err := ds.initIdentity(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if !cfg.readOnly {
		ds.startGC()
	}
	return ds, nil
}

// checkDirectory refuses a directory that is not ours before Badger can
// write into it.
func checkDirectory(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("badgerds: create %s: %w", dir, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("badgerds: read %s: %w", dir, err)
	}
	if len(entries) > 0 {
		if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
			return fmt.Errorf("badgerds: %s is not empty and holds no relationship store (no MANIFEST); refusing to write into it", dir)
		}
	}
	probe, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("badgerds: %s is not writable: %w", dir, err)
	}
	_ = probe.Close()
	return os.Remove(probe.Name())
}

func explainOpenError(dir string, err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, badger.ErrTruncateNeeded) || strings.Contains(msg, badger.ErrTruncateNeeded.Error()):
		// Only a read-only open meets this: the store's log still has the
		// tail a writer trims when it opens after a crash.
		return fmt.Errorf("badgerds: %s was not shut down cleanly, so it cannot be opened read-only; open it once for writing (start trellis serve on it), or ask a running server: %w", dir, err)
	case strings.Contains(msg, "Cannot acquire directory lock"):
		return fmt.Errorf("badgerds: %s is in use by another process: %w", dir, err)
	case errors.Is(err, os.ErrPermission) || strings.Contains(msg, "permission denied") || strings.Contains(msg, "operation not permitted") || strings.Contains(msg, "read-only file system"):
		return fmt.Errorf("badgerds: %s is not writable: %w", dir, err)
	default:
		return fmt.Errorf("badgerds: %s holds a damaged or foreign store: %w", dir, err)
	}
}

// initIdentity stamps a new store with its format and a unique ID, and
// checks both on an existing one.
func (ds *Datastore) initIdentity() error {
	txn := ds.db.NewTransactionAt(ds.marks.headRev(), false)
	defer txn.Discard()
	format, err := getValue(txn, keyFormat)
	if err != nil {
		return err
	}
	id, err := getValue(txn, keyUniqueID)
	if err != nil {
		return err
	}
	if string(format) == formatVersionV1 {
		if ds.cfg.readOnly {
			return fmt.Errorf("badgerds: %s holds store format %q, which this build upgrades to %q the first time it opens the store for writing; open it once for writing (start trellis serve on it)", ds.dir, format, formatVersion)
		}
		if err := ds.upgradeReverseKeys(); err != nil {
			return err
		}
		format = []byte(formatVersion)
	} else if string(format) == formatVersion && !ds.cfg.readOnly {
		// An upgrade may have stopped between its stamp and its drop.
		if err := ds.dropTag(tagReverseV1); err != nil {
			return err
		}
	}
	switch {
	case format == nil && ds.marks.headRev() != 0:
		return fmt.Errorf("badgerds: %s is a Badger store of another program, not a relationship store", ds.dir)
	case format != nil && string(format) != formatVersion:
		return fmt.Errorf("badgerds: %s holds store format %q; this build reads %q", ds.dir, format, formatVersion)
	case format != nil:
		ds.uniqueID = string(id)
		count, err := getValue(txn, keyRelationshipCount)
		if err != nil {
			return err
		}
		if len(count) == 8 {
			ds.relationships.Store(int64(binary.BigEndian.Uint64(count)))
		}
		watermark, err := getValue(txn, keyGCWatermark)
		if err != nil {
			return err
		}
		if len(watermark) == 8 {
			ds.gc.discardedBelow.Store(binary.BigEndian.Uint64(watermark))
			ds.db.SetDiscardTs(binary.BigEndian.Uint64(watermark))
		}
		return nil
	}
	if ds.cfg.readOnly {
		return fmt.Errorf("badgerds: %s holds no relationship store", ds.dir)
	}
	ds.uniqueID = uuid.NewString()
	_, err = ds.commitInternal(func(w *keyRecorder) error {
		if err := w.set(keyFormat, []byte(formatVersion)); err != nil {
			return err
		}
		return w.set(keyUniqueID, []byte(ds.uniqueID))
	})
	return err
}

func getValue(txn *badger.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

var errClosed = errors.New("badgerds: datastore is closed")

func (ds *Datastore) checkOpen() error {
	if ds.closed.Load() {
		return errClosed
	}
	return nil
}

// enter admits an operation that uses Badger; the returned function ends
// it. It fails once Close has begun. The count holds one reference of the
// store's own, which only Close drops, so it reaches zero only after Close
// began and every operation admitted before has ended; an operation counts
// itself before it looks at closed, so none is admitted unseen.
func (ds *Datastore) enter() (func(), error) {
	if ds.closed.Load() {
		return nil, errClosed
	}
	ds.inFlight.Add(1)
	if ds.closed.Load() {
		ds.leave()
		return nil, errClosed
	}
	return ds.leave, nil
}

func (ds *Datastore) leave() {
	if ds.inFlight.Add(-1) == 0 {
		ds.drainedOnce.Do(func() { close(ds.drained) })
	}
}

// Close refuses new operations, stops garbage collection, waits for the
// operations under way (commits finish and are acknowledged), wakes every
// watcher, and closes Badger. It is safe to call twice.
func (ds *Datastore) Close() error {
	if ds.closed.Swap(true) {
		return nil
	}
	close(ds.closing)
	ds.stopGC()
	ds.leave() // the store's own reference
	<-ds.drained
	ds.marks.close()
	return ds.db.Close()
}

// MetricsID implements datastore.ReadOnlyDatastore.
func (ds *Datastore) MetricsID() (string, error) { return "badger", nil }

// UniqueID implements datastore.ReadOnlyDatastore; it survives restarts.
func (ds *Datastore) UniqueID(context.Context) (string, error) { return ds.uniqueID, nil }

// ReadyState implements datastore.ReadOnlyDatastore.
func (ds *Datastore) ReadyState(context.Context) (datastore.ReadyState, error) {
	if err := ds.checkOpen(); err != nil {
		return datastore.ReadyState{Message: err.Error()}, nil
	}
	return datastore.ReadyState{IsReady: true}, nil
}

// Features implements datastore.ReadOnlyDatastore.
func (ds *Datastore) Features(context.Context) (*datastore.Features, error) {
	return ds.OfflineFeatures()
}

// OfflineFeatures implements datastore.ReadOnlyDatastore.
func (ds *Datastore) OfflineFeatures() (*datastore.Features, error) {
	return &datastore.Features{
		Watch:                   datastore.Feature{Status: datastore.FeatureSupported},
		IntegrityData:           datastore.Feature{Status: datastore.FeatureSupported},
		ContinuousCheckpointing: datastore.Feature{Status: datastore.FeatureUnsupported},
		WatchEmitsImmediately:   datastore.Feature{Status: datastore.FeatureUnsupported},
	}, nil
}

// HeadRevision implements datastore.ReadOnlyDatastore: the newest revision
// whose commit, and every commit before it, is durable and readable.
func (ds *Datastore) HeadRevision(context.Context) (datastore.RevisionWithSchemaHash, error) {
	if err := ds.checkOpen(); err != nil {
		return datastore.RevisionWithSchemaHash{}, err
	}
	head := ds.marks.headRev()
	hash, err := ds.schemaHashAt(head)
	if err != nil {
		return datastore.RevisionWithSchemaHash{}, err
	}
	return datastore.RevisionWithSchemaHash{Revision: revision(head), SchemaHash: hash}, nil
}

// OptimizedRevision implements datastore.ReadOnlyDatastore: the start of the
// current quantization window, so concurrent reads share a revision (and
// SpiceDB's caches), but never beyond the head.
func (ds *Datastore) OptimizedRevision(context.Context) (datastore.RevisionWithSchemaHash, error) {
	if err := ds.checkOpen(); err != nil {
		return datastore.RevisionWithSchemaHash{}, err
	}
	rev := ds.marks.headRev()
	if q := ds.cfg.quantization.Nanoseconds(); q > 1 {
		if bucket := uint64(time.Now().UnixNano() / q * q); bucket < rev {
			// Never staler than one window, even if the clock stepped back.
			rev = max(bucket, ds.freshFloor.Load(), rev-min(rev, uint64(q)))
		}
	}
	hash, err := ds.schemaHashAt(rev)
	if err != nil {
		return datastore.RevisionWithSchemaHash{}, err
	}
	return datastore.RevisionWithSchemaHash{Revision: revision(rev), SchemaHash: hash}, nil
}

// schemaHashAt returns the schema hash a read at rev sees.
func (ds *Datastore) schemaHashAt(rev uint64) (string, error) {
	if h := ds.schemaHash.Load(); rev >= h.since {
		return h.hash, nil
	}
	leave, err := ds.enter()
	if err != nil {
		return "", err
	}
	defer leave()
	return readSchemaHash(ds.db, rev)
}

func readSchemaHash(db *badger.DB, rev uint64) (string, error) {
	txn := db.NewTransactionAt(rev, false)
	defer txn.Discard()
	h, err := getValue(txn, keyHash)
	return string(h), err
}

// learnSchemaHash records the hash a schema write committed at ts stored.
// It runs before the head can reach ts, so no read at ts or later misses
// it; of two schema writes finishing out of order, the later revision's
// hash stays.
func (ds *Datastore) learnSchemaHash(ts uint64, hash string) {
	next := &hashSince{hash: hash, since: ts}
	for {
		cur := ds.schemaHash.Load()
		if cur.since >= ts || ds.schemaHash.CompareAndSwap(cur, next) {
			return
		}
	}
}

// CheckRevision implements datastore.ReadOnlyDatastore. A revision is
// readable from the GC window's start up to the head.
func (ds *Datastore) CheckRevision(_ context.Context, r datastore.Revision) error {
	if err := ds.checkOpen(); err != nil {
		return err
	}
	rev, ok := r.(revision)
	if !ok || rev == 0 {
		return datastore.NewInvalidRevisionErr(r, datastore.RevisionStale)
	}
	head := ds.marks.headRev()
	switch {
	case uint64(rev) == head:
		return nil
	case uint64(rev) > head:
		return datastore.NewInvalidRevisionErr(r, datastore.CouldNotDetermineRevision)
	case uint64(rev) < ds.oldestReadable():
		return datastore.NewInvalidRevisionErr(r, datastore.RevisionStale)
	}
	return nil
}

// oldestReadable is the oldest revision still guaranteed to read correctly.
func (ds *Datastore) oldestReadable() uint64 {
	horizon := time.Now().Add(-ds.cfg.gcWindow).UnixNano()
	if horizon < 0 {
		horizon = 0
	}
	return max(uint64(horizon), ds.gc.discardedBelow.Load())
}

// RevisionFromString implements datastore.ReadOnlyDatastore.
func (ds *Datastore) RevisionFromString(s string) (datastore.Revision, error) {
	return parseRevision(s)
}

// SnapshotReader implements datastore.ReadOnlyDatastore. A revision above
// the head is refused: it can only come from a forged token, and reading
// there could observe a commit halfway through being applied.
func (ds *Datastore) SnapshotReader(r datastore.Revision) datastore.Reader {
	rev, err := asRevision(r)
	if err == nil {
		err = ds.checkOpen()
	}
	if err == nil && uint64(rev) > ds.marks.headRev() {
		err = datastore.NewInvalidRevisionErr(r, datastore.CouldNotDetermineRevision)
	}
	return &reader{ds: ds, rev: uint64(rev), err: err}
}

// watermark tracks which commit timestamps have been handed to Badger and
// which have finished: the head is the highest timestamp at or below which
// every commit has finished, so a snapshot at the head never misses a
// commit still being applied.
type watermark struct {
	mu      sync.Mutex
	head    uint64
	pending []uint64 // assigned, ascending
	done    map[uint64]bool
	changed chan struct{} // closed and replaced whenever head advances
	closed  bool
}

func (w *watermark) init(head uint64) {
	w.head = head
	w.done = map[uint64]bool{}
	w.changed = make(chan struct{})
}

func (w *watermark) headRev() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.head
}

// next returns a channel closed when the head next moves.
func (w *watermark) next() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed
}

// begin registers ts, which must exceed every timestamp registered before.
func (w *watermark) begin(ts uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = append(w.pending, ts)
}

// finish marks ts done and advances the head over finished commits.
func (w *watermark) finish(ts uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done[ts] = true
	advanced := false
	for len(w.pending) > 0 && w.done[w.pending[0]] {
		delete(w.done, w.pending[0])
		w.head = w.pending[0]
		w.pending = w.pending[1:]
		advanced = true
	}
	if advanced {
		close(w.changed)
		w.changed = make(chan struct{})
	}
}

// waitFor blocks until the head reaches ts; false if the store closed first.
func (w *watermark) waitFor(ts uint64) bool {
	for {
		w.mu.Lock()
		if w.head >= ts {
			w.mu.Unlock()
			return true
		}
		if w.closed {
			w.mu.Unlock()
			return false
		}
		ch := w.changed
		w.mu.Unlock()
		<-ch
	}
}

// close wakes every waiter for good.
func (w *watermark) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	close(w.changed)
	w.changed = make(chan struct{})
}
