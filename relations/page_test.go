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

// TestPagesMayChangeSize: a cursor resumes a list whatever size the next
// page asks for, none (a probe of whether more follow) included.
func TestPagesMayChangeSize(t *testing.T) {
	env := relationstest.Open(t)
	ctx := t.Context()
	alice := relationstest.MustUser(t, "alice")
	var token relations.Token
	for _, name := range []string{"p1", "p2", "p3", "p4"} {
		_, tok, err := env.Graph.CreateProject(ctx, alice, relations.NewProject{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		token = tok
	}
	page := func(req relations.PageRequest) relations.Page[relations.Project] {
		t.Helper()
		p, err := env.Graph.Projects(ctx, alice, relations.ProjectQuery{PageRequest: req})
		if err != nil {
			t.Fatalf("%+v: %v", req, err)
		}
		return p
	}
	first := page(relations.PageRequest{First: 1, Token: token})
	probe := page(relations.PageRequest{Probe: true, After: first.EndCursor()})
	if len(probe.Items) != 0 || !probe.HasNext {
		t.Fatalf("a probe after the first page: %+v; want no items and more to follow", probe)
	}
	rest := page(relations.PageRequest{First: 3, After: first.EndCursor()})
	if len(rest.Items) != 3 || rest.HasNext {
		t.Fatalf("three after the first: %+v", rest.Items)
	}
	last := page(relations.PageRequest{Probe: true, After: rest.EndCursor()})
	if len(last.Items) != 0 || last.HasNext {
		t.Fatalf("a probe after the last page: %+v; want nothing to follow", last)
	}
}
