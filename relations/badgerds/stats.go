package badgerds

import (
	"context"

	"github.com/authzed/spicedb/pkg/datastore"
)

// Statistics implements datastore.ReadOnlyDatastore. The relationship count
// is exact: a key-only scan of the resource index at the head.
func (ds *Datastore) Statistics(ctx context.Context) (datastore.Stats, error) {
	if err := ds.checkOpen(); err != nil {
		return datastore.Stats{}, err
	}
	head := ds.marks.headRev()
	r := &reader{ds: ds, rev: head}
	namespaces, err := r.LegacyListAllNamespaces(ctx)
	if err != nil {
		return datastore.Stats{}, err
	}
	txn := ds.db.NewTransactionAt(head, false)
	defer txn.Discard()
	var count uint64
	prefix := []byte{tagForward}
	err = view{txn: txn}.scan(keyRange{start: prefix, end: prefixEnd(prefix)}, true, func(_, _ []byte, _ uint64) (bool, error) {
		count++
		return true, ctx.Err()
	})
	if err != nil {
		return datastore.Stats{}, err
	}
	return datastore.Stats{
		UniqueID:                   ds.uniqueID,
		EstimatedRelationshipCount: count,
		ObjectTypeStatistics:       datastore.ComputeObjectTypeStats(namespaces),
	}, nil
}
