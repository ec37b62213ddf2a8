package relations_test

import (
	"strings"
	"testing"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
)

// TestCursorsServeOnlyTheirViewer: a page cursor resumes the list for the
// viewer it was issued to, and for no one else; one changed by its holder
// is refused. A page reads the snapshot its cursor names, so a cursor
// anyone could write would read any list as it was at any revision the GC
// window keeps.
func TestCursorsServeOnlyTheirViewer(t *testing.T) {
	env := relationstest.Open(t)
	ctx := t.Context()
	alice, bob := relationstest.MustUser(t, "alice"), relationstest.MustUser(t, "bob")
	if _, _, err := env.Graph.CreateProject(ctx, alice, relations.NewProject{Name: "apollo"}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Graph.AddMember(ctx, alice, "apollo", bob, relations.RoleManager); err != nil {
		t.Fatal(err)
	}
	first, err := env.Graph.Members(ctx, alice, "apollo", relations.MemberQuery{PageRequest: relations.PageRequest{First: 1}})
	if err != nil || !first.HasNext {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	after := func(cursor string) relations.MemberQuery {
		return relations.MemberQuery{PageRequest: relations.PageRequest{First: 1, After: cursor}}
	}
	if _, err := env.Graph.Members(ctx, alice, "apollo", after(first.EndCursor())); err != nil {
		t.Fatalf("alice's own cursor: %v", err)
	}
	if _, err := env.Graph.Members(ctx, bob, "apollo", after(first.EndCursor())); relations.ErrorCode(err) != relations.CodeInvalid {
		t.Fatalf("bob with alice's cursor: %v, want INVALID", err)
	}
	// One character of the signed part changed, the signature kept.
	payload, mac, _ := strings.Cut(first.EndCursor(), ".")
	changed := "A"
	if strings.HasSuffix(payload, changed) {
		changed = "B"
	}
	tampered := payload[:len(payload)-1] + changed + "." + mac
	if _, err := env.Graph.Members(ctx, alice, "apollo", after(tampered)); relations.ErrorCode(err) != relations.CodeInvalid || !strings.Contains(err.Error(), "not issued to you") {
		t.Fatalf("a cursor changed by its holder: %v, want it refused as not issued", err)
	}
}
