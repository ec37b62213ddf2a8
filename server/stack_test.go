package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/spicedb/pkg/datastore"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/relations/badgerds"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
	"github.com/seed-6461fa00/trellis/server"
)

func openStack(t *testing.T, dir string) *server.Stack {
	t.Helper()
	s, err := server.OpenStack(t.Context(), server.StackConfig{
		DataDir: dir,
		OpenDatastore: func(ctx context.Context, dir string) (datastore.Datastore, error) {
			return badgerds.New(ctx, dir)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func closeStack(t *testing.T, s *server.Stack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// isViewer asks SpiceDB directly, at an exact revision when given one.
func isMember(t *testing.T, s *server.Stack, project, user string, at relations.Token) bool {
	t.Helper()
	c := &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}}
	if at != "" {
		c = &v1.Consistency{Requirement: &v1.Consistency_AtExactSnapshot{AtExactSnapshot: &v1.ZedToken{Token: string(at)}}}
	}
	resp, err := v1.NewPermissionsServiceClient(s.Conn()).CheckPermission(t.Context(), &v1.CheckPermissionRequest{
		Consistency: c,
		Resource:    &v1.ObjectReference{ObjectType: "project", ObjectId: project},
		Permission:  "read",
		Subject:     &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: user}},
	})
	if err != nil {
		t.Fatalf("check at %q: %v", at, err)
	}
	return resp.GetPermissionship() == v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION
}

// TestRestartKeepsGraphAndTokens: schema, relationships, metadata and
// revisions survive a restart; a ZedToken issued before it is accepted after
// it and reads the same answer, even once the graph has moved on.
func TestRestartKeepsGraphAndTokens(t *testing.T) {
	dir := t.TempDir()
	alice, bob := relationstest.MustUser(t, "alice"), relationstest.MustUser(t, "bob")

	s := openStack(t, dir)
	if _, _, err := s.Graph.CreateProject(t.Context(), alice, relations.NewProject{Name: "apollo", DisplayName: "Apollo"}); err != nil {
		t.Fatal(err)
	}
	token, err := s.Graph.AddMember(t.Context(), alice, "apollo", bob, relations.RoleWriter)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Graph.Members(t.Context(), alice, "apollo", relations.MemberQuery{PageRequest: relations.PageRequest{First: 1, Token: token}})
	if err != nil || !first.HasNext {
		t.Fatalf("first page of members: %+v, %v", first, err)
	}
	closeStack(t, s)

	s = openStack(t, dir)
	defer closeStack(t, s)
	next, err := s.Graph.Members(t.Context(), alice, "apollo", relations.MemberQuery{PageRequest: relations.PageRequest{First: 1, After: first.EndCursor()}})
	if err != nil {
		t.Fatalf("a page cursor from before the restart: %v", err)
	}
	if len(next.Items) != 1 || next.Items[0].User == first.Items[0].User {
		t.Fatalf("the page after the restart: %+v, after %+v", next.Items, first.Items)
	}
	ok, err := s.Graph.Check(t.Context(), bob, relations.Object{Type: "project", ID: "apollo"}, "write", token)
	if err != nil {
		t.Fatalf("a token from before the restart: %v", err)
	}
	if !ok {
		t.Fatal("bob lost write access across the restart")
	}
	p, err := s.Graph.Project(t.Context(), alice, "apollo", token)
	if err != nil || p.DisplayName != "Apollo" {
		t.Fatalf("project after restart: %+v, %v", p, err)
	}

	if _, err := s.Graph.RemoveMember(t.Context(), alice, "apollo", bob); err != nil {
		t.Fatal(err)
	}
	if isMember(t, s, "apollo", "bob", "") {
		t.Fatal("bob is still a member after removal")
	}
	if !isMember(t, s, "apollo", "bob", token) {
		t.Fatal("reading at the pre-restart token no longer shows bob as a member")
	}
}

// TestDamagedCursorKey: a server refuses a damaged cursor key rather than
// make another (every open cursor would stop working unannounced), while a
// tool that only reads the directory, and hands out no cursors, opens it.
func TestDamagedCursorKey(t *testing.T) {
	dir := t.TempDir()
	closeStack(t, openStack(t, dir))
	if err := os.WriteFile(filepath.Join(dir, server.CursorKeyFile), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := server.OpenStack(t.Context(), server.StackConfig{DataDir: dir}); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("a server over a damaged cursor key: %v", err)
	}
	s, err := server.OpenStack(t.Context(), server.StackConfig{DataDir: dir, Existing: true})
	if err != nil {
		t.Fatalf("a reading tool over a damaged cursor key: %v", err)
	}
	closeStack(t, s)
}
