package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const (
	graphqlResponse = "application/graphql-response+json"
	legacyJSON      = "application/json"
)

// httpCase is one request of the GraphQL-over-HTTP specification and the
// answer it prescribes.
type httpCase struct {
	name        string
	method      string
	contentType string // of the request; "" sends none
	accept      string // "" sends none
	body        string // POST body, or the GET query string
	status      int
	respType    string // media type of the response ("" not checked)
	hasData     bool   // the response carries a data entry
	code        string // extensions.code of the first error, if any expected
}

func (c httpCase) run(t *testing.T, endpoint, token string) {
	t.Helper()
	var req *http.Request
	if c.method == http.MethodGet {
		req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, endpoint+"?"+c.body, nil)
	} else {
		req, _ = http.NewRequestWithContext(t.Context(), c.method, endpoint, strings.NewReader(c.body))
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	if c.accept != "" {
		req.Header.Set("Accept", c.accept)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != c.status {
		t.Errorf("status %d, want %d: %s", resp.StatusCode, c.status, raw)
	}
	if c.respType != "" {
		if got := strings.TrimSpace(strings.Split(resp.Header.Get("Content-Type"), ";")[0]); got != c.respType {
			t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), c.respType)
		}
	}
	if (c.status == http.StatusMethodNotAllowed || c.method == http.MethodOptions) && resp.Header.Get("Allow") == "" {
		t.Errorf("%d without an Allow header", resp.StatusCode)
	}
	if c.respType == "" {
		return
	}
	var body struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("response is not a GraphQL response: %v: %s", err, raw)
	}
	if hasData := body.Data != nil; hasData != c.hasData {
		t.Errorf("data present = %v, want %v: %s", hasData, c.hasData, raw)
	}
	switch {
	case c.code != "":
		if len(body.Errors) == 0 || body.Errors[0].Extensions["code"] != c.code {
			t.Errorf("errors %s, want first code %s", raw, c.code)
		}
	case len(body.Errors) > 0:
		t.Errorf("unexpected errors: %s", raw)
	}
}

func q(s string) string { return url.Values{"query": {s}}.Encode() }

