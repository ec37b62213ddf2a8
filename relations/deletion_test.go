package relations_test

import (
	"fmt"
	"testing"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
	"github.com/seed-6461fa00/trellis/schema"
)

// TestDeleteProjectIsComplete deletes a project with more artifacts than
// one deletion batch, each kind and shares included, and finds nothing of
// it left; only its admin may delete it.
func TestDeleteProjectIsComplete(t *testing.T) {
	env := relationstest.Open(t)
	f := newFixture(t, env)
	ctx := t.Context()
	admin, writer := f.users["admin"], f.users["writer"]
	sam := relationstest.MustUser(t, "sam")

	// One of every kind, then more jobs than one deletion batch holds.
	var refs []relations.ArtifactRef
	for _, kind := range schema.ArtifactTypes {
		refs = append(refs, relations.ArtifactRef{Kind: kind, ID: f.project + "-" + string(kind)})
	}
	for i := range 520 {
		refs = append(refs, relations.ArtifactRef{Kind: schema.TypeJob, ID: fmt.Sprintf("%s-job%d", f.project, i)})
	}
	for _, ref := range refs {
		if _, _, err := f.g.RegisterArtifact(ctx, writer, f.project, ref, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.g.ShareArtifact(ctx, writer, refs[3], sam, relations.RoleWriter); err != nil {
		t.Fatal(err)
	}

	for _, who := range []string{"manager", "writer"} {
		if _, err := f.g.DeleteProject(ctx, f.users[who], f.project); relations.ErrorCode(err) != relations.CodeForbidden {
			t.Fatalf("%s deleting the project: %v", who, err)
		}
	}
	if _, err := f.g.DeleteProject(ctx, f.users["none"], f.project); relations.ErrorCode(err) != relations.CodeNotFound {
		t.Fatalf("a stranger deleting the project: %v", err)
	}

	token, err := f.g.DeleteProject(ctx, admin, f.project)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.g.Project(ctx, admin, f.project, token); relations.ErrorCode(err) != relations.CodeNotFound {
		t.Fatalf("the deleted project: %v", err)
	}
	for _, ref := range refs {
		for _, u := range []relations.User{admin, sam} {
			ok, err := f.g.Check(ctx, u, relations.Object{Type: ref.Kind, ID: ref.ID}, schema.ArtifactRead, token)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				t.Fatalf("%s can still read %s %s", u.ID, ref.Kind, ref.ID)
			}
		}
	}
	infos, err := env.Catalog.Artifacts(ctx, refs)
	if err != nil || len(infos) != 0 {
		t.Fatalf("%d artifacts' metadata left (%v)", len(infos), err)
	}
	if projects, err := env.Catalog.Projects(ctx, []string{f.project}); err != nil || len(projects) != 0 {
		t.Fatalf("project metadata left: %v %v", projects, err)
	}
	// The name is free again.
	if _, _, err := f.g.CreateProject(ctx, f.users["none"], relations.NewProject{Name: f.project}); err != nil {
		t.Fatalf("reusing the deleted project's name: %v", err)
	}
}

// TestUpdateProject: managers and admins change the metadata; writers may not.
func TestUpdateProject(t *testing.T) {
	env := relationstest.Open(t)
	f := newFixture(t, env)
	name, desc := "Apollo Program", "to the moon"
	if _, _, err := f.g.UpdateProject(t.Context(), f.users["writer"], f.project, relations.ProjectUpdate{DisplayName: &name}); relations.ErrorCode(err) != relations.CodeForbidden {
		t.Fatalf("writer updating: %v", err)
	}
	p, token, err := f.g.UpdateProject(t.Context(), f.users["manager"], f.project, relations.ProjectUpdate{DisplayName: &name, Description: &desc})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.g.Project(t.Context(), f.users["reader"], f.project, token)
	if err != nil || got.DisplayName != name || got.Description != desc || p.DisplayName != name {
		t.Fatalf("after update: %+v, %v", got, err)
	}
}
