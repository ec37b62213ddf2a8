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
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/seed-6461fa00/trellis/relations"
)

// operationLimits refuses, before any resolver runs and before gqlgen
// computes complexity, an operation too large in any of three ways, all
// measured in one walk of its text:
//
//   - introspection: how many values its introspection could resolve.
//     Introspection is outside the depth limit and gqlgen's complexity, yet
//     its lists nest without end (the possibleTypes of the interfaces of
//     the possibleTypes of an interface ...), and aliases multiply them.
//     Each list counts as long as the longest list of its kind in this
//     schema, so the estimate is an upper bound.
//   - fields: how many fields it expands to, every fragment expanded.
//     gqlgen's complexity computation expands each fragment wherever it is
//     spread, so fragments spreading the next one twice over would take it
//     2^n steps, minutes of CPU for a request of a kilobyte. Any field
//     costs at least one unit of complexity, so a multiple of the
//     complexity limit here refuses nothing that limit would allow.
//   - depth: how deeply its fields nest, introspection aside (its shape
//     is fixed, and it can be switched off on its own).
//
// The walk measures each fragment once, so it is as long as the text.
type operationLimits struct {
	fields, depth, introspection int
	// introspectionOff refuses any introspection as a client error;
	// gqlgen's own refusal, deep in execution, reads as an internal one.
	introspectionOff bool
	// fanout is, per list field of an introspection type, its longest
	// length in this schema.
	fanout map[string]int
}

var (
	_ graphql.HandlerExtension        = operationLimits{}
	_ graphql.OperationContextMutator = operationLimits{}
)

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

// newOperationLimits bounds operations on s to fields fields and depth
// levels and, when introspection is on, to introspectionBudgetOver times
// the introspection GraphiQL's full query asks for.
func newOperationLimits(s *ast.Schema, fields, depth int, introspection bool) operationLimits {
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
	l := operationLimits{fields: fields, depth: depth, introspection: math.MaxInt, introspectionOff: !introspection, fanout: f}
	if introspection {
		doc, err := gqlparser.LoadQuery(s, fullIntrospection)
		if err != nil {
			panic(fmt.Sprintf("graph: GraphiQL's introspection query does not fit the schema: %v", err))
		}
		l.introspection = introspectionBudgetOver * l.measure(doc, doc.Operations[0]).introspection
	}
	return l
}

func (operationLimits) ExtensionName() string { return "OperationLimits" }

func (operationLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (l operationLimits) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	var err *gqlerror.Error
	switch m := l.measure(rc.Doc, rc.Operation); {
	case l.introspectionOff && m.introspection > 0:
		err = gqlerror.Errorf("introspection is turned off on this server")
	case m.introspection > l.introspection:
		err = gqlerror.Errorf("the operation's introspection could resolve %d values; the limit is %d", m.introspection, l.introspection)
	case m.fields > l.fields:
		err = gqlerror.Errorf("the operation expands to more than %d fields", l.fields)
	case m.depth > l.depth:
		err = gqlerror.Errorf("the operation is nested %d levels deep; the limit is %d", m.depth, l.depth)
	default:
		return nil
	}
	err.Extensions = map[string]any{"code": string(relations.CodeInvalid)}
	return err
}

// size is what operationLimits measures of a selection set.
type size struct{ fields, depth, introspection int }

// ceiling holds every measure below overflow: far above any limit.
const ceiling = 1 << 40

func (l operationLimits) measure(doc *ast.QueryDocument, op *ast.OperationDefinition) size {
	w := sizeWalk{fanout: l.fanout, fragments: doc.Fragments, memo: map[fragmentPlace]size{}}
	return w.set(op.SelectionSet, false, 0)
}

type sizeWalk struct {
	fanout    map[string]int
	fragments ast.FragmentDefinitionList
	memo      map[fragmentPlace]size
}

// fragmentPlace is a fragment and whether it is spread inside
// introspection, where its fields count differently.
type fragmentPlace struct {
	name   string
	inside bool
}