// TestGraphQLOverHTTP walks the GraphQL-over-HTTP specification: media
// types both ways, GET for queries only, and the status codes it gives for
// a request that cannot be parsed, a document that does not parse or
// validate, variables that do not coerce, and errors during execution.
func TestGraphQLOverHTTP(t *testing.T) {
	endpoint, auth := startServer(t)
	alice := userClient(t, endpoint, auth, "alice")
	alice.ok(`mutation { createProject(input: {name: "apollo"}) { consistencyToken } }`, nil)

	post, get := http.MethodPost, http.MethodGet
	ok := `{"query":"{ viewer { id } }"}`
	cases := []httpCase{
		// Media types.
		{name: "graphql-response+json accepted", method: post, contentType: legacyJSON, accept: graphqlResponse, body: ok, status: 200, respType: graphqlResponse, hasData: true},
		{name: "json accepted", method: post, contentType: legacyJSON, accept: legacyJSON, body: ok, status: 200, respType: legacyJSON, hasData: true},
		{name: "no Accept header", method: post, contentType: legacyJSON, body: ok, status: 200, respType: legacyJSON, hasData: true},
		{name: "Accept */*", method: post, contentType: legacyJSON, accept: "*/*", body: ok, status: 200, hasData: true},
		{name: "Accept with quality, preferring graphql-response+json", method: post, contentType: legacyJSON, accept: "application/json;q=0.5, application/graphql-response+json", body: ok, status: 200, respType: graphqlResponse, hasData: true},
		{name: "charset parameter", method: post, contentType: "application/json; charset=utf-8", accept: graphqlResponse, body: ok, status: 200, respType: graphqlResponse, hasData: true},
		{name: "unacceptable Accept", method: post, contentType: legacyJSON, accept: "text/html", body: ok, status: 406},
		{name: "unsupported Content-Type", method: post, contentType: "text/plain", accept: graphqlResponse, body: ok, status: 415},
		{name: "no Content-Type", method: post, accept: graphqlResponse, body: ok, status: 415},

		// Requests that cannot be parsed: 400 under either media type.
		{name: "body is not JSON", method: post, contentType: legacyJSON, accept: graphqlResponse, body: `{"query":`, status: 400, respType: graphqlResponse, code: "BAD_REQUEST"},
		{name: "body is not JSON (json)", method: post, contentType: legacyJSON, accept: legacyJSON, body: `{"query":`, status: 400, respType: legacyJSON, code: "BAD_REQUEST"},
		{name: "no query", method: post, contentType: legacyJSON, accept: graphqlResponse, body: `{}`, status: 400, respType: graphqlResponse, code: "BAD_REQUEST"},
		{name: "query is not a string", method: post, contentType: legacyJSON, accept: graphqlResponse, body: `{"query": 7}`, status: 400, respType: graphqlResponse, code: "BAD_REQUEST"},
		{name: "variables not an object", method: post, contentType: legacyJSON, accept: graphqlResponse, body: `{"query":"{ viewer { id } }","variables":[1]}`, status: 400, respType: graphqlResponse, code: "BAD_REQUEST"},
		{name: "extensions not an object", method: post, contentType: legacyJSON, accept: graphqlResponse, body: `{"query":"{ viewer { id } }","extensions":"x"}`, status: 400, respType: graphqlResponse, code: "BAD_REQUEST"},

		// Documents that do not parse or validate, and variables that do not
		// coerce: 400 with graphql-response+json, 200 with json; no data.
		{name: "syntax error", method: post, contentType: legacyJSON, accept: graphqlResponse, body: `{"query":"{ viewer { id "}`, status: 400, respType: graphqlResponse, code: "GRAPHQL_PARSE_FAILED"},
		{name: "syntax error (json)", method: post, contentType: legacyJSON, accept: legacyJSON, body: `{"query":"{ viewer { id "}`, status: 200, respType: legacyJSON, code: "GRAPHQL_PARSE_FAILED"},
		{name: "unknown field", method: post, contentType: legacyJSON, accept: graphqlResponse, body: `{"query":"{ viewer { nope } }"}`, status: 400, respType: graphqlResponse, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "unknown field (json)", method: post, contentType: legacyJSON, accept: legacyJSON, body: `{"query":"{ viewer { nope } }"}`, status: 200, respType: legacyJSON, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "variable of the wrong type", method: post, contentType: legacyJSON, accept: graphqlResponse, body: `{"query":"query($n: Int) { projects(first: $n) { edges { cursor } } }","variables":{"n":"ten"}}`, status: 400, respType: graphqlResponse, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "variable of the wrong type (json)", method: post, contentType: legacyJSON, accept: legacyJSON, body: `{"query":"query($n: Int) { projects(first: $n) { edges { cursor } } }","variables":{"n":"ten"}}`, status: 200, respType: legacyJSON, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "missing required variable", method: post, contentType: legacyJSON, accept: graphqlResponse, body: `{"query":"query($p: String!) { project(name: $p) { name } }"}`, status: 400, respType: graphqlResponse, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "unknown operationName", method: post, contentType: legacyJSON, accept: graphqlResponse, body: `{"query":"query A { viewer { id } }","operationName":"B"}`, status: 400, respType: graphqlResponse, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "two operations, no operationName", method: post, contentType: legacyJSON, accept: graphqlResponse, body: `{"query":"query A { viewer { id } } query B { viewer { id } }"}`, status: 400, respType: graphqlResponse, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "two operations, one named", method: post, contentType: legacyJSON, accept: graphqlResponse, body: `{"query":"query A { viewer { id } } query B { viewer { id } }","operationName":"B"}`, status: 200, respType: graphqlResponse, hasData: true},

		// Once execution starts the status is 2xx: field errors sit beside data.
		{name: "field error", method: post, contentType: legacyJSON, accept: graphqlResponse, body: `{"query":"{ project(name: \"nowhere\") { name } }"}`, status: 200, respType: graphqlResponse, hasData: true, code: "NOT_FOUND"},
		{name: "field error (json)", method: post, contentType: legacyJSON, accept: legacyJSON, body: `{"query":"{ project(name: \"nowhere\") { name } }"}`, status: 200, respType: legacyJSON, hasData: true, code: "NOT_FOUND"},

		// GET: queries only.
		{name: "GET query", method: get, accept: graphqlResponse, body: q(`{ project(name: "apollo") { name } }`), status: 200, respType: graphqlResponse, hasData: true},
		{name: "GET with variables", method: get, accept: graphqlResponse, body: q(`query($p: String!) { project(name: $p) { name } }`) + "&variables=" + url.QueryEscape(`{"p":"apollo"}`), status: 200, respType: graphqlResponse, hasData: true},
		{name: "GET mutation", method: get, accept: graphqlResponse, body: q(`mutation { createProject(input: {name: "via-get"}) { consistencyToken } }`), status: 405},
		{name: "GET without query", method: get, accept: graphqlResponse, body: "", status: 400, respType: graphqlResponse, code: "BAD_REQUEST"},
		{name: "GET with bad variables", method: get, accept: graphqlResponse, body: q(`{ viewer { id } }`) + "&variables=%7Bnot-json", status: 400, respType: graphqlResponse, code: "BAD_REQUEST"},

		// Other methods.
		{name: "PUT", method: http.MethodPut, contentType: legacyJSON, accept: graphqlResponse, body: ok, status: 405},
		{name: "DELETE", method: http.MethodDelete, accept: graphqlResponse, status: 405},
		{name: "HEAD", method: http.MethodHead, accept: graphqlResponse, status: 405},
		{name: "PUT with an unacceptable Accept", method: http.MethodPut, contentType: legacyJSON, accept: "text/html", body: ok, status: 405},
		{name: "OPTIONS", method: http.MethodOptions, status: 204},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, endpoint, alice.token) })
	}
	if code := alice.code(`{ project(name: "via-get") { name } }`, nil); code != "NOT_FOUND" {
		t.Fatalf("the mutation sent over GET ran: %q", code)
	}
}

