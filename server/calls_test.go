package server_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
	"github.com/seed-6461fa00/trellis/server"
)

// countingConn counts the SpiceDB calls relations makes, by method.
type countingConn struct {
	grpc.ClientConnInterface
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingConn) count(method string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[method[strings.LastIndex(method, "/")+1:]]++
}

func (c *countingConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	c.count(method)
	return c.ClientConnInterface.Invoke(ctx, method, args, reply, opts...)
}

func (c *countingConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	c.count(method)
	return c.ClientConnInterface.NewStream(ctx, desc, method, opts...)
}

// checker counts the checks relations runs in process as "CheckAtHead".
func (c *countingConn) checker(inner relations.HeadChecker) relations.HeadChecker {
	return countingChecker{inner, c}
}

type countingChecker struct {
	relations.HeadChecker
	counter *countingConn
}

func (c countingChecker) CheckAtHead(ctx context.Context, resourceType, resourceID, permission, subjectType, subjectID string) (bool, error) {
	c.counter.count("CheckAtHead")
	return c.HeadChecker.CheckAtHead(ctx, resourceType, resourceID, permission, subjectType, subjectID)
}

// open starts a graph whose SpiceDB calls c counts, in process or not.
func (c *countingConn) open(t *testing.T) *relationstest.Env {
	return relationstest.Open(t,
		relationstest.WrapConn(func(inner grpc.ClientConnInterface) grpc.ClientConnInterface {
			c.ClientConnInterface = inner
			return c
		}),
		relationstest.WrapChecker(c.checker))
}

func (c *countingConn) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := maps.Clone(c.calls)
	c.calls = map[string]int{}
	return out
}

// TestProjectPageCostsConstantCalls: a projects page with viewerRole,
// viewerPermissions and can() costs the same SpiceDB calls for 5 projects
// as for 100: one lookup and one bulk check.
func TestProjectPageCostsConstantCalls(t *testing.T) {
	counter := &countingConn{calls: map[string]int{}}
	env := counter.open(t)
	url, auth := serveGraph(t, env, server.Options{})
	alice := userClient(t, url, auth, "alice")
	aliceUser := relationstest.MustUser(t, "alice")
	for i := range 120 {
		if _, _, err := env.Graph.CreateProject(t.Context(), aliceUser, relations.NewProject{Name: fmt.Sprintf("p-%03d", i)}); err != nil {
			t.Fatal(err)
		}
	}

	const page = `query($n: Int) { projects(first: $n) { edges { node { name viewerRole viewerPermissions can(permission: DELETE) } } } }`
	var first map[string]int
	for _, n := range []int{5, 50, 100} {
		counter.take()
		data := alice.ok(page, map[string]any{"n": n})
		edges := data["projects"].(map[string]any)["edges"].([]any)
		if len(edges) != n {
			t.Fatalf("page of %d has %d projects", n, len(edges))
		}
		for _, e := range edges {
			node := e.(map[string]any)["node"].(map[string]any)
			if node["viewerRole"] != "ADMIN" || node["can"] != true || len(node["viewerPermissions"].([]any)) != 5 {
				t.Fatalf("project as its admin sees it: %v", node)
			}
		}
		calls := counter.take()
		t.Logf("page of %d: %v", n, calls)
		if first == nil {
			first = calls
			continue
		}
		if !maps.Equal(calls, first) {
			t.Fatalf("page of %d made %v calls; page of 5 made %v", n, calls, first)
		}
	}
	if total := first["LookupResources"] + first["CheckBulkPermissions"]; total != 2 || len(first) != 2 {
		t.Fatalf("a page costs %v, want one LookupResources and one CheckBulkPermissions", first)
	}
}

