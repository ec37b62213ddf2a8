package graphbench_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/seed-6461fa00/trellis/relations/badgerds"
	"github.com/seed-6461fa00/trellis/relations/graphbench"
)

// BenchmarkBulkLoad loads the large graph (BENCH_SHAPE=small: the small
// one) into a fresh on-disk Badger store per iteration, straight through
// the datastore, and reports relationships per second and peak RSS.
func BenchmarkBulkLoad(b *testing.B) {
	shape := graphbench.Large
	if os.Getenv("BENCH_SHAPE") == "small" {
		shape = graphbench.Small
	}
	for b.Loop() {
		ds, err := badgerds.New(context.Background(), b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		res, err := graphbench.BulkLoad(b.Context(), ds, shape, 10_000)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Printf("bulk load: %v\n", res)
		b.ReportMetric(float64(res.Relationships)/res.Duration.Seconds(), "rels/s")
		if err := ds.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
