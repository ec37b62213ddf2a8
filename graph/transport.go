package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/munnerz/goautoneg"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The two media types of the GraphQL-over-HTTP specification.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

// httpTransport serves GraphQL over HTTP as the GraphQL-over-HTTP
// specification prescribes, which gqlgen's own transports only
// approximate:
//
//   - GET (queries only; anything else is 405 with Allow: POST) and POST of
//     application/json (anything else is 415); other methods are 405.
//   - The response is application/graphql-response+json or
//     application/json, as Accept prefers (no Accept: application/json);
//     an Accept that allows neither is 406.
//   - A request that is not well-formed (not JSON, no query, variables or
//     extensions not objects) is 400 under either media type.
//   - A document that does not parse or validate, or variables that do not
//     coerce, is 400 under application/graphql-response+json and 200 under
//     application/json, with errors and no data entry.
//   - Once execution starts, 200, with data beside any field errors.
//
// Beyond the specification, a POST body that is a JSON array is a batch:
// at most maxBatch operations, run one after another in order, answered
// by an array of their responses with status 200. The operations of a
// batch share one complexity budget, so batching buys no extra work.
type httpTransport struct {
	maxBatch        int
	complexityLimit int
}

// complexityBudget is what is left of a batch's complexity limit.
type complexityBudget struct{ remaining int }

type budgetKey struct{}

// complexityLimitFor is the limit an operation runs under: the rest of its
// batch's budget, or the whole limit for an operation on its own.
func complexityLimitFor(ctx context.Context, limit int) int {
	if b, ok := ctx.Value(budgetKey{}).(*complexityBudget); ok {
		return b.remaining
	}
	return limit
}

var _ graphql.Transport = httpTransport{}

// Supports takes every request but WebSocket upgrades, which the WebSocket
// transport answers: a request no transport takes would get gqlgen's
// generic 400 instead of the status the specification gives.
func (httpTransport) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == ""
}

func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	switch r.Method {
	case http.MethodGet, http.MethodPost:
	case http.MethodOptions:
		w.Header().Set("Allow", "GET, POST, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "GET, POST, OPTIONS")
		writeRequestError(w, mediaJSON, http.StatusMethodNotAllowed, "GraphQL is served over GET (queries) and POST")
		return
	}
	media, ok := negotiateMedia(r.Header.Get("Accept"))
	if !ok {
		writeRequestError(w, mediaJSON, http.StatusNotAcceptable, "the response can be application/graphql-response+json or application/json, and Accept allows neither")
		return
	}
	switch r.Method {
	case http.MethodGet:
		params, err := paramsFromQuery(r.URL.Query())
		if err != nil {
			writeRequestError(w, media, http.StatusBadRequest, err.Error())
			return
		}
		status, body := execute(r, exec, params, media)
		writeBody(w, media, status, body)
	case http.MethodPost:
		if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
			writeRequestError(w, media, http.StatusUnsupportedMediaType, err.Error())
			return
		}
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			status := http.StatusBadRequest
			if errors.As(err, new(*http.MaxBytesError)) {
				status = http.StatusRequestEntityTooLarge
			}
			writeRequestError(w, media, status, "could not read the request body: "+err.Error())
			return
		}
		if trimmed := bytes.TrimLeft(raw, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '[' {
			t.batch(w, r, exec, raw, media)
			return
		}
		params, err := paramsFromJSON(raw)
		if err != nil {
			writeRequestError(w, media, http.StatusBadRequest, err.Error())
			return
		}
		status, body := execute(r, exec, params, media)
		writeBody(w, media, status, body)
	}
}

func (t httpTransport) batch(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, raw []byte, media string) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		writeRequestError(w, media, http.StatusBadRequest, "the batch is not a JSON array of requests: "+err.Error())
		return
	}
	if len(items) == 0 || len(items) > t.maxBatch {
		writeRequestError(w, media, http.StatusBadRequest, fmt.Sprintf("a batch holds 1 to %d operations, not %d", t.maxBatch, len(items)))
		return
	}
	budget := &complexityBudget{remaining: t.complexityLimit}
	r = r.WithContext(context.WithValue(r.Context(), budgetKey{}, budget))
	out := make([]json.RawMessage, len(items))
	for i, item := range items {
		params, err := paramsFromJSON(item)
		if err != nil {
			out[i] = requestErrorBody(err.Error())
			continue
		}
		_, out[i] = execute(r, exec, params, media)
	}
	body, err := json.Marshal(out)
	if err != nil {
		writeRequestError(w, media, http.StatusInternalServerError, "could not encode the batch response")
		return
	}
	writeBody(w, media, http.StatusOK, body)
}

// execute runs one operation and returns its status and response body.
func execute(r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams, media string) (int, []byte) {
	ctx := r.Context()
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}
	rc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil && params.OperationName == "" && rc != nil && rc.Doc != nil && len(rc.Doc.Operations) > 1 {
		errs = gqlerror.List{{
			Message:    "the document has several operations: name the one to run in operationName",
			Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"},
		}}
	}
	if errs != nil {
		return unexecutedStatus(media), errorsBody(exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs))
	}
	if b, ok := ctx.Value(budgetKey{}).(*complexityBudget); ok {
		if stats, ok := rc.Stats.GetExtension("ComplexityLimit").(*extension.ComplexityStats); ok {
			b.remaining -= stats.Complexity
		}
	}
	op := rc.Doc.Operations.ForName(rc.OperationName)
	switch {
	case op.Operation == ast.Subscription:
		return unexecutedStatus(media), requestErrorBody("subscriptions are served over WebSocket (graphql-transport-ws), not over HTTP")
	case r.Method == http.MethodGet && op.Operation != ast.Query:
		// Reported as 405 by the caller's status; a GET must never change
		// anything, so the operation does not run.
		return http.StatusMethodNotAllowed, requestErrorBody("a " + string(op.Operation) + " must be sent with POST")
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	resp := responses(ctx)
	if resp == nil { // the client went away mid-operation
		return http.StatusServiceUnavailable, requestErrorBody("the request was canceled")
	}
	body, err := json.Marshal(resp)
	if err != nil {
		return http.StatusInternalServerError, requestErrorBody("could not encode the response")
	}
	return http.StatusOK, body
}

