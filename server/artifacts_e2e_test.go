package server_test

import (
	"slices"
	"testing"
)

// TestArtifactsEndToEnd registers, lists, shares, reads and removes an
// artifact over HTTP as a writer, a reader, a shared user and a stranger.
func TestArtifactsEndToEnd(t *testing.T) {
	url, auth := startServer(t)
	alice := userClient(t, url, auth, "alice") // admin
	wendy := userClient(t, url, auth, "wendy") // writer
	rita := userClient(t, url, auth, "rita")   // reader
	sam := userClient(t, url, auth, "sam")     // shared with
	eve := userClient(t, url, auth, "eve")     // stranger

	alice.ok(`mutation { createProject(input: {name: "vega"}) { consistencyToken } }`, nil)
	alice.ok(`mutation { addMember(input: {project: "vega", user: "wendy", role: WRITER}) { consistencyToken } }`, nil)
	alice.ok(`mutation { addMember(input: {project: "vega", user: "rita", role: READER}) { consistencyToken } }`, nil)

	const register = `mutation($id: ID!) { registerArtifact(input: {project: "vega", kind: JOB, id: $id, name: "Nightly training"}) { artifact { id kind name project { name } } consistencyToken } }`
	got := wendy.ok(register, map[string]any{"id": "train-7"})["registerArtifact"].(map[string]any)["artifact"].(map[string]any)
	if got["kind"] != "JOB" || got["name"] != "Nightly training" || got["project"].(map[string]any)["name"] != "vega" {
		t.Fatalf("registered %v", got)
	}
	if code := rita.code(register, map[string]any{"id": "train-8"}); code != "FORBIDDEN" {
		t.Fatalf("reader registering: %q", code)
	}
	if code := eve.code(register, map[string]any{"id": "train-9"}); code != "NOT_FOUND" {
		t.Fatalf("stranger registering: %q", code)
	}
	if code := alice.code(register, map[string]any{"id": "train-7"}); code != "CONFLICT" {
		t.Fatalf("taken ID: %q", code)
	}

	jobs := rita.ok(`{ project(name: "vega") { artifacts(kind: JOB) { edges { node { id viewerPermissions } } } } }`, nil)
	edges := jobs["project"].(map[string]any)["artifacts"].(map[string]any)["edges"].([]any)
	if len(edges) != 1 {
		t.Fatalf("jobs = %v", edges)
	}
	var perms []string
	for _, p := range edges[0].(map[string]any)["node"].(map[string]any)["viewerPermissions"].([]any) {
		perms = append(perms, p.(string))
	}
	slices.Sort(perms)
	if want := []string{"reach_endpoint", "read", "read_logs", "read_status"}; !slices.Equal(perms, want) {
		t.Fatalf("a reader's permissions on a job: %v, want %v", perms, want)
	}

	const artifact = `{ artifact(kind: JOB, id: "train-7") { id project { name } sharedWith { edges { node { user { id } role } } } } }`
	if code := sam.code(artifact, nil); code != "NOT_FOUND" {
		t.Fatalf("unshared user reading: %q", code)
	}
	shared := wendy.ok(`mutation { shareArtifact(input: {kind: JOB, id: "train-7", user: "sam", role: READER}) { consistencyToken } }`, nil)
	tok := shared["shareArtifact"].(map[string]any)["consistencyToken"].(string)
	view := sam.ok(`query($t: String) { artifact(kind: JOB, id: "train-7", consistencyToken: $t) { id project { name } } }`, map[string]any{"t": tok})["artifact"].(map[string]any)
	if view["id"] != "job:train-7" || view["project"] != nil {
		t.Fatalf("a shared user sees %v; the project must stay hidden", view)
	}
	// So do the project's members: the creator, and whom else it is
	// shared with.
	const people = `query($t: String) { artifact(kind: JOB, id: "train-7", consistencyToken: $t) { createdBy { id } } }`
	if by := sam.ok(people, map[string]any{"t": tok})["artifact"].(map[string]any)["createdBy"]; by != nil {
		t.Fatalf("a shared user sees the creator %v", by)
	}
	if by := rita.ok(people, map[string]any{"t": tok})["artifact"].(map[string]any)["createdBy"]; by == nil || by.(map[string]any)["id"] != "user:wendy" {
		t.Fatalf("a project reader sees the creator as %v, want user:wendy", by)
	}
	// Asking for the shares costs a shared user only that field.
	r := sam.do(`query($t: String) { artifact(kind: JOB, id: "train-7", consistencyToken: $t) { name sharedWith { edges { node { role } } } } }`, map[string]any{"t": tok})
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "FORBIDDEN" {
		t.Fatalf("a shared user listing the shares: %v", r.Errors)
	}
	if a, _ := r.Data["artifact"].(map[string]any); a == nil || a["name"] == nil || a["sharedWith"] != nil {
		t.Fatalf("a shared user listing the shares got %v; want the artifact, its shares null", r.Data)
	}
	// sharedWith is a connection: pages in role-then-user order, each page
	// of one listing at the first page's snapshot.
	for _, share := range []struct{ user, role string }{{"una", "WRITER"}, {"vic", "READER"}, {"abe", "WRITER"}, {"zoe", "READER"}} {
		wendy.ok(`mutation($u: ID!, $r: Role!) { shareArtifact(input: {kind: JOB, id: "train-7", user: $u, role: $r}) { consistencyToken } }`,
			map[string]any{"u": share.user, "r": share.role})
	}
	const sharesPage = `query($after: String) { artifact(kind: JOB, id: "train-7") { sharedWith(first: 2, after: $after) {
		edges { cursor node { user { userId } role } } pageInfo { hasNextPage endCursor } } } }`
	var listed []string
	var after any
	for pages := 0; ; pages++ {
		if pages == 1 { // a change between pages does not show in this listing
			wendy.ok(`mutation { unshareArtifact(input: {kind: JOB, id: "train-7", user: "zoe"}) { consistencyToken } }`, nil)
		}
		conn := wendy.ok(sharesPage, map[string]any{"after": after})["artifact"].(map[string]any)["sharedWith"].(map[string]any)
		for _, e := range conn["edges"].([]any) {
			n := e.(map[string]any)["node"].(map[string]any)
			listed = append(listed, n["role"].(string)+":"+n["user"].(map[string]any)["userId"].(string))
		}
		info := conn["pageInfo"].(map[string]any)
		if info["hasNextPage"] != true {
			break
		}
		after = info["endCursor"]
	}
	if want := []string{"READER:sam", "READER:vic", "READER:zoe", "WRITER:abe", "WRITER:una"}; !slices.Equal(listed, want) {
		t.Fatalf("sharedWith pages = %v, want %v", listed, want)
	}
	if code := sam.code(`mutation { shareArtifact(input: {kind: JOB, id: "train-7", user: "eve", role: READER}) { consistencyToken } }`, nil); code != "FORBIDDEN" {
		t.Fatalf("a shared reader re-sharing: %q", code)
	}
	if code := wendy.code(`mutation { shareArtifact(input: {kind: JOB, id: "train-7", user: "eve", role: ADMIN}) { consistencyToken } }`, nil); code != "BAD_USER_INPUT" {
		t.Fatalf("sharing as admin: %q", code)
	}

	removed := wendy.ok(`mutation { removeArtifact(input: {kind: JOB, id: "train-7"}) { consistencyToken } }`, nil)
	tok = removed["removeArtifact"].(map[string]any)["consistencyToken"].(string)
	for name, c := range map[string]client{"alice": alice, "sam": sam} {
		if code := c.code(`query($t: String) { artifact(kind: JOB, id: "train-7", consistencyToken: $t) { id } }`, map[string]any{"t": tok}); code != "NOT_FOUND" {
			t.Fatalf("%s reading a removed artifact: %q", name, code)
		}
	}
}
