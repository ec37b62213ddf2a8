package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
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
	if depth := selectionDepth(rc.Operation.SelectionSet, rc.Doc.Fragments, 0); depth > d.max {
		err := gqlerror.Errorf("the operation is nested %d levels deep; the limit is %d", depth, d.max)
		err.Extensions = map[string]any{"code": string(relations.CodeInvalid)}
		return err
	}
	return nil
}

// selectionDepth is the deepest chain of fields below set; seen guards
// against fragment cycles (which validation also rejects).
func selectionDepth(set ast.SelectionSet, fragments ast.FragmentDefinitionList, guard int) int {
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
			d = 1 + selectionDepth(s.SelectionSet, fragments, guard+1)
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, fragments, guard+1)
		case *ast.FragmentSpread:
			if f := fragments.ForName(s.Name); f != nil {
				d = selectionDepth(f.SelectionSet, fragments, guard+1)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// introspectionBudget bounds the values one operation's introspection may
// resolve, by introspectionLimit's estimate. The full introspection query
// GraphiQL sends is estimated at about 200,000 on Trellis's schema, and
// resolves far fewer (the estimate takes every list at its longest).
const introspectionBudget = 500_000

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
	return introspectionLimit{max: budget, fanout: f}
}

func (introspectionLimit) ExtensionName() string { return "IntrospectionLimit" }

func (introspectionLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (l introspectionLimit) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	if n := l.cost(rc.Operation.SelectionSet, rc.Doc.Fragments, false, 1, 0); n > l.max {
		err := gqlerror.Errorf("the operation's introspection could resolve %d values; the limit is %d", n, l.max)
		err.Extensions = map[string]any{"code": string(relations.CodeInvalid)}
		return err
	}
	return nil
}

// cost estimates the values set resolves, each field times mult (how
// many times its parent is resolved), counting only introspection. It
// stops adding once past the limit, so the sum cannot overflow.
func (l introspectionLimit) cost(set ast.SelectionSet, fragments ast.FragmentDefinitionList, inside bool, mult, guard int) int {
	if guard > 100 {
		return l.max + 1
	}
	total := 0
	for _, sel := range set {
		if total > l.max {
			break
		}
		switch s := sel.(type) {
		case *ast.Field:
			switch {
			case s.Name == "__typename":
			case inside || s.Name == "__schema" || s.Name == "__type":
				n := mult * max(l.fanout[s.Name], 1)
				if n > l.max {
					return l.max + 1
				}
				total += n + l.cost(s.SelectionSet, fragments, true, n, guard+1)
			default:
				total += l.cost(s.SelectionSet, fragments, false, 1, guard+1)
			}
		case *ast.InlineFragment:
			total += l.cost(s.SelectionSet, fragments, inside, mult, guard+1)
		case *ast.FragmentSpread:
			if f := fragments.ForName(s.Name); f != nil {
				total += l.cost(f.SelectionSet, fragments, inside, mult, guard+1)
			}
		}
	}
	return total
}
