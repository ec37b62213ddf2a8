package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seed-6461fa00/trellis/relations/relationstest"
	"github.com/seed-6461fa00/trellis/server"
)

// client speaks GraphQL over HTTP as one user.
type client struct {
	t     *testing.T
	url   string
	token string
}

type gqlResponse struct {
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
		Path       []any          `json:"path"`
	} `json:"errors"`
	status int
}

func (c client) do(query string, vars map[string]any, adjust ...func(request map[string]any)) gqlResponse {
	c.t.Helper()
	request := map[string]any{"variables": vars}
	if query != "" {
		request["query"] = query
	}
	for _, a := range adjust {
		a(request)
	}
	body, _ := json.Marshal(request)
	req, err := http.NewRequestWithContext(c.t.Context(), http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		c.t.Fatalf("decode response: %v", err)
	}
	out.status = resp.StatusCode
	return out
}

// withExtensions sets a request's extensions.
func withExtensions(ext map[string]any) func(map[string]any) {
	return func(request map[string]any) { request["extensions"] = ext }
}

// ok runs query and fails the test on any error.
func (c client) ok(query string, vars map[string]any) map[string]any {
	c.t.Helper()
	r := c.do(query, vars)
	if len(r.Errors) > 0 {
		c.t.Fatalf("%s: %v", query, r.Errors)
	}
	return r.Data
}

// code runs query and returns the code of its first error ("" if none).
func (c client) code(query string, vars map[string]any) string {
	c.t.Helper()
	r := c.do(query, vars)
	if len(r.Errors) == 0 {
		return ""
	}
	code, _ := r.Errors[0].Extensions["code"].(string)
	return code
}

func startServer(t *testing.T) (url string, auth *server.Authenticator) {
	t.Helper()
	return serveGraph(t, relationstest.Open(t), server.Options{})
}

// serveGraph serves env's graph with opts (and an HS256 authenticator)
// until the test ends, and returns its /graphql URL and the authenticator.
func serveGraph(t *testing.T, env *relationstest.Env, opts server.Options) (url string, auth *server.Authenticator) {
	t.Helper()
	auth, err := server.NewAuthenticator(server.AuthConfig{Secret: []byte(strings.Repeat("s", 32))})
	if err != nil {
		t.Fatal(err)
	}
	opts.Auth = auth
	h, err := server.NewHandler(env.Graph, opts)
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + listen(t, h).Addr() + "/graphql", auth
}