// TestArtifactPageCostsConstantCalls: an artifacts page with
// viewerPermissions costs the same SpiceDB calls for 5 artifacts as for 60.
func TestArtifactPageCostsConstantCalls(t *testing.T) {
	counter := &countingConn{calls: map[string]int{}}
	env := counter.open(t)
	url, auth := serveGraph(t, env, server.Options{})
	alice := userClient(t, url, auth, "alice")
	aliceUser := relationstest.MustUser(t, "alice")
	if _, _, err := env.Graph.CreateProject(t.Context(), aliceUser, relations.NewProject{Name: "jobs"}); err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		if _, _, err := env.Graph.RegisterArtifact(t.Context(), aliceUser, "jobs", relations.ArtifactRef{Kind: "job", ID: fmt.Sprintf("j-%02d", i)}, ""); err != nil {
			t.Fatal(err)
		}
	}
	const page = `query($n: Int) { project(name: "jobs") { artifacts(kind: JOB, first: $n) { edges { node { id viewerPermissions project { name } } } } } }`
	var first map[string]int
	for _, n := range []int{5, 60} {
		counter.take()
		alice.ok(page, map[string]any{"n": n})
		calls := counter.take()
		t.Logf("page of %d: %v", n, calls)
		if first == nil {
			first = calls
		} else if !maps.Equal(calls, first) {
			t.Fatalf("page of %d made %v calls; page of 5 made %v", n, calls, first)
		}
	}
}

// TestNodesCostConstantCalls: nodes over 5 or 60 projects and artifacts
// costs the same SpiceDB calls for the checks: one bulk check per kind of
// object, not one per ID.
func TestNodesCostConstantCalls(t *testing.T) {
	counter := &countingConn{calls: map[string]int{}}
	env := counter.open(t)
	url, auth := serveGraph(t, env, server.Options{})
	alice := userClient(t, url, auth, "alice")
	aliceUser := relationstest.MustUser(t, "alice")
	var projects []string
	for i := range 60 {
		name := fmt.Sprintf("n-%02d", i)
		if _, _, err := env.Graph.CreateProject(t.Context(), aliceUser, relations.NewProject{Name: name}); err != nil {
			t.Fatal(err)
		}
		projects = append(projects, "project:"+name)
	}
	const query = `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`
	var first map[string]int
	for _, n := range []int{5, 60} {
		counter.take()
		got := alice.ok(query, map[string]any{"ids": projects[:n]})["nodes"].([]any)
		if len(got) != n || got[n-1] == nil {
			t.Fatalf("nodes of %d: %v", n, got)
		}
		calls := counter.take()
		t.Logf("nodes of %d: %v", n, calls)
		if first == nil {
			first = calls
		} else if !maps.Equal(calls, first) {
			t.Fatalf("nodes of %d made %v calls; nodes of 5 made %v", n, calls, first)
		}
	}
	if first["CheckBulkPermissions"] != 1 || len(first) != 1 {
		t.Fatalf("nodes over projects cost %v, want one CheckBulkPermissions", first)
	}
}

// TestWritesRunInProcess: with SpiceDB embedded, the writes of a create,
// add, change of role and registration, and the deletions of an artifact's
// and a project's removal, run in process, none over the connection, and
// read back at once.
func TestWritesRunInProcess(t *testing.T) {
	counter := &countingConn{calls: map[string]int{}}
	env := counter.open(t)
	ctx := t.Context()
	alice, bob := relationstest.MustUser(t, "alice"), relationstest.MustUser(t, "bob")
	if _, _, err := env.Graph.CreateProject(ctx, alice, relations.NewProject{Name: "atlas"}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Graph.AddMember(ctx, alice, "atlas", bob, relations.RoleReader); err != nil {
		t.Fatal(err)
	}
	token, err := env.Graph.ChangeRole(ctx, alice, "atlas", bob, relations.RoleWriter)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.Graph.RegisterArtifact(ctx, bob, "atlas", relations.ArtifactRef{Kind: "job", ID: "atlas-build"}, ""); err != nil {
		t.Fatal(err)
	}
	if calls := counter.take(); calls["WriteRelationships"] != 0 {
		t.Fatalf("writes went over the connection: %v", calls)
	}
	if role, ok, err := env.Graph.Role(ctx, bob, "atlas", token); err != nil || !ok || role != relations.RoleWriter {
		t.Fatalf("bob's role at the change's token: %v %v %v", role, ok, err)
	}
	if _, err := env.Graph.RemoveArtifact(ctx, bob, relations.ArtifactRef{Kind: "job", ID: "atlas-build"}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Graph.DeleteProject(ctx, alice, "atlas"); err != nil {
		t.Fatal(err)
	}
	if calls := counter.take(); calls["DeleteRelationships"] != 0 || calls["WriteRelationships"] != 0 {
		t.Fatalf("deletions went over the connection: %v", calls)
	}
	if _, err := env.Graph.Project(ctx, alice, "atlas", ""); relations.ErrorCode(err) != relations.CodeNotFound {
		t.Fatalf("the deleted project: %v", err)
	}
}
