package server_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
	"github.com/seed-6461fa00/trellis/server"
)

var matrixSeq atomic.Int64

// TestMutationRoleMatrix sends every mutation over HTTP as each kind of
// actor — a stranger, each role, and the admin of another project — and
// checks the outcome code.
func TestMutationRoleMatrix(t *testing.T) {
	env := relationstest.Open(t)
	url, auth := serveGraph(t, env, server.Options{})
	names := map[string]string{"none": "nora", "reader": "rita", "writer": "wendy", "manager": "mary", "admin": "alice", "other-admin": "otto"}

	// setup: a project with one member per role, a job in it shared with
	// sam, and another project whose admin is otto. Returns the project.
	setup := func(t *testing.T) string {
		ctx := t.Context()
		n := matrixSeq.Add(1)
		project := fmt.Sprintf("m-%d", n)
		alice := relationstest.MustUser(t, "alice")
		if _, _, err := env.Graph.CreateProject(ctx, alice, relations.NewProject{Name: project}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := env.Graph.CreateProject(ctx, relationstest.MustUser(t, "otto"), relations.NewProject{Name: fmt.Sprintf("o-%d", n)}); err != nil {
			t.Fatal(err)
		}
		for _, role := range []relations.Role{relations.RoleManager, relations.RoleWriter, relations.RoleReader} {
			if _, err := env.Graph.AddMember(ctx, alice, project, relationstest.MustUser(t, names[string(role)]), role); err != nil {
				t.Fatal(err)
			}
		}
		job := relations.ArtifactRef{Kind: "job", ID: project + "-job"}
		if _, _, err := env.Graph.RegisterArtifact(ctx, alice, project, job, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Graph.ShareArtifact(ctx, alice, job, relationstest.MustUser(t, "sam"), relations.RoleReader); err != nil {
			t.Fatal(err)
		}
		return project
	}

	const ok = ""
	mutations := []struct {
		name  string
		query string // %[1]s is the project
		want  map[string]string
	}{
		{"addMember reader", `mutation { addMember(input: {project: "%[1]s", user: "newbie", role: READER}) { consistencyToken } }`,
			map[string]string{"none": "NOT_FOUND", "other-admin": "NOT_FOUND", "reader": "FORBIDDEN", "writer": "FORBIDDEN", "manager": ok, "admin": ok}},
		{"addMember admin", `mutation { addMember(input: {project: "%[1]s", user: "newbie", role: ADMIN}) { consistencyToken } }`,
			map[string]string{"none": "NOT_FOUND", "other-admin": "NOT_FOUND", "reader": "FORBIDDEN", "writer": "FORBIDDEN", "manager": "FORBIDDEN", "admin": ok}},
		{"changeMemberRole writer to manager", `mutation { changeMemberRole(input: {project: "%[1]s", user: "wendy", role: MANAGER}) { consistencyToken } }`,
			map[string]string{"none": "NOT_FOUND", "other-admin": "NOT_FOUND", "reader": "FORBIDDEN", "writer": "FORBIDDEN", "manager": ok, "admin": ok}},
		{"changeMemberRole manager to admin", `mutation { changeMemberRole(input: {project: "%[1]s", user: "mary", role: ADMIN}) { consistencyToken } }`,
			map[string]string{"none": "NOT_FOUND", "other-admin": "NOT_FOUND", "reader": "FORBIDDEN", "writer": "FORBIDDEN", "manager": "FORBIDDEN", "admin": ok}},
		{"removeMember reader", `mutation { removeMember(input: {project: "%[1]s", user: "rita"}) { consistencyToken } }`,
			map[string]string{"none": "NOT_FOUND", "other-admin": "NOT_FOUND", "reader": "FORBIDDEN", "writer": "FORBIDDEN", "manager": ok, "admin": ok}},
		{"removeMember the last admin", `mutation { removeMember(input: {project: "%[1]s", user: "alice"}) { consistencyToken } }`,
			map[string]string{"none": "NOT_FOUND", "other-admin": "NOT_FOUND", "reader": "FORBIDDEN", "writer": "FORBIDDEN", "manager": "FORBIDDEN", "admin": "CONFLICT"}},
		{"leaveProject", `mutation { leaveProject(input: {project: "%[1]s"}) { consistencyToken } }`,
			map[string]string{"none": "NOT_FOUND", "other-admin": "NOT_FOUND", "reader": ok, "writer": ok, "manager": ok, "admin": "CONFLICT"}},
		{"updateProject", `mutation { updateProject(input: {project: "%[1]s", description: "x"}) { consistencyToken } }`,
			map[string]string{"none": "NOT_FOUND", "other-admin": "NOT_FOUND", "reader": "FORBIDDEN", "writer": "FORBIDDEN", "manager": ok, "admin": ok}},
		{"deleteProject", `mutation { deleteProject(input: {project: "%[1]s"}) { consistencyToken } }`,
			map[string]string{"none": "NOT_FOUND", "other-admin": "NOT_FOUND", "reader": "FORBIDDEN", "writer": "FORBIDDEN", "manager": "FORBIDDEN", "admin": ok}},
		{"switchProject", `mutation { switchProject(input: {project: "%[1]s"}) { project { name } } }`,
			map[string]string{"none": "NOT_FOUND", "other-admin": "NOT_FOUND", "reader": ok, "writer": ok, "manager": ok, "admin": ok}},
		{"registerArtifact", `mutation { registerArtifact(input: {project: "%[1]s", kind: IMAGE, id: "%[1]s-img"}) { consistencyToken } }`,
			map[string]string{"none": "NOT_FOUND", "other-admin": "NOT_FOUND", "reader": "FORBIDDEN", "writer": ok, "manager": ok, "admin": ok}},
		{"removeArtifact", `mutation { removeArtifact(input: {kind: JOB, id: "%[1]s-job"}) { consistencyToken } }`,
			map[string]string{"none": "NOT_FOUND", "other-admin": "NOT_FOUND", "reader": "FORBIDDEN", "writer": ok, "manager": ok, "admin": ok}},
		{"shareArtifact", `mutation { shareArtifact(input: {kind: JOB, id: "%[1]s-job", user: "zoe", role: WRITER}) { consistencyToken } }`,
			map[string]string{"none": "NOT_FOUND", "other-admin": "NOT_FOUND", "reader": "FORBIDDEN", "writer": ok, "manager": ok, "admin": ok}},
		{"unshareArtifact", `mutation { unshareArtifact(input: {kind: JOB, id: "%[1]s-job", user: "sam"}) { consistencyToken } }`,
			map[string]string{"none": "NOT_FOUND", "other-admin": "NOT_FOUND", "reader": "FORBIDDEN", "writer": ok, "manager": ok, "admin": ok}},
	}
	for _, m := range mutations {
		for _, actor := range []string{"none", "reader", "writer", "manager", "admin", "other-admin"} {
			t.Run(m.name+"/as "+actor, func(t *testing.T) {
				project := setup(t)
				c := userClient(t, url, auth, names[actor])
				if got := c.code(fmt.Sprintf(m.query, project), nil); got != m.want[actor] {
					t.Fatalf("code %q, want %q", got, m.want[actor])
				}
			})
		}
	}
	t.Run("createProject needs only a login", func(t *testing.T) {
		c := userClient(t, url, auth, "nora")
		if code := c.code(`mutation { createProject(input: {name: "noras-own"}) { consistencyToken } }`, nil); code != "" {
			t.Fatalf("code %q", code)
		}
		anon := client{t: t, url: url}
		if r := anon.do(`mutation { createProject(input: {name: "anon"}) { consistencyToken } }`, nil); len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "UNAUTHENTICATED" {
			t.Fatalf("anonymous create: %v", r.Errors)
		}
	})
}
