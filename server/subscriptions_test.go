package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed-6461fa00/trellis/graph"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
	"github.com/seed-6461fa00/trellis/server"
)

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// connect opens a graphql-transport-ws connection, closed with the test,
// sends connection_init with the token (none if empty), and returns the
// server's reply; acknowledged reports whether it was connection_ack.
func connect(t *testing.T, url, token string) (conn *websocket.Conn, acknowledged bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn = initConnection(ctx, t, url, token)
	var reply wsMessage
	err := wsjson.Read(ctx, conn, &reply)
	return conn, err == nil && reply.Type == "connection_ack"
}

// initConnection dials a graphql-transport-ws connection, closed with the
// test, and sends connection_init with the token (none if empty).
func initConnection(ctx context.Context, t *testing.T, url, token string) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(websocket.StatusNormalClosure, "") })
	init := wsMessage{Type: "connection_init"}
	if token != "" {
		init.Payload, _ = json.Marshal(map[string]any{"Authorization": "Bearer " + token})
	}
	if err := wsjson.Write(ctx, conn, init); err != nil {
		t.Fatal(err)
	}
	return conn
}

// subscribe opens a graphql-transport-ws connection as token and starts
// one subscription; it returns the connection.
func subscribe(t *testing.T, url, token, query string) *websocket.Conn {
	t.Helper()
	conn, acknowledged := connect(t, url, token)
	if !acknowledged {
		t.Fatal("the connection was not acknowledged")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	payload, _ := json.Marshal(map[string]any{"query": query})
	if err := wsjson.Write(ctx, conn, wsMessage{ID: "1", Type: "subscribe", Payload: payload}); err != nil {
		t.Fatal(err)
	}
	return conn
}

// read waits up to d for the next message other than a ping.
func read(t *testing.T, conn *websocket.Conn, d time.Duration) (wsMessage, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, conn, &m); err != nil {
			return wsMessage{}, false
		}
		if m.Type != "ping" && m.Type != "pong" && m.Type != "ka" {
			return m, true
		}
	}
}

// TestSubscriptionsEndToEnd: a subscriber hears the membership changes of
// its project, and only of projects it may read; strangers are refused.
func TestSubscriptionsEndToEnd(t *testing.T) {
	url, auth := startServer(t)
	alice := userClient(t, url, auth, "alice")
	bob := userClient(t, url, auth, "bob")
	eve := userClient(t, url, auth, "eve")
	alice.ok(`mutation { createProject(input: {name: "apollo"}) { consistencyToken } }`, nil)
	bob.ok(`mutation { createProject(input: {name: "zeta"}) { consistencyToken } }`, nil)

	subWith := func(c client, project string) *websocket.Conn {
		return subscribe(t, url, c.token, `subscription { membershipChanged(project: "`+project+`") { project user { id } role removed consistencyToken } }`)
	}
	aliceConn := subWith(alice, "apollo")
	bobConn := subWith(bob, "zeta")
	mine := subscribe(t, url, userClient(t, url, auth, "carol").token, `subscription { viewerProjectsChanged { project role removed } }`)
	time.Sleep(200 * time.Millisecond) // let the streams start

	alice.ok(`mutation { addMember(input: {project: "apollo", user: "carol", role: WRITER}) { consistencyToken } }`, nil)
	m, ok := read(t, aliceConn, 10*time.Second)
	if !ok || m.Type != "next" || !strings.Contains(string(m.Payload), `"user":{"id":"user:carol"}`) || !strings.Contains(string(m.Payload), `"role":"WRITER"`) {
		t.Fatalf("alice's event: %+v %s", m, m.Payload)
	}
	m, ok = read(t, mine, 10*time.Second)
	if !ok || !strings.Contains(string(m.Payload), `"project":"apollo"`) {
		t.Fatalf("carol's own event: %+v %s", m, m.Payload)
	}
	// Bob's first event must be about his own project: had apollo's change
	// reached him, it would have come first. (A read that times out would
	// close the connection, so absence is shown by order.)
	bob.ok(`mutation { addMember(input: {project: "zeta", user: "dave", role: READER}) { consistencyToken } }`, nil)
	m, ok = read(t, bobConn, 10*time.Second)
	if !ok || !strings.Contains(string(m.Payload), `"project":"zeta"`) || strings.Contains(string(m.Payload), "apollo") {
		t.Fatalf("bob's first event: %+v %s", m, m.Payload)
	}

	eveConn := subWith(eve, "apollo")
	m, ok = read(t, eveConn, 10*time.Second)
	// An execution error arrives as a result with errors and no data.
	if !ok || !strings.Contains(string(m.Payload), `"code":"NOT_FOUND"`) || strings.Contains(string(m.Payload), `"data":{`) {
		t.Fatalf("a stranger subscribing: %+v %s", m, m.Payload)
	}

	// No token, or a bad one: the connection is refused at init, and closed
	// with graphql-transport-ws's code for that.
	for _, token := range []string{"", "not-a-token"} {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		conn := initConnection(ctx, t, url, token)
		var reply wsMessage
		var err error
		for err == nil && reply.Type != "connection_ack" {
			err = wsjson.Read(ctx, conn, &reply)
		}
		cancel()
		if code := websocket.CloseStatus(err); code != 4403 {
			t.Fatalf("a connection with token %q: %+v, closed with %d (%v); want it closed with 4403", token, reply, code, err)
		}
	}
}

