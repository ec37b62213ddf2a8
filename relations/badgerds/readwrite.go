package badgerds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/datastore/options"
	core "github.com/authzed/spicedb/pkg/proto/core/v1"
	"github.com/authzed/spicedb/pkg/spiceerrors"
	"github.com/authzed/spicedb/pkg/tuple"
	"github.com/dgraph-io/badger/v4"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// readWriteTx is a datastore.ReadWriteTransaction over one Badger update
// transaction reading at readTs.
type readWriteTx struct {
	reader
	keyRecorder
	readTs  uint64
	delta   int64      // relationships removed by the collector (negative)
	mu      sync.Mutex // guards reads
	reads   []keyRange
	changes changeSet
	// storedHash is the schema hash this transaction writes, if it writes
	// the schema.
	storedHash *string
}

var _ datastore.ReadWriteTransaction = (*readWriteTx)(nil)

func (ds *Datastore) beginReadWrite() *readWriteTx {
	readTs := ds.occ.begin(ds.marks.headRev)
	rwt := &readWriteTx{readTs: readTs}
	rwt.txn = ds.db.NewTransactionAt(readTs, true)
	rwt.reader = reader{ds: ds, rev: readTs, now: time.Now(), within: rwt.view}
	return rwt
}

// view hands the transaction to a read; what it reads is logged.
func (rwt *readWriteTx) view() (view, func()) {
	log := &rangeLog{}
	return view{txn: rwt.txn, reads: &log.ranges}, func() { rwt.logReads(log.ranges...) }
}

// logReads records ranges the transaction read, for conflict detection.
func (rwt *readWriteTx) logReads(ranges ...keyRange) {
	rwt.mu.Lock()
	rwt.reads = append(rwt.reads, ranges...)
	rwt.mu.Unlock()
}

type rangeLog struct{ ranges []keyRange }

func (rwt *readWriteTx) discard() {
	rwt.txn.Discard()
	rwt.ds.occ.end(rwt.readTs, rwt.ds.marks.headRev())
}

// get reads one key within the transaction.
func (rwt *readWriteTx) get(key []byte) ([]byte, error) {
	v, _, found, err := rwt.reader.get(key)
	if err != nil || !found {
		return nil, err
	}
	return v, nil
}

// existing returns the stored relationship under fwd, expired or not.
func (rwt *readWriteTx) existing(fwd []byte) (*tuple.Relationship, error) {
	v, done, err := rwt.reader.openView()
	if err != nil {
		return nil, err
	}
	defer done()
	return v.relationship(fwd)
}

// WriteRelationships implements datastore.ReadWriteTransaction.
func (rwt *readWriteTx) WriteRelationships(ctx context.Context, mutations []tuple.RelationshipUpdate) error {
	for _, m := range mutations {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := rwt.apply(m); err != nil {
			return err
		}
	}
	return nil
}

func (rwt *readWriteTx) apply(m tuple.RelationshipUpdate) error {
	fwd := forwardKey(m.Relationship.RelationshipReference)
	old, err := rwt.existing(fwd)
	if err != nil {
		return err
	}
	switch m.Operation {
	case tuple.UpdateOperationCreate:
		if old != nil {
			return datastore.NewCreateRelationshipExistsError(old)
		}
	case tuple.UpdateOperationTouch:
		if old != nil && sameRelationship(*old, m.Relationship) {
			return nil
		}
	case tuple.UpdateOperationDelete:
		if old == nil {
			return nil
		}
		return rwt.remove(fwd, *old)
	default:
		return spiceerrors.MustBugf("unknown relationship update operation %v", m.Operation)
	}
	return rwt.put(fwd, old, m.Relationship)
}

// sameRelationship is TOUCH's test for "nothing to do": equal caveat,
// context and expiration, as SpiceDB's string form compares them.
func sameRelationship(a, b tuple.Relationship) bool {
	as, err1 := tuple.String(a)
	bs, err2 := tuple.String(b)
	return err1 == nil && err2 == nil && as == bs
}

func (rwt *readWriteTx) put(fwd []byte, old *tuple.Relationship, rel tuple.Relationship) error {
	val, err := encodeValue(rel)
	if err != nil {
		return err
	}
	if err := rwt.set(fwd, val); err != nil {
		return tooLarge(err)
	}
	if err := rwt.set(reverseKey(rel.RelationshipReference), val); err != nil {
		return tooLarge(err)
	}
	if old != nil && old.OptionalExpiration != nil {
		if err := rwt.delete(expiryKey(*old.OptionalExpiration, fwd)); err != nil {
			return tooLarge(err)
		}
	}
	if rel.OptionalExpiration != nil {
		if err := rwt.set(expiryKey(*rel.OptionalExpiration, fwd), nil); err != nil {
			return tooLarge(err)
		}
	}
	after := rel
	rwt.changes.relationship(fwd, old, &after)
	return nil
}

