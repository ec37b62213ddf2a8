package graphbench

import (
	"context"
	"errors"
	"time"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/tuple"
	"golang.org/x/sync/errgroup"
)

// sliceSource feeds a batch to BulkLoad.
type sliceSource struct {
	rels []tuple.Relationship
	i    int
}

func (s *sliceSource) Next(context.Context) (*tuple.Relationship, error) {
	if s.i >= len(s.rels) {
		return nil, nil
	}
	s.i++
	return &s.rels[s.i-1], nil
}

// BulkLoad writes shape straight into ds with the datastore's BulkLoad,
// batch relationships per transaction: the path an import takes when it
// has already validated its input, without the per-relationship checks of
// SpiceDB's ImportBulkRelationships API. Two transactions are in flight at
// a time, so preparing one overlaps with committing the other.
func BulkLoad(ctx context.Context, ds datastore.Datastore, shape Shape, batch int) (LoadResult, error) {
	const inFlight = 2
	start := time.Now()
	batches := make(chan []tuple.Relationship, inFlight)
	g, ctx := errgroup.WithContext(ctx)
	for range inFlight {
		g.Go(func() error {
			for rels := range batches {
				_, err := ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
					_, err := rwt.BulkLoad(ctx, &sliceSource{rels: rels})
					return err
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	n := 0
	pending := make([]tuple.Relationship, 0, batch)
	err := shape.Generate(func(rel tuple.Relationship) error {
		n++
		pending = append(pending, rel)
		if len(pending) < batch {
			return nil
		}
		select {
		case batches <- pending:
		case <-ctx.Done():
			return ctx.Err()
		}
		pending = make([]tuple.Relationship, 0, batch)
		return nil
	})
	if err == nil && len(pending) > 0 {
		batches <- pending
	}
	close(batches)
	return LoadResult{Relationships: n, Duration: time.Since(start)}, errors.Join(err, g.Wait())
}
