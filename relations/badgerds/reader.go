package badgerds

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/datastore/options"
	core "github.com/authzed/spicedb/pkg/proto/core/v1"
	"github.com/authzed/spicedb/pkg/tuple"
)

// reader reads at one revision. A snapshot reader opens a Badger read
// transaction per call; inside a read-write transaction, openView hands out
// the transaction's own view instead.
type reader struct {
	ds  *Datastore
	rev uint64
	err error
	now time.Time
	// within is set inside a read-write transaction.
	within func() (view, func())
}

var _ datastore.Reader = (*reader)(nil)

// openView returns a view and the function that releases it.
func (r *reader) openView() (view, func(), error) {
	if r.err != nil {
		return view{}, nil, r.err
	}
	if r.within != nil {
		v, done := r.within()
		return v, done, nil
	}
	return r.ds.openSnapshot(r.rev, r.rev)
}

// openSnapshot returns a view of the store at revision at, and the
// function that releases it, for a read whose answer depends on every
// version since revision needs. It refuses, as stale, a read the collector
// has passed since it was admitted (CheckRevision admits a request once,
// when it starts): what it reads may be partly gone, and an error is
// better than a silent gap. A snapshot it admits keeps compaction from
// discarding what it reads until it is released.
func (ds *Datastore) openSnapshot(at, needs uint64) (view, func(), error) {
	leave, err := ds.enter()
	if err != nil {
		return view{}, nil, err
	}
	if !ds.gc.pin(at, needs) {
		leave()
		return view{}, nil, datastore.NewInvalidRevisionErr(revision(needs), datastore.RevisionStale)
	}
	txn := ds.db.NewTransactionAt(at, false)
	return view{txn: txn}, func() { txn.Discard(); ds.gc.unpin(at); leave() }, nil
}

func (r *reader) clock() time.Time {
	if r.now.IsZero() {
		return time.Now()
	}
	return r.now
}

// QueryRelationships implements datastore.Reader.
func (r *reader) QueryRelationships(ctx context.Context, filter datastore.RelationshipsFilter, opts ...options.QueryOptionsOption) (datastore.RelationshipIterator, error) {
	spec, err := forwardSpec(filter, options.NewQueryOptionsWithOptions(opts...), r.clock())
	if err != nil {
		return nil, err
	}
	return r.iterate(ctx, spec), nil
}

// ReverseQueryRelationships implements datastore.Reader.
func (r *reader) ReverseQueryRelationships(ctx context.Context, filter datastore.SubjectsFilter, opts ...options.ReverseQueryOptionsOption) (datastore.RelationshipIterator, error) {
	return r.iterate(ctx, reverseSpec(filter, options.NewReverseQueryOptionsWithOptions(opts...), r.clock())), nil
}

// iterate runs spec lazily, when the caller ranges over the iterator.
func (r *reader) iterate(ctx context.Context, spec scanSpec) datastore.RelationshipIterator {
	return func(yield func(tuple.Relationship, error) bool) {
		// A query that would find nothing must still say it was cut
		// short: a check reading "no relationship" from it would deny
		// where it should fail.
		if err := ctx.Err(); err != nil {
			yield(tuple.Relationship{}, err)
			return
		}
		v, done, err := r.openView()
		if err != nil {
			yield(tuple.Relationship{}, err)
			return
		}
		defer done()
		spec.run(v, func(rel tuple.Relationship, err error) bool {
			if err == nil {
				err = ctx.Err()
			}
			return yield(rel, err) && err == nil
		})
	}
}

// ReadStoredSchema implements datastore.Reader.
func (r *reader) ReadStoredSchema(context.Context) (*datastore.ReadOnlyStoredSchema, error) {
	return r.storedSchema(true)
}

