package relations

import (
	"context"
	"errors"
	"io"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/seed-6461fa00/trellis/schema"
)

// The grant rules. Managers add, promote, demote and remove members up to
// manager; only admins touch admins; a project never loses its last admin; a
// user holds exactly one role per project. Every change is one atomic
// WriteRelationships whose preconditions pin what the decision was based on
// (the target's old role, the actor's own role, another admin), so a
// concurrent change makes it fail with CodeConflict instead of slipping by.

// authorize checks that actor has every permission in perms on project. A
// project actor cannot read is CodeNotFound; one actor can read but not
// change is CodeForbidden. The actor's role and the decision are read at
// one revision, and the returned precondition pins that very role, so an
// actor demoted or removed meanwhile makes the write fail instead of
// acting with rights they no longer hold.
func (g *Graph) authorize(ctx context.Context, actor User, project string, perms ...schema.Permission) ([]*v1.Precondition, error) {
	if err := ValidateProjectName(project); err != nil {
		return nil, err
	}
	role, ok, at, err := g.roleAt(ctx, project, actor)
	if err != nil {
		return nil, err
	}
	items := []CheckItem{{Subject: actor, Object: Object{schema.TypeProject, project}, Permission: schema.ProjectRead}}
	for _, p := range perms {
		items = append(items, CheckItem{Subject: actor, Object: Object{schema.TypeProject, project}, Permission: p})
	}
	consistency := fullyConsistent()
	if at != nil {
		consistency = &v1.Consistency{Requirement: &v1.Consistency_AtExactSnapshot{AtExactSnapshot: at}}
	}
	answers, err := g.checkBulk(ctx, items, consistency)
	if err != nil {
		return nil, err
	}
	if !answers[0] {
		return nil, notFoundProject(project)
	}
	for i, p := range perms {
		if !answers[i+1] {
			return nil, errorf(CodeForbidden, "you need the %s permission on project %q", p, project)
		}
	}
	if !ok {
		// Allowed without a role to pin: nothing could stop a concurrent
		// revocation, so refuse rather than act unpinned.
		return nil, errorf(CodeForbidden, "you hold no role in project %q", project)
	}
	return []*v1.Precondition{mustMatch(exactly(roleRelationship(project, role, actor)))}, nil
}

// keepAnAdmin returns a precondition that some admin other than leaving
// stays, or CodeConflict if leaving is the last admin.
func (g *Graph) keepAnAdmin(ctx context.Context, project string, leaving User) (*v1.Precondition, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := g.perms.ReadRelationships(ctx, &v1.ReadRelationshipsRequest{
		Consistency: fullyConsistent(),
		RelationshipFilter: &v1.RelationshipFilter{
			ResourceType: string(schema.TypeProject), OptionalResourceId: project,
			OptionalRelation:      string(RoleAdmin),
			OptionalSubjectFilter: &v1.SubjectFilter{SubjectType: string(schema.TypeUser)},
		},
		OptionalLimit: 2,
	})
	if err != nil {
		return nil, fromSpiceDB(ctx, err, "")
	}
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, errorf(CodeConflict, "%s is the last admin of project %q; make someone else admin first", leaving.ID, project)
		}
		if err != nil {
			return nil, fromSpiceDB(ctx, err, "")
		}
		if r.GetRelationship().GetSubject().GetObject().GetObjectId() != leaving.ID {
			return mustMatch(exactly(r.GetRelationship())), nil
		}
	}
}

func (g *Graph) write(ctx context.Context, updates []*v1.RelationshipUpdate, pre []*v1.Precondition, conflict string) (Token, error) {
	resp, err := g.writeRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: updates, OptionalPreconditions: pre})
	if err != nil {
		return "", fromSpiceDB(ctx, err, conflict)
	}
	return tokenOf(resp.GetWrittenAt()), nil
}

// writeRelationships applies req in this process when the graph can
// (WithLocalWriter), over the connection otherwise.
func (g *Graph) writeRelationships(ctx context.Context, req *v1.WriteRelationshipsRequest) (*v1.WriteRelationshipsResponse, error) {
	if g.writer != nil {
		return g.writer.WriteRelationships(ctx, req)
	}
	return g.perms.WriteRelationships(ctx, req)
}

// deleteRelationships applies req in this process when the graph can
// (WithLocalWriter), over the connection otherwise.
func (g *Graph) deleteRelationships(ctx context.Context, req *v1.DeleteRelationshipsRequest) (*v1.DeleteRelationshipsResponse, error) {
	if g.writer != nil {
		return g.writer.DeleteRelationships(ctx, req)
	}
	return g.perms.DeleteRelationships(ctx, req)
}

const concurrentChange = "the project's members changed concurrently; read them again and retry"

