package badgerds

import (
	"context"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/datastore/options"
	"github.com/authzed/spicedb/pkg/tuple"
	"github.com/dgraph-io/badger/v4"
)

var _ datastore.BulkExportPartitioner = (*Datastore)(nil)

// maxPartitions bounds a plan, whose boundaries are held in memory: far
// more parts than any export runs at once.
const maxPartitions = 1 << 16

// PlanPartitions implements datastore.BulkExportPartitioner, for SpiceDB's
// partitioned export (pkg/services/v1 PlanPartitionedExport), which streams
// each range by itself, in parallel. The ranges split the relationships
// stored at the head into parts of about equal count, in the export's
// order (by resource, the forward index's), with boundaries found by one
// pass over the index's keys alone. A store holding fewer relationships
// than asked for parts gets fewer, one relationship or more each, and no
// plan has more than maxPartitions.
func (ds *Datastore) PlanPartitions(ctx context.Context, desiredCount uint32) ([]datastore.PartitionRange, error) {
	count := ds.relationships.Load()
	if desiredCount <= 1 || count <= 1 {
		if err := ds.checkOpen(); err != nil {
			return nil, err
		}
		return []datastore.PartitionRange{{}}, nil
	}
	parts := min(int64(desiredCount), count, maxPartitions)
	head := ds.marks.headRev()
	v, done, err := ds.openSnapshot(head, head)
	if err != nil {
		return nil, err
	}
	defer done()

	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = []byte{tagForward}
	it := v.txn.NewIterator(opts)
	defer it.Close()
	var bounds []options.Cursor
	var keys keyDecoder
	seen := int64(0)
	for it.Rewind(); it.Valid() && int64(len(bounds)) < parts-1; it.Next() {
		item := it.Item()
		if item.IsDeletedOrExpired() {
			continue
		}
		seen++
		if seen%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// The i-th boundary closes the i-th part: after about i/parts of
		// the relationships.
		if seen*parts < (int64(len(bounds))+1)*count {
			continue
		}
		ref, err := keys.parse(item.Key())
		if err != nil {
			return nil, err
		}
		bounds = append(bounds, options.ToCursor(tuple.Relationship{RelationshipReference: ref}))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ranges := make([]datastore.PartitionRange, 0, len(bounds)+1)
	var lower options.Cursor
	for _, b := range bounds {
		ranges = append(ranges, datastore.PartitionRange{LowerBound: lower, UpperBound: b})
		lower = b
	}
	return append(ranges, datastore.PartitionRange{LowerBound: lower}), nil
}
