package relations_test

import (
	"context"
	"testing"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
	"github.com/seed-6461fa00/trellis/schema"
)

// racingCatalog runs meanwhile, once, just before the first catalog write
// of the kind named by op: a request landing between a graph write and
// the catalog write that follows it.
type racingCatalog struct {
	relations.Catalog
	op        string
	meanwhile func()
}

func (c *racingCatalog) race(op string) {
	if op == c.op && c.meanwhile != nil {
		f := c.meanwhile
		c.meanwhile = nil
		f()
	}
}

func (c *racingCatalog) ReplaceProject(ctx context.Context, old, info relations.ProjectInfo) (bool, error) {
	c.race("ReplaceProject")
	return c.Catalog.ReplaceProject(ctx, old, info)
}

func (c *racingCatalog) DeleteProject(ctx context.Context, info relations.ProjectInfo) error {
	c.race("DeleteProject")
	return c.Catalog.DeleteProject(ctx, info)
}

func (c *racingCatalog) DeleteArtifact(ctx context.Context, info relations.ArtifactInfo) error {
	c.race("DeleteArtifact")
	return c.Catalog.DeleteArtifact(ctx, info)
}

// racingGraph is a graph over env's engine and catalog whose catalog
// writes of kind op let meanwhile run first.
func racingGraph(t *testing.T, env *relationstest.Env, op string, meanwhile func()) *relations.Graph {
	t.Helper()
	g, err := relations.Open(t.Context(), env.Conn, &racingCatalog{Catalog: env.Catalog, op: op, meanwhile: meanwhile},
		relations.WithHeadChecker(env.Engine), relations.WithLocalWriter(env.Engine))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestDeletedProjectLeavesItsSuccessorsMetadata: a project created under
// the name of one being deleted, between the deletion's last graph write
// and its metadata deletion, keeps its own metadata.
func TestDeletedProjectLeavesItsSuccessorsMetadata(t *testing.T) {
	env := relationstest.Open(t)
	ctx := t.Context()
	alice, bob := relationstest.MustUser(t, "alice"), relationstest.MustUser(t, "bob")
	if _, _, err := env.Graph.CreateProject(ctx, alice, relations.NewProject{Name: "hermes", Description: "alice's"}); err != nil {
		t.Fatal(err)
	}
	g := racingGraph(t, env, "DeleteProject", func() {
		if _, _, err := env.Graph.CreateProject(ctx, bob, relations.NewProject{Name: "hermes", Description: "bob's"}); err != nil {
			t.Errorf("taking the name of a project being deleted: %v", err)
		}
	})
	if _, err := g.DeleteProject(ctx, alice, "hermes"); err != nil {
		t.Fatal(err)
	}
	p, err := env.Graph.Project(ctx, bob, "hermes", "")
	if err != nil {
		t.Fatal(err)
	}
	if p.CreatedBy != bob.ID || p.Description != "bob's" {
		t.Fatalf("the new hermes has metadata %+v; want bob's own", p.ProjectInfo)
	}
}

// TestUpdateOfADeletedProjectLeavesItsSuccessor: an update whose project
// is deleted and its name taken again before the update stores its
// metadata fails as a conflict, and the new project keeps its own.
func TestUpdateOfADeletedProjectLeavesItsSuccessor(t *testing.T) {
	env := relationstest.Open(t)
	ctx := t.Context()
	alice, bob := relationstest.MustUser(t, "alice"), relationstest.MustUser(t, "bob")
	if _, _, err := env.Graph.CreateProject(ctx, alice, relations.NewProject{Name: "hermes", Description: "alice's"}); err != nil {
		t.Fatal(err)
	}
	g := racingGraph(t, env, "ReplaceProject", func() {
		if _, err := env.Graph.DeleteProject(ctx, alice, "hermes"); err != nil {
			t.Errorf("deleting the project being updated: %v", err)
		}
		if _, _, err := env.Graph.CreateProject(ctx, bob, relations.NewProject{Name: "hermes", Description: "bob's"}); err != nil {
			t.Errorf("taking its name: %v", err)
		}
	})
	stale := "alice's, updated"
	if _, _, err := g.UpdateProject(ctx, alice, "hermes", relations.ProjectUpdate{Description: &stale}); relations.ErrorCode(err) != relations.CodeConflict {
		t.Fatalf("update of a project deleted and created again meanwhile: %v, want CONFLICT", err)
	}
	p, err := env.Graph.Project(ctx, bob, "hermes", "")
	if err != nil {
		t.Fatal(err)
	}
	if p.CreatedBy != bob.ID || p.Description != "bob's" {
		t.Fatalf("the new hermes has metadata %+v; want bob's own", p.ProjectInfo)
	}
}

// TestRemovedArtifactLeavesItsSuccessorsMetadata: an artifact registered
// again under the ID of one being removed, before the removal deletes
// the metadata, keeps its own.
func TestRemovedArtifactLeavesItsSuccessorsMetadata(t *testing.T) {
	env := relationstest.Open(t)
	ctx := t.Context()
	alice, bob := relationstest.MustUser(t, "alice"), relationstest.MustUser(t, "bob")
	for _, p := range []struct {
		owner relations.User
		name  string
	}{{alice, "hermes"}, {bob, "zeus"}} {
		if _, _, err := env.Graph.CreateProject(ctx, p.owner, relations.NewProject{Name: p.name}); err != nil {
			t.Fatal(err)
		}
	}
	job := relations.ArtifactRef{Kind: schema.TypeJob, ID: "train-1"}
	if _, _, err := env.Graph.RegisterArtifact(ctx, alice, "hermes", job, "alice's run"); err != nil {
		t.Fatal(err)
	}
	g := racingGraph(t, env, "DeleteArtifact", func() {
		if _, _, err := env.Graph.RegisterArtifact(ctx, bob, "zeus", job, "bob's run"); err != nil {
			t.Errorf("registering the ID of an artifact being removed: %v", err)
		}
	})
	if _, err := g.RemoveArtifact(ctx, alice, job); err != nil {
		t.Fatal(err)
	}
	a, err := env.Graph.Artifact(ctx, bob, job, "")
	if err != nil {
		t.Fatal(err)
	}
	if a.Project != "zeus" || a.CreatedBy != bob.ID || a.Name != "bob's run" {
		t.Fatalf("the new train-1 has metadata %+v; want bob's own", a.ArtifactInfo)
	}
}

// TestConcurrentUpdatesLoseNothing: of two updates of one project's
// metadata that read it before either stored it, the second to store
// fails as a conflict instead of putting back what the first changed.
func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	env := relationstest.Open(t)
	ctx := t.Context()
	alice := relationstest.MustUser(t, "alice")
	if _, _, err := env.Graph.CreateProject(ctx, alice, relations.NewProject{Name: "hermes"}); err != nil {
		t.Fatal(err)
	}
	description, displayName := "the messenger", "Hermes"
	g := racingGraph(t, env, "ReplaceProject", func() {
		if _, _, err := env.Graph.UpdateProject(ctx, alice, "hermes", relations.ProjectUpdate{Description: &description}); err != nil {
			t.Errorf("the first update: %v", err)
		}
	})
	if _, _, err := g.UpdateProject(ctx, alice, "hermes", relations.ProjectUpdate{DisplayName: &displayName}); relations.ErrorCode(err) != relations.CodeConflict {
		t.Fatalf("an update over metadata that changed since it was read: %v, want CONFLICT", err)
	}
	p, err := env.Graph.Project(ctx, alice, "hermes", "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Description != description {
		t.Fatalf("description %q after the two updates, want the first update's %q", p.Description, description)
	}
}