// listen serves h on a free loopback port until the test ends.
func listen(t *testing.T, h http.Handler, opts ...server.ListenOption) *server.HTTPServer {
	t.Helper()
	srv, err := server.Listen("127.0.0.1:0", h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv
}

func userClient(t *testing.T, url string, auth *server.Authenticator, name string) client {
	t.Helper()
	tok, err := auth.Mint(name, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return client{t: t, url: url, token: tok}
}

func projectNames(data map[string]any) []string {
	var names []string
	for _, e := range data["projects"].(map[string]any)["edges"].([]any) {
		names = append(names, e.(map[string]any)["node"].(map[string]any)["name"].(string))
	}
	slices.Sort(names)
	return names
}

const listProjects = `query($t: String) { projects(consistencyToken: $t) { edges { node { name viewerRole } } } }`

// TestGraphQLEndToEnd drives the API over HTTP as three users.
func TestGraphQLEndToEnd(t *testing.T) {
	url, auth := startServer(t)
	alice := userClient(t, url, auth, "alice")
	bob := userClient(t, url, auth, "bob")
	carol := userClient(t, url, auth, "carol@example.com") // not a valid SpiceDB ID: encoded

	created := alice.ok(`mutation { createProject(input: {name: "apollo", displayName: "Apollo"}) {
		project { name displayName viewerRole createdBy { id } } consistencyToken } }`, nil)
	payload := created["createProject"].(map[string]any)
	if got := payload["project"].(map[string]any)["viewerRole"]; got != "ADMIN" {
		t.Fatalf("creator's role = %v, want ADMIN", got)
	}
	alice.ok(`mutation { createProject(input: {name: "hermes"}) { consistencyToken } }`, nil)
	if code := bob.code(`mutation { createProject(input: {name: "apollo"}) { consistencyToken } }`, nil); code != "CONFLICT" {
		t.Fatalf("taken name: code %q, want CONFLICT", code)
	}
	if code := bob.code(`mutation { createProject(input: {name: "Not A Slug"}) { consistencyToken } }`, nil); code != "BAD_USER_INPUT" {
		t.Fatalf("bad name: code %q, want BAD_USER_INPUT", code)
	}

	// Bob sees nothing of apollo before he is added: NOT_FOUND, not FORBIDDEN.
	if code := bob.code(`{ project(name: "apollo") { name } }`, nil); code != "NOT_FOUND" {
		t.Fatalf("stranger reading a project: code %q, want NOT_FOUND", code)
	}
	if code := bob.code(`mutation { addMember(input: {project: "apollo", user: "bob", role: ADMIN}) { consistencyToken } }`, nil); code != "NOT_FOUND" {
		t.Fatalf("stranger adding himself: code %q, want NOT_FOUND", code)
	}

	added := alice.ok(`mutation { addMember(input: {project: "apollo", user: "bob", role: MANAGER}) { member { role } consistencyToken } }`, nil)
	token := added["addMember"].(map[string]any)["consistencyToken"].(string)

	// With the token of alice's write, bob sees the project at once.
	if got := projectNames(bob.ok(listProjects, map[string]any{"t": token})); !slices.Equal(got, []string{"apollo"}) {
		t.Fatalf("bob's projects = %v, want [apollo]", got)
	}
	// A manager adds members up to manager, never an admin.
	carolID := userID(t, carol)
	if code := bob.code(`mutation($u: ID!) { addMember(input: {project: "apollo", user: $u, role: ADMIN}) { consistencyToken } }`, map[string]any{"u": carolID}); code != "FORBIDDEN" {
		t.Fatalf("manager granting admin: code %q, want FORBIDDEN", code)
	}
	added = bob.ok(`mutation($u: ID!) { addMember(input: {project: "apollo", user: $u, role: READER}) { consistencyToken } }`, map[string]any{"u": carolID})
	token = added["addMember"].(map[string]any)["consistencyToken"].(string)

	// Carol, a reader, sees the members but may not add anyone.
	members := carol.ok(`query($t: String) { project(name: "apollo", consistencyToken: $t) { viewerRole members { edges { node { user { userId } role } } } } }`,
		map[string]any{"t": token})
	project := members["project"].(map[string]any)
	if project["viewerRole"] != "READER" {
		t.Fatalf("carol's role = %v", project["viewerRole"])
	}
	var roster []string
	for _, e := range project["members"].(map[string]any)["edges"].([]any) {
		n := e.(map[string]any)["node"].(map[string]any)
		roster = append(roster, n["user"].(map[string]any)["userId"].(string)+"="+n["role"].(string))
	}
	slices.Sort(roster)
	want := []string{carolID + "=READER", "alice=ADMIN", "bob=MANAGER"}
	slices.Sort(want)
	if !slices.Equal(roster, want) {
		t.Fatalf("members = %v, want %v", roster, want)
	}
	if code := carol.code(`mutation { addMember(input: {project: "apollo", user: "dave", role: READER}) { consistencyToken } }`, nil); code != "FORBIDDEN" {
		t.Fatalf("reader inviting: code %q, want FORBIDDEN", code)
	}

	// Each user lists exactly the projects they belong to.
	if got := projectNames(alice.ok(listProjects, map[string]any{"t": token})); !slices.Equal(got, []string{"apollo", "hermes"}) {
		t.Fatalf("alice's projects = %v", got)
	}
	if got := projectNames(carol.ok(listProjects, map[string]any{"t": token})); !slices.Equal(got, []string{"apollo"}) {
		t.Fatalf("carol's projects = %v", got)
	}
}

func userID(t *testing.T, c client) string {
	t.Helper()
	return c.ok(`{ viewer { user { userId } } }`, nil)["viewer"].(map[string]any)["user"].(map[string]any)["userId"].(string)
}

// TestUnauthenticated: no token, a bad token, or a token signed with
// another key are all refused before any resolver runs.
func TestUnauthenticated(t *testing.T) {
	url, _ := startServer(t)
	other, err := server.NewAuthenticator(server.AuthConfig{Secret: []byte(strings.Repeat("x", 32))})
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := other.Mint("alice", time.Hour)
	for name, tok := range map[string]string{"none": "", "malformed": "not-a-jwt", "wrong key": forged} {
		r := client{t: t, url: url, token: tok}.do(`{ viewer { id } }`, nil)
		if r.status != http.StatusUnauthorized || len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "UNAUTHENTICATED" {
			t.Errorf("%s: status %d, errors %v; want 401 UNAUTHENTICATED", name, r.status, r.Errors)
		}
		if r.Data != nil {
			t.Errorf("%s: data returned without authentication: %v", name, r.Data)
		}
	}
}

// TestReadmeTourQuery sends the query the README's tour has bob send, as
// written there, so the tour cannot drift from the API or its limits.
func TestReadmeTourQuery(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`-d '(\{"query":.*\})'`).FindSubmatch(readme)
	if m == nil {
		t.Fatal("the README's tour has no curl query")
	}
	url, auth := startServer(t)
	alice := userClient(t, url, auth, "alice")
	bob := userClient(t, url, auth, "bob")
	alice.ok(`mutation { createProject(input: {name: "apollo", displayName: "Apollo"}) { consistencyToken } }`, nil)
	added := alice.ok(`mutation { addMember(input: {project: "apollo", user: "bob", role: WRITER}) { consistencyToken } }`, nil)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+bob.token)
	req.Header.Set("X-Consistency-Token", added["addMember"].(map[string]any)["consistencyToken"].(string))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), `"errors"`) ||
		!strings.Contains(string(body), `"name":"apollo","viewerRole":"WRITER"`) {
		t.Fatalf("the README's query as bob: %d %s", resp.StatusCode, body)
	}
}

