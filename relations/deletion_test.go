package relations_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

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

// afterFirstDelete runs hook once, after the first DeleteRelationships
// through the writer it wraps has answered.
type afterFirstDelete struct {
	relations.LocalWriter
	once sync.Once
	hook func()
}

func (w *afterFirstDelete) DeleteRelationships(ctx context.Context, req *v1.DeleteRelationshipsRequest) (*v1.DeleteRelationshipsResponse, error) {
	resp, err := w.LocalWriter.DeleteRelationships(ctx, req)
	if err == nil {
		w.once.Do(w.hook)
	}
	return resp, err
}

// TestDeleteProjectStopsWhenTheAdminIsDemoted: an admin demoted while
// their deletion of a project runs deletes nothing more.
func TestDeleteProjectStopsWhenTheAdminIsDemoted(t *testing.T) {
	writer := &afterFirstDelete{}
	env := relationstest.Open(t, relationstest.WrapWriter(func(inner relations.LocalWriter) relations.LocalWriter {
		writer.LocalWriter = inner
		return writer
	}))
	ctx := t.Context()
	g := env.Graph
	alice, bob := relationstest.MustUser(t, "alice"), relationstest.MustUser(t, "bob")
	if _, _, err := g.CreateProject(ctx, alice, relations.NewProject{Name: "hermes"}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.AddMember(ctx, alice, "hermes", bob, relations.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	var refs []relations.ArtifactRef
	for i := range 5 {
		ref := relations.ArtifactRef{Kind: schema.TypeJob, ID: fmt.Sprintf("hermes-job%d", i)}
		if _, _, err := g.RegisterArtifact(ctx, alice, "hermes", ref, ""); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	writer.hook = func() {
		if _, err := g.ChangeRole(context.WithoutCancel(ctx), bob, "hermes", alice, relations.RoleReader); err != nil {
			t.Errorf("demoting alice: %v", err)
		}
	}

	if _, err := g.DeleteProject(ctx, alice, "hermes"); relations.ErrorCode(err) != relations.CodeForbidden {
		t.Fatalf("the demoted admin's deletion: %v, want it forbidden", err)
	}
	left := 0
	for _, ref := range refs {
		if ok, err := g.Check(ctx, bob, relations.Object{Type: ref.Kind, ID: ref.ID}, schema.ArtifactRead, ""); err != nil {
			t.Fatal(err)
		} else if ok {
			left++
		}
	}
	if left != len(refs)-1 {
		t.Errorf("%d of %d artifacts are left; only the one deleted before the demotion should be gone", left, len(refs))
	}
}
