// Command embed shows Trellis inside another Go program: it opens a data
// directory, uses the relations API directly, mounts the GraphQL handler on
// its own mux behind its own authentication, and asks SpiceDB a question
// over the same in-process connection a service client would use.
//
//	go run ./examples/embed -data /tmp/trellis-example
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/seed-6461fa00/trellis/graph"
	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/schema"
	"github.com/seed-6461fa00/trellis/server"
)

func main() {
	data := flag.String("data", "", "data directory (default: a temporary one)")
	flag.Parse()
	projects, bobMayWrite, err := run(context.Background(), *data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("GraphQL as bob:", projects)
	fmt.Println("may bob write apollo?", bobMayWrite)
}

// run does the tour and returns bob's projects as GraphQL answers them and
// whether SpiceDB lets bob write the project.
func run(ctx context.Context, data string) (string, bool, error) {
	if data == "" {
		dir, err := os.MkdirTemp("", "trellis-example-")
		if err != nil {
			return "", false, err
		}
		defer os.RemoveAll(dir)
		data = dir
	}

	// 1. Open the data directory: Badger, SpiceDB's engine, the catalog.
	stack, err := server.OpenStack(ctx, server.StackConfig{DataDir: data})
	if err != nil {
		return "", false, err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = stack.Close(closeCtx)
	}()

	// 2. The relations API, straight from Go.
	alice, _ := relations.UserFromSubject("alice")
	bob, _ := relations.UserFromSubject("bob")
	if _, _, err := stack.Graph.CreateProject(ctx, alice, relations.NewProject{Name: "apollo"}); err != nil && relations.ErrorCode(err) != relations.CodeConflict {
		return "", false, err
	}
	token, err := stack.Graph.AddMember(ctx, alice, "apollo", bob, relations.RoleReader)
	if err != nil && relations.ErrorCode(err) != relations.CodeConflict {
		return "", false, err
	}

	// 3. The GraphQL handler on the program's own mux, behind its own
	// authentication (here: a header naming the user; use real auth).
	mux := http.NewServeMux()
	gql := graph.NewHandler(stack.Graph, graph.Options{})
	mux.Handle("/graphql", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := relations.UserFromSubject(r.Header.Get("X-User"))
		if err != nil {
			http.Error(w, "who are you?", http.StatusUnauthorized)
			return
		}
		ctx := graph.WithViewer(r.Context(), u)
		ctx = graph.WithConsistencyToken(ctx, relations.Token(r.Header.Get("X-Consistency-Token")))
		gql.ServeHTTP(w, r.WithContext(ctx))
	}))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/graphql",
		strings.NewReader(`{"query":"{ projects { edges { node { name viewerRole } } } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-User", "bob")
	req.Header.Set("X-Consistency-Token", string(token))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", false, err
	}

	// 4. SpiceDB's own API, as a platform service would call it.
	check, err := v1.NewPermissionsServiceClient(stack.Conn()).CheckPermission(ctx, &v1.CheckPermissionRequest{
		Consistency: &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}},
		Resource:    &v1.ObjectReference{ObjectType: string(schema.TypeProject), ObjectId: "apollo"},
		Permission:  string(schema.ProjectWrite),
		Subject:     &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: string(schema.TypeUser), ObjectId: bob.ID}},
	})
	if err != nil {
		return "", false, err
	}
	return string(body), check.GetPermissionship() == v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION, nil
}