// AddMember gives user a role in project. Adding a user who already holds a
// role is CodeConflict: change their role instead.
func (g *Graph) AddMember(ctx context.Context, actor User, project string, user User, role Role) (Token, error) {
	if role.rank() < 0 {
		return "", invalid("role", "%q is not a role", role)
	}
	if err := grantable(user); err != nil {
		return "", err
	}
	pre, err := g.authorize(ctx, actor, project, grantPermission(role))
	if err != nil {
		return "", err
	}
	current, ok, err := g.roleOf(ctx, project, user)
	if err != nil {
		return "", err
	}
	if ok {
		return "", errorf(CodeConflict, "%s is already a %s of project %q; change their role instead", user.ID, current, project)
	}
	anyRole := &v1.RelationshipFilter{
		ResourceType: string(schema.TypeProject), OptionalResourceId: project,
		OptionalSubjectFilter: &v1.SubjectFilter{SubjectType: string(schema.TypeUser), OptionalSubjectId: user.ID},
	}
	return g.write(ctx,
		[]*v1.RelationshipUpdate{update(v1.RelationshipUpdate_OPERATION_CREATE, roleRelationship(project, role, user))},
		append(pre, mustNotMatch(anyRole)), concurrentChange)
}

// ChangeRole moves a member from their role to another in one atomic write.
// The actor needs the right to grant both the old and the new role.
func (g *Graph) ChangeRole(ctx context.Context, actor User, project string, user User, role Role) (Token, error) {
	if role.rank() < 0 {
		return "", invalid("role", "%q is not a role", role)
	}
	if err := validMembership(project, user); err != nil {
		return "", err
	}
	old, ok, err := g.roleOf(ctx, project, user)
	if err != nil {
		return "", err
	}
	pre, err := g.authorize(ctx, actor, project, grantPermission(role), grantPermission(orReader(old, ok)))
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errorf(CodeNotFound, "%s is not a member of project %q", user.ID, project)
	}
	oldRel := roleRelationship(project, old, user)
	pre = append(pre, mustMatch(exactly(oldRel)))
	if old == role {
		// Nothing to change; the precondition-only write still yields a
		// token at which the member is seen in this role.
		return g.write(ctx, nil, pre, concurrentChange)
	}
	if old == RoleAdmin {
		keep, err := g.keepAnAdmin(ctx, project, user)
		if err != nil {
			return "", err
		}
		pre = append(pre, keep)
	}
	return g.write(ctx, []*v1.RelationshipUpdate{
		update(v1.RelationshipUpdate_OPERATION_DELETE, oldRel),
		update(v1.RelationshipUpdate_OPERATION_CREATE, roleRelationship(project, role, user)),
	}, pre, concurrentChange)
}

// validMembership checks a project name and a member's ID before they
// reach a relationship filter, where an empty one would match every
// project or every user.
func validMembership(project string, user User) error {
	if err := ValidateProjectName(project); err != nil {
		return err
	}
	_, err := UserFromID(user.ID)
	return err
}

// orReader returns r when ok, so that looking up a non-member's role needs
// only the weakest grant right (and a non-member is reported as such only
// to someone who could have changed them).
func orReader(r Role, ok bool) Role {
	if ok {
		return r
	}
	return RoleReader
}

// RemoveMember takes user's role in project away.
func (g *Graph) RemoveMember(ctx context.Context, actor User, project string, user User) (Token, error) {
	if err := validMembership(project, user); err != nil {
		return "", err
	}
	old, ok, err := g.roleOf(ctx, project, user)
	if err != nil {
		return "", err
	}
	pre, err := g.authorize(ctx, actor, project, grantPermission(orReader(old, ok)))
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errorf(CodeNotFound, "%s is not a member of project %q", user.ID, project)
	}
	return g.remove(ctx, project, user, old, pre)
}

// Leave takes the actor's own role in project away. Any member may leave,
// except the last admin.
func (g *Graph) Leave(ctx context.Context, actor User, project string) (Token, error) {
	if err := ValidateProjectName(project); err != nil {
		return "", err
	}
	old, ok, err := g.roleOf(ctx, project, actor)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", notFoundProject(project)
	}
	return g.remove(ctx, project, actor, old, nil)
}

func (g *Graph) remove(ctx context.Context, project string, user User, old Role, pre []*v1.Precondition) (Token, error) {
	oldRel := roleRelationship(project, old, user)
	pre = append(pre, mustMatch(exactly(oldRel)))
	if old == RoleAdmin {
		keep, err := g.keepAnAdmin(ctx, project, user)
		if err != nil {
			return "", err
		}
		pre = append(pre, keep)
	}
	return g.write(ctx, []*v1.RelationshipUpdate{update(v1.RelationshipUpdate_OPERATION_DELETE, oldRel)}, pre, concurrentChange)
}
