package server_test

import (
	"testing"
)

func token(data map[string]any, field string) string {
	return data[field].(map[string]any)["consistencyToken"].(string)
}

// TestMembershipMutationsEndToEnd walks a project's membership through
// every mutation over HTTP, as admin, manager, member and stranger.
func TestMembershipMutationsEndToEnd(t *testing.T) {
	url, auth := startServer(t)
	alice := userClient(t, url, auth, "alice")
	bob := userClient(t, url, auth, "bob")
	carol := userClient(t, url, auth, "carol")
	dave := userClient(t, url, auth, "dave")

	alice.ok(`mutation { createProject(input: {name: "orbit"}) { consistencyToken } }`, nil)
	alice.ok(`mutation { addMember(input: {project: "orbit", user: "bob", role: MANAGER}) { consistencyToken } }`, nil)
	alice.ok(`mutation { addMember(input: {project: "orbit", user: "carol", role: READER}) { consistencyToken } }`, nil)

	const change = `mutation($u: ID!, $r: Role!) { changeMemberRole(input: {project: "orbit", user: $u, role: $r}) { member { user { id } role } consistencyToken } }`
	if got := bob.ok(change, map[string]any{"u": "carol", "r": "WRITER"})["changeMemberRole"].(map[string]any)["member"].(map[string]any)["role"]; got != "WRITER" {
		t.Fatalf("promoted role = %v", got)
	}
	if code := bob.code(change, map[string]any{"u": "carol", "r": "ADMIN"}); code != "FORBIDDEN" {
		t.Fatalf("manager granting admin: %q", code)
	}
	if code := carol.code(change, map[string]any{"u": "carol", "r": "MANAGER"}); code != "FORBIDDEN" {
		t.Fatalf("writer promoting herself: %q", code)
	}
	if code := alice.code(change, map[string]any{"u": "alice", "r": "READER"}); code != "CONFLICT" {
		t.Fatalf("demoting the last admin: %q", code)
	}
	if code := dave.code(change, map[string]any{"u": "carol", "r": "READER"}); code != "NOT_FOUND" {
		t.Fatalf("stranger changing a role: %q", code)
	}
	if code := alice.code(change, map[string]any{"u": "dave", "r": "READER"}); code != "NOT_FOUND" {
		t.Fatalf("changing a non-member: %q", code)
	}

	// "Can I press this button?"
	const can = `query($p: String!, $s: ID) { checkPermission(resource: {type: "project", id: "orbit"}, permission: $p, subject: $s) }`
	checks := []struct {
		who        client
		permission string
		subject    any
		want       any
		code       string
	}{
		{carol, "write", nil, true, ""},
		{carol, "manage_members", nil, false, ""},
		{dave, "read", nil, false, ""},
		{bob, "write", "carol", true, ""},
		{carol, "write", "bob", nil, "FORBIDDEN"},
		{carol, "fly", nil, nil, "BAD_USER_INPUT"},
	}
	for _, c := range checks {
		r := c.who.do(can, map[string]any{"p": c.permission, "s": c.subject})
		if c.code != "" {
			if len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != c.code {
				t.Errorf("checkPermission %s as %v about %v: %v, want %s", c.permission, c.who.token[:8], c.subject, r.Errors, c.code)
			}
			continue
		}
		if len(r.Errors) > 0 || r.Data["checkPermission"] != c.want {
			t.Errorf("checkPermission %s about %v = %v %v, want %v", c.permission, c.subject, r.Data["checkPermission"], r.Errors, c.want)
		}
	}

	// Switching projects: only to one you can read; it sticks.
	switched := carol.ok(`mutation { switchProject(input: {project: "orbit"}) { project { name } consistencyToken } }`, nil)["switchProject"].(map[string]any)
	switchToken, _ := switched["consistencyToken"].(string)
	if switchToken == "" {
		t.Fatalf("switchProject returned no consistency token: %v", switched)
	}
	current := carol.ok(`query($t: String) { viewer { currentProject { name viewerRole } } project(name: "orbit", consistencyToken: $t) { name } }`,
		map[string]any{"t": switchToken})
	if got := current["viewer"].(map[string]any)["currentProject"].(map[string]any)["name"]; got != "orbit" {
		t.Fatalf("current project = %v", got)
	}
	if code := dave.code(`mutation { switchProject(input: {project: "orbit"}) { project { name } } }`, nil); code != "NOT_FOUND" {
		t.Fatalf("stranger switching: %q", code)
	}

	// Removing and leaving.
	removed := bob.ok(`mutation { removeMember(input: {project: "orbit", user: "carol"}) { removedUserId consistencyToken } }`, nil)
	tok := token(removed, "removeMember")
	if got := projectNames(carol.ok(listProjects, map[string]any{"t": tok})); len(got) != 0 {
		t.Fatalf("removed member still lists %v", got)
	}
	if cur := carol.ok(`query { viewer { currentProject { name } } }`, nil)["viewer"].(map[string]any)["currentProject"]; cur != nil {
		t.Fatalf("a removed member's current project is still %v", cur)
	}
	if code := alice.code(`mutation { removeMember(input: {project: "orbit", user: "alice"}) { consistencyToken } }`, nil); code != "CONFLICT" {
		t.Fatalf("removing the last admin: %q", code)
	}
	if code := alice.code(`mutation { leaveProject(input: {project: "orbit"}) { consistencyToken } }`, nil); code != "CONFLICT" {
		t.Fatalf("the last admin leaving: %q", code)
	}
	left := bob.ok(`mutation { leaveProject(input: {project: "orbit"}) { project consistencyToken } }`, nil)
	tok = token(left, "leaveProject")
	if code := bob.code(`query($t: String) { project(name: "orbit", consistencyToken: $t) { name } }`, map[string]any{"t": tok}); code != "NOT_FOUND" {
		t.Fatalf("after leaving, the project is %q, want NOT_FOUND", code)
	}
}

