package graphbench

import (
	"fmt"
	"math/rand/v2"

	"github.com/authzed/spicedb/pkg/tuple"

	"github.com/seed-6461fa00/trellis/schema"
)

// Shape says how big a generated graph is.
type Shape struct {
	Name              string
	Users             int
	Projects          int
	MembersPerProject int
	Jobs              int
	// HeavyProjects is how many projects the user "heavy" belongs to, on
	// top of the random membership: the LookupResources subject.
	HeavyProjects int
}

// Large is the platform-sized graph: about 1.2M relationships.
var Large = Shape{Name: "1.2M", Users: 10_000, Projects: 100_000, MembersPerProject: 10, Jobs: 200_000, HeavyProjects: 1000}

// Small is a graph where storage costs nothing: the engine's own floor.
var Small = Shape{Name: "1.5k", Users: 60, Projects: 100, MembersPerProject: 10, Jobs: 400, HeavyProjects: 100}

// Size is the number of relationships the shape generates.
func (s Shape) Size() int { return s.Projects*s.MembersPerProject + s.Jobs + s.HeavyProjects }

// roleFor spreads roles: one admin, one manager, a third writers, the rest
// readers.
func roleFor(i, n int) schema.Relation {
	switch {
	case i == 0:
		return schema.ProjectAdmin
	case i == 1:
		return schema.ProjectManager
	case i < 2+(n-2)/3:
		return schema.ProjectWriter
	}
	return schema.ProjectReader
}

// UserID, ProjectID and JobID name generated objects.
func UserID(i int) string    { return fmt.Sprintf("u%d", i) }
func ProjectID(i int) string { return fmt.Sprintf("p%d", i) }
func JobID(i int) string     { return fmt.Sprintf("j%d", i) }

// HeavyUser belongs to HeavyProjects projects as a reader.
const HeavyUser = "heavy"

// Generate calls emit with every relationship of the shape, the same ones
// in the same order on every call.
func (s Shape) Generate(emit func(tuple.Relationship) error) error {
	rng := rand.New(rand.NewPCG(42, 1))
	rel := func(resType, resID, relation, subType, subID string) tuple.Relationship {
		return tuple.Relationship{RelationshipReference: tuple.RelationshipReference{
			Resource: tuple.ObjectAndRelation{ObjectType: resType, ObjectID: resID, Relation: relation},
			Subject:  tuple.ObjectAndRelation{ObjectType: subType, ObjectID: subID, Relation: tuple.Ellipsis},
		}}
	}
	for p := range s.Projects {
		seen := map[int]bool{}
		for m := 0; m < s.MembersPerProject; {
			u := rng.IntN(s.Users)
			if seen[u] {
				continue
			}
			seen[u] = true
			if err := emit(rel(string(schema.TypeProject), ProjectID(p), string(roleFor(m, s.MembersPerProject)), string(schema.TypeUser), UserID(u))); err != nil {
				return err
			}
			m++
		}
	}
	for j := range s.Jobs {
		if err := emit(rel(string(schema.TypeJob), JobID(j), string(schema.JobProject), string(schema.TypeProject), ProjectID(j%s.Projects))); err != nil {
			return err
		}
	}
	for p := range s.HeavyProjects {
		if err := emit(rel(string(schema.TypeProject), ProjectID(p), string(schema.ProjectReader), string(schema.TypeUser), HeavyUser)); err != nil {
			return err
		}
	}
	return nil
}
