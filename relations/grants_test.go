package relations_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
	"github.com/seed-6461fa00/trellis/schema"
)

// fixture is a project with one member per role, an outsider, and the admin
// of another project.
type fixture struct {
	g       *relations.Graph
	project string
	users   map[string]relations.User // by role name, plus "none" and "other-admin"
	newbie  relations.User
}

var projectSeq atomic.Int64

func newFixture(t *testing.T, env *relationstest.Env) fixture {
	t.Helper()
	ctx := t.Context()
	n := projectSeq.Add(1)
	f := fixture{
		g:       env.Graph,
		project: fmt.Sprintf("apollo-%d", n),
		users: map[string]relations.User{
			"admin":       relationstest.MustUser(t, "alice"),
			"manager":     relationstest.MustUser(t, "mary"),
			"writer":      relationstest.MustUser(t, "wendy"),
			"reader":      relationstest.MustUser(t, "rita"),
			"none":        relationstest.MustUser(t, "oscar"),
			"other-admin": relationstest.MustUser(t, "zed"),
		},
		newbie: relationstest.MustUser(t, "newbie"),
	}
	if _, _, err := f.g.CreateProject(ctx, f.users["admin"], relations.NewProject{Name: f.project}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.g.CreateProject(ctx, f.users["other-admin"], relations.NewProject{Name: fmt.Sprintf("zephyr-%d", n)}); err != nil {
		t.Fatal(err)
	}
	for _, role := range []relations.Role{relations.RoleManager, relations.RoleWriter, relations.RoleReader} {
		if _, err := f.g.AddMember(ctx, f.users["admin"], f.project, f.users[string(role)], role); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// members returns the project's members as "user=role", as the admin sees them.
func (f fixture) members(t *testing.T) []string {
	t.Helper()
	page, err := f.g.Members(t.Context(), f.users["admin"], f.project, relations.MemberQuery{PageRequest: relations.PageRequest{First: 100}})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range page.Items {
		out = append(out, m.User.ID+"="+string(m.Role))
	}
	slices.Sort(out)
	return out
}

func (f fixture) roleOf(t *testing.T, u relations.User) string {
	for _, m := range f.members(t) {
		if id, role, _ := cut(m); id == u.ID {
			return role
		}
	}
	return ""
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '=' && i > 0 {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

type action struct {
	name string
	do   func(ctx context.Context, f fixture, actor relations.User) error
	// after checks the effect of a successful action.
	after func(t *testing.T, f fixture)
}

func TestGrantRules(t *testing.T) {
	env := relationstest.Open(t)
	actors := []string{"none", "reader", "writer", "manager", "admin", "other-admin"}
	const ok = relations.Code("")
	const (
		nf  = relations.CodeNotFound
		fb  = relations.CodeForbidden
		cfl = relations.CodeConflict
	)

	actions := []struct {
		action
		want map[string]relations.Code
	}{
		{action{"add reader", func(ctx context.Context, f fixture, a relations.User) error {
			_, err := f.g.AddMember(ctx, a, f.project, f.newbie, relations.RoleReader)
			return err
		}, func(t *testing.T, f fixture) { wantRole(t, f, f.newbie, "reader") }},
			map[string]relations.Code{"none": nf, "other-admin": nf, "reader": fb, "writer": fb, "manager": ok, "admin": ok}},
		{action{"add manager", func(ctx context.Context, f fixture, a relations.User) error {
			_, err := f.g.AddMember(ctx, a, f.project, f.newbie, relations.RoleManager)
			return err
		}, func(t *testing.T, f fixture) { wantRole(t, f, f.newbie, "manager") }},
			map[string]relations.Code{"none": nf, "other-admin": nf, "reader": fb, "writer": fb, "manager": ok, "admin": ok}},
		{action{"add admin", func(ctx context.Context, f fixture, a relations.User) error {
			_, err := f.g.AddMember(ctx, a, f.project, f.newbie, relations.RoleAdmin)
			return err
		}, func(t *testing.T, f fixture) { wantRole(t, f, f.newbie, "admin") }},
			map[string]relations.Code{"none": nf, "other-admin": nf, "reader": fb, "writer": fb, "manager": fb, "admin": ok}},
		{action{"add existing member", func(ctx context.Context, f fixture, a relations.User) error {
			_, err := f.g.AddMember(ctx, a, f.project, f.users["reader"], relations.RoleWriter)
			return err
		}, nil},
			map[string]relations.Code{"none": nf, "other-admin": nf, "reader": fb, "writer": fb, "manager": cfl, "admin": cfl}},
		{action{"promote reader to writer", func(ctx context.Context, f fixture, a relations.User) error {
			_, err := f.g.ChangeRole(ctx, a, f.project, f.users["reader"], relations.RoleWriter)
			return err
		}, func(t *testing.T, f fixture) { wantRole(t, f, f.users["reader"], "writer") }},
			map[string]relations.Code{"none": nf, "other-admin": nf, "reader": fb, "writer": fb, "manager": ok, "admin": ok}},
		{action{"promote writer to manager", func(ctx context.Context, f fixture, a relations.User) error {
			_, err := f.g.ChangeRole(ctx, a, f.project, f.users["writer"], relations.RoleManager)
			return err
		}, func(t *testing.T, f fixture) { wantRole(t, f, f.users["writer"], "manager") }},
			map[string]relations.Code{"none": nf, "other-admin": nf, "reader": fb, "writer": fb, "manager": ok, "admin": ok}},
		{action{"demote manager to reader", func(ctx context.Context, f fixture, a relations.User) error {
			_, err := f.g.ChangeRole(ctx, a, f.project, f.users["manager"], relations.RoleReader)
			return err
		}, func(t *testing.T, f fixture) { wantRole(t, f, f.users["manager"], "reader") }},
			map[string]relations.Code{"none": nf, "other-admin": nf, "reader": fb, "writer": fb, "manager": ok, "admin": ok}},
		{action{"promote manager to admin", func(ctx context.Context, f fixture, a relations.User) error {
			_, err := f.g.ChangeRole(ctx, a, f.project, f.users["manager"], relations.RoleAdmin)
			return err
		}, func(t *testing.T, f fixture) { wantRole(t, f, f.users["manager"], "admin") }},
			map[string]relations.Code{"none": nf, "other-admin": nf, "reader": fb, "writer": fb, "manager": fb, "admin": ok}},
		{action{"demote the last admin", func(ctx context.Context, f fixture, a relations.User) error {
			_, err := f.g.ChangeRole(ctx, a, f.project, f.users["admin"], relations.RoleManager)
			return err
		}, nil},
			map[string]relations.Code{"none": nf, "other-admin": nf, "reader": fb, "writer": fb, "manager": fb, "admin": cfl}},
		{action{"remove reader", func(ctx context.Context, f fixture, a relations.User) error {
			_, err := f.g.RemoveMember(ctx, a, f.project, f.users["reader"])
			return err
		}, func(t *testing.T, f fixture) { wantRole(t, f, f.users["reader"], "") }},
			map[string]relations.Code{"none": nf, "other-admin": nf, "reader": fb, "writer": fb, "manager": ok, "admin": ok}},
		{action{"remove manager", func(ctx context.Context, f fixture, a relations.User) error {
			_, err := f.g.RemoveMember(ctx, a, f.project, f.users["manager"])
			return err
		}, func(t *testing.T, f fixture) { wantRole(t, f, f.users["manager"], "") }},
			map[string]relations.Code{"none": nf, "other-admin": nf, "reader": fb, "writer": fb, "manager": ok, "admin": ok}},
		{action{"remove the last admin", func(ctx context.Context, f fixture, a relations.User) error {
			_, err := f.g.RemoveMember(ctx, a, f.project, f.users["admin"])
			return err
		}, nil},
			map[string]relations.Code{"none": nf, "other-admin": nf, "reader": fb, "writer": fb, "manager": fb, "admin": cfl}},
		{action{"leave", func(ctx context.Context, f fixture, a relations.User) error {
			_, err := f.g.Leave(ctx, a, f.project)
			return err
		}, nil},
			map[string]relations.Code{"none": nf, "other-admin": nf, "reader": ok, "writer": ok, "manager": ok, "admin": cfl}},
	}

	for _, a := range actions {
		for _, actor := range actors {
			want := a.want[actor]
			t.Run(a.name+"/as "+actor, func(t *testing.T) {
				f := newFixture(t, env)
				before := f.members(t)
				err := a.do(t.Context(), f, f.users[actor])
				if got := relations.ErrorCode(err); got != want {
					t.Fatalf("got %q (%v), want %q", got, err, orOK(want))
				}
				if err != nil {
					if after := f.members(t); !slices.Equal(before, after) {
						t.Fatalf("a rejected mutation changed the members:\nbefore %v\nafter  %v", before, after)
					}
					return
				}
				if a.after != nil {
					a.after(t, f)
				}
			})
		}
	}
}

func orOK(c relations.Code) string {
	if c == "" {
		return "success"
	}
	return string(c)
}

func wantRole(t *testing.T, f fixture, u relations.User, role string) {
	t.Helper()
	if got := f.roleOf(t, u); got != role {
		t.Fatalf("%s has role %q, want %q (members %v)", u.ID, got, role, f.members(t))
	}
}

// TestRolePermissions checks each role's project permissions through Check,
// including every forbidden one.
func TestRolePermissions(t *testing.T) {
	env := relationstest.Open(t)
	f := newFixture(t, env)
	want := map[string][]schema.Permission{
		"none":        nil,
		"other-admin": nil,
		"reader":      {schema.ProjectRead},
		"writer":      {schema.ProjectRead, schema.ProjectWrite},
		"manager":     {schema.ProjectRead, schema.ProjectWrite, schema.ProjectManageMembers},
		"admin":       {schema.ProjectRead, schema.ProjectWrite, schema.ProjectManageMembers, schema.ProjectManageAdmins, schema.ProjectDelete},
	}
	for actor, allowed := range want {
		for _, p := range schema.Permissions[schema.TypeProject] {
			got, err := f.g.Check(t.Context(), f.users[actor], relations.Object{Type: schema.TypeProject, ID: f.project}, p, "")
			if err != nil {
				t.Fatal(err)
			}
			if got != slices.Contains(allowed, p) {
				t.Errorf("%s: %s = %v, want %v", actor, p, got, !got)
			}
		}
	}
}

// TestTwoAdmins: with a second admin, an admin may step down or be removed.
func TestTwoAdmins(t *testing.T) {
	env := relationstest.Open(t)
	f := newFixture(t, env)
	ctx := t.Context()
	admin, manager := f.users["admin"], f.users["manager"]
	if _, err := f.g.ChangeRole(ctx, admin, f.project, manager, relations.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := f.g.ChangeRole(ctx, admin, f.project, admin, relations.RoleWriter); err != nil {
		t.Fatalf("an admin with a co-admin could not step down: %v", err)
	}
	wantRole(t, f, admin, "writer")
	if _, err := f.g.Leave(ctx, manager, f.project); relations.ErrorCode(err) != relations.CodeConflict {
		t.Fatalf("the new last admin left: %v", err)
	}
}

// TestRoleFloors: listing projects by minimum role finds exactly the
// projects where the viewer's role is at least that role.
func TestRoleFloors(t *testing.T) {
	env := relationstest.Open(t)
	ctx := t.Context()
	boss := relationstest.MustUser(t, "boss")
	viewer := relationstest.MustUser(t, "vic")
	roles := relations.Roles()
	for _, r := range roles {
		name := "floor-" + string(r)
		if _, _, err := env.Graph.CreateProject(ctx, boss, relations.NewProject{Name: name}); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Graph.AddMember(ctx, boss, name, viewer, r); err != nil {
			t.Fatal(err)
		}
	}
	for i, floor := range roles {
		page, err := env.Graph.Projects(ctx, viewer, relations.ProjectQuery{MinRole: floor})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range page.Items {
			got = append(got, p.Name)
		}
		slices.Sort(got)
		var want []string
		for _, r := range roles[i:] {
			want = append(want, "floor-"+string(r))
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("minRole %s: %v, want %v", floor, got, want)
		}
	}
}

// TestMembersPaginationIsASnapshot: pages after the first read the first
// page's snapshot, so members added or removed between pages neither
// appear twice nor go missing.
func TestMembersPaginationIsASnapshot(t *testing.T) {
	env := relationstest.Open(t)
	ctx := t.Context()
	admin := relationstest.MustUser(t, "admin")
	if _, _, err := env.Graph.CreateProject(ctx, admin, relations.NewProject{Name: "paged"}); err != nil {
		t.Fatal(err)
	}
	var want []string
	want = append(want, "admin")
	for i := range 29 {
		u := relationstest.MustUser(t, fmt.Sprintf("m%02d", i))
		if _, err := env.Graph.AddMember(ctx, admin, "paged", u, relations.RoleReader); err != nil {
			t.Fatal(err)
		}
		want = append(want, u.ID)
	}
	var got []string
	req := relations.MemberQuery{PageRequest: relations.PageRequest{First: 7}}
	for pages := 0; ; pages++ {
		page, err := env.Graph.Members(ctx, admin, "paged", req)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Items {
			got = append(got, m.User.ID)
		}
		// Churn between pages: add one member, remove another.
		newcomer := relationstest.MustUser(t, fmt.Sprintf("late%d", pages))
		if _, err := env.Graph.AddMember(ctx, admin, "paged", newcomer, relations.RoleReader); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Graph.RemoveMember(ctx, admin, "paged", relationstest.MustUser(t, fmt.Sprintf("m%02d", 28-pages))); err != nil {
			t.Fatal(err)
		}
		if !page.HasNext {
			break
		}
		req.After = page.EndCursor()
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("paged members %v\nwant the first page's snapshot %v", got, want)
	}
}