// storedSchema reads the schema at the reader's revision. committed says
// that what it reads is committed (not a transaction's pending write):
// then a read at or after the newest schema write's revision takes that
// schema's decoded copy, or leaves it for the next. Writes learn their
// schema before the head reaches them (learnSchemaHash), so no revision a
// reader holds is past a schema write the copy misses.
func (r *reader) storedSchema(committed bool) (*datastore.ReadOnlyStoredSchema, error) {
	if r.err != nil {
		return nil, r.err
	}
	current := r.ds.schemaHash.Load()
	share := committed && r.rev >= current.since
	if share {
		if s := current.schema.Load(); s != nil {
			return s, nil
		}
	}
	raw, _, found, err := r.get(keySchema)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, datastore.ErrSchemaNotFound
	}
	stored := &core.StoredSchema{}
	if err := stored.UnmarshalVT(raw); err != nil {
		return nil, fmt.Errorf("badgerds: decode stored schema: %w", err)
	}
	decoded := datastore.NewReadOnlyStoredSchemaWithSize(stored, len(raw))
	if share {
		current.schema.CompareAndSwap(nil, decoded)
	}
	return decoded, nil
}

func (r *reader) get(key []byte) ([]byte, uint64, bool, error) {
	v, done, err := r.openView()
	if err != nil {
		return nil, 0, false, err
	}
	defer done()
	return v.get(key)
}

// storableDefinition is a legacy namespace or caveat definition.
type storableDefinition interface {
	datastore.SchemaDefinition
	UnmarshalVT([]byte) error
}

// definitions reads every definition with the tag, or only the named ones.
func definitions[T storableDefinition](r *reader, tag byte, names []string, fresh func() T) ([]datastore.RevisionedDefinition[T], error) {
	v, done, err := r.openView()
	if err != nil {
		return nil, err
	}
	defer done()
	var out []datastore.RevisionedDefinition[T]
	add := func(raw []byte, version uint64) error {
		def := fresh()
		if err := def.UnmarshalVT(raw); err != nil {
			return fmt.Errorf("badgerds: decode definition: %w", err)
		}
		out = append(out, datastore.RevisionedDefinition[T]{Definition: def, LastWrittenRevision: revision(version)})
		return nil
	}
	if names != nil {
		for _, name := range slices.Compact(slices.Sorted(slices.Values(names))) {
			raw, version, found, err := v.get(nameKey(tag, name))
			if err != nil {
				return nil, err
			}
			if found {
				if err := add(raw, version); err != nil {
					return nil, err
				}
			}
		}
		return out, nil
	}
	prefix := []byte{tag}
	err = v.scan(keyRange{start: prefix, end: prefixEnd(prefix)}, false, func(_, val []byte, version uint64) (bool, error) {
		return true, add(val, version)
	})
	return out, err
}

func readDefinition[T storableDefinition](r *reader, tag byte, name string, fresh func() T, notFound func(string) error) (T, datastore.Revision, error) {
	defs, err := definitions(r, tag, []string{name}, fresh)
	var zero T
	if err != nil {
		return zero, datastore.NoRevision, err
	}
	if len(defs) == 0 {
		return zero, datastore.NoRevision, notFound(name)
	}
	return defs[0].Definition, defs[0].LastWrittenRevision, nil
}

func newNamespace() *core.NamespaceDefinition { return &core.NamespaceDefinition{} }
func newCaveat() *core.CaveatDefinition       { return &core.CaveatDefinition{} }

// LegacyReadNamespaceByName implements datastore.LegacySchemaReader.
func (r *reader) LegacyReadNamespaceByName(_ context.Context, name string) (*core.NamespaceDefinition, datastore.Revision, error) {
	return readDefinition(r, tagNamespace, name, newNamespace, datastore.NewNamespaceNotFoundErr)
}

// LegacyListAllNamespaces implements datastore.LegacySchemaReader.
func (r *reader) LegacyListAllNamespaces(context.Context) ([]datastore.RevisionedNamespace, error) {
	return definitions(r, tagNamespace, nil, newNamespace)
}

