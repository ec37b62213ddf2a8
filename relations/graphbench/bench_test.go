package graphbench_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/seed-6461fa00/trellis/relations/graphbench"
)

func storesToRun() []graphbench.Store {
	large := graphbench.Large
	if os.Getenv("BENCH_SHAPE") == "small" {
		large = graphbench.Small
	}
	all := []graphbench.Store{graphbench.Badger(large), graphbench.Memory(large), graphbench.Memory(graphbench.Small)}
	list := os.Getenv("BENCH_TARGETS")
	var out []graphbench.Store
	for _, s := range all {
		picked := list == "" || slices.Contains(strings.Split(list, ","), s.Name)
		if picked && !slices.ContainsFunc(out, func(o graphbench.Store) bool { return o.Name == s.Name }) {
			out = append(out, s)
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
// the Badger store under path and reuses it once loaded.
func BenchmarkEngine(b *testing.B) {
	for _, s := range storesToRun() {
		t := prepare(b, s)
		for _, op := range graphbench.Ops {
			if _, err := graphbench.Measure(b.Context(), t, op, 100); err != nil { // warm-up
				b.Fatal(err)
			}
			b.Run(t.Name+"/"+op.Name, func(b *testing.B) {
				untimed := func(f func() error) error {
					b.StopTimer()
					defer b.StartTimer()
					return f()
				}
				lat := make(graphbench.Latencies, 0, b.N)
				i := 0
				for b.Loop() {
					d, err := op.Call(b.Context(), t, i, untimed)
					if err != nil {
						b.Fatal(err)
					}
					lat = append(lat, d)
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

func prepare(b *testing.B, s graphbench.Store) *graphbench.Target {
	dir := os.Getenv("BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	t, p, err := graphbench.Prepare(context.Background(), s, dir)
	if err != nil {
		b.Fatal(err)
	}
	if p.Reused {
		fmt.Printf("reusing %s in %s\n", s.Name, dir)
	} else {
		fmt.Printf("loaded %s: %v\n", s.Name, p.Load)
	}
	return t
}