func (rwt *readWriteTx) remove(fwd []byte, old tuple.Relationship) error {
	if err := rwt.delete(fwd); err != nil {
		return tooLarge(err)
	}
	if err := rwt.delete(reverseKey(old.RelationshipReference)); err != nil {
		return tooLarge(err)
	}
	if old.OptionalExpiration != nil {
		if err := rwt.delete(expiryKey(*old.OptionalExpiration, fwd)); err != nil {
			return tooLarge(err)
		}
	}
	rwt.changes.relationship(fwd, &old, nil)
	return nil
}

// statusError is a Badger error that carries the gRPC status SpiceDB's API
// should answer with, and what to do about it, instead of Unknown.
type statusError struct {
	code codes.Code
	what string
	err  error
}

func (e statusError) Error() string { return "badgerds: " + e.what + ": " + e.err.Error() }

func (e statusError) Unwrap() error { return e.err }

func (e statusError) GRPCStatus() *status.Status { return status.New(e.code, e.Error()) }

// tooLarge explains a transaction too large for Badger to commit as one
// batch (15 % of a memtable): about 50,000 relationship writes with short
// IDs. It is the client's to split: InvalidArgument.
func tooLarge(err error) error {
	if errors.Is(err, badger.ErrTxnTooBig) {
		return statusError{codes.InvalidArgument, "transaction too large: one transaction holds at most about 50,000 relationship writes on this store; " +
			"split it (an import into several ImportBulkRelationships streams)", err}
	}
	return err
}

// DeleteRelationships implements datastore.ReadWriteTransaction. Expired
// relationships that match are deleted too.
func (rwt *readWriteTx) DeleteRelationships(ctx context.Context, filter *v1.RelationshipFilter, opts ...options.DeleteOptionsOption) (uint64, bool, error) {
	dsFilter, err := datastore.RelationshipsFilterFromPublicFilter(filter)
	if err != nil {
		return 0, false, err
	}
	var limit uint64
	if o := options.NewDeleteOptionsWithOptionsAndDefaults(opts...); o.DeleteLimit != nil {
		limit = *o.DeleteLimit
	}
	return rwt.deleteMatching(ctx, dsFilter, limit)
}

func (rwt *readWriteTx) deleteMatching(ctx context.Context, filter datastore.RelationshipsFilter, limit uint64) (uint64, bool, error) {
	qopts := []options.QueryOptionsOption{options.WithSkipExpiration(true)}
	if limit > 0 {
		qopts = append(qopts, options.WithLimit(&limit))
	}
	it, err := rwt.QueryRelationships(ctx, filter, qopts...)
	if err != nil {
		return 0, false, err
	}
	var doomed []tuple.Relationship
	for rel, err := range it {
		if err != nil {
			return 0, false, err
		}
		doomed = append(doomed, rel)
	}
	for _, rel := range doomed {
		if err := rwt.remove(forwardKey(rel.RelationshipReference), rel); err != nil {
			return 0, false, err
		}
	}
	n := uint64(len(doomed))
	return n, limit > 0 && n == limit, nil
}

// bulkChunk is how many relationships BulkLoad creates at a time.
const bulkChunk = 16 << 10

// BulkLoad implements datastore.ReadWriteTransaction: CREATE for each
// relationship of the source, within this transaction.
//
// The source is taken in chunks; each is sorted, its relationships are
// looked up together (see present), then written.
func (rwt *readWriteTx) BulkLoad(ctx context.Context, source datastore.BulkWriteRelationshipSource) (uint64, error) {
	var n uint64
	chunk := make([]keyedRelationship, 0, bulkChunk)
	for {
		rel, err := source.Next(ctx)
		if err != nil {
			return 0, err
		}
		if rel != nil {
			chunk = append(chunk, keyedRelationship{fwd: forwardKey(rel.RelationshipReference), rel: ownCopy(*rel)})
		}
		if len(chunk) == bulkChunk || (rel == nil && len(chunk) > 0) {
			if err := rwt.createAll(chunk); err != nil {
				return 0, err
			}
			n += uint64(len(chunk))
			chunk = chunk[:0]
		}
		if rel == nil {
			return n, nil
		}
	}
}

type keyedRelationship struct {
	fwd []byte
	rel tuple.Relationship
}

// ownCopy copies what rel points to. A BulkLoad source may reuse it for
// the next relationship (SpiceDB's import adapters keep one caveat for
// all), and a chunk is written only once it is full.
func ownCopy(rel tuple.Relationship) tuple.Relationship {
	if rel.OptionalCaveat != nil {
		rel.OptionalCaveat = rel.OptionalCaveat.CloneVT()
	}
	if rel.OptionalIntegrity != nil {
		rel.OptionalIntegrity = rel.OptionalIntegrity.CloneVT()
	}
	if rel.OptionalExpiration != nil {
		t := *rel.OptionalExpiration
		rel.OptionalExpiration = &t
	}
	return rel
}

