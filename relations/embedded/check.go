package embedded

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/authzed/spicedb/pkg/datalayer"
	"github.com/authzed/spicedb/pkg/datastore"
	core "github.com/authzed/spicedb/pkg/proto/core/v1"
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
// reads. On Trellis's store at 1.2M relationships the plan answers it in
// 0.12-0.27x the dispatcher's time (docs/BENCHMARKS.md).
//
// Plans are kept for one schema, the one at the head, and rebuilt when its
// hash moves. They serve only schemas built of what the plan answers as the
// dispatcher does, which is what Trellis's own schema is built of: subject
// types that are plain objects (or their wildcard), unions, intersections,
// exclusions and "->" arrows (and nil and self, which Trellis's does not
// use).
// Everything else goes to the dispatcher:
//   - caveats: the plan evaluates them only with a runner SpiceDB keeps
//     internal;
//   - expiration: the plan reads a subject type allowed without expiration
//     with expired relationships included, so "user | user with
//     expiration" would grant through an expired one;
//   - subjects that are another object's relation ("group#member"): the
//     plan follows them one level only, so nested groups deny, and under an
//     exclusion grant;
//   - ".all()" arrows: over several subject types the plan checks one type
//     at a time and grants when any type passes, so none is served;
//   - arrows to a name some of their relation's types lack (SpiceDB only
//     warns of those): reached through an arrow over several types, the
//     plan drops the whole permission around them where the dispatcher
//     drops only them; "_this" would do the same, though only schemas
//     stored per definition, never through SpiceDB's schema language, can
//     hold it;
//   - recursion: the plan deepens a recursive permission up to a fixed
//     depth and then answers no, where the dispatcher reports the depth
//     exceeded; for the same reason, a permission nested as deep as the
//     dispatcher's depth limit;
//   - a store that keeps its schema per definition only (legacy mode) has
//     no schema hash to key the plans by;
//   - names the schema does not define, wildcard subjects and empty IDs,
//     which the dispatcher refuses in SpiceDB's words or answers for
//     itself (the plan reads an empty resource ID as any).
//
// TestPlansAnswerAsTheDispatcher (on SpiceDB's consistency suite's graphs
// and Trellis's own in testdata), TestPlansFollowTheSchema (legacy mode)
// and TestUndefinedNamesAnswerAsTheDispatcher (names, wildcards, empty IDs)
// hold the plan to the dispatcher for each case above; removing any guard
// but "_this" fails one of them. The plans are SpiceDB's experimental API:
// those tests are what an upgrade of SpiceDB must pass.
type checkPlans struct {
	current atomic.Pointer[planSet]
}

// planSet is the plans of one schema.
type planSet struct {
	hash datalayer.SchemaHash
	// revision is the one the schema was read at: plans read at an older
	// revision never replace a newer one's.
	revision datastore.Revision
	// schema is nil when the plans cannot serve this schema at all.
	schema *schemav2.Schema
	// plans maps a planKey of names the schema defines to its compiled
	// iterator, or to nil when the dispatcher answers that permission.
	// Two checks meeting a key first may both compile it; one copy stays.
	plans sync.Map
}

type planKey struct{ resourceType, permission, subjectType string }

// planFor returns the compiled plan for the check, or nil when the
// dispatcher is to answer it. Compiled iterators keep no state between
// calls (it lives in the query.Context), so one serves concurrent checks.
func (c *checkPlans) planFor(ctx context.Context, reader datalayer.RevisionedReader, revision datastore.Revision, hash datalayer.SchemaHash, key planKey) (query.Iterator, error) {
	if hash == datalayer.NoSchemaHashInLegacyMode {
		return nil, nil
	}
	set := c.current.Load()
	if set == nil || set.hash != hash {
		s, err := planSchema(ctx, reader)
		if err != nil {
			return nil, err
		}
		// A check still at an older head uses its schema's plans for its
		// own answer, but does not put them back over a newer one's.
		built := &planSet{hash: hash, revision: revision, schema: s}
		if set == nil || revision.GreaterThan(set.revision) {
			c.current.CompareAndSwap(set, built)
		}
		set = built
	}
	if set.schema == nil {
		return nil, nil
	}
	it, ok := set.plans.Load(key)
	if !ok {
		if !defines(set.schema, key) {
			return nil, nil
		}
		it, _ = set.plans.LoadOrStore(key, compilePlan(set.schema, key))
	}
	plan, _ := it.(query.Iterator) // nil: the dispatcher's
	return plan, nil
}

// defines reports whether the schema defines the check's names, so that
// the plans hold one entry at most per permission and subject type.
func defines(s *schemav2.Schema, key planKey) bool {
	_, subjectDefined := s.GetTypeDefinition(key.subjectType)
	return subjectDefined && definesName(s, key.resourceType, key.permission)
}

// definesName reports whether the schema's type typ has a relation or
// permission called name.
func definesName(s *schemav2.Schema, typ, name string) bool {
	def, ok := s.GetTypeDefinition(typ)
	if !ok {
		return false
	}
	_, isPermission := def.GetPermission(name)
	_, isRelation := def.GetRelation(name)
	return isPermission || isRelation
}

