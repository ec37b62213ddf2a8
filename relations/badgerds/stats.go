package badgerds

import (
	"context"

	"github.com/authzed/spicedb/pkg/datastore"
)

// Statistics implements datastore.ReadOnlyDatastore. The relationship count
// is kept by every commit, so this costs one read of the schema, however
// large the store: SpiceDB calls it at startup and on every metrics scrape.
func (ds *Datastore) Statistics(ctx context.Context) (datastore.Stats, error) {
	if err := ds.checkOpen(); err != nil {
		return datastore.Stats{}, err
	}
	r := &reader{ds: ds, rev: ds.marks.headRev()}
	namespaces, err := r.LegacyListAllNamespaces(ctx)
	if err != nil {
		return datastore.Stats{}, err
	}
	return datastore.Stats{
		UniqueID:                   ds.uniqueID,
		EstimatedRelationshipCount: uint64(max(ds.relationships.Load(), 0)),
		ObjectTypeStatistics:       datastore.ComputeObjectTypeStats(namespaces),
	}, nil
}
