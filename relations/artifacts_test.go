package relations_test

import (
	"fmt"
	"testing"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
	"github.com/seed-6461fa00/trellis/schema"
)

var artifactSeq = 0

// TestArtifactRules covers register, read, share, unshare and remove for
// every role, a user the artifact is shared with, and a stranger.
func TestArtifactRules(t *testing.T) {
	env := relationstest.Open(t)
	ctx := t.Context()
	const ok = relations.Code("")
	nf, fb := relations.CodeNotFound, relations.CodeForbidden

	// setup makes a project with one member per role, a job in it, and
	// "sam" as the job's shared writer.
	setup := func(t *testing.T) (fixture, relations.ArtifactRef, relations.User) {
		f := newFixture(t, env)
		artifactSeq++
		job := relations.ArtifactRef{Kind: schema.TypeJob, ID: fmt.Sprintf("train-%d", artifactSeq)}
		if _, _, err := f.g.RegisterArtifact(ctx, f.users["writer"], f.project, job, "Training run"); err != nil {
			t.Fatal(err)
		}
		sam := relationstest.MustUser(t, "sam")
		if _, err := f.g.ShareArtifact(ctx, f.users["writer"], job, sam, relations.RoleWriter); err != nil {
			t.Fatal(err)
		}
		f.users["shared"] = sam
		return f, job, sam
	}

	actions := []struct {
		name string
		do   func(f fixture, job relations.ArtifactRef, actor relations.User) error
		want map[string]relations.Code
	}{
		{"read", func(f fixture, job relations.ArtifactRef, a relations.User) error {
			got, err := f.g.Artifact(ctx, a, job, "")
			if err == nil && (got.Project != f.project || got.Name != "Training run") {
				return fmt.Errorf("read %+v", got)
			}
			return err
		}, map[string]relations.Code{"none": nf, "other-admin": nf, "reader": ok, "writer": ok, "manager": ok, "admin": ok, "shared": ok}},
		{"register", func(f fixture, _ relations.ArtifactRef, a relations.User) error {
			artifactSeq++
			_, _, err := f.g.RegisterArtifact(ctx, a, f.project, relations.ArtifactRef{Kind: schema.TypeImage, ID: fmt.Sprintf("img-%d", artifactSeq)}, "")
			return err
		}, map[string]relations.Code{"none": nf, "other-admin": nf, "reader": fb, "writer": ok, "manager": ok, "admin": ok, "shared": nf}},
		{"share", func(f fixture, job relations.ArtifactRef, a relations.User) error {
			_, err := f.g.ShareArtifact(ctx, a, job, relationstest.MustUser(t, "zoe"), relations.RoleReader)
			return err
		}, map[string]relations.Code{"none": nf, "other-admin": nf, "reader": fb, "writer": ok, "manager": ok, "admin": ok, "shared": fb}},
		{"unshare", func(f fixture, job relations.ArtifactRef, a relations.User) error {
			_, err := f.g.UnshareArtifact(ctx, a, job, f.users["shared"])
			return err
		}, map[string]relations.Code{"none": nf, "other-admin": nf, "reader": fb, "writer": ok, "manager": ok, "admin": ok, "shared": fb}},
		{"remove", func(f fixture, job relations.ArtifactRef, a relations.User) error {
			_, err := f.g.RemoveArtifact(ctx, a, job)
			return err
		}, map[string]relations.Code{"none": nf, "other-admin": nf, "reader": fb, "writer": ok, "manager": ok, "admin": ok, "shared": fb}},
	}
	for _, a := range actions {
		for _, actor := range []string{"none", "other-admin", "reader", "writer", "manager", "admin", "shared"} {
			t.Run(a.name+"/as "+actor, func(t *testing.T) {
				f, job, _ := setup(t)
				err := a.do(f, job, f.users[actor])
				if got := relations.ErrorCode(err); got != a.want[actor] {
					t.Fatalf("got %q (%v), want %q", got, err, orOK(a.want[actor]))
				}
			})
		}
	}

	t.Run("shares and removal take effect", func(t *testing.T) {
		f, job, sam := setup(t)
		can := func(u relations.User, p schema.Permission) bool {
			ok, err := f.g.Check(ctx, u, relations.Object{Type: job.Kind, ID: job.ID}, p, "")
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !can(sam, schema.JobTerminate) || can(sam, schema.JobShare) {
			t.Fatal("a shared writer can terminate but not share")
		}
		if _, err := f.g.ShareArtifact(ctx, f.users["writer"], job, sam, relations.RoleReader); err != nil {
			t.Fatal(err)
		}
		if can(sam, schema.JobTerminate) || !can(sam, schema.JobReadLogs) {
			t.Fatal("re-sharing as reader must replace the writer share")
		}
		shares, err := f.g.SharedWith(ctx, f.users["reader"], job, relations.PageRequest{})
		if err != nil || len(shares.Items) != 1 || shares.Items[0].Role != relations.RoleReader {
			t.Fatalf("shares = %v, %v", shares, err)
		}
		if _, err := f.g.RemoveArtifact(ctx, f.users["writer"], job); err != nil {
			t.Fatal(err)
		}
		if can(sam, schema.JobReadLogs) || can(f.users["admin"], schema.JobRead) {
			t.Fatal("a removed artifact is still readable")
		}
		if _, err := f.g.Artifact(ctx, f.users["admin"], job, ""); relations.ErrorCode(err) != relations.CodeNotFound {
			t.Fatalf("removed artifact: %v", err)
		}
	})

	t.Run("unsharing what is not shared", func(t *testing.T) {
		f, job, sam := setup(t)
		if _, err := f.g.UnshareArtifact(ctx, f.users["writer"], job, sam); err != nil {
			t.Fatal(err)
		}
		if _, err := f.g.UnshareArtifact(ctx, f.users["writer"], job, sam); relations.ErrorCode(err) != relations.CodeNotFound {
			t.Fatalf("unsharing twice: %v, want not found", err)
		}
		if _, err := f.g.UnshareArtifact(ctx, f.users["writer"], job, f.users["reader"]); relations.ErrorCode(err) != relations.CodeNotFound {
			t.Fatalf("unsharing from a project member it was never shared with: %v, want not found", err)
		}
	})

	t.Run("conflicts and bad input", func(t *testing.T) {
		f, job, _ := setup(t)
		if _, _, err := f.g.RegisterArtifact(ctx, f.users["admin"], f.project, job, ""); relations.ErrorCode(err) != relations.CodeConflict {
			t.Fatalf("registering a taken ID: %v", err)
		}
		if _, _, err := f.g.RegisterArtifact(ctx, f.users["admin"], f.project, relations.ArtifactRef{Kind: "spaceship", ID: "x"}, ""); relations.ErrorCode(err) != relations.CodeInvalid {
			t.Fatalf("an unknown kind: %v", err)
		}
		if _, err := f.g.ShareArtifact(ctx, f.users["admin"], job, f.users["none"], relations.RoleAdmin); relations.ErrorCode(err) != relations.CodeInvalid {
			t.Fatalf("sharing as admin: %v", err)
		}
		page, err := f.g.Artifacts(ctx, f.users["reader"], f.project, schema.TypeJob, relations.PageRequest{})
		if err != nil || len(page.Items) != 1 || page.Items[0].ID != job.ID {
			t.Fatalf("jobs of the project: %+v, %v", page.Items, err)
		}
		if _, err := f.g.Artifacts(ctx, f.users["none"], f.project, schema.TypeJob, relations.PageRequest{}); relations.ErrorCode(err) != relations.CodeNotFound {
			t.Fatalf("a stranger listing jobs: %v", err)
		}
	})
}
