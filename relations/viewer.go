package relations

import (
	"context"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/seed-6461fa00/trellis/schema"
)

// CurrentProject returns the viewer's current project (the platform's
// "switch project"), or ok false if none is set or the viewer can no longer
// read it.
func (g *Graph) CurrentProject(ctx context.Context, viewer User, t Token) (Project, bool, error) {
	name, err := g.catalog.CurrentProject(ctx, viewer.ID)
	if err != nil {
		return Project{}, false, &Error{Code: CodeUnavailable, Message: "could not read the current project", Err: err}
	}
	if name == "" {
		return Project{}, false, nil
	}
	p, err := g.Project(ctx, viewer, name, t)
	if ErrorCode(err) == CodeNotFound {
		return Project{}, false, nil
	}
	return p, err == nil, err
}

// SwitchProject makes project the viewer's current project; the viewer must
// be able to read it at the newest revision. The token names that revision,
// so a client reading with it sees the project as the switch did.
func (g *Graph) SwitchProject(ctx context.Context, viewer User, project string) (Project, Token, error) {
	token, err := g.readableAt(ctx, viewer, project, "")
	if err != nil {
		return Project{}, "", err
	}
	p, err := g.ProjectMetadata(ctx, project)
	if err != nil {
		return Project{}, "", err
	}
	p.ReadAt = token
	if err := g.catalog.SetCurrentProject(ctx, viewer.ID, project); err != nil {
		return Project{}, "", &Error{Code: CodeUnavailable, Message: "could not store the current project", Err: err}
	}
	return p, token, nil
}

// readableAt checks that viewer may read project at the revision t
// names, or without t at the newest (fully consistent), and returns the
// revision the answer holds at (the check's checked_at); CodeNotFound if
// the viewer may not.
func (g *Graph) readableAt(ctx context.Context, viewer User, project string, t Token) (Token, error) {
	if err := ValidateProjectName(project); err != nil {
		return "", err
	}
	consistency := fullyConsistent()
	if t != "" {
		consistency = atSnapshot(t)
	}
	resp, err := g.perms.CheckPermission(ctx, &v1.CheckPermissionRequest{
		Consistency: consistency,
		Resource:    projectRef(project),
		Permission:  string(schema.ProjectRead),
		Subject:     userSubject(viewer),
	})
	if err != nil {
		return "", fromSpiceDB(ctx, err, "")
	}
	if resp.GetPermissionship() != v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION {
		return "", notFoundProject(project)
	}
	return Token(resp.GetCheckedAt().GetToken()), nil
}

// CheckAs answers "may subject do permission on object?" for viewer. Any
// viewer may ask about themselves; asking about someone else needs
// manage_members on the object's project, so membership cannot be probed.
func (g *Graph) CheckAs(ctx context.Context, viewer, subject User, object Object, permission schema.Permission, t Token) (bool, error) {
	if _, ok := schema.Permissions[object.Type]; !ok || object.Type == schema.TypeUser {
		return false, invalid("resource.type", "%q is not a resource type", object.Type)
	}
	if !schema.HasPermission(object.Type, permission) {
		return false, invalid("permission", "%q is not a permission of %s", permission, object.Type)
	}
	if !isObjectID(object.ID) {
		return false, invalid("resource.id", "%q is not a valid ID", object.ID)
	}
	if subject.ID != viewer.ID {
		project, err := g.projectOf(ctx, object, t)
		if err != nil {
			return false, err
		}
		ok, err := g.Check(ctx, viewer, Object{schema.TypeProject, project}, schema.ProjectManageMembers, t)
		if err != nil {
			return false, err
		}
		if !ok {
			return false, errorf(CodeForbidden, "asking about another user needs the manage_members permission on the project")
		}
	}
	return g.Check(ctx, subject, object, permission, t)
}

// projectOf returns the project an object belongs to: itself for a
// project, its project relationship for an artifact.
func (g *Graph) projectOf(ctx context.Context, object Object, t Token) (string, error) {
	return g.projectOfAt(ctx, object, readConsistency(t))
}

func (g *Graph) projectOfAt(ctx context.Context, object Object, c *v1.Consistency) (string, error) {
	if object.Type == schema.TypeProject {
		return object.ID, nil
	}
	r, found, err := g.firstRelationship(ctx, c, &v1.RelationshipFilter{
		ResourceType: string(object.Type), OptionalResourceId: object.ID, OptionalRelation: string(schema.ArtifactProject),
	})
	if err != nil {
		return "", err
	}
	if !found {
		// No project: the artifact does not exist, and nobody manages it.
		return "", errorf(CodeForbidden, "asking about another user needs the manage_members permission on the project")
	}
	return r.GetSubject().GetObject().GetObjectId(), nil
}
