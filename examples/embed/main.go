// Command embed shows Trellis inside another Go program: it opens a data
// directory, uses the relations API directly, mounts the GraphQL handler on
// its own mux behind its own authentication, asks SpiceDB a question over
// the same in-process connection a service client would use, and asks
// another inside the process with no connection at all.
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
	got, err := run(context.Background(), *data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("GraphQL as bob:", got.projects)
	fmt.Println("may bob write apollo? (SpiceDB's API)", got.bobMayWrite)
	fmt.Println("may bob read apollo? (in process)", got.bobMayRead)
}

// tour is what the example finds out.
type tour struct {
	projects    string // bob's projects as GraphQL answers them
	bobMayWrite bool   // SpiceDB's answer over its API
	bobMayRead  bool   // the in-process answer
}

// run does the tour over the data directory (a temporary one if empty).
func run(ctx context.Context, data string) (tour, error) {
	if data == "" {
		dir, err := os.MkdirTemp("", "trellis-example-")
		if err != nil {
			return tour{}, err
		}
		defer os.RemoveAll(dir)
		data = dir
	}

	// 1. Open the data directory: Badger, SpiceDB's engine, the catalog.
	stack, err := server.OpenStack(ctx, server.StackConfig{DataDir: data})
	if err != nil {
		return tour{}, err
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
		return tour{}, err
	}
	token, err := stack.Graph.AddMember(ctx, alice, "apollo", bob, relations.RoleReader)
	if err != nil && relations.ErrorCode(err) != relations.CodeConflict {
		return tour{}, err
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
		return tour{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return tour{}, err
	}

	// 4. SpiceDB's own API, as a platform service would call it.
	check, err := v1.NewPermissionsServiceClient(stack.Conn()).CheckPermission(ctx, &v1.CheckPermissionRequest{
		Consistency: &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}},
		Resource:    &v1.ObjectReference{ObjectType: string(schema.TypeProject), ObjectId: "apollo"},
		Permission:  string(schema.ProjectWrite),
		Subject:     &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: string(schema.TypeUser), ObjectId: bob.ID}},
	})
	if err != nil {
		return tour{}, err
	}

	// 5. The same kind of question answered inside this process, fully
	// consistent, without a gRPC round trip: the fast path for a program
	// that embeds Trellis.
	mayRead, err := stack.Graph.CheckNow(ctx, bob, relations.Object{Type: schema.TypeProject, ID: "apollo"}, schema.ProjectRead)
	if err != nil {
		return tour{}, err
	}
	return tour{
		projects:    string(body),
		bobMayWrite: check.GetPermissionship() == v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION,
		bobMayRead:  mayRead,
	}, nil
}
