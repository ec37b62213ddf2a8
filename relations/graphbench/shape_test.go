package graphbench_test

import (
	"testing"

	"github.com/authzed/spicedb/pkg/tuple"

	"github.com/seed-6461fa00/trellis/relations/graphbench"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
)

// TestSmallGraphThroughEngine loads the small shape into Trellis's own
// store through the engine and runs every measured operation once, so the
// benchmark harness cannot rot unnoticed.
func TestSmallGraphThroughEngine(t *testing.T) {
	seen := map[string]bool{}
	n := 0
	err := graphbench.Small.Generate(func(rel tuple.Relationship) error {
		key := tuple.StringWithoutCaveatOrExpiration(rel)
		if seen[key] {
			t.Fatalf("duplicate relationship %s", key)
		}
		seen[key] = true
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != graphbench.Small.Size() {
		t.Fatalf("generated %d relationships, Size says %d", n, graphbench.Small.Size())
	}

	ds, err := relationstest.NewDatastore(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	target, err := graphbench.Start(t.Context(), "badger", ds)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close(t.Context())
	res, err := target.Load(t.Context(), graphbench.Small, 500)
	if err != nil {
		t.Fatal(err)
	}
	if res.Relationships != n {
		t.Fatalf("loaded %d, want %d", res.Relationships, n)
	}
	for _, op := range graphbench.Ops {
		if _, err := graphbench.Measure(t.Context(), target, op, 3); err != nil {
			t.Fatal(err)
		}
	}
}