// TestProjectLifecycleEndToEnd updates and deletes a project over HTTP.
func TestProjectLifecycleEndToEnd(t *testing.T) {
	url, auth := startServer(t)
	alice := userClient(t, url, auth, "alice")
	bob := userClient(t, url, auth, "bob")
	alice.ok(`mutation { createProject(input: {name: "lyra"}) { consistencyToken } }`, nil)
	alice.ok(`mutation { addMember(input: {project: "lyra", user: "bob", role: WRITER}) { consistencyToken } }`, nil)
	alice.ok(`mutation { registerArtifact(input: {project: "lyra", kind: BUCKET, id: "lyra-data"}) { consistencyToken } }`, nil)

	const update = `mutation { updateProject(input: {project: "lyra", displayName: "Lyra", description: "harp"}) { project { displayName description } consistencyToken } }`
	if code := bob.code(update, nil); code != "FORBIDDEN" {
		t.Fatalf("writer updating: %q", code)
	}
	p := alice.ok(update, nil)["updateProject"].(map[string]any)["project"].(map[string]any)
	if p["displayName"] != "Lyra" || p["description"] != "harp" {
		t.Fatalf("updated project = %v", p)
	}

	const del = `mutation { deleteProject(input: {project: "lyra"}) { project consistencyToken } }`
	if code := bob.code(del, nil); code != "FORBIDDEN" {
		t.Fatalf("writer deleting: %q", code)
	}
	tok := token(alice.ok(del, nil), "deleteProject")
	for name, c := range map[string]client{"alice": alice, "bob": bob} {
		if code := c.code(`query($t: String) { project(name: "lyra", consistencyToken: $t) { name } }`, map[string]any{"t": tok}); code != "NOT_FOUND" {
			t.Fatalf("%s reading a deleted project: %q", name, code)
		}
		if code := c.code(`query($t: String) { artifact(kind: BUCKET, id: "lyra-data", consistencyToken: $t) { id } }`, map[string]any{"t": tok}); code != "NOT_FOUND" {
			t.Fatalf("%s reading a deleted project's bucket: %q", name, code)
		}
	}
}

// TestViewerProjectsByRole: viewer.projects filters by minimum role.
func TestViewerProjectsByRole(t *testing.T) {
	url, auth := startServer(t)
	alice := userClient(t, url, auth, "alice")
	bob := userClient(t, url, auth, "bob")
	alice.ok(`mutation { createProject(input: {name: "mine"}) { consistencyToken } }`, nil)
	bob.ok(`mutation { createProject(input: {name: "bobs"}) { consistencyToken } }`, nil)
	bob.ok(`mutation { addMember(input: {project: "bobs", user: "alice", role: WRITER}) { consistencyToken } }`, nil)
	names := func(q string) []string {
		var out []string
		for _, e := range alice.ok(q, nil)["viewer"].(map[string]any)["projects"].(map[string]any)["edges"].([]any) {
			out = append(out, e.(map[string]any)["node"].(map[string]any)["name"].(string))
		}
		return out
	}
	if got := names(`{ viewer { projects(minRole: ADMIN) { edges { node { name } } } } }`); len(got) != 1 || got[0] != "mine" {
		t.Fatalf("admin of %v, want [mine]", got)
	}
	if got := names(`{ viewer { projects(minRole: WRITER) { edges { node { name } } } } }`); len(got) != 2 {
		t.Fatalf("at least writer of %v, want both", got)
	}
	if code := alice.code(`{ projects(minRole: ADMIN, permission: READ) { edges { node { name } } } }`, nil); code != "BAD_USER_INPUT" {
		t.Fatalf("minRole and permission together: %q", code)
	}
}
