package embedded_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPlansAnswerAsTheDispatcherOnRandomGraphs generates schemas of the
// kind the query plans serve (plain subject types and their wildcards,
// unions, intersections, exclusions and arrows, permissions built on one
// another), fills each with random relationships, and asks every check
// both ways. SpiceDB's and Trellis's graphs cover the constructs one by
// one; this covers them in combinations nobody wrote down. Each graph is
// generated from its seed, which a failure names.
func TestPlansAnswerAsTheDispatcherOnRandomGraphs(t *testing.T) {
	dir := t.TempDir()
	planned, dispatched := 0, 0
	for seed := range uint64(120) {
		name := fmt.Sprintf("random-%d.yaml", seed)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(randomGraph(seed)), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			p, d := compareWithDispatcher(t, os.DirFS(dir), name)
			planned, dispatched = planned+p, dispatched+d
		})
	}
	t.Logf("%d checks answered by the query plan, %d by the dispatcher", planned, dispatched)
	// The graphs are built of what the plans serve, bar one arrow in five:
	// most of their checks must go by plan, or this compares little.
	if planned < dispatched {
		t.Errorf("the query plan answered %d checks and the dispatcher %d: the plan should answer most", planned, dispatched)
	}
}

// randomGraph is a validation file: three resource types res0..res2 whose
// relations allow users, the user wildcard and later resource types (so no
// permission recurses), permissions over them, and relationships.
func randomGraph(seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 0x7e11))
	const types = 3
	type relation struct {
		name    string
		allowed []string // "user", "user:*", "res1", ...
	}
	relations := make([][]relation, types)
	names := make([][]string, types) // relations, then permissions, in order
	var schema strings.Builder
	schema.WriteString("definition user {}\n")
	for ty := types - 1; ty >= 0; ty-- {
		fmt.Fprintf(&schema, "\ndefinition res%d {\n", ty)
		// Every type lets users be plain members, so every user can be
		// named in a relationship below.
		relations[ty] = append(relations[ty], relation{name: "member", allowed: []string{"user"}})
		names[ty] = append(names[ty], "member")
		schema.WriteString("\trelation member: user\n")
		for i := range 2 + rng.IntN(2) {
			choices := []string{"user", "user:*"}
			for later := ty + 1; later < types; later++ {
				choices = append(choices, fmt.Sprintf("res%d", later))
			}
			rng.Shuffle(len(choices), func(a, b int) { choices[a], choices[b] = choices[b], choices[a] })
			allowed := choices[:1+rng.IntN(min(2, len(choices)))]
			if len(allowed) == 1 && allowed[0] == "user:*" {
				allowed = append(allowed, "user")
			}
			rel := relation{name: fmt.Sprintf("rel%d", i), allowed: slices.Clone(allowed)}
			relations[ty] = append(relations[ty], rel)
			names[ty] = append(names[ty], rel.name)
			fmt.Fprintf(&schema, "\trelation %s: %s\n", rel.name, strings.Join(rel.allowed, " | "))
		}
		// leaf is one operand: a relation or earlier permission of this
		// type, or an arrow over a relation to later types: mostly to a
		// name all of them define (what the plans serve), sometimes to a
		// name only one defines (which the dispatcher answers).
		leaf := func() string {
			if rng.IntN(3) == 0 {
				var arrows []string
				anyType := rng.IntN(5) == 0
				for _, rel := range relations[ty] {
					if slices.Contains(rel.allowed, "user:*") {
						continue // SpiceDB refuses a wildcard left of an arrow
					}
					var common []string
					for i, a := range rel.allowed {
						var target []string
						if strings.HasPrefix(a, "res") {
							var n int
							fmt.Sscanf(a, "res%d", &n)
							target = names[n]
						}
						switch {
						case anyType:
							common = append(common, target...)
						case i == 0:
							common = slices.Clone(target)
						default:
							common = slices.DeleteFunc(common, func(n string) bool { return !slices.Contains(target, n) })
						}
					}
					for _, n := range common {
						arrows = append(arrows, rel.name+"->"+n)
					}
				}
				if len(arrows) > 0 {
					return arrows[rng.IntN(len(arrows))]
				}
			}
			return names[ty][rng.IntN(len(names[ty]))]
		}
		var expr func(depth int) string
		expr = func(depth int) string {
			if depth == 0 || rng.IntN(3) == 0 {
				return leaf()
			}
			op := []string{" + ", " & ", " - "}[rng.IntN(3)]
			return "(" + expr(depth-1) + op + expr(depth-1) + ")"
		}
		for i := range 2 + rng.IntN(2) {
			name := fmt.Sprintf("perm%d", i)
			fmt.Fprintf(&schema, "\tpermission %s = %s\n", name, expr(3))
			names[ty] = append(names[ty], name)
		}
		schema.WriteString("}\n")
	}

	var rels []string
	users := []string{"u0", "u1", "u2", "u3"}
	objects := []string{"a", "b", "c"}
	for ty := range types {
		for _, rel := range relations[ty] {
			for _, obj := range objects {
				for _, a := range rel.allowed {
					var subjects []string
					switch {
					case a == "user":
						for _, u := range users {
							subjects = append(subjects, "user:"+u)
						}
					case a == "user:*":
						subjects = []string{"user:*"}
					default:
						for _, o := range objects {
							subjects = append(subjects, a+":"+o)
						}
					}
					for _, s := range subjects {
						if rng.IntN(10) < 3 {
							rels = append(rels, fmt.Sprintf("res%d:%s#%s@%s", ty, obj, rel.name, s))
						}
					}
				}
			}
		}
	}
	// Every user appears, so each is asked about even when it holds nothing.
	for _, u := range users {
		rels = append(rels, "res0:z#member@user:"+u)
	}
	indent := func(s string) string {
		return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
	}
	return "schema: |-\n" + indent(schema.String()) + "\nrelationships: |-\n" + indent(strings.Join(rels, "\n")) + "\n"
}
