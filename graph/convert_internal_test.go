package graph

import (
	"testing"

	"github.com/seed-6461fa00/trellis/graph/model"
	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/schema"
)

// The GraphQL enums spell the schema's names; these tests keep the two in
// step when either changes.

func TestArtifactKindsMatchSchema(t *testing.T) {
	if len(model.AllArtifactKind) != len(schema.ArtifactTypes) {
		t.Fatalf("GraphQL has %d artifact kinds, the schema %d", len(model.AllArtifactKind), len(schema.ArtifactTypes))
	}
	for _, k := range model.AllArtifactKind {
		if !schema.IsArtifactType(kindFromModel(k)) {
			t.Errorf("ArtifactKind %s is not an artifact type of the schema", k)
		}
		if kindToModel(kindFromModel(k)) != k {
			t.Errorf("ArtifactKind %s does not round-trip", k)
		}
	}
}

func TestRolesMatchSchema(t *testing.T) {
	if len(model.AllRole) != len(relations.Roles()) {
		t.Fatalf("GraphQL has %d roles, the schema %d", len(model.AllRole), len(relations.Roles()))
	}
	for _, r := range model.AllRole {
		if _, err := relations.ParseRole(string(roleFromModel(r))); err != nil {
			t.Errorf("Role %s: %v", r, err)
		}
	}
}

func TestProjectPermissionsMatchSchema(t *testing.T) {
	if len(model.AllProjectPermission) != len(schema.Permissions[schema.TypeProject]) {
		t.Fatalf("GraphQL has %d project permissions, the schema %d", len(model.AllProjectPermission), len(schema.Permissions[schema.TypeProject]))
	}
	for _, p := range model.AllProjectPermission {
		if !schema.HasPermission(schema.TypeProject, projectPermission(p)) {
			t.Errorf("ProjectPermission %s is not a project permission of the schema", p)
		}
		if permissionToModel(projectPermission(p)) != p {
			t.Errorf("ProjectPermission %s does not round-trip", p)
		}
	}
}
