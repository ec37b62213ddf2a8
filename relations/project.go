package relations

import (
	"context"
	"errors"
	"regexp"
	"unicode"
	"unicode/utf8"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/seed-6461fa00/trellis/schema"
)

// Project is a project as a viewer sees it.
type Project struct {
	ProjectInfo
	// ReadAt is the consistency the project was read with; reads of its
	// parts (members, the viewer's role) use it too, so a client that read
	// the project after its own write sees that write in the parts.
	ReadAt Token
}

// NewProject is the input of CreateProject.
type NewProject struct {
	// Name is the project's ID: an immutable slug.
	Name        string
	DisplayName string
	Description string
}

var projectName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,61}[a-z0-9]$`)

const (
	maxDisplayName = 100
	maxDescription = 2000
)

// ValidateProjectName checks that name is a project slug: 2 to 63 lowercase
// letters, digits and hyphens, starting with a letter, not ending in a hyphen.
func ValidateProjectName(name string) error {
	if !projectName.MatchString(name) {
		return invalid("name", "project name %q must be 2 to 63 lowercase letters, digits and hyphens, start with a letter and not end with a hyphen", name)
	}
	return nil
}

// validateText checks text a user gives a project or artifact: valid
// UTF-8 within limit characters, no control characters (a description
// may hold line breaks and tabs), and not blank unless empty: an empty
// name falls back to the ID, a blank one would show as nothing.
func validateText(field, s string, limit int, multiline bool) error {
	if !utf8.ValidString(s) {
		return invalid(field, "%s is not valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(s); n > limit {
		return invalid(field, "%s is %d characters long; the limit is %d", field, n, limit)
	}
	visible := false
	for _, r := range s {
		switch {
		case multiline && (r == '\n' || r == '\t' || r == '\r'):
		case unicode.IsControl(r),
			// Invisible format characters (zero-width spaces,
			// direction overrides that make text read as other text)
			// and line or paragraph separators.
			!multiline && (unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)):
			return invalid(field, "%s holds the character %U, which does not show as itself", field, r)
		}
		visible = visible || unicode.IsGraphic(r) && !unicode.IsSpace(r)
	}
	if !multiline && s != "" && !visible {
		return invalid(field, "%s is blank; leave it empty to show the ID instead", field)
	}
	return nil
}

// CreateProject creates a project whose admin is the creator. A taken name
// is CodeConflict.
func (g *Graph) CreateProject(ctx context.Context, actor User, p NewProject) (Project, Token, error) {
	if err := ValidateProjectName(p.Name); err != nil {
		return Project{}, "", err
	}
	if err := validateText("displayName", p.DisplayName, maxDisplayName, false); err != nil {
		return Project{}, "", err
	}
	if err := validateText("description", p.Description, maxDescription, true); err != nil {
		return Project{}, "", err
	}
	if p.DisplayName == "" {
		p.DisplayName = p.Name
	}

	// The name is claimed atomically in the graph: a project exists exactly
	// while some relationship names it, and it always has an admin.
	admin := roleRelationship(p.Name, RoleAdmin, actor)
	resp, err := g.writeRelationships(ctx, &v1.WriteRelationshipsRequest{
		Updates: []*v1.RelationshipUpdate{update(v1.RelationshipUpdate_OPERATION_CREATE, admin)},
		OptionalPreconditions: []*v1.Precondition{mustNotMatch(&v1.RelationshipFilter{
			ResourceType: string(schema.TypeProject), OptionalResourceId: p.Name,
		})},
	})
	if err != nil {
		return Project{}, "", fromSpiceDB(ctx, err, "a project named "+p.Name+" already exists")
	}

	info := ProjectInfo{
		Name: p.Name, DisplayName: p.DisplayName, Description: p.Description,
		CreatedAt: g.now().UTC(), CreatedBy: actor.ID,
	}
	if err := g.catalog.PutProject(ctx, info); err != nil {
		// Give the name back, so a failed create changes nothing: every
		// role of the project goes, not just the admin's, lest a member
		// added meanwhile be left in a project with no admin.
		_, undoErr := g.deleteRelationships(context.WithoutCancel(ctx), &v1.DeleteRelationshipsRequest{
			RelationshipFilter: &v1.RelationshipFilter{ResourceType: string(schema.TypeProject), OptionalResourceId: p.Name},
		})
		return Project{}, "", &Error{Code: CodeUnavailable, Message: "could not store project metadata", Err: errors.Join(err, undoErr)}
	}
	token := tokenOf(resp.GetWrittenAt())
	return Project{ProjectInfo: info, ReadAt: token}, token, nil
}

// Project returns a project the viewer may read. A project that does not
// exist and one the viewer may not read are both CodeNotFound.
func (g *Graph) Project(ctx context.Context, viewer User, name string, t Token) (Project, error) {
	if err := ValidateProjectName(name); err != nil {
		return Project{}, err
	}
	ok, err := g.Check(ctx, viewer, Object{schema.TypeProject, name}, schema.ProjectRead, t)
	if err != nil {
		return Project{}, err
	}
	if !ok {
		return Project{}, notFoundProject(name)
	}
	p, err := g.ProjectMetadata(ctx, name)
	p.ReadAt = t
	return p, err
}

func notFoundProject(name string) error {
	return errorf(CodeNotFound, "project %q not found", name)
}

// ProjectMetadata returns a project's metadata without checking access:
// for callers that already know the viewer may read it (a batched access
// check, say). A project whose metadata was never stored still has its name.
func (g *Graph) ProjectMetadata(ctx context.Context, name string) (Project, error) {
	projects, err := g.projectsMetadata(ctx, []string{name}, "")
	if err != nil {
		return Project{}, err
	}
	return projects[0], nil
}

// projectsMetadata reads the metadata of projects in one catalog read, in
// the order of names, each marked as read at t.
func (g *Graph) projectsMetadata(ctx context.Context, names []string, t Token) ([]Project, error) {
	infos, err := g.catalog.Projects(ctx, names)
	if err != nil {
		return nil, &Error{Code: CodeUnavailable, Message: "could not read project metadata", Err: err}
	}
	out := make([]Project, len(names))
	for i, name := range names {
		info, ok := infos[name]
		if !ok {
			info = ProjectInfo{Name: name, DisplayName: name}
		}
		out[i] = Project{ProjectInfo: info, ReadAt: t}
	}
	return out, nil
}

// Found is one object looked up by key for a viewer: the object, or the
// error a lookup of that key alone gives (CodeNotFound for one the viewer
// may not read, CodeInvalid for a malformed key).
type Found[T any] struct {
	Value T
	Err   error
}

// ProjectsByName looks up many projects at once for viewer, with one bulk
// check and one catalog read: each answers as Project would alone.
func (g *Graph) ProjectsByName(ctx context.Context, viewer User, names []string, t Token) (map[string]Found[Project], error) {
	out := make(map[string]Found[Project], len(names))
	var items []CheckItem
	for _, name := range names {
		if err := ValidateProjectName(name); err != nil {
			out[name] = Found[Project]{Err: err}
			continue
		}
		items = append(items, CheckItem{Subject: viewer, Object: Object{schema.TypeProject, name}, Permission: schema.ProjectRead})
	}
	answers, err := g.CheckBulk(ctx, items, t)
	if err != nil {
		return nil, err
	}
	var readable []string
	for i, it := range items {
		if answers[i] {
			readable = append(readable, it.Object.ID)
		} else {
			out[it.Object.ID] = Found[Project]{Err: notFoundProject(it.Object.ID)}
		}
	}
	projects, err := g.projectsMetadata(ctx, readable, t)
	if err != nil {
		return nil, err
	}
	for _, p := range projects {
		out[p.Name] = Found[Project]{Value: p}
	}
	return out, nil
}

// ProjectQuery selects the projects on which the viewer has Permission
// (default read), or, with MinRole, a role of at least MinRole.
type ProjectQuery struct {
	PageRequest
	Permission schema.Permission
	MinRole    Role
}

// Projects lists the projects the viewer has the asked permission on, by
// SpiceDB's LookupResources, one page at a time.
func (g *Graph) Projects(ctx context.Context, viewer User, q ProjectQuery) (Page[Project], error) {
	if q.MinRole != "" {
		if q.MinRole.rank() < 0 {
			return Page[Project]{}, invalid("minRole", "%q is not a role", q.MinRole)
		}
		if q.Permission != "" {
			return Page[Project]{}, invalid("minRole", "give permission or minRole, not both")
		}
		q.Permission = floorPermission(q.MinRole)
	}
	if q.Permission == "" {
		q.Permission = schema.ProjectRead
	}
	if !schema.HasPermission(schema.TypeProject, q.Permission) {
		return Page[Project]{}, invalid("permission", "%q is not a project permission", q.Permission)
	}
	size, err := q.pageSize()
	if err != nil {
		return Page[Project]{}, err
	}
	after, token, err := g.cursors.start(viewer, q.PageRequest)
	if err != nil {
		return Page[Project]{}, err
	}
	names, cursors, hasNext, err := g.lookupProjects(ctx, viewer, q.Permission, size, after, token)
	for after != nil && len(names) > 0 {
		// A later page reads the first page's snapshot, which the cursor
		// pins for as long as the GC window keeps it (a day by default).
		// Projects the viewer has lost the permission on since are left
		// out: an old cursor shows nothing they may not see now.
		last := PageRequest{After: cursors[len(cursors)-1]}
		if names, cursors, err = g.stillPermitted(ctx, viewer, q.Permission, names, cursors); err != nil {
			return Page[Project]{}, err
		}
		if len(names) > 0 || !hasNext {
			break
		}
		// All of this page was lost: read on rather than answer an empty
		// page with more to follow and no cursor to follow it by.
		if after, _, err = g.cursors.start(viewer, last); err != nil {
			return Page[Project]{}, err
		}
		names, cursors, hasNext, err = g.lookupProjects(ctx, viewer, q.Permission, size, after, token)
	}
	if err != nil {
		return Page[Project]{}, err
	}
	var page Page[Project]
	page.Cursors, page.HasNext = cursors, hasNext
	if page.Items, err = g.projectsMetadata(ctx, names, token); err != nil {
		return Page[Project]{}, err
	}
	return page, nil
}

// stillPermitted keeps, of the named projects and their cursors, those on
// which the viewer has permission at the newest revision.
func (g *Graph) stillPermitted(ctx context.Context, viewer User, permission schema.Permission, names, cursors []string) ([]string, []string, error) {
	items := make([]CheckItem, len(names))
	for i, name := range names {
		items[i] = CheckItem{Subject: viewer, Object: Object{schema.TypeProject, name}, Permission: permission}
	}
	answers, err := g.checkBulk(ctx, items, fullyConsistent())
	if err != nil {
		return nil, nil, err
	}
	var keptNames, keptCursors []string
	for i, ok := range answers {
		if ok {
			keptNames = append(keptNames, names[i])
			keptCursors = append(keptCursors, cursors[i])
		}
	}
	return keptNames, keptCursors, nil
}

// lookupProjects reads one page of the projects on which the viewer has
// permission, by LookupResources after the SpiceDB cursor after.
func (g *Graph) lookupProjects(ctx context.Context, viewer User, permission schema.Permission, size int, after *v1.Cursor, token Token) (names, cursors []string, hasNext bool, err error) {
	// Stop the stream when the page is full.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := g.perms.LookupResources(ctx, &v1.LookupResourcesRequest{
		Consistency:        readConsistency(token),
		ResourceObjectType: string(schema.TypeProject),
		Permission:         string(permission),
		Subject:            userSubject(viewer),
		OptionalLimit:      spiceDBPageLimit,
		OptionalCursor:     after,
	})
	if err != nil {
		return nil, nil, false, fromSpiceDB(ctx, err, "")
	}
	return readPage(ctx, stream.Recv, size, g.cursors.issuer(viewer, token), func(r *v1.LookupResourcesResponse) (string, bool) {
		return r.GetResourceObjectId(), r.GetPermissionship() == v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_HAS_PERMISSION
	})
}