// unexecutedStatus is the status of a well-formed request whose operation
// does not run: 400 under application/graphql-response+json, 200 under
// application/json, as the specification gives them.
func unexecutedStatus(media string) int {
	if media == mediaGraphQLResponse {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// errorsBody is a response without a data entry: the specification's shape
// for a request that did not reach execution.
func errorsBody(resp *graphql.Response) []byte {
	body, _ := json.Marshal(struct {
		Errors     gqlerror.List  `json:"errors"`
		Extensions map[string]any `json:"extensions,omitempty"`
	}{resp.Errors, resp.Extensions})
	return body
}

func requestErrorBody(msg string) []byte {
	return errorsBody(&graphql.Response{Errors: gqlerror.List{{
		Message: msg, Extensions: map[string]any{"code": codeBadRequest},
	}}})
}

func writeRequestError(w http.ResponseWriter, media string, status int, msg string) {
	writeBody(w, media, status, requestErrorBody(msg))
}

func writeBody(w http.ResponseWriter, media string, status int, body []byte) {
	if status == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
		w.Header().Set("Allow", "POST")
	}
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// negotiateMedia picks the response media type Accept prefers. Without an
// Accept header, or with only wildcards, it is application/json, which
// every client before the specification expects; a client naming both
// types equally gets application/graphql-response+json.
func negotiateMedia(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON, true
	}
	type score struct {
		q        float64
		explicit bool
	}
	best := map[string]score{}
	for _, clause := range goautoneg.ParseAccept(accept) {
		for _, media := range []string{mediaGraphQLResponse, mediaJSON} {
			typ, sub, _ := strings.Cut(media, "/")
			explicit := clause.Type == typ && clause.SubType == sub
			wildcard := (clause.Type == typ && clause.SubType == "*") || (clause.Type == "*" && clause.SubType == "*")
			if !explicit && !wildcard {
				continue
			}
			s, seen := best[media]
			// The most specific clause decides, even when its q is lower.
			if !seen || (explicit && !s.explicit) || (explicit == s.explicit && clause.Q > s.q) {
				best[media] = score{clause.Q, explicit}
			}
		}
	}
	gr, plain := best[mediaGraphQLResponse], best[mediaJSON]
	switch {
	case gr.q <= 0 && plain.q <= 0:
		return "", false
	case gr.q > plain.q, gr.q == plain.q && gr.explicit:
		return mediaGraphQLResponse, true
	default:
		return mediaJSON, true
	}
}

func checkContentType(header string) error {
	if header == "" {
		return errors.New("a POST needs Content-Type: application/json")
	}
	media, params, err := mime.ParseMediaType(header)
	if err != nil || media != mediaJSON {
		return fmt.Errorf("a POST needs Content-Type: application/json, not %q", header)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fmt.Errorf("the body must be UTF-8, not %s", cs)
	}
	return nil
}

// paramsFromJSON reads one request of a POST body, checking each member's
// type as the specification defines it.
func paramsFromJSON(raw []byte) (*graphql.RawParams, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, errors.New("the request body is not a JSON object")
	}
	params := &graphql.RawParams{}
	if err := decodeMember(fields, "query", &params.Query); err != nil {
		return nil, err
	}
	if err := decodeMember(fields, "operationName", &params.OperationName); err != nil {
		return nil, err
	}
	if err := decodeMember(fields, "variables", &params.Variables); err != nil {
		return nil, err
	}
	if err := decodeMember(fields, "extensions", &params.Extensions); err != nil {
		return nil, err
	}
	return params, requireQuery(params)
}

// decodeMember decodes fields[name] into dst (a *string or a *map); a
// missing member or null leaves dst as it is.
func decodeMember(fields map[string]json.RawMessage, name string, dst any) error {
	raw, ok := fields[name]
	if !ok || string(raw) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		kind := "a string"
		if _, isMap := dst.(*map[string]any); isMap {
			kind = "an object"
		}
		return fmt.Errorf("%s must be %s", name, kind)
	}
	return nil
}

func paramsFromQuery(values url.Values) (*graphql.RawParams, error) {
	params := &graphql.RawParams{Query: values.Get("query"), OperationName: values.Get("operationName")}
	for name, dst := range map[string]*map[string]any{"variables": &params.Variables, "extensions": &params.Extensions} {
		if v := values.Get(name); v != "" {
			dec := json.NewDecoder(strings.NewReader(v))
			dec.UseNumber()
			if err := dec.Decode(dst); err != nil {
				return nil, fmt.Errorf("%s must be a JSON object", name)
			}
		}
	}
	return params, requireQuery(params)
}

// requireQuery: every request carries a document, except one that names a
// persisted query by hash instead.
func requireQuery(p *graphql.RawParams) error {
	if p.Query != "" {
		return nil
	}
	if _, persisted := p.Extensions["persistedQuery"]; persisted {
		return nil
	}
	return errors.New("the request has no query")
}
