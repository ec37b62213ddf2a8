package relations

import (
	"context"
	"errors"
	"io"
	"slices"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/seed-6461fa00/trellis/schema"
)

// Member is a user and the one role they hold in a project.
type Member struct {
	User User
	Role Role
}

// MemberQuery selects members of a project, optionally of one role.
type MemberQuery struct {
	PageRequest
	Role Role
}

// Members lists a project's members, ordered by role then user, one page at
// a time; every page of one listing reads the same snapshot.
func (g *Graph) Members(ctx context.Context, viewer User, project string, q MemberQuery) (Page[Member], error) {
	if err := ValidateProjectName(project); err != nil {
		return Page[Member]{}, err
	}
	if q.Role != "" && q.Role.rank() < 0 {
		return Page[Member]{}, invalid("role", "%q is not a role", q.Role)
	}
	size, err := q.pageSize()
	if err != nil {
		return Page[Member]{}, err
	}
	after, token, err := g.cursors.start(viewer, q.PageRequest)
	if err != nil {
		return Page[Member]{}, err
	}
	ok, err := g.Check(ctx, viewer, Object{schema.TypeProject, project}, schema.ProjectRead, token)
	if err != nil {
		return Page[Member]{}, err
	}
	if !ok {
		return Page[Member]{}, notFoundProject(project)
	}

	filter := &v1.RelationshipFilter{
		ResourceType:          string(schema.TypeProject),
		OptionalResourceId:    project,
		OptionalRelation:      string(q.Role),
		OptionalSubjectFilter: &v1.SubjectFilter{SubjectType: string(schema.TypeUser)},
	}
	return relationshipPage(ctx, g, viewer, filter, size, after, token, func(r *v1.Relationship) (Member, bool) {
		role := Role(r.GetRelation())
		return Member{User: User{ID: r.GetSubject().GetObject().GetObjectId()}, Role: role}, role.rank() >= 0
	})
}

// roleOf reads, fully consistently, the role user holds in project; ok is
// false for a non-member.
func (g *Graph) roleOf(ctx context.Context, project string, user User) (Role, bool, error) {
	role, ok, _, err := g.roleAt(ctx, project, user)
	return role, ok, err
}

// roleAt is roleOf plus the revision it was read at (nil when the user has
// no relationship in the project).
func (g *Graph) roleAt(ctx context.Context, project string, user User) (Role, bool, *v1.ZedToken, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := g.perms.ReadRelationships(ctx, &v1.ReadRelationshipsRequest{
		Consistency: fullyConsistent(),
		RelationshipFilter: &v1.RelationshipFilter{
			ResourceType:       string(schema.TypeProject),
			OptionalResourceId: project,
			OptionalSubjectFilter: &v1.SubjectFilter{
				SubjectType: string(schema.TypeUser), OptionalSubjectId: user.ID,
			},
		},
	})
	if err != nil {
		return "", false, nil, fromSpiceDB(ctx, err, "")
	}
	var best Role
	var at *v1.ZedToken
	found := false
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return best, found, at, nil
		}
		if err != nil {
			return "", false, nil, fromSpiceDB(ctx, err, "")
		}
		at = r.GetReadAt()
		role := Role(r.GetRelationship().GetRelation())
		if role.rank() >= 0 && (!found || role.AtLeast(best)) {
			best, found = role, true
		}
	}
}

// Access is what the viewer may do in a project: their role, if any, and
// every project permission they hold.
type Access struct {
	Role        Role
	HasRole     bool
	Permissions []schema.Permission
}

// Can reports whether the access includes permission p.
func (a Access) Can(p schema.Permission) bool { return slices.Contains(a.Permissions, p) }

// Role returns the viewer's own role in a project they may read.
func (g *Graph) Role(ctx context.Context, viewer User, project string, t Token) (Role, bool, error) {
	access, err := g.AccessTo(ctx, viewer, []string{project}, t)
	if err != nil {
		return "", false, err
	}
	a := access[project]
	return a.Role, a.HasRole, nil
}

// AccessTo returns the viewer's role and permissions in each of the named
// projects with one bulk check, whatever the number of projects (up to
// SpiceDB's bulk limit). Every project is in the map; one the viewer cannot
// see has no role and no permissions.
func (g *Graph) AccessTo(ctx context.Context, viewer User, projects []string, t Token) (map[string]Access, error) {
	roles := Roles()
	perms := schema.Permissions[schema.TypeProject]
	per := len(roles) + len(perms)
	items := make([]CheckItem, 0, len(projects)*per)
	for _, p := range projects {
		obj := Object{schema.TypeProject, p}
		for _, r := range roles {
			items = append(items, CheckItem{Subject: viewer, Object: obj, Permission: schema.Permission(r)})
		}
		for _, perm := range perms {
			items = append(items, CheckItem{Subject: viewer, Object: obj, Permission: perm})
		}
	}
	answers, err := g.CheckBulk(ctx, items, t)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Access, len(projects))
	for i, p := range projects {
		a := Access{}
		row := answers[i*per : (i+1)*per]
		for j, r := range roles {
			if row[j] {
				a.Role, a.HasRole = r, true // roles run lowest first, so the highest wins
			}
		}
		for j, perm := range perms {
			if row[len(roles)+j] {
				a.Permissions = append(a.Permissions, perm)
			}
		}
		out[p] = a
	}
	return out, nil
}
