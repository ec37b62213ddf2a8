package graphbench_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	dscfg "github.com/authzed/spicedb/pkg/cmd/datastore"
	"github.com/authzed/spicedb/pkg/datastore"

	"github.com/seed-6461fa00/trellis/relations/badgerds"
	"github.com/seed-6461fa00/trellis/relations/graphbench"
)

func memoryStore(ctx context.Context) (datastore.Datastore, error) {
	return dscfg.NewDatastore(ctx, dscfg.WithEngine(dscfg.MemoryEngine), dscfg.WithRevisionQuantization(0), dscfg.WithGCWindow(time.Hour))
}

var (
	setupOnce sync.Once
	targets   []*graphbench.Target
	setupErr  error
)

// loadTargets builds, once per process: Badger on disk with the large
// graph, SpiceDB's memory datastore with the same graph, and the memory
// datastore with the small graph. BENCH_SHAPE=small swaps the large graph
// for the small one, for a quick run.
func loadTargets(b *testing.B) []*graphbench.Target {
	setupOnce.Do(func() {
		ctx := context.Background()
		large := graphbench.Large
		if os.Getenv("BENCH_SHAPE") == "small" {
			large = graphbench.Small
		}
		dir, err := os.MkdirTemp("", "trellis-bench-")
		if err != nil {
			setupErr = err
			return
		}
		add := func(name string, ds datastore.Datastore, err error, shape graphbench.Shape) {
			if setupErr != nil {
				return
			}
			if err != nil {
				setupErr = err
				return
			}
			t, err := graphbench.Start(ctx, name, ds)
			if err != nil {
				setupErr = err
				return
			}
			res, err := t.Load(ctx, shape, 5000)
			if err != nil {
				setupErr = fmt.Errorf("load %s: %w", name, err)
				return
			}
			fmt.Printf("loaded %s: %d relationships in %v (%.0f/s), peak RSS %s\n", name, res.Relationships,
				res.Duration.Round(time.Millisecond), float64(res.Relationships)/res.Duration.Seconds(), graphbench.PeakRSS())
			targets = append(targets, t)
		}
		ds, err := badgerds.New(ctx, dir)
		add("badger-"+large.Name, ds, err, large)
		ds, err = memoryStore(ctx)
		add("memdb-"+large.Name, ds, err, large)
		ds, err = memoryStore(ctx)
		add("memdb-"+graphbench.Small.Name, ds, err, graphbench.Small)
	})
	if setupErr != nil {
		b.Fatal(setupErr)
	}
	return targets
}

// BenchmarkEngine measures SpiceDB's engine over each datastore, side by
// side in one process. Besides ns/op it reports the median and 99th
// percentile of the measured calls.
func BenchmarkEngine(b *testing.B) {
	for _, t := range loadTargets(b) {
		for _, op := range graphbench.Ops {
			b.Run(t.Name+"/"+op.Name, func(b *testing.B) {
				lat := make(graphbench.Latencies, 0, b.N)
				i := 0
				for b.Loop() {
					start := time.Now()
					if err := op.Run(b.Context(), t, i); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(start))
					i++
				}
				b.ReportMetric(float64(lat.Percentile(50).Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat.Percentile(99).Microseconds()), "p99-µs")
			})
		}
	}
}
