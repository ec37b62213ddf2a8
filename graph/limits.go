package graph

import (
	"context"
	_ "embed"
	"fmt"
	"math"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/seed-6461fa00/trellis/relations"
)

// depthLimit refuses operations nested deeper than max selections, before
// any resolver runs. Introspection (fields starting with "__") is not
// counted: its shape is fixed, and it can be switched off on its own.
type depthLimit struct{ max int }

var (
	_ graphql.HandlerExtension        = depthLimit{}
	_ graphql.OperationContextMutator = depthLimit{}
)

func (depthLimit) ExtensionName() string { return "DepthLimit" }

func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (d depthLimit) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	w := depthWalk{fragments: rc.Doc.Fragments, memo: map[string]int{}}
	if depth := w.depth(rc.Operation.SelectionSet, 0); depth > d.max {
		err := gqlerror.Errorf("the operation is nested %d levels deep; the limit is %d", depth, d.max)
		err.Extensions = map[string]any{"code": string(relations.CodeInvalid)}
		return err
	}
	return nil
}

// expansionLimit refuses an operation whose fields, fragments expanded,
// number more than max, before gqlgen's complexity is computed: that
// computation expands every fragment wherever it is spread, so fragments
// spreading the next one twice over would take it 2^n steps, minutes of
// CPU for a request of a kilobyte. Here each fragment is counted once. Any
// field costs at least one unit of complexity, so max, a multiple of the
// complexity limit, refuses nothing that limit would allow.
type expansionLimit struct{ max int }

var (
	_ graphql.HandlerExtension        = expansionLimit{}
	_ graphql.OperationContextMutator = expansionLimit{}
)

func (expansionLimit) ExtensionName() string { return "ExpansionLimit" }

func (expansionLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (e expansionLimit) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	w := expansionWalk{max: e.max, fragments: rc.Doc.Fragments, memo: map[string]int{}}
	if n := w.fields(rc.Operation.SelectionSet, 0); n > e.max {
		err := gqlerror.Errorf("the operation expands to more than %d fields", e.max)
		err.Extensions = map[string]any{"code": string(relations.CodeInvalid)}
		return err
	}
	return nil
}

type expansionWalk struct {
	max       int
	fragments ast.FragmentDefinitionList
	memo      map[string]int
}

// fields counts the fields set expands to, held at max+1 once past it.
func (w *expansionWalk) fields(set ast.SelectionSet, guard int) int {
	if guard > 100 {
		return w.max + 1
	}
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n += 1 + w.fields(s.SelectionSet, guard+1)
		case *ast.InlineFragment:
			n += w.fields(s.SelectionSet, guard+1)
		case *ast.FragmentSpread:
			count, ok := w.memo[s.Name]
			if !ok {
				if f := w.fragments.ForName(s.Name); f != nil {
					count = w.fields(f.SelectionSet, guard+1)
				}
				w.memo[s.Name] = count
			}
			n += count
		}
		if n > w.max {
			return w.max + 1
		}
	}
	return n
}

// depthWalk measures how deeply an operation's fields nest. Each
// fragment is measured once, however often it is spread: fragments that
// spread each other twice over would otherwise cost a walk doubling with
// every level, minutes of CPU for a request of a kilobyte.
type depthWalk struct {
	fragments ast.FragmentDefinitionList
	memo      map[string]int
}

