package embedded

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/authzed/spicedb/pkg/datalayer"
	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/query"
	"github.com/authzed/spicedb/pkg/query/queryopt"
	schemav2 "github.com/authzed/spicedb/pkg/schema/v2"
	"github.com/authzed/spicedb/pkg/tuple"
)

// checkPlans answers checks with SpiceDB's query plans: the schema's
// permission compiled once into a tree of iterators that reads the
// datastore in the calling goroutine, one query after another, and stops at
// the first path that grants. SpiceDB's dispatcher answers the same check
// by dispatching every union branch and every arrow as a sub-check of its
// own, each on a goroutine of its own; for a job read through its project
// that is eight sub-checks, and their scheduling costs more than the
// reads. The plan answers it in a sixth of the time (docs/BENCHMARKS.md).
//
// Plans are kept for one schema, the one at the head, and rebuilt when its
// hash moves. A permission whose plan would need what the plan cannot do
// here as the dispatcher does is left to the dispatcher:
//   - caveats: the plan evaluates them only with a runner SpiceDB keeps
//     internal, so a schema with any caveat goes to the dispatcher;
//   - recursion: the plan deepens a recursive permission up to a fixed
//     depth and then answers no, where the dispatcher reports the depth
//     exceeded;
//   - a store that keeps its schema per definition only (legacy mode) has
//     no schema hash to key the plans by.
//
// TestPlansAnswerAsTheDispatcher holds the plan to the dispatcher's answer
// on every check SpiceDB's consistency suite's graphs allow.
type checkPlans struct {
	current atomic.Pointer[planSet]
}

// planSet is the plans of one schema.
type planSet struct {
	hash datalayer.SchemaHash
	// schema is nil when the plans cannot serve this schema at all.
	schema *schemav2.Schema
	// plans maps a planKey to its compiled iterator, or to nil when the
	// dispatcher answers that permission.
	plans sync.Map
	build sync.Mutex
}

type planKey struct{ resourceType, permission, subjectType string }

// planFor returns the compiled plan for the check, or nil when the
// dispatcher is to answer it. Compiled iterators keep no state between
// calls (it lives in the query.Context), so one serves concurrent checks.
func (c *checkPlans) planFor(ctx context.Context, reader datalayer.RevisionedReader, hash datalayer.SchemaHash, key planKey) (query.Iterator, error) {
	if hash == datalayer.NoSchemaHashInLegacyMode || hash == "" {
		return nil, nil
	}
	set := c.current.Load()
	if set == nil || set.hash != hash {
		s, err := planSchema(ctx, reader)
		if err != nil {
			return nil, err
		}
		set = &planSet{hash: hash, schema: s}
		c.current.Store(set)
	}
	if set.schema == nil {
		return nil, nil
	}
	if it, ok := set.plans.Load(key); ok {
		plan, _ := it.(query.Iterator) // nil: the dispatcher's
		return plan, nil
	}
	set.build.Lock()
	defer set.build.Unlock()
	if it, ok := set.plans.Load(key); ok {
		plan, _ := it.(query.Iterator) // nil: the dispatcher's
		return plan, nil
	}
	it := compilePlan(set.schema, key)
	set.plans.Store(key, it)
	return it, nil
}

// planSchema reads the schema the plans compile from, or nil when it has
// caveats.
func planSchema(ctx context.Context, reader datalayer.RevisionedReader) (*schemav2.Schema, error) {
	sr, err := reader.ReadSchema(ctx)
	if err != nil {
		return nil, err
	}
	caveats, err := sr.ListAllCaveatDefinitions(ctx)
	if err != nil {
		return nil, err
	}
	if len(caveats) > 0 {
		return nil, nil
	}
	defs, err := sr.ListAllTypeDefinitions(ctx)
	if err != nil {
		return nil, err
	}
	s, err := schemav2.BuildSchemaFromDefinitions(datastore.DefinitionsOf(defs), nil)
	if err != nil {
		return nil, fmt.Errorf("embedded: check plans: %w", err)
	}
	return s, nil
}

// compilePlan compiles the check's plan as SpiceDB's API does for its
// experimental query-plan checks, or returns nil for the dispatcher: when
// the plan cannot be built (an unknown type or permission, which the
// dispatcher reports in SpiceDB's words) or needs what checkPlans leaves
// to it.
func compilePlan(s *schemav2.Schema, key planKey) query.Iterator {
	outline, err := query.BuildOutlineFromSchema(s, key.resourceType, key.permission)
	if err != nil {
		return nil
	}
	params := queryopt.RequestParams{Operation: query.OperationCheck, SubjectType: key.subjectType, SubjectRelation: tuple.Ellipsis}
	outline, err = queryopt.ApplyOptimizations(outline, queryopt.OptimizersForRequest(params), params)
	if err != nil {
		return nil
	}
	it, err := outline.Compile()
	if err != nil || !planServes(it) {
		return nil
	}
	return it
}

// planServes reports whether a compiled plan is free of what checkPlans
// leaves to the dispatcher.
func planServes(it query.Iterator) bool {
	switch it.(type) {
	case *query.RecursiveIterator, *query.RecursiveSentinelIterator:
		return false
	}
	for _, sub := range it.Subiterators() {
		if !planServes(sub) {
			return false
		}
	}
	return true
}

// checkByPlan runs a compiled plan at the reader's revision. A path with a
// caveat left on it is a conditional answer, which is no.
func checkByPlan(ctx context.Context, it query.Iterator, reader datalayer.RevisionedReader, resourceType, resourceID, subjectType, subjectID string) (bool, error) {
	qctx := query.NewLocalContext(ctx, query.WithRevisionedReader(reader))
	path, err := qctx.Check(it,
		query.Object{ObjectType: resourceType, ObjectID: resourceID},
		query.ObjectAndRelation{ObjectType: subjectType, ObjectID: subjectID, Relation: tuple.Ellipsis})
	if err != nil {
		return false, err
	}
	return path != nil && path.Caveat == nil, nil
}
