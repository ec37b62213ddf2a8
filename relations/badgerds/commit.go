package badgerds

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/datastore/options"
	"github.com/dgraph-io/badger/v4"
	"google.golang.org/grpc/codes"
)

// ReadWriteTx implements datastore.Datastore. The transaction reads a
// snapshot at the head and commits only if nothing it read was written by a
// transaction that committed since; otherwise it is retried. The revision is
// returned once the commit is durable and every earlier commit has finished.
func (ds *Datastore) ReadWriteTx(ctx context.Context, fn datastore.TxUserFunc, opts ...options.RWTOptionsOption) (datastore.Revision, error) {
	cfg := options.NewRWTOptionsWithOptions(opts...)
	attempts := ds.cfg.maxRetries
	if cfg.DisableRetries {
		attempts = 1
	}
	var err error
	for attempt := range attempts {
		if attempt > 0 {
			if werr := backoff(ctx, attempt); werr != nil {
				return datastore.NoRevision, errors.Join(err, werr)
			}
		}
		var rev uint64
		rev, err = ds.tryReadWrite(ctx, fn, cfg)
		if err == nil {
			return revision(rev), nil
		}
		if !errors.Is(err, badger.ErrConflict) {
			return datastore.NoRevision, err
		}
	}
	// Every attempt lost to concurrent writers: the client is to retry.
	return datastore.NoRevision, statusError{codes.Aborted, "the transaction conflicted with concurrent ones on every attempt; retry it", err}
}

// backoff waits a jittered, growing delay before a retry.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(time.Millisecond)<<min(attempt, 5))) + 100*time.Microsecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (ds *Datastore) tryReadWrite(ctx context.Context, fn datastore.TxUserFunc, cfg *options.RWTOptions) (uint64, error) {
	leave, err := ds.enter()
	if err != nil {
		return 0, err
	}
	defer leave()
	rwt := ds.beginReadWrite()
	defer rwt.discard()
	if cfg.SchemaHashPrecondition != "" {
		hash, err := rwt.schemaHash()
		if err != nil {
			return 0, err
		}
		if hash == "" {
			return 0, datastore.ErrSchemaNotFound
		}
		if hash != cfg.SchemaHashPrecondition {
			return 0, datastore.ErrSchemaHashPreconditionFailed
		}
	}
	if err := fn(ctx, rwt); err != nil {
		return 0, err
	}
	entry, err := rwt.changes.encode(cfg.Metadata)
	if err != nil {
		return 0, err
	}
	return ds.commit(rwt.txn, rwt.readTs, rwt.reads, rwt.writes, entry, rwt.changes.relationshipDelta(), rwt.storedHash)
}

// commit validates, stamps and hands a transaction to Badger, then waits
// until it is durable and the head has reached it. changelog, if non-nil, is
// stored under the commit's revision for Watch.
//
// delta is how many relationships the transaction adds (negative: removes);
// the running count is written with the commit, without reading it, so
// counting never makes transactions conflict. schemaHash, if non-nil, is
// the schema hash the transaction stores.
func (ds *Datastore) commit(txn *badger.Txn, readTs uint64, reads []keyRange, writes [][]byte, changelog []byte, delta int64, schemaHash *string) (uint64, error) {
	ds.occ.commitMu.Lock()
	if err := ds.occ.validate(readTs, reads); err != nil {
		ds.occ.commitMu.Unlock()
		return 0, err
	}
	ts := ds.occ.nextTimestamp(ds.marks.headRev())
	if changelog != nil {
		if err := txn.Set(changelogKey(ts), changelog); err != nil {
			ds.occ.commitMu.Unlock()
			return 0, tooLarge(err)
		}
	}
	if delta != 0 {
		count := ds.relationships.Add(delta)
		if err := txn.Set(keyRelationshipCount, binary.BigEndian.AppendUint64(nil, uint64(max(count, 0)))); err != nil {
			ds.relationships.Add(-delta)
			ds.occ.commitMu.Unlock()
			return 0, tooLarge(err)
		}
	}
	ds.occ.record(ts, writes, ds.marks.headRev())
	ds.marks.begin(ts)
	done := make(chan error, 1)
	if err := txn.CommitAt(ts, func(err error) { done <- err }); err != nil {
		// Only a conflict can fail here, and Badger's detection is off.
		ds.marks.finish(ts)
		ds.occ.commitMu.Unlock()
		return 0, err
	}
	ds.occ.commitMu.Unlock()

	err := <-done
	if err == nil && schemaHash != nil {
		ds.learnSchemaHash(ts, *schemaHash)
	}
	ds.marks.finish(ts)
	if err != nil {
		ds.relationships.Add(-delta)
		return 0, fmt.Errorf("badgerds: commit: %w", err)
	}
	if !ds.marks.waitFor(ts) {
		return 0, errClosed
	}
	if touchesSchema(writes) {
		ds.noteSchemaChange(ts)
	}
	return ts, nil
}

// touchesSchema reports whether a write set changes the schema.
func touchesSchema(writes [][]byte) bool {
	for _, k := range writes {
		switch k[0] {
		case tagNamespace, tagCaveat, tagSchema, tagHash:
			return true
		}
	}
	return false
}

// noteSchemaChange raises the freshness floor to a revision that changed
// the schema.
func (ds *Datastore) noteSchemaChange(ts uint64) {
	for {
		cur := ds.freshFloor.Load()
		if ts <= cur || ds.freshFloor.CompareAndSwap(cur, ts) {
			return
		}
	}
}