// LegacyLookupNamespacesWithNames implements datastore.LegacySchemaReader.
func (r *reader) LegacyLookupNamespacesWithNames(_ context.Context, names []string) ([]datastore.RevisionedNamespace, error) {
	if len(names) == 0 {
		return nil, nil
	}
	return definitions(r, tagNamespace, names, newNamespace)
}

// LegacyReadCaveatByName implements datastore.LegacySchemaReader.
func (r *reader) LegacyReadCaveatByName(_ context.Context, name string) (*core.CaveatDefinition, datastore.Revision, error) {
	return readDefinition(r, tagCaveat, name, newCaveat, datastore.NewCaveatNameNotFoundErr)
}

// LegacyListAllCaveats implements datastore.LegacySchemaReader; sorted by name.
func (r *reader) LegacyListAllCaveats(context.Context) ([]datastore.RevisionedCaveat, error) {
	return definitions(r, tagCaveat, nil, newCaveat)
}

// LegacyLookupCaveatsWithNames implements datastore.LegacySchemaReader.
func (r *reader) LegacyLookupCaveatsWithNames(_ context.Context, names []string) ([]datastore.RevisionedCaveat, error) {
	if len(names) == 0 {
		return nil, nil
	}
	return definitions(r, tagCaveat, names, newCaveat)
}

// storedCounter is a relationship counter as stored.
type storedCounter struct {
	Filter   []byte `json:"filter"`
	Count    int    `json:"count"`
	Revision string `json:"revision,omitempty"`
}

func (r *reader) counters() (map[string]storedCounter, []string, error) {
	v, done, err := r.openView()
	if err != nil {
		return nil, nil, err
	}
	defer done()
	out := map[string]storedCounter{}
	var names []string
	prefix := []byte{tagCounter}
	err = v.scan(keyRange{start: prefix, end: prefixEnd(prefix)}, false, func(key, val []byte, _ uint64) (bool, error) {
		var c storedCounter
		if err := json.Unmarshal(val, &c); err != nil {
			return false, fmt.Errorf("badgerds: decode counter: %w", err)
		}
		name := string(key[1:])
		out[name] = c
		names = append(names, name)
		return true, nil
	})
	return out, names, err
}

// LookupCounters implements datastore.CounterReader.
func (r *reader) LookupCounters(context.Context) ([]datastore.RelationshipCounter, error) {
	all, names, err := r.counters()
	if err != nil {
		return nil, err
	}
	out := make([]datastore.RelationshipCounter, 0, len(names))
	for _, name := range names {
		c, err := all[name].decode(name)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (c storedCounter) decode(name string) (datastore.RelationshipCounter, error) {
	filter := &core.RelationshipFilter{}
	if err := filter.UnmarshalVT(c.Filter); err != nil {
		return datastore.RelationshipCounter{}, fmt.Errorf("badgerds: decode counter %s: %w", name, err)
	}
	out := datastore.RelationshipCounter{Name: name, Filter: filter, Count: c.Count, ComputedAtRevision: datastore.NoRevision}
	if c.Revision != "" {
		rev, err := parseRevision(c.Revision)
		if err != nil {
			return datastore.RelationshipCounter{}, err
		}
		out.ComputedAtRevision = rev
	}
	return out, nil
}

// CountRelationships implements datastore.CounterReader: a live count.
func (r *reader) CountRelationships(ctx context.Context, name string) (int, error) {
	raw, _, found, err := r.get(nameKey(tagCounter, name))
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, datastore.NewCounterNotRegisteredErr(name)
	}
	var c storedCounter
	if err := json.Unmarshal(raw, &c); err != nil {
		return 0, fmt.Errorf("badgerds: decode counter: %w", err)
	}
	counter, err := c.decode(name)
	if err != nil {
		return 0, err
	}
	filter, err := datastore.RelationshipsFilterFromCoreFilter(counter.Filter)
	if err != nil {
		return 0, err
	}
	it, err := r.QueryRelationships(ctx, filter)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, err := range it {
		if err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}