// TestBatchedRequests: a POST body that is an array runs each operation in
// order and answers an array; a bad item fails alone; the batch size is
// capped.
func TestBatchedRequests(t *testing.T) {
	endpoint, auth := startServer(t)
	alice := userClient(t, endpoint, auth, "alice")
	send := func(body string) (int, []map[string]any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, endpoint, strings.NewReader(body))
		req.Header.Set("Content-Type", legacyJSON)
		req.Header.Set("Accept", graphqlResponse)
		req.Header.Set("Authorization", "Bearer "+alice.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out []map[string]any
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(raw, &out); err != nil {
				t.Fatalf("batch response is not an array: %s", raw)
			}
		}
		return resp.StatusCode, out
	}

	status, out := send(`[
		{"query": "{ viewer { id } }"},
		{"query": "mutation { createProject(input: {name: \"batched\"}) { project { name } } }"},
		{"query": "{ project(name: \"batched\") { viewerRole } }"},
		{"query": "{ viewer { nope } }"},
		{"variables": {}},
		{"query": "{ project(name: \"nowhere\") { name } }"}
	]`)
	if status != http.StatusOK || len(out) != 6 {
		t.Fatalf("batch: %d, %v", status, out)
	}
	if out[0]["data"] == nil || out[1]["data"] == nil || out[0]["errors"] != nil || out[1]["errors"] != nil {
		t.Fatalf("the first two operations failed: %v %v", out[0], out[1])
	}
	if role := out[2]["data"].(map[string]any)["project"].(map[string]any)["viewerRole"]; role != "ADMIN" {
		t.Fatalf("the third operation did not see the second's write: %v", out[2])
	}
	for i, code := range map[int]string{3: "GRAPHQL_VALIDATION_FAILED", 4: "BAD_REQUEST", 5: "NOT_FOUND"} {
		errs, _ := out[i]["errors"].([]any)
		if len(errs) == 0 || errs[0].(map[string]any)["extensions"].(map[string]any)["code"] != code {
			t.Errorf("item %d: %v, want %s", i, out[i], code)
		}
		if _, hasData := out[i]["data"]; hasData != (code == "NOT_FOUND") {
			t.Errorf("item %d: data entry present = %v", i, hasData)
		}
	}

	// The operations of a batch share one complexity budget: ten that each
	// fit the limit on their own do not all fit together.
	const heavy = `{"query":"{ projects(first: 100) { edges { node { name displayName description createdAt } } } }"},`
	status, out = send("[" + strings.TrimSuffix(strings.Repeat(heavy, 10), ",") + "]")
	if status != http.StatusOK || len(out) != 10 {
		t.Fatalf("heavy batch: %d, %v", status, out)
	}
	firstRefused := -1
	for i, item := range out {
		refused := item["errors"] != nil
		if refused && firstRefused < 0 {
			firstRefused = i
		}
		if firstRefused >= 0 && !refused {
			t.Fatalf("item %d ran after item %d ran out of budget", i, firstRefused)
		}
	}
	if firstRefused < 1 {
		t.Fatalf("the complexity budget: first refused item %d, want some to run and the rest refused", firstRefused)
	}

	eleven := "[" + strings.TrimSuffix(strings.Repeat(`{"query":"{ viewer { id } }"},`, 11), ",") + "]"
	if status, _ := send(eleven); status != http.StatusBadRequest {
		t.Fatalf("a batch of 11: %d, want 400", status)
	}
	if status, _ := send(`[]`); status != http.StatusBadRequest {
		t.Fatalf("an empty batch: %d, want 400", status)
	}
	if status, _ := send(`[{"query":"{ viewer { id } }"}`); status != http.StatusBadRequest {
		t.Fatalf("a truncated batch: %d, want 400", status)
	}
}