// set measures set, inside introspection or not; guard stops fragment
// cycles (which validation also rejects).
func (w *sizeWalk) set(set ast.SelectionSet, inside bool, guard int) size {
	if guard > 100 {
		return size{ceiling, ceiling, ceiling}
	}
	var total size
	for _, sel := range set {
		var part size
		switch s := sel.(type) {
		case *ast.Field:
			part = w.field(s, inside, guard)
		case *ast.InlineFragment:
			part = w.set(s.SelectionSet, inside, guard+1)
		case *ast.FragmentSpread:
			place := fragmentPlace{s.Name, inside}
			var ok bool
			if part, ok = w.memo[place]; !ok {
				if f := w.fragments.ForName(s.Name); f != nil {
					part = w.set(f.SelectionSet, inside, guard+1)
				}
				w.memo[place] = part
			}
		}
		total.fields = min(total.fields+part.fields, ceiling)
		total.introspection = min(total.introspection+part.introspection, ceiling)
		total.depth = max(total.depth, part.depth)
	}
	return total
}

// field measures one field with what is below it. Inside introspection a
// list field resolves as many times as its longest kind, and everything
// below it that many times over.
func (w *sizeWalk) field(f *ast.Field, inside bool, guard int) size {
	introspective := inside || f.Name == "__schema" || f.Name == "__type"
	below := w.set(f.SelectionSet, introspective, guard+1)
	m := size{fields: min(1+below.fields, ceiling)}
	switch {
	case f.Name == "__typename":
	case introspective:
		n := max(w.fanout[f.Name], 1)
		m.introspection = ceiling
		if below.introspection < ceiling/n {
			m.introspection = min(n+n*below.introspection, ceiling)
		}
	default:
		m.depth = 1 + below.depth
		m.introspection = below.introspection
	}
	return m
}

// selectionLimit refuses, before gqlgen validates it, a document with
// more selections (fields, fragment spreads, inline fragments) and
// arguments than the complexity limit, every operation of it together:
// every field costs at least one unit, so at most an operation skipping
// its fields by directive, or one of several in a document, could have
// run. Validation compares the selections of one selection set pairwise,
// and the arguments of two like fields pairwise, so its time grows with
// the square of their number: 60,000 copies of one field, well inside a
// 1 MiB body, took a core for more than ten minutes, and 2,000 take about
// a third of a second. The text is parsed here once more (bounded by
// maxTokens, in time proportional to it), unless gqlgen's cache of parsed
// documents already holds it: then it passed here before.
type selectionLimit struct {
	max    int
	parsed graphql.Cache[*ast.QueryDocument]
}

// maxTokens caps the tokens gqlgen's parser reads of one document: a
// hundred times the 184 of GraphiQL's full introspection query.
const maxTokens = 18_400

var (
	_ graphql.HandlerExtension          = selectionLimit{}
	_ graphql.OperationParameterMutator = selectionLimit{}
)

func (selectionLimit) ExtensionName() string { return "SelectionLimit" }

func (selectionLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (l selectionLimit) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if _, ok := l.parsed.Get(ctx, p.Query); ok {
		return nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, maxTokens)
	if err != nil {
		return nil // gqlgen's own parse reports it
	}
	n := 0
	var count func(ast.SelectionSet)
	count = func(set ast.SelectionSet) {
		for _, sel := range set {
			n++
			switch sel := sel.(type) {
			case *ast.Field:
				n += len(sel.Arguments) + len(sel.Directives)
				count(sel.SelectionSet)
			case *ast.InlineFragment:
				n += len(sel.Directives)
				count(sel.SelectionSet)
			case *ast.FragmentSpread:
				n += len(sel.Directives)
			}
		}
	}
	for _, op := range doc.Operations {
		count(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		count(f.SelectionSet)
	}
	if n <= l.max {
		return nil
	}
	refusal := gqlerror.Errorf("the document holds %d selections and arguments; the limit is %d", n, l.max)
	refusal.Extensions = map[string]any{"code": string(relations.CodeInvalid)}
	return refusal
}