// internalTx runs fn as a validated transaction of Trellis's own (the
// collector's): it conflicts like any other but has no change log entry.
// fn reports how many units it wrote and by how much they change the
// relationship count; with no units nothing is committed.
func (ds *Datastore) internalTx(fn func(view, *keyRecorder) (int, int64, error)) (int, int64, error) {
	leave, err := ds.enter()
	if err != nil {
		return 0, 0, err
	}
	defer leave()
	rwt := ds.beginReadWrite()
	defer rwt.discard()
	var reads []keyRange
	n, delta, err := fn(view{txn: rwt.txn, reads: &reads}, &rwt.keyRecorder)
	if err != nil || n == 0 {
		return 0, 0, err
	}
	rwt.delta = delta
	if _, err := ds.commit(rwt.txn, rwt.readTs, reads, rwt.writes, nil, rwt.delta, nil); err != nil {
		return 0, 0, err
	}
	return n, delta, nil
}

// commitInternal writes outside of SpiceDB's transactions (identity, GC):
// no reads to validate and no change log entry.
func (ds *Datastore) commitInternal(fn func(*keyRecorder) error) (uint64, error) {
	leave, err := ds.enter()
	if err != nil {
		return 0, err
	}
	defer leave()
	txn := ds.db.NewTransactionAt(ds.marks.headRev(), true)
	defer txn.Discard()
	w := &keyRecorder{txn: txn}
	if err := fn(w); err != nil {
		return 0, err
	}
	return ds.commit(txn, 0, nil, w.writes, nil, 0, nil)
}

// keyRange is a half-open range of keys [start, end) a transaction read;
// a nil end means the end of the key space.
type keyRange struct{ start, end []byte }

func pointRange(k []byte) keyRange {
	return keyRange{start: k, end: append(bytes.Clone(k), 0)}
}

// isPoint reports whether the range holds exactly one key, as pointRange
// makes it.
func (r keyRange) isPoint() bool {
	n := len(r.start)
	return len(r.end) == n+1 && r.end[n] == 0 && bytes.Equal(r.end[:n], r.start)
}

func (r keyRange) contains(k []byte) bool {
	return bytes.Compare(k, r.start) >= 0 && (r.end == nil || bytes.Compare(k, r.end) < 0)
}

// occ is optimistic concurrency control with backward validation: a
// transaction may commit only if no transaction that committed after its
// snapshot wrote a key inside a range it read. Badger's own detection is
// off because it keeps every committed transaction's keys until the
// discard timestamp passes them, and ours moves only with the GC window;
// here a committed transaction is forgotten as soon as no running
// transaction's snapshot predates it.
type occ struct {
	commitMu sync.Mutex // orders validation, timestamps and hand-off to Badger

	mu        sync.Mutex
	last      uint64         // last commit timestamp handed out
	active    map[uint64]int // snapshots of running read-write transactions
	committed []committedTxn // ascending by ts
}

type committedTxn struct {
	ts   uint64
	keys [][]byte // sorted
}

func (o *occ) init() { o.active = map[uint64]int{} }

// begin registers a read-write transaction reading at the current head.
func (o *occ) begin(head func() uint64) uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	ts := head()
	o.active[ts]++
	return ts
}

func (o *occ) end(readTs uint64, head uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.active[readTs]--; o.active[readTs] <= 0 {
		delete(o.active, readTs)
	}
	o.pruneLocked(head)
}

// pruneLocked forgets committed transactions no running transaction can
// conflict with.
func (o *occ) pruneLocked(head uint64) {
	horizon := head
	for ts := range o.active {
		horizon = min(horizon, ts)
	}
	i := 0
	for i < len(o.committed) && o.committed[i].ts <= horizon {
		i++
	}
	if i > 0 {
		o.committed = slices.Delete(o.committed, 0, i)
	}
}

func (o *occ) validate(readTs uint64, reads []keyRange) error {
	if len(reads) == 0 {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.committed) - 1; i >= 0 && o.committed[i].ts > readTs; i-- {
		keys := o.committed[i].keys
		for _, r := range reads {
			j, _ := slices.BinarySearchFunc(keys, r.start, bytes.Compare)
			if j < len(keys) && r.contains(keys[j]) {
				return badger.ErrConflict
			}
		}
	}
	return nil
}

// nextTimestamp returns the wall clock in nanoseconds, bumped past every
// timestamp handed out before and past the head.
func (o *occ) nextTimestamp(head uint64) uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	ts := max(uint64(time.Now().UnixNano()), o.last+1, head+1)
	o.last = ts
	return ts
}

// record remembers what a committing transaction writes; head is a recent
// head, below which nothing new can start.
func (o *occ) record(ts uint64, writes [][]byte, head uint64) {
	if len(writes) == 0 {
		return
	}
	keys := slices.Clone(writes)
	slices.SortFunc(keys, bytes.Compare)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.committed = append(o.committed, committedTxn{ts: ts, keys: keys})
	o.pruneLocked(head)
}

// keyRecorder writes through a Badger transaction and remembers the keys,
// so transactions that read them concurrently can be told they conflict.
type keyRecorder struct {
	txn    *badger.Txn
	writes [][]byte
}

func (w *keyRecorder) set(k, v []byte) error {
	w.writes = append(w.writes, k)
	return w.txn.Set(k, v)
}

func (w *keyRecorder) delete(k []byte) error {
	w.writes = append(w.writes, k)
	return w.txn.Delete(k)
}
