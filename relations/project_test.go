package relations_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
	"github.com/seed-6461fa00/trellis/schema"
)

// TestProjectsPaginationIsASnapshot: a viewer's projects, listed a few at
// a time, come out each at most once, as of the first page, however the
// viewer's memberships change between pages; a project the viewer has
// left before its page comes is not listed.
func TestProjectsPaginationIsASnapshot(t *testing.T) {
	env := relationstest.Open(t)
	ctx := t.Context()
	boss := relationstest.MustUser(t, "boss")
	viewer := relationstest.MustUser(t, "vic")
	join := func(name string) {
		t.Helper()
		if _, _, err := env.Graph.CreateProject(ctx, boss, relations.NewProject{Name: name}); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Graph.AddMember(ctx, boss, name, viewer, relations.RoleReader); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i := range 23 {
		name := fmt.Sprintf("p%02d", i)
		join(name)
		want = append(want, name)
	}
	var got []string
	q := relations.ProjectQuery{PageRequest: relations.PageRequest{First: 5}}
	for pages := 0; ; pages++ {
		page, err := env.Graph.Projects(ctx, viewer, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 5 || len(page.Cursors) != len(page.Items) {
			t.Fatalf("page %d: %d items, %d cursors, want at most 5 of each", pages, len(page.Items), len(page.Cursors))
		}
		for _, p := range page.Items {
			got = append(got, p.Name)
		}
		// Churn between pages: join one project, lose another.
		join(fmt.Sprintf("late%d", pages))
		if _, err := env.Graph.RemoveMember(ctx, boss, fmt.Sprintf("p%02d", 22-pages), viewer); err != nil {
			t.Fatal(err)
		}
		if !page.HasNext {
			break
		}
		if pages > 10 {
			t.Fatal("more pages than 23 projects fill")
		}
		q.After = page.EndCursor()
	}
	// p22, p21 and p20 were left before their page came.
	want = slices.DeleteFunc(want, func(name string) bool { return name >= "p20" })
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("paged projects %v\nwant the first page's snapshot, less what the viewer left before its page %v", got, want)
	}
}

// TestProjectsPageSkipsAWholePageLost: when the viewer has left every
// project of the next page, that page is not answered empty with more to
// follow: it goes on to the projects still theirs.
func TestProjectsPageSkipsAWholePageLost(t *testing.T) {
	env := relationstest.Open(t)
	ctx := t.Context()
	boss := relationstest.MustUser(t, "boss")
	viewer := relationstest.MustUser(t, "vic")
	for i := range 15 {
		name := fmt.Sprintf("q%02d", i)
		if _, _, err := env.Graph.CreateProject(ctx, boss, relations.NewProject{Name: name}); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Graph.AddMember(ctx, boss, name, viewer, relations.RoleReader); err != nil {
			t.Fatal(err)
		}
	}
	q := relations.ProjectQuery{PageRequest: relations.PageRequest{First: 5}}
	first, err := env.Graph.Projects(ctx, viewer, q)
	if err != nil {
		t.Fatal(err)
	}
	for i := 5; i < 10; i++ {
		if _, err := env.Graph.RemoveMember(ctx, boss, fmt.Sprintf("q%02d", i), viewer); err != nil {
			t.Fatal(err)
		}
	}
	q.After = first.EndCursor()
	second, err := env.Graph.Projects(ctx, viewer, q)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range second.Items {
		got = append(got, p.Name)
	}
	if want := []string{"q10", "q11", "q12", "q13", "q14"}; !slices.Equal(got, want) || second.HasNext {
		t.Fatalf("the page after the lost ones: %v (more: %v), want %v and no more", got, second.HasNext, want)
	}
}

// failingPut is a catalog that cannot store project metadata; during
// stores a call made just before it fails.
type failingPut struct {
	relations.Catalog
	during func()
}

func (c failingPut) PutProject(context.Context, relations.ProjectInfo) error {
	c.during()
	return errors.New("disk full")
}

// TestFailedCreateGivesTheNameBack: a project whose metadata cannot be
// stored is undone whole, a member added meanwhile included, so no
// project without an admin is left holding the name.
func TestFailedCreateGivesTheNameBack(t *testing.T) {
	env := relationstest.Open(t)
	ctx := t.Context()
	alice, bob := relationstest.MustUser(t, "alice"), relationstest.MustUser(t, "bob")
	broken, err := relations.Open(ctx, env.Conn, failingPut{Catalog: env.Catalog, during: func() {
		if _, err := env.Graph.AddMember(ctx, alice, "hermes", bob, relations.RoleReader); err != nil {
			t.Errorf("adding a member while the project is created: %v", err)
		}
	}}, relations.WithHeadChecker(env.Engine), relations.WithLocalWriter(env.Engine))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := broken.CreateProject(ctx, alice, relations.NewProject{Name: "hermes"}); relations.ErrorCode(err) != relations.CodeUnavailable {
		t.Fatalf("creating a project whose metadata cannot be stored: %v", err)
	}
	if ok, err := env.Graph.CheckNow(ctx, bob, relations.Object{Type: schema.TypeProject, ID: "hermes"}, schema.ProjectRead); err != nil || ok {
		t.Fatalf("bob still reads the project that failed: %v %v", ok, err)
	}
	if _, _, err := env.Graph.CreateProject(ctx, bob, relations.NewProject{Name: "hermes"}); err != nil {
		t.Fatalf("the name of the project that failed: %v", err)
	}
}

// TestProjectTextIsChecked: display names and descriptions are refused
// when they hold control characters or a display name is blank; a
// description may break lines.
func TestProjectTextIsChecked(t *testing.T) {
	env := relationstest.Open(t)
	ctx := t.Context()
	alice := relationstest.MustUser(t, "alice")
	for _, bad := range []relations.NewProject{
		{Name: "nul", DisplayName: "Apollo\x00"},
		{Name: "blank", DisplayName: "   "},
		{Name: "zero-width", DisplayName: "\u200b"},
		{Name: "override", DisplayName: "invoice\u202egpj.exe"},
		{Name: "bell", Description: "ring\a"},
		{Name: "long", DisplayName: strings.Repeat("x", 1000)},
	} {
		if _, _, err := env.Graph.CreateProject(ctx, alice, bad); relations.ErrorCode(err) != relations.CodeInvalid {
			t.Errorf("%+v: %v, want BAD_USER_INPUT", bad, err)
		}
	}
	p, _, err := env.Graph.CreateProject(ctx, alice, relations.NewProject{Name: "fine", Description: "line one\n\tline two"})
	if err != nil || p.Description != "line one\n\tline two" {
		t.Fatalf("a description over two lines: %+v, %v", p, err)
	}
	blank := " "
	if _, _, err := env.Graph.UpdateProject(ctx, alice, "fine", relations.ProjectUpdate{DisplayName: &blank}); relations.ErrorCode(err) != relations.CodeInvalid {
		t.Fatalf("updating to a blank display name: %v", err)
	}
}
