package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/seed-6461fa00/trellis/graph"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
	"github.com/seed-6461fa00/trellis/server"
)

// TestRequestLimits: deep, complex, oversized and GET-mutation requests are
// refused before they reach the graph, with the status and error shape of
// the GraphQL over HTTP specification.
func TestRequestLimits(t *testing.T) {
	url, auth := startServer(t)
	alice := userClient(t, url, auth, "alice")
	alice.ok(`mutation { createProject(input: {name: "deep"}) { consistencyToken } }`, nil)

	deep := `{ project(name: "deep") { members { edges { node { user { id } } } } } }`
	if r := alice.do(deep, nil); len(r.Errors) > 0 {
		t.Fatalf("a reasonable query was refused: %v", r.Errors)
	}
	tooDeep := "{ viewer { currentProject { artifacts(kind: JOB, first: 1) { edges { node { project { artifacts(kind: JOB, first: 1) { edges { node { project { members(first: 1) { edges { node { user { id } } } } } } } } } } } } } } }"
	if r := alice.do(tooDeep, nil); len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "nested") {
		t.Fatalf("a 15-level query: %v", r.Errors)
	}
	wide := `{ projects(first: 100) { edges { node { members(first: 100) { edges { node { role } } } } } } }`
	if r := alice.do(wide, nil); len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Fatalf("a query of complexity far above the limit: %v", r.Errors)
	}

	big := bytes.Repeat([]byte(" "), 2<<20)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(append([]byte(`{"query":"{ viewer { id } }"`), append(big, '}')...)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+alice.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	refusal, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(refusal), `"code":"BAD_REQUEST"`) {
		t.Fatalf("a 2 MiB body: status %d, %s", resp.StatusCode, refusal)
	}

	get, _ := http.NewRequest(http.MethodGet, url+`?query=mutation{createProject(input:{name:"via-get"}){consistencyToken}}`, nil)
	get.Header.Set("Authorization", "Bearer "+alice.token)
	resp, err = http.DefaultClient.Do(get)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK && body["errors"] == nil {
		t.Fatal("a mutation over GET was executed")
	}
	if r := alice.do(`{ project(name: "via-get") { name } }`, nil); len(r.Errors) == 0 {
		t.Fatal("the project created over GET exists")
	}

	// A parse error with the GraphQL response media type is a 400.
	req, _ = http.NewRequest(http.MethodPost, url, strings.NewReader(`{"query":"{ viewer { "}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	req.Header.Set("Authorization", "Bearer "+alice.token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/graphql-response+json") {
		t.Fatalf("parse error: status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// TestIntrospectionSwitch: with introspection off, the schema cannot be
// read, and ordinary queries still run.
func TestIntrospectionSwitch(t *testing.T) {
	env := relationstest.Open(t)
	url, auth := serveGraph(t, env, server.Options{GraphQL: graph.Options{DisableIntrospection: true}})
	alice := userClient(t, url, auth, "alice")
	// Refused as the client's mistake, not reported as a failure of ours.
	for _, q := range []string{`{ __schema { types { name } } }`, `{ __type(name: "Project") { name } }`} {
		if r := alice.do(q, nil); len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "introspection is turned off") {
			t.Fatalf("%s while introspection is off: %v", q, r.Errors)
		}
	}
	alice.ok(`{ viewer { id __typename } }`, nil)
}

// TestPersistedQueryMistakesAreTheClients: a persisted query whose hash
// does not match its text is a bad request, not an internal error.
func TestPersistedQueryMistakesAreTheClients(t *testing.T) {
	url, auth := startServer(t)
	alice := userClient(t, url, auth, "alice")
	r := alice.do(`{ viewer { id } }`, nil, func(req map[string]any) {
		req["extensions"] = map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": strings.Repeat("0", 64)}}
	})
	if len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "BAD_REQUEST" || !strings.Contains(r.Errors[0].Message, "hash does not match") {
		t.Fatalf("a persisted query with the wrong hash: %v", r.Errors)
	}
}

// TestIntrospectionIsBounded: the full introspection query GraphiQL sends
// is answered, while one whose aliases would multiply its answer into the
// billions is refused before it runs.
func TestIntrospectionIsBounded(t *testing.T) {
	url, auth := startServer(t)
	alice := userClient(t, url, auth, "alice")

	full, err := os.ReadFile("../graph/introspection.graphql")
	if err != nil {
		t.Fatal(err)
	}
	r := alice.do(string(full), nil)
	if len(r.Errors) > 0 {
		t.Fatalf("GraphiQL's introspection query was refused: %v", r.Errors)
	}
	schema, _ := r.Data["__schema"].(map[string]any)
	if types, _ := schema["types"].([]any); len(types) < 10 {
		t.Fatalf("introspection answered %d types", len(types))
	}

	// Aliases in fragments multiply an answer at every level, within
	// the nesting of lists that validation allows introspection.
	aliases := func(n int, field, spread string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "a%d: %s { %s } ", i, field, spread)
		}
		return b.String()
	}
	query := `{ __schema { types { ...T } } }
fragment T on __Type { ` + aliases(20, "fields", "...F") + ` }
fragment F on __Field { ` + aliases(20, "args", "...A") + ` }
fragment A on __InputValue { ` + aliases(20, "type", "...R") + ` }
fragment R on __Type { ` + aliases(20, "fields", "name") + ` }`
	r = alice.do(query, nil)
	if len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "introspection") {
		t.Errorf("introspection multiplied by aliases: answered with errors %v; want it refused", r.Errors)
	}
}

// TestFragmentsSpreadTwiceOverAreCheap: fragments that each spread the
// next twice expand to a trillion fields; the limits measure each fragment
// once, so such a request is refused at once rather than walked.
func TestFragmentsSpreadTwiceOverAreCheap(t *testing.T) {
	url, auth := startServer(t)
	alice := userClient(t, url, auth, "alice")
	const levels = 40
	chain := func(root, on, leaf string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "%s\n", root)
		for i := range levels {
			fmt.Fprintf(&b, "fragment F%d on %s { ...F%d ...F%d }\n", i, on, i+1, i+1)
		}
		fmt.Fprintf(&b, "fragment F%d on %s { %s }\n", levels, on, leaf)
		return b.String()
	}
	for name, query := range map[string]string{
		"fields":        chain("{ viewer { ...F0 } }", "Viewer", "id"),
		"introspection": chain(`{ __type(name: "Node") { ...F0 } }`, "__Type", "name"),
	} {
		done := make(chan gqlResponse, 1)
		go func() { done <- alice.do(query, nil) }()
		select {
		case r := <-done:
			if len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
				t.Errorf("%s: answered with errors %v; want it refused", name, r.Errors)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no answer after 30 s: the limits walk every expansion", name)
		}
	}
}

// TestManyFieldsAreRefusedBeforeValidation: GraphQL validation compares
// the fields of one name pairwise, so a document of many copies of one
// field would hold a core for minutes inside a 1 MiB body. One selecting
// more fields than the complexity limit is refused before it is validated;
// one at the limit is served.
func TestManyFieldsAreRefusedBeforeValidation(t *testing.T) {
	url, auth := startServer(t)
	alice := userClient(t, url, auth, "alice")
	for name, q := range map[string]string{
		"fields":           "{" + strings.Repeat(" viewer { id }", 1001) + " }",
		"fragment spreads": "{" + strings.Repeat(" ...F", 2001) + " } fragment F on Query { viewer { id } }",
		"arguments":        "{ viewer { id } project(" + strings.Repeat("a: 1 ", 2001) + ") { name } }",
	} {
		r := alice.do(q, nil)
		if len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "selections and arguments") {
			t.Fatalf("%s beyond the limit: %v; want them refused by count", name, r.Errors)
		}
	}
	alice.ok("{"+strings.Repeat(" viewer { id }", 100)+" }", nil)
	// Values are not selections, but the parser reads no more tokens
	// than its limit.
	r := alice.do(`{ project(name: [`+strings.Repeat(`"x", `, 20_000)+`]) { name } }`, nil)
	if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "token limit") {
		t.Fatalf("a document of 40,000 tokens: %v; want it refused by the token limit", r.Errors)
	}
}