// TestQueriesOverOneWebSocketAreNotCached: every operation on a
// connection gets fresh loaders, so a role change between two queries on
// the same WebSocket shows in the second.
func TestQueriesOverOneWebSocketAreNotCached(t *testing.T) {
	url, auth := startServer(t)
	alice := userClient(t, url, auth, "alice")
	bob := userClient(t, url, auth, "bob")
	alice.ok(`mutation { createProject(input: {name: "ws"}) { consistencyToken } }`, nil)
	alice.ok(`mutation { addMember(input: {project: "ws", user: "bob", role: READER}) { consistencyToken } }`, nil)

	conn := subscribe(t, url, bob.token, `{ project(name: "ws") { viewerRole } }`)
	m, ok := read(t, conn, 10*time.Second)
	if !ok || !strings.Contains(string(m.Payload), `"viewerRole":"READER"`) {
		t.Fatalf("first query: %+v %s", m, m.Payload)
	}
	if m, ok = read(t, conn, 10*time.Second); !ok || m.Type != "complete" {
		t.Fatalf("first query did not complete: %+v", m)
	}
	alice.ok(`mutation { changeMemberRole(input: {project: "ws", user: "bob", role: WRITER}) { consistencyToken } }`, nil)
	payload, _ := json.Marshal(map[string]any{"query": `{ project(name: "ws") { viewerRole } }`})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := wsjson.Write(ctx, conn, wsMessage{ID: "2", Type: "subscribe", Payload: payload}); err != nil {
		t.Fatal(err)
	}
	m, ok = read(t, conn, 10*time.Second)
	if !ok || !strings.Contains(string(m.Payload), `"viewerRole":"WRITER"`) {
		t.Fatalf("second query on the same connection: %+v %s", m, m.Payload)
	}
}

// TestWebSocketEndsWhenItsTokenExpires: a connection authenticated once,
// at init, does not outlive its token.
func TestWebSocketEndsWhenItsTokenExpires(t *testing.T) {
	url, auth := startServer(t)
	token, err := auth.Mint("alice", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn := subscribe(t, url, token, `subscription { viewerProjectsChanged { project } }`)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, conn, &m); err != nil {
			if ctx.Err() != nil {
				t.Fatal("the connection is still open long after its token expired")
			}
			return // closed by the server
		}
	}
}

