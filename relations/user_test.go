package relations_test

import (
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/spicedb/pkg/zedtoken"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
	"github.com/seed-6461fa00/trellis/schema"
)

// TestGrantsGoToCanonicalIDs: a role or a share is given only to a user
// ID some token signs in as, not to another spelling of the same subject;
// such a member, stored by an earlier build, can still be removed.
func TestGrantsGoToCanonicalIDs(t *testing.T) {
	for subject, id := range map[string]string{"alice": "alice", "bob@example.com": "=Ym9iQGV4YW1wbGUuY29t"} {
		u, err := relations.UserFromSubject(subject)
		if err != nil || u.ID != id {
			t.Fatalf("subject %q: %v %v, want ID %q", subject, u, err, id)
		}
		if got, err := relations.UserFromID(id); err != nil || got.Subject() != subject {
			t.Errorf("ID %q: %v %v, want subject %q", id, got, err, subject)
		}
	}
	if u, err := relations.UserFromID("=!!"); relations.ErrorCode(err) != relations.CodeInvalid {
		t.Errorf("ID =!!: %v %v, want it refused", u, err)
	}

	env := relationstest.Open(t)
	ctx := t.Context()
	alice := relationstest.MustUser(t, "alice")
	if _, _, err := env.Graph.CreateProject(ctx, alice, relations.NewProject{Name: "pluto"}); err != nil {
		t.Fatal(err)
	}
	job := relations.ArtifactRef{Kind: schema.TypeJob, ID: "pluto-job"}
	if _, _, err := env.Graph.RegisterArtifact(ctx, alice, "pluto", job, ""); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{
		"=YWxpY2U=", // alice, who needs no encoding
		"=YUE=",     // "a@" (=YUA=), with other trailing bits
	} {
		other := relations.User{ID: id}
		if _, err := env.Graph.AddMember(ctx, alice, "pluto", other, relations.RoleReader); relations.ErrorCode(err) != relations.CodeInvalid {
			t.Errorf("adding %q: %v, want it refused", id, err)
		}
		if _, err := env.Graph.ShareArtifact(ctx, alice, job, other, relations.RoleReader); relations.ErrorCode(err) != relations.CodeInvalid {
			t.Errorf("sharing with %q: %v, want it refused", id, err)
		}
	}
	// Stored by an earlier build, under another spelling: still removable.
	legacy := relations.User{ID: "=YWxpY2U="}
	if _, err := v1.NewPermissionsServiceClient(env.Conn).WriteRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{{
		Operation: v1.RelationshipUpdate_OPERATION_CREATE,
		Relationship: &v1.Relationship{
			Resource: &v1.ObjectReference{ObjectType: string(schema.TypeProject), ObjectId: "pluto"},
			Relation: string(schema.ProjectReader),
			Subject:  &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: string(schema.TypeUser), ObjectId: legacy.ID}},
		},
	}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Graph.RemoveMember(ctx, alice, "pluto", legacy); err != nil {
		t.Fatalf("removing a member stored under another spelling: %v", err)
	}
}

// TestUnreadableTokenIsTheClientsError: a consistency token the graph
// cannot read at is bad input naming the token, not a server failure.
func TestUnreadableTokenIsTheClientsError(t *testing.T) {
	env := relationstest.Open(t)
	alice := relationstest.MustUser(t, "alice")
	_, token, err := env.Graph.CreateProject(t.Context(), alice, relations.NewProject{Name: "pluto"})
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := zedtoken.Decode(&v1.ZedToken{Token: string(token)})
	if err != nil {
		t.Fatal(err)
	}
	decoded.GetV1().Revision = "18000000000000000000" // centuries ahead
	future, err := zedtoken.Encode(decoded)
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.Graph.Check(t.Context(), alice, relations.Object{Type: schema.TypeProject, ID: "pluto"}, schema.ProjectRead, relations.Token(future.Token))
	if relations.ErrorCode(err) != relations.CodeInvalid {
		t.Fatalf("a token from the future: %v, want it refused as invalid", err)
	}
}

// TestEmptyNamesAreRefused: an empty project name or user ID, which a
// relationship filter would read as "any", is refused before it reaches
// one.
func TestEmptyNamesAreRefused(t *testing.T) {
	env := relationstest.Open(t)
	ctx := t.Context()
	alice := relationstest.MustUser(t, "alice")
	if _, _, err := env.Graph.CreateProject(ctx, alice, relations.NewProject{Name: "pluto"}); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"change the role of no one": func() error {
			_, err := env.Graph.ChangeRole(ctx, alice, "pluto", relations.User{}, relations.RoleReader)
			return err
		},
		"remove no one": func() error { _, err := env.Graph.RemoveMember(ctx, alice, "pluto", relations.User{}); return err },
		"remove from no project": func() error {
			_, err := env.Graph.RemoveMember(ctx, alice, "", relationstest.MustUser(t, "bob"))
			return err
		},
		"watch no one's projects": func() error { _, _, err := env.Graph.WatchViewerProjects(ctx, relations.User{}); return err },
	} {
		if err := call(); relations.ErrorCode(err) != relations.CodeInvalid {
			t.Errorf("%s: %v, want it refused as invalid", name, err)
		}
	}
}