// TestFirstZeroListsNothing: first: 0 returns no items, and says whether
// any would follow, for projects, members and artifacts alike.
func TestFirstZeroListsNothing(t *testing.T) {
	url, auth := startServer(t)
	alice := userClient(t, url, auth, "alice")
	nobody := userClient(t, url, auth, "nobody")
	created := alice.ok(`mutation { createProject(input: {name: "apollo"}) { consistencyToken } }`, nil)
	token := created["createProject"].(map[string]any)["consistencyToken"].(string)
	const q = `query($t: String) {
		projects(first: 0, consistencyToken: $t) { edges { node { name } } pageInfo { hasNextPage } }
		project(name: "apollo", consistencyToken: $t) { members(first: 0) { edges { node { role } } pageInfo { hasNextPage } } }
	}`
	data := alice.ok(q, map[string]any{"t": token})
	projects := data["projects"].(map[string]any)
	members := data["project"].(map[string]any)["members"].(map[string]any)
	for name, conn := range map[string]map[string]any{"projects": projects, "members": members} {
		if edges := conn["edges"].([]any); len(edges) != 0 || conn["pageInfo"].(map[string]any)["hasNextPage"] != true {
			t.Fatalf("%s(first: 0): %v; want no edges and more to follow", name, conn)
		}
	}
	none := nobody.ok(`query($t: String) { projects(first: 0, consistencyToken: $t) { edges { node { name } } pageInfo { hasNextPage } } }`, map[string]any{"t": token})
	if info := none["projects"].(map[string]any)["pageInfo"].(map[string]any); info["hasNextPage"] != false {
		t.Fatalf("first: 0 for a user with no projects: %v; want nothing to follow", none)
	}
}

// TestInputErrorsNameTheirField: a bad subject of checkPermission and a
// consistency token no graph issued are each the client's mistake, named
// by the argument it came in.
func TestInputErrorsNameTheirField(t *testing.T) {
	url, auth := startServer(t)
	alice := userClient(t, url, auth, "alice")
	alice.ok(`mutation { createProject(input: {name: "apollo"}) { consistencyToken } }`, nil)
	for field, q := range map[string]string{
		"subject":          `{ checkPermission(resource: {type: "project", id: "apollo"}, permission: "read", subject: "渡辺") }`,
		"consistencyToken": `{ project(name: "apollo", consistencyToken: "not-a-token") { name } }`,
	} {
		r := alice.do(q, nil)
		if len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != field {
			t.Errorf("%s: %v; want BAD_USER_INPUT naming %s", q, r.Errors, field)
		}
	}
}
