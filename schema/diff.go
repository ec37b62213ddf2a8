package schema

import (
	"fmt"
	"slices"
	"strings"

	caveattypes "github.com/authzed/spicedb/pkg/caveats/types"
	"github.com/authzed/spicedb/pkg/diff"
	"github.com/authzed/spicedb/pkg/diff/caveats"
	"github.com/authzed/spicedb/pkg/diff/namespace"
	core "github.com/authzed/spicedb/pkg/proto/core/v1"
	"github.com/authzed/spicedb/pkg/schemadsl/compiler"
	"github.com/authzed/spicedb/pkg/schemadsl/input"
)

// Source is one schema to compare: where it came from, and its text.
type Source struct {
	Name, Text string
}

// Diff describes what moving from old to updated changes, one line per
// change: removals, additions, then changes within definitions, each by
// name. SpiceDB's own compiler reads both and SpiceDB's differ compares
// them, so the answer is what SpiceDB sees when the schema is written. An
// empty text is an empty schema (a store that never had one).
func Diff(old, updated Source) ([]string, error) {
	from, err := compileForDiff(old)
	if err != nil {
		return nil, err
	}
	to, err := compileForDiff(updated)
	if err != nil {
		return nil, err
	}
	d, err := diff.DiffSchemas(from, to, caveattypes.Default.TypeSet)
	if err != nil {
		return nil, fmt.Errorf("compare %s with %s: %w", old.Name, updated.Name, err)
	}
	for _, names := range [][]string{d.RemovedNamespaces, d.RemovedCaveats, d.AddedNamespaces, d.AddedCaveats} {
		slices.Sort(names)
	}
	var lines []string
	for _, name := range d.RemovedNamespaces {
		lines = append(lines, "- definition "+name)
	}
	for _, name := range d.RemovedCaveats {
		lines = append(lines, "- caveat "+name)
	}
	for _, name := range d.AddedNamespaces {
		lines = append(lines, "+ definition "+name)
	}
	for _, name := range d.AddedCaveats {
		lines = append(lines, "+ caveat "+name)
	}
	for _, name := range sortedKeys(d.ChangedNamespaces) {
		for _, delta := range d.ChangedNamespaces[name].Deltas() {
			lines = append(lines, describeDefinitionChange(name, delta))
		}
	}
	for _, name := range sortedKeys(d.ChangedCaveats) {
		for _, delta := range d.ChangedCaveats[name].Deltas() {
			lines = append(lines, describeCaveatChange(name, delta))
		}
	}
	return lines, nil
}

func compileForDiff(s Source) (diff.DiffableSchema, error) {
	if strings.TrimSpace(s.Text) == "" {
		return diff.DiffableSchema{}, nil
	}
	compiled, err := compiler.Compile(compiler.InputSchema{Source: input.Source(s.Name), SchemaString: s.Text}, compiler.AllowUnprefixedObjectType())
	if err != nil {
		return diff.DiffableSchema{}, fmt.Errorf("%s: %w", s.Name, err)
	}
	return diff.NewDiffableSchemaFromCompiledSchema(compiled), nil
}

func describeDefinitionChange(def string, d namespace.Delta) string {
	switch d.Type {
	case namespace.AddedRelation:
		return fmt.Sprintf("+ relation %s#%s", def, d.RelationName)
	case namespace.RemovedRelation:
		return fmt.Sprintf("- relation %s#%s", def, d.RelationName)
	case namespace.AddedPermission:
		return fmt.Sprintf("+ permission %s#%s", def, d.RelationName)
	case namespace.RemovedPermission:
		return fmt.Sprintf("- permission %s#%s", def, d.RelationName)
	case namespace.ChangedPermissionImpl, namespace.LegacyChangedRelationImpl:
		return fmt.Sprintf("~ permission %s#%s: its expression changed", def, d.RelationName)
	case namespace.RelationAllowedTypeAdded:
		return fmt.Sprintf("+ relation %s#%s allows %s", def, d.RelationName, allowedType(d.AllowedType))
	case namespace.RelationAllowedTypeRemoved:
		return fmt.Sprintf("- relation %s#%s allows %s", def, d.RelationName, allowedType(d.AllowedType))
	case namespace.NamespaceCommentsChanged:
		return fmt.Sprintf("~ definition %s: its comment changed", def)
	case namespace.ChangedPermissionComment, namespace.ChangedRelationComment:
		return fmt.Sprintf("~ %s#%s: its comment changed", def, d.RelationName)
	default:
		return fmt.Sprintf("~ definition %s: %s %s", def, d.Type, d.RelationName)
	}
}

func describeCaveatChange(name string, d caveats.Delta) string {
	switch d.Type {
	case caveats.AddedParameter:
		return fmt.Sprintf("+ caveat %s parameter %s", name, d.ParameterName)
	case caveats.RemovedParameter:
		return fmt.Sprintf("- caveat %s parameter %s", name, d.ParameterName)
	case caveats.ParameterTypeChanged:
		return fmt.Sprintf("~ caveat %s parameter %s: its type changed", name, d.ParameterName)
	case caveats.CaveatExpressionChanged:
		return fmt.Sprintf("~ caveat %s: its expression changed", name)
	case caveats.CaveatCommentsChanged:
		return fmt.Sprintf("~ caveat %s: its comment changed", name)
	default:
		return fmt.Sprintf("~ caveat %s: %s %s", name, d.Type, d.ParameterName)
	}
}

// allowedType writes a subject type as the schema language does: user,
// user:*, group#member, optionally "with caveat" or "with expiration".
func allowedType(a *core.AllowedRelation) string {
	s := a.GetNamespace()
	switch {
	case a.GetPublicWildcard() != nil:
		s += ":*"
	case a.GetRelation() != "" && a.GetRelation() != "...":
		s += "#" + a.GetRelation()
	}
	var traits []string
	if c := a.GetRequiredCaveat().GetCaveatName(); c != "" {
		traits = append(traits, c)
	}
	if a.GetRequiredExpiration() != nil {
		traits = append(traits, "expiration")
	}
	if len(traits) > 0 {
		s += " with " + strings.Join(traits, " and ")
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
