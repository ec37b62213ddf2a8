package server_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestNodeEndToEnd: every id a query returns refetches the same object
// through node; what the viewer may not read is NOT_FOUND through node
// exactly as through project and artifact; malformed IDs are
// BAD_USER_INPUT; nodes answers each ID on its own.
func TestNodeEndToEnd(t *testing.T) {
	url, auth := startServer(t)
	alice := userClient(t, url, auth, "alice")
	bob := userClient(t, url, auth, "bob")
	alice.ok(`mutation { createProject(input: {name: "apollo"}) { consistencyToken } }`, nil)
	bob.ok(`mutation { createProject(input: {name: "zeta"}) { consistencyToken } }`, nil)
	alice.ok(`mutation { addMember(input: {project: "apollo", user: "carol", role: READER}) { consistencyToken } }`, nil)
	alice.ok(`mutation { registerArtifact(input: {project: "apollo", kind: JOB, id: "train-1"}) { consistencyToken } }`, nil)

	listed := alice.ok(`{
		viewer { id user { id userId } }
		project(name: "apollo") {
			id name
			members { edges { node { user { id userId } } } }
			artifacts(kind: JOB) { edges { node { id artifactId kind } } }
		}
	}`, nil)
	viewer := listed["viewer"].(map[string]any)
	project := listed["project"].(map[string]any)
	job := project["artifacts"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)
	if viewer["id"] != "viewer:alice" || viewer["user"].(map[string]any)["id"] != "user:alice" ||
		project["id"] != "project:apollo" || job["id"] != "job:train-1" || job["artifactId"] != "train-1" {
		t.Fatalf("global IDs: viewer %v, project %v, job %v", viewer, project["id"], job)
	}

	// Every ID refetches its object.
	const refetch = `query($id: ID!) { node(id: $id) { __typename id
		... on Project { name }
		... on Artifact { artifactId kind }
		... on User { userId }
		... on Viewer { user { userId } } } }`
	ids := map[string]string{"viewer:alice": "Viewer", "user:alice": "User", "project:apollo": "Project", "job:train-1": "Artifact"}
	for _, e := range project["members"].(map[string]any)["edges"].([]any) {
		ids[e.(map[string]any)["node"].(map[string]any)["user"].(map[string]any)["id"].(string)] = "User"
	}
	if ids["user:carol"] != "User" || len(ids) != 5 {
		t.Fatalf("the members' user IDs are not alice's and carol's: %v", ids)
	}
	for id, typename := range ids {
		node := alice.ok(refetch, map[string]any{"id": id})["node"].(map[string]any)
		if node["id"] != id || node["__typename"] != typename {
			t.Errorf("node(%q) = %v, want a %s with that id", id, node, typename)
		}
	}

	// What bob may not read is NOT_FOUND, exactly as for what does not exist.
	for _, id := range []string{"project:apollo", "job:train-1", "viewer:alice", "project:no-such", "job:no-such"} {
		r := bob.do(refetch, map[string]any{"id": id})
		if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "NOT_FOUND" || r.Data["node"] != nil {
			t.Errorf("bob: node(%q) = %v, %v; want null and NOT_FOUND", id, r.Data, r.Errors)
		}
	}
	hidden := bob.do(refetch, map[string]any{"id": "project:apollo"}).Errors[0].Message
	missing := bob.do(refetch, map[string]any{"id": "project:apollx"}).Errors[0].Message
	if strings.ReplaceAll(hidden, "apollo", "apollx") != missing {
		t.Errorf("a hidden project reads %q, a missing one %q: they must not differ", hidden, missing)
	}

	for _, id := range []string{"apollo", "project:", ":apollo", "widget:w-1", "user:*", "job:bad id"} {
		r := alice.do(refetch, map[string]any{"id": id})
		if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
			t.Errorf("node(%q): %v, want BAD_USER_INPUT", id, r.Errors)
		}
	}

	// nodes: each ID on its own, in order.
	r := alice.do(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{"project:apollo", "project:zeta", "job:train-1"}})
	got := r.Data["nodes"].([]any)
	if len(got) != 3 || got[0].(map[string]any)["id"] != "project:apollo" || got[1] != nil || got[2].(map[string]any)["id"] != "job:train-1" {
		t.Fatalf("nodes = %v", got)
	}
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "NOT_FOUND" || fmt.Sprint(r.Errors[0].Path) != "[nodes 1]" {
		t.Fatalf("nodes errors = %+v, want one NOT_FOUND at [nodes 1]", r.Errors)
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("project:p%d", i)
	}
	if code := alice.code(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": many}); code != "BAD_USER_INPUT" {
		t.Fatalf("101 IDs: %q, want BAD_USER_INPUT", code)
	}
}