// createAll creates every relationship of chunk, failing if one is stored
// already or appears twice.
func (rwt *readWriteTx) createAll(chunk []keyedRelationship) error {
	slices.SortFunc(chunk, func(a, b keyedRelationship) int { return bytes.Compare(a.fwd, b.fwd) })
	present, err := rwt.present(chunk)
	if err != nil {
		return err
	}
	for i, c := range chunk {
		if i > 0 && bytes.Equal(chunk[i-1].fwd, c.fwd) {
			return datastore.NewCreateRelationshipExistsError(&chunk[i-1].rel)
		}
		if present[i] {
			old, err := rwt.existing(c.fwd)
			if err != nil {
				return err
			}
			if old != nil {
				return datastore.NewCreateRelationshipExistsError(old)
			}
		}
		if err := rwt.put(c.fwd, nil, c.rel); err != nil {
			return err
		}
	}
	return nil
}

// present reports which relationships of the sorted chunk are stored (or
// written by this transaction), expired or not. One ordered pass over the
// forward index from the chunk's first key to its last answers them all: a
// load fills mostly empty key ranges, where that pass meets few keys, and
// looking each key up alone walked every memtable and level for each. The
// pass stops once it has met four times as many key versions (deleted
// ones too) as it asks about; the rest are looked up one by one. Either
// way each key is logged as a point read, so a concurrent write of another
// key in the range is no conflict.
func (rwt *readWriteTx) present(chunk []keyedRelationship) ([]bool, error) {
	present := make([]bool, len(chunk))
	if len(chunk) == 0 {
		return present, nil
	}
	first, last := chunk[0].fwd, chunk[len(chunk)-1].fwd
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.AllVersions = true // so deleted keys count against the budget
	opts.Prefix = commonPrefix(first, last)
	it := rwt.txn.NewIterator(opts)
	budget := 4 * len(chunk)
	i := 0
	var seen []byte // the key whose newest version was met last
	for it.Seek(first); it.Valid() && i < len(chunk) && budget > 0; it.Next() {
		budget--
		item := it.Item()
		key := item.Key()
		if bytes.Compare(key, last) > 0 {
			i = len(chunk) // past the chunk: the rest are absent
			break
		}
		if bytes.Equal(key, seen) {
			continue // an older version
		}
		seen = append(seen[:0], key...)
		for i < len(chunk) && bytes.Compare(chunk[i].fwd, key) < 0 {
			i++
		}
		if i < len(chunk) && bytes.Equal(chunk[i].fwd, key) {
			present[i] = !item.IsDeletedOrExpired()
		}
	}
	if !it.Valid() {
		i = len(chunk) // the index ended: the rest are absent
	}
	it.Close()
	reads := make([]keyRange, 0, i)
	for _, c := range chunk[:i] {
		reads = append(reads, pointRange(c.fwd))
	}
	rwt.logReads(reads...)
	for j := i; j < len(chunk); j++ {
		old, err := rwt.existing(chunk[j].fwd)
		if err != nil {
			return nil, err
		}
		present[j] = old != nil
	}
	return present, nil
}

// WriteStoredSchema implements datastore.ReadWriteTransaction.
func (rwt *readWriteTx) WriteStoredSchema(_ context.Context, s *core.StoredSchema) error {
	raw, err := s.MarshalVT()
	if err != nil {
		return fmt.Errorf("badgerds: encode stored schema: %w", err)
	}
	if err := rwt.set(keySchema, raw); err != nil {
		return tooLarge(err)
	}
	hash := s.GetV1().GetSchemaHash()
	rwt.storedHash = &hash
	if hash != "" {
		return rwt.set(keyHash, []byte(hash))
	}
	return rwt.delete(keyHash)
}

// schemaHash returns the schema hash at the transaction's snapshot. The
// read is logged like any other, so a schema write committed meanwhile
// fails this transaction's commit.
func (rwt *readWriteTx) schemaHash() (string, error) {
	if h := rwt.ds.schemaHash.Load(); rwt.readTs >= h.since {
		rwt.logReads(pointRange(bytes.Clone(keyHash)))
		return h.hash, nil
	}
	v, err := rwt.get(keyHash)
	return string(v), err
}