// TestAutomaticPersistedQueries: a client sends a query's hash alone, is
// told the server does not know it, sends query and hash once, and from
// then on the hash alone runs the query, over POST and over GET; a hash
// that does not match its query is refused.
func TestAutomaticPersistedQueries(t *testing.T) {
	endpoint, auth := startServer(t)
	alice := userClient(t, endpoint, auth, "alice")
	const query = `{ viewer { id } }`
	sum := sha256.Sum256([]byte(query))
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}

	first := alice.do("", map[string]any{}, withExtensions(ext))
	if len(first.Errors) != 1 || first.Errors[0].Message != "PersistedQueryNotFound" {
		t.Fatalf("an unknown hash: %+v", first.Errors)
	}
	if r := alice.do(query, nil, withExtensions(ext)); len(r.Errors) > 0 || r.Data["viewer"] == nil {
		t.Fatalf("query and hash: %+v", r)
	}
	if r := alice.do("", nil, withExtensions(ext)); len(r.Errors) > 0 || r.Data["viewer"].(map[string]any)["id"] != "viewer:alice" {
		t.Fatalf("the hash alone, after: %+v", r)
	}
	extJSON, _ := json.Marshal(ext)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, endpoint+"?extensions="+url.QueryEscape(string(extJSON)), nil)
	req.Header.Set("Authorization", "Bearer "+alice.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"viewer:alice"`) {
		t.Fatalf("the hash alone over GET: %d %s", resp.StatusCode, body)
	}

	wrong := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": strings.Repeat("0", 64)}}
	if r := alice.do(query, nil, withExtensions(wrong)); len(r.Errors) == 0 || r.Data != nil {
		t.Fatalf("a hash that does not match its query ran: %+v", r)
	}
}
