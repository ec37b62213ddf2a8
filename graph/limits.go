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