// ReadStoredSchema implements datastore.Reader. The read is logged like
// any other, so a schema written concurrently makes the transaction
// conflict, even when the decoded copy answers it without a Get.
func (rwt *readWriteTx) ReadStoredSchema(context.Context) (*datastore.ReadOnlyStoredSchema, error) {
	if rwt.storedHash != nil {
		return rwt.storedSchema(false)
	}
	rwt.logReads(pointRange(bytes.Clone(keySchema)))
	return rwt.storedSchema(true)
}

// LegacyWriteNamespaces implements datastore.LegacySchemaWriter.
func (rwt *readWriteTx) LegacyWriteNamespaces(_ context.Context, defs ...*core.NamespaceDefinition) error {
	for _, def := range defs {
		raw, err := def.MarshalVT()
		if err != nil {
			return err
		}
		if err := rwt.set(nameKey(tagNamespace, def.GetName()), raw); err != nil {
			return tooLarge(err)
		}
		rwt.changes.definition(tagNamespace, def)
	}
	return nil
}

// LegacyDeleteNamespaces implements datastore.LegacySchemaWriter.
func (rwt *readWriteTx) LegacyDeleteNamespaces(ctx context.Context, names []string, opt datastore.DeleteNamespacesRelationshipsOption) error {
	for _, name := range names {
		key := nameKey(tagNamespace, name)
		raw, err := rwt.get(key)
		if err != nil {
			return err
		}
		if raw == nil {
			return fmt.Errorf("badgerds: namespace %q not found", name)
		}
		if err := rwt.delete(key); err != nil {
			return tooLarge(err)
		}
		rwt.changes.deletedDefinition(tagNamespace, name)
		if opt == datastore.DeleteNamespacesAndRelationships {
			if _, _, err := rwt.deleteMatching(ctx, datastore.RelationshipsFilter{OptionalResourceType: name}, 0); err != nil {
				return fmt.Errorf("badgerds: delete relationships of %q: %w", name, err)
			}
		}
	}
	return nil
}

// LegacyWriteCaveats implements datastore.LegacySchemaWriter.
func (rwt *readWriteTx) LegacyWriteCaveats(_ context.Context, defs []*core.CaveatDefinition) error {
	seen := map[string]bool{}
	for _, def := range defs {
		if seen[def.GetName()] {
			return fmt.Errorf("badgerds: caveat %q written twice in one call", def.GetName())
		}
		seen[def.GetName()] = true
		raw, err := def.MarshalVT()
		if err != nil {
			return err
		}
		if err := rwt.set(nameKey(tagCaveat, def.GetName()), raw); err != nil {
			return tooLarge(err)
		}
		rwt.changes.definition(tagCaveat, def)
	}
	return nil
}

// LegacyDeleteCaveats implements datastore.LegacySchemaWriter.
func (rwt *readWriteTx) LegacyDeleteCaveats(_ context.Context, names []string) error {
	for _, name := range names {
		if err := rwt.delete(nameKey(tagCaveat, name)); err != nil {
			return tooLarge(err)
		}
		rwt.changes.deletedDefinition(tagCaveat, name)
	}
	return nil
}

func (rwt *readWriteTx) counter(name string) (*storedCounter, error) {
	raw, err := rwt.get(nameKey(tagCounter, name))
	if err != nil || raw == nil {
		return nil, err
	}
	var c storedCounter
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("badgerds: decode counter: %w", err)
	}
	return &c, nil
}

func (rwt *readWriteTx) putCounter(name string, c storedCounter) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return rwt.set(nameKey(tagCounter, name), raw)
}

// RegisterCounter implements datastore.CounterRegisterer.
func (rwt *readWriteTx) RegisterCounter(_ context.Context, name string, filter *core.RelationshipFilter) error {
	c, err := rwt.counter(name)
	if err != nil {
		return err
	}
	if c != nil {
		return datastore.NewCounterAlreadyRegisteredErr(name, filter)
	}
	raw, err := filter.MarshalVT()
	if err != nil {
		return err
	}
	return rwt.putCounter(name, storedCounter{Filter: raw})
}

// UnregisterCounter implements datastore.CounterRegisterer.
func (rwt *readWriteTx) UnregisterCounter(_ context.Context, name string) error {
	c, err := rwt.counter(name)
	if err != nil {
		return err
	}
	if c == nil {
		return datastore.NewCounterNotRegisteredErr(name)
	}
	return rwt.delete(nameKey(tagCounter, name))
}

// StoreCounterValue implements datastore.CounterRegisterer.
func (rwt *readWriteTx) StoreCounterValue(_ context.Context, name string, value int, at datastore.Revision) error {
	c, err := rwt.counter(name)
	if err != nil {
		return err
	}
	if c == nil {
		return datastore.NewCounterNotRegisteredErr(name)
	}
	c.Count = value
	c.Revision = ""
	if at != nil && at != datastore.NoRevision {
		c.Revision = at.String()
	}
	return rwt.putCounter(name, *c)
}