// planSchema reads the schema the plans compile from, or nil when the
// plans cannot serve it.
func planSchema(ctx context.Context, reader datalayer.RevisionedReader) (*schemav2.Schema, error) {
	sr, err := reader.ReadSchema(ctx)
	if err != nil {
		return nil, err
	}
	defs, err := sr.ListAllTypeDefinitions(ctx)
	if err != nil {
		return nil, err
	}
	s, err := schemav2.BuildSchemaFromDefinitions(datastore.DefinitionsOf(defs), nil)
	if err != nil {
		// A schema the plans cannot read is the dispatcher's to answer,
		// not a reason to fail every check.
		return nil, nil
	}
	for _, def := range defs {
		if !plainDefinition(def.Definition, s) {
			return nil, nil
		}
	}
	return s, nil
}

// plainDefinition reports whether a definition is built only of what the
// plans serve (see checkPlans).
func plainDefinition(def *core.NamespaceDefinition, schema *schemav2.Schema) bool {
	for _, rel := range def.GetRelation() {
		for _, allowed := range rel.GetTypeInformation().GetAllowedDirectRelations() {
			plainSubject := allowed.GetPublicWildcard() != nil || allowed.GetRelation() == tuple.Ellipsis
			if !plainSubject || allowed.GetRequiredCaveat() != nil || allowed.GetRequiredExpiration() != nil {
				return false
			}
		}
		if rewrite := rel.GetUsersetRewrite(); rewrite != nil && !plainRewrite(rewrite, def, schema) {
			return false
		}
	}
	return true
}

// plainRewrite reports whether a permission's expression is one the plans
// serve: no "_this", no ".all()" arrow, and every arrow's target defined
// on every type its relation allows. (SpiceDB only warns of an arrow to a
// name some of those types lack; the plan then drops the whole permission
// around it where reached through another arrow, where the dispatcher
// drops only that arrow.)
func plainRewrite(rewrite *core.UsersetRewrite, def *core.NamespaceDefinition, schema *schemav2.Schema) bool {
	var op *core.SetOperation
	switch {
	case rewrite.GetUnion() != nil:
		op = rewrite.GetUnion()
	case rewrite.GetIntersection() != nil:
		op = rewrite.GetIntersection()
	default:
		op = rewrite.GetExclusion()
	}
	for _, child := range op.GetChild() {
		switch {
		case child.GetXThis() != nil:
			return false
		case child.GetFunctionedTupleToUserset() != nil:
			arrow := child.GetFunctionedTupleToUserset()
			if arrow.GetFunction() != core.FunctionedTupleToUserset_FUNCTION_ANY ||
				!arrowTargetEverywhere(def, arrow.GetTupleset().GetRelation(), arrow.GetComputedUserset().GetRelation(), schema) {
				return false
			}
		case child.GetTupleToUserset() != nil:
			arrow := child.GetTupleToUserset()
			if !arrowTargetEverywhere(def, arrow.GetTupleset().GetRelation(), arrow.GetComputedUserset().GetRelation(), schema) {
				return false
			}
		case child.GetUsersetRewrite() != nil:
			if !plainRewrite(child.GetUsersetRewrite(), def, schema) {
				return false
			}
		}
	}
	return true
}

// arrowTargetEverywhere reports whether every type the relation named
// tupleset allows defines target.
func arrowTargetEverywhere(def *core.NamespaceDefinition, tupleset, target string, schema *schemav2.Schema) bool {
	i := slices.IndexFunc(def.GetRelation(), func(r *core.Relation) bool { return r.GetName() == tupleset })
	if i < 0 {
		return false
	}
	for _, allowed := range def.GetRelation()[i].GetTypeInformation().GetAllowedDirectRelations() {
		if !definesName(schema, allowed.GetNamespace(), target) {
			return false
		}
	}
	return true
}

// compilePlan compiles the check's plan with the optimizations SpiceDB's
// own query-plan checks apply, or returns nil for the dispatcher: when the
// plan cannot be built or needs what checkPlans leaves to it.
func compilePlan(s *schemav2.Schema, key planKey) query.Iterator {
	outline, err := query.BuildOutlineFromSchema(s, key.resourceType, key.permission)
	if err != nil {
		return nil
	}
	// Each permission or arrow the dispatcher meets costs it one of its
	// maxCheckDepth steps, and each is at least one level of the plan as
	// built, before optimizations fold levels away. A plan that deep goes
	// to the dispatcher, which answers within its depth or says it ran out.
	raw, err := outline.Compile()
	if err != nil || !shallowAndFlat(raw, maxCheckDepth) {
		return nil
	}
	params := queryopt.RequestParams{Operation: query.OperationCheck, SubjectType: key.subjectType, SubjectRelation: tuple.Ellipsis}
	outline, err = queryopt.ApplyOptimizations(outline, queryopt.OptimizersForRequest(params), params)
	if err != nil {
		return nil
	}
	it, err := outline.Compile()
	if err != nil {
		return nil
	}
	return it
}

// shallowAndFlat reports whether a plan is fewer than levels deep and free
// of recursion, both of which checkPlans leaves to the dispatcher.
func shallowAndFlat(it query.Iterator, levels int) bool {
	if levels <= 1 {
		return false
	}
	switch it.(type) {
	case *query.RecursiveIterator, *query.RecursiveSentinelIterator:
		return false
	}
	for _, sub := range it.Subiterators() {
		if !shallowAndFlat(sub, levels-1) {
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