// TestWebSocketRefusesAnExpiredToken: a token past its expiry, though
// inside the leeway a single request is allowed, opens no connection.
func TestWebSocketRefusesAnExpiredToken(t *testing.T) {
	url, auth := startServer(t)
	token, err := auth.Mint("alice", -5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, acknowledged := connect(t, url, token); acknowledged {
		t.Fatal("a connection with an expired token was acknowledged")
	}
}

// TestSubscriptionsPerUserAreCapped: a user holds at most the configured
// number of subscriptions open, over all their connections; ending one
// frees its place.
func TestSubscriptionsPerUserAreCapped(t *testing.T) {
	url, auth := serveGraph(t, relationstest.Open(t), server.Options{GraphQL: graph.Options{MaxSubscriptionsPerUser: 2}})
	alice := userClient(t, url, auth, "alice")
	alice.ok(`mutation { createProject(input: {name: "apollo"}) { consistencyToken } }`, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	start := func(conn *websocket.Conn, id string) {
		payload, _ := json.Marshal(map[string]any{"query": `subscription { membershipChanged(project: "apollo") { user { id } } }`})
		if err := wsjson.Write(ctx, conn, wsMessage{ID: id, Type: "subscribe", Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	first, _ := connect(t, url, alice.token)
	start(first, "1")
	start(first, "2")
	time.Sleep(200 * time.Millisecond) // let both streams start

	second, _ := connect(t, url, alice.token)
	start(second, "3")
	if m, ok := read(t, second, 10*time.Second); !ok || !strings.Contains(string(m.Payload), "TOO_MANY_SUBSCRIPTIONS") {
		t.Fatalf("a third subscription: %+v %s", m, m.Payload)
	}
	if m, ok := read(t, second, 10*time.Second); !ok || m.Type != "complete" {
		t.Fatalf("a refused subscription did not complete: %+v", m)
	}

	if err := wsjson.Write(ctx, first, wsMessage{ID: "1", Type: "complete"}); err != nil {
		t.Fatal(err)
	}
	// The place is free once the ended stream has wound down: try until a
	// new subscription hears a change instead of being refused.
	for attempt := 0; ; attempt++ {
		id := fmt.Sprint("retry-", attempt)
		start(second, id)
		time.Sleep(100 * time.Millisecond)
		alice.ok(fmt.Sprintf(`mutation { addMember(input: {project: "apollo", user: "u%d", role: READER}) { consistencyToken } }`, attempt), nil)
		m, ok := read(t, second, 10*time.Second)
		if !ok {
			t.Fatal("no reply to a subscription after another ended")
		}
		if strings.Contains(string(m.Payload), `"user":{"id":"user:u`) {
			return
		}
		if !strings.Contains(string(m.Payload), "TOO_MANY_SUBSCRIPTIONS") || attempt == 20 {
			t.Fatalf("subscribing after another ended: %+v %s", m, m.Payload)
		}
		if m, ok := read(t, second, 10*time.Second); !ok || m.Type != "complete" {
			t.Fatalf("a refused subscription did not complete: %+v", m)
		}
	}
}

// brokenWatch is a connection whose Watch streams fail on their first
// receive, as when the engine stops under a subscription.
type brokenWatch struct{ grpc.ClientConnInterface }

func (c brokenWatch) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := c.ClientConnInterface.NewStream(ctx, desc, method, opts...)
	if err != nil || method != v1.WatchService_Watch_FullMethodName {
		return s, err
	}
	return failingStream{s}, nil
}

type failingStream struct{ grpc.ClientStream }

func (failingStream) RecvMsg(any) error { return status.Error(codes.Unavailable, "the watch broke") }

// TestFailedSubscriptionReportsOnce: a subscription whose stream fails
// sends one result carrying the failure once, on a path through the
// subscription's field (its alias, if it has one), however many fields
// the client selected and however it reached them, and then completes.
func TestFailedSubscriptionReportsOnce(t *testing.T) {
	env := relationstest.Open(t, relationstest.WrapConn(func(inner grpc.ClientConnInterface) grpc.ClientConnInterface {
		return brokenWatch{inner}
	}))
	url, auth := serveGraph(t, env, server.Options{})
	alice := userClient(t, url, auth, "alice")
	alice.ok(`mutation { createProject(input: {name: "apollo"}) { consistencyToken } }`, nil)
	for query, field := range map[string]string{
		`subscription { membershipChanged(project: "apollo") { project user { id } role removed consistencyToken } }`: "membershipChanged",
		`subscription { membershipChanged(project: "apollo") { project } }`:                                           "membershipChanged",
		`subscription { changes: membershipChanged(project: "apollo") { a: role b: role } }`:                          "changes",
		`subscription { ... on Subscription { viewerProjectsChanged { project removed } } }`:                          "viewerProjectsChanged",
	} {
		conn := subscribe(t, url, alice.token, query)
		m, ok := read(t, conn, 10*time.Second)
		if !ok || m.Type != "next" {
			t.Fatalf("%s: the failed subscription's result: %+v %s", query, m, m.Payload)
		}
		var result struct {
			Data   map[string]any `json:"data"`
			Errors []struct {
				Path       []any          `json:"path"`
				Locations  []any          `json:"locations"`
				Extensions map[string]any `json:"extensions"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(m.Payload, &result); err != nil {
			t.Fatal(err)
		}
		if len(result.Errors) != 1 || result.Errors[0].Extensions["code"] != "UNAVAILABLE" ||
			len(result.Errors[0].Path) != 2 || result.Errors[0].Path[0] != field || len(result.Errors[0].Locations) != 1 {
			t.Fatalf("%s: the failure arrived as %s; want one UNAVAILABLE error on a field of %s", query, m.Payload, field)
		}
		if m, ok := read(t, conn, 10*time.Second); !ok || m.Type != "complete" {
			t.Fatalf("%s: after the failure: %+v %s", query, m, m.Payload)
		}
	}
}
