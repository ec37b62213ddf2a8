package graphbench_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
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

// target is one engine-over-datastore configuration to measure.
type target struct {
	name  string
	shape graphbench.Shape
	open  func(ctx context.Context, dir string) (datastore.Datastore, error)
}

func targetsToRun() []target {
	large := graphbench.Large
	if os.Getenv("BENCH_SHAPE") == "small" {
		large = graphbench.Small
	}
	all := []target{
		{"badger-" + large.Name, large, func(ctx context.Context, dir string) (datastore.Datastore, error) { return badgerds.New(ctx, dir) }},
		{"memdb-" + large.Name, large, func(ctx context.Context, _ string) (datastore.Datastore, error) { return memoryStore(ctx) }},
		{"memdb-" + graphbench.Small.Name, graphbench.Small, func(ctx context.Context, _ string) (datastore.Datastore, error) { return memoryStore(ctx) }},
	}
	list := os.Getenv("BENCH_TARGETS")
	if list == "" {
		return all
	}
	var out []target
	for _, t := range all {
		if slices.Contains(strings.Split(list, ","), t.name) {
			out = append(out, t)
		}
	}
	return out
}

// BenchmarkEngine measures SpiceDB's engine over each datastore in turn, in
// one process: Badger on disk with the large graph, SpiceDB's memory
// datastore with the same graph, and the memory datastore with the small
// graph (the engine's floor). Each target is loaded, warmed up, measured
// and released before the next, so one's heap does not slow another.
// Besides ns/op it reports the median and 99th percentile of the calls.
//
// Knobs for iterating: BENCH_SHAPE=small replaces the large graph;
// BENCH_TARGETS=badger-1.2M,memdb-1.5k picks targets; BENCH_DIR=path keeps
// the Badger store there and reuses it once loaded.
func BenchmarkEngine(b *testing.B) {
	for _, tc := range targetsToRun() {
		t := loadTarget(b, tc)
		for _, op := range graphbench.Ops {
			if _, err := graphbench.Measure(b.Context(), t, op, 100); err != nil { // warm-up
				b.Fatal(err)
			}
			b.Run(t.Name+"/"+op.Name, func(b *testing.B) {
				lat := make(graphbench.Latencies, 0, b.N)
				i := 0
				for b.Loop() {
					if op.Prepare != nil {
						b.StopTimer()
						if err := op.Prepare(b.Context(), t, i); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
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
		if err := t.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
	}
}

func loadTarget(b *testing.B, tc target) *graphbench.Target {
	ctx := context.Background()
	dir := os.Getenv("BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	loadedMark := filepath.Clean(dir) + ".loaded-" + tc.shape.Name
	ds, err := tc.open(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	t, err := graphbench.Start(ctx, tc.name, ds)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(loadedMark); err == nil && strings.HasPrefix(tc.name, "badger") {
		if err := t.Adopt(ctx, tc.shape); err != nil {
			b.Fatal(err)
		}
		fmt.Printf("reusing %s in %s\n", tc.name, dir)
		return t
	}
	res, err := t.Load(ctx, tc.shape, 10_000)
	if err != nil {
		b.Fatalf("load %s: %v", tc.name, err)
	}
	fmt.Printf("loaded %s: %d relationships in %v (%.0f/s), peak RSS %s\n", tc.name, res.Relationships,
		res.Duration.Round(time.Millisecond), float64(res.Relationships)/res.Duration.Seconds(), graphbench.PeakRSS())
	if strings.HasPrefix(tc.name, "badger") && os.Getenv("BENCH_DIR") != "" {
		_ = os.WriteFile(loadedMark, nil, 0o600)
	}
	return t
}