// depth is the deepest chain of fields below set; guard stops fragment
// cycles (which validation also rejects).
func (w *depthWalk) depth(set ast.SelectionSet, guard int) int {
	if guard > 100 {
		return guard
	}
	deepest := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if len(s.Name) >= 2 && s.Name[:2] == "__" {
				continue
			}
			d = 1 + w.depth(s.SelectionSet, guard+1)
		case *ast.InlineFragment:
			d = w.depth(s.SelectionSet, guard+1)
		case *ast.FragmentSpread:
			known, ok := w.memo[s.Name]
			if !ok {
				if f := w.fragments.ForName(s.Name); f != nil {
					known = w.depth(f.SelectionSet, guard+1)
				}
				w.memo[s.Name] = known
			}
			d = known
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// fullIntrospection is the introspection query GraphiQL sends for the
// whole schema.
//
//go:embed introspection.graphql
var fullIntrospection string

// introspectionBudgetOver is how many times the estimate of GraphiQL's full
// introspection query one operation may ask for. The budget so grows with
// the schema; the estimate takes every list at its longest, so that
// query, estimated at about 200,000 values on today's schema, resolves
// far fewer.
const introspectionBudgetOver = 3

// introspectionLimit refuses an operation whose introspection would
// resolve more than max values, before any resolver runs. Introspection
// is outside the depth limit and gqlgen's complexity, yet its lists nest
// without end (the possibleTypes of the interfaces of the possibleTypes
// of an interface ...), so a query of a few hundred bytes could ask for
// billions of objects. Each list is counted as long as the longest list
// of its kind in this schema, so the estimate is an upper bound.
type introspectionLimit struct {
	max int
	// fanout is, per list field of an introspection type, its longest
	// length in this schema.
	fanout map[string]int
}

var (
	_ graphql.HandlerExtension        = introspectionLimit{}
	_ graphql.OperationContextMutator = introspectionLimit{}
)

// newIntrospectionLimit bounds introspection on s: by budget values, or
// with budget 0 by introspectionBudgetOver times GraphiQL's full query.
func newIntrospectionLimit(s *ast.Schema, budget int) introspectionLimit {
	f := map[string]int{"types": len(s.Types), "directives": len(s.Directives)}
	widen := func(name string, n int) { f[name] = max(f[name], n) }
	for _, def := range s.Types {
		widen("fields", len(def.Fields))
		widen("inputFields", len(def.Fields))
		widen("enumValues", len(def.EnumValues))
		widen("interfaces", len(def.Interfaces))
		widen("possibleTypes", len(s.PossibleTypes[def.Name]))
		for _, field := range def.Fields {
			widen("args", len(field.Arguments))
		}
	}
	for _, d := range s.Directives {
		widen("args", len(d.Arguments))
		widen("locations", len(d.Locations))
	}
	l := introspectionLimit{max: math.MaxInt / 2, fanout: f}
	if budget == 0 {
		doc, err := gqlparser.LoadQuery(s, fullIntrospection)
		if err != nil {
			panic(fmt.Sprintf("graph: GraphiQL's introspection query does not fit the schema: %v", err))
		}
		w := costWalk{introspectionLimit: l, fragments: doc.Fragments, memo: map[fragmentCost]int{}}
		budget = introspectionBudgetOver * w.cost(doc.Operations[0].SelectionSet, false, 1, 0)
	}
	l.max = budget
	return l
}

func (introspectionLimit) ExtensionName() string { return "IntrospectionLimit" }

func (introspectionLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (l introspectionLimit) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	w := costWalk{introspectionLimit: l, fragments: rc.Doc.Fragments, memo: map[fragmentCost]int{}}
	if n := w.cost(rc.Operation.SelectionSet, false, 1, 0); n > l.max {
		err := gqlerror.Errorf("the operation's introspection could resolve %d values; the limit is %d", n, l.max)
		err.Extensions = map[string]any{"code": string(relations.CodeInvalid)}
		return err
	}
	return nil
}

// costWalk estimates one operation's introspection. A fragment's cost is
// worked out once per kind of place it is spread in (inside introspection
// or not) and scaled by how often its parent resolves, so the walk is as
// long as the operation's text, not as its expansion.
type costWalk struct {
	introspectionLimit
	fragments ast.FragmentDefinitionList
	memo      map[fragmentCost]int
}

type fragmentCost struct {
	name   string
	inside bool
}

// times is a×b, held at max+1 once past the limit so it cannot overflow.
func (w *costWalk) times(a, b int) int {
	if a != 0 && b > (w.max+1)/a {
		return w.max + 1
	}
	return min(a*b, w.max+1)
}

// cost estimates the values set resolves, each field times mult (how
// many times its parent is resolved), counting only introspection. It
// stops adding once past the limit.
func (w *costWalk) cost(set ast.SelectionSet, inside bool, mult, guard int) int {
	if guard > 100 {
		return w.max + 1
	}
	total := 0
	for _, sel := range set {
		if total > w.max {
			break
		}
		switch s := sel.(type) {
		case *ast.Field:
			switch {
			case s.Name == "__typename":
			case inside || s.Name == "__schema" || s.Name == "__type":
				n := w.times(mult, max(w.fanout[s.Name], 1))
				total += n + w.cost(s.SelectionSet, true, n, guard+1)
			default:
				total += w.cost(s.SelectionSet, false, 1, guard+1)
			}
		case *ast.InlineFragment:
			total += w.cost(s.SelectionSet, inside, mult, guard+1)
		case *ast.FragmentSpread:
			key := fragmentCost{s.Name, inside}
			unit, ok := w.memo[key]
			if !ok {
				if f := w.fragments.ForName(s.Name); f != nil {
					unit = w.cost(f.SelectionSet, inside, 1, guard+1)
				}
				w.memo[key] = unit
			}
			total += w.times(mult, unit)
		}
	}
	return min(total, w.max+1)
}
