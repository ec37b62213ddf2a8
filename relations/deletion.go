package relations

import (
	"context"
	"errors"
	"io"
	"slices"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/seed-6461fa00/trellis/schema"
)

// deleteBatch is how many artifacts DeleteProject reads at a time.
const deleteBatch = 500

// DeleteProject removes a project completely: every artifact of it with
// every share, then its members, then its metadata. Only admins may. The
// project's own relationships go last, so an interrupted deletion leaves a
// project its admin can delete again, and the retry resumes where the
// first stopped. An artifact registered while the deletion runs makes the
// last step fail with CodeConflict rather than leave it orphaned.
func (g *Graph) DeleteProject(ctx context.Context, actor User, project string) (Token, error) {
	pre, err := g.authorize(ctx, actor, project, schema.ProjectDelete)
	if err != nil {
		return "", err
	}
	// The metadata to delete is read first: once the relationships are
	// gone, the name may be taken again, with metadata of its own.
	infos, err := g.catalog.Projects(ctx, []string{project})
	if err != nil {
		return "", &Error{Code: CodeUnavailable, Message: "could not read project metadata", Err: err}
	}
	actorStillMay := slices.Clone(pre)
	for _, kind := range schema.ArtifactTypes {
		if err := g.deleteArtifactsOf(ctx, actor, project, kind, actorStillMay); err != nil {
			return "", err
		}
		pre = append(pre, mustNotMatch(artifactsOf(project, kind)))
	}
	resp, err := g.deleteRelationships(ctx, &v1.DeleteRelationshipsRequest{
		RelationshipFilter:    &v1.RelationshipFilter{ResourceType: string(schema.TypeProject), OptionalResourceId: project},
		OptionalPreconditions: pre,
	})
	if err != nil {
		err = fromSpiceDB(ctx, err, "an artifact was added to the project while it was being deleted; delete it again")
		if ErrorCode(err) == CodeConflict {
			// Or the actor's role changed meanwhile: say so if it did.
			if _, aerr := g.authorize(ctx, actor, project, schema.ProjectDelete); aerr != nil {
				return "", aerr
			}
		}
		return "", err
	}
	if info, ok := infos[project]; ok {
		if err := g.catalog.DeleteProject(ctx, info); err != nil {
			return "", &Error{Code: CodeUnavailable, Message: "the project is gone but its metadata could not be deleted", Err: err}
		}
	}
	return tokenOf(resp.GetDeletedAt()), nil
}

func artifactsOf(project string, kind schema.ObjectType) *v1.RelationshipFilter {
	return &v1.RelationshipFilter{
		ResourceType: string(kind), OptionalRelation: string(schema.ArtifactProject),
		OptionalSubjectFilter: &v1.SubjectFilter{SubjectType: string(schema.TypeProject), OptionalSubjectId: project},
	}
}

// deleteArtifactsOf deletes every artifact of one kind in project, a batch
// at a time, until none is left. Every deletion is conditioned on pre, the
// actor's role as authorized: an admin demoted or removed while a large
// project is being deleted stops deleting at once.
func (g *Graph) deleteArtifactsOf(ctx context.Context, actor User, project string, kind schema.ObjectType, pre []*v1.Precondition) error {
	for {
		ids, err := g.readArtifactIDs(ctx, project, kind)
		if err != nil || len(ids) == 0 {
			return err
		}
		refs := make([]ArtifactRef, len(ids))
		for i, id := range ids {
			refs[i] = ArtifactRef{Kind: kind, ID: id}
		}
		infos, err := g.catalog.Artifacts(ctx, refs)
		if err != nil {
			return &Error{Code: CodeUnavailable, Message: "could not read artifact metadata", Err: err}
		}
		for _, ref := range refs {
			id := ref.ID
			// Only while it still belongs to this project: an artifact
			// removed and registered elsewhere meanwhile is not ours.
			if _, err := g.deleteRelationships(ctx, &v1.DeleteRelationshipsRequest{
				RelationshipFilter:    &v1.RelationshipFilter{ResourceType: string(kind), OptionalResourceId: id},
				OptionalPreconditions: append(slices.Clone(pre), mustMatch(exactly(artifactLink(ref, project)))),
			}); err != nil {
				if err := fromSpiceDB(ctx, err, ""); ErrorCode(err) != CodeConflict {
					return err
				}
				// Either the artifact left the project meanwhile (not
				// ours to delete), or the actor's role changed.
				if _, err := g.authorize(ctx, actor, project, schema.ProjectDelete); err != nil {
					return err
				}
				continue
			}
			if err := g.deleteArtifactMetadata(ctx, infos, ref); err != nil {
				return err
			}
		}
	}
}

func (g *Graph) readArtifactIDs(ctx context.Context, project string, kind schema.ObjectType) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := g.perms.ReadRelationships(ctx, &v1.ReadRelationshipsRequest{
		Consistency:        fullyConsistent(),
		RelationshipFilter: artifactsOf(project, kind),
		OptionalLimit:      deleteBatch,
	})
	if err != nil {
		return nil, fromSpiceDB(ctx, err, "")
	}
	var ids []string
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return ids, nil
		}
		if err != nil {
			return nil, fromSpiceDB(ctx, err, "")
		}
		ids = append(ids, r.GetRelationship().GetResource().GetObjectId())
	}
}

// ProjectUpdate changes a project's metadata; nil fields stay as they are.
type ProjectUpdate struct {
	DisplayName *string
	Description *string
}

// UpdateProject changes a project's display name or description; the
// actor needs manage_members (managers and admins).
func (g *Graph) UpdateProject(ctx context.Context, actor User, project string, u ProjectUpdate) (Project, Token, error) {
	if u.DisplayName != nil {
		if err := validateText("displayName", *u.DisplayName, maxDisplayName, false); err != nil {
			return Project{}, "", err
		}
	}
	if u.Description != nil {
		if err := validateText("description", *u.Description, maxDescription, true); err != nil {
			return Project{}, "", err
		}
	}
	pre, err := g.authorize(ctx, actor, project, schema.ProjectManageMembers)
	if err != nil {
		return Project{}, "", err
	}
	p, err := g.ProjectMetadata(ctx, project)
	if err != nil {
		return Project{}, "", err
	}
	old := p.ProjectInfo
	if u.DisplayName != nil {
		p.DisplayName = *u.DisplayName
		if p.DisplayName == "" {
			p.DisplayName = project
		}
	}
	if u.Description != nil {
		p.Description = *u.Description
	}
	// A precondition-only write fails if the actor lost their role
	// meanwhile, and stamps the change with a token.
	token, err := g.write(ctx, nil, pre, concurrentChange)
	if err != nil {
		return Project{}, "", err
	}
	// Only over the metadata read above: another update may have landed
	// since, or the project been deleted and its name taken again.
	replaced, err := g.catalog.ReplaceProject(ctx, old, p.ProjectInfo)
	if err != nil {
		return Project{}, "", &Error{Code: CodeUnavailable, Message: "could not store project metadata", Err: err}
	}
	if !replaced {
		return Project{}, "", errorf(CodeConflict, "project %s changed while it was being updated; read it again and retry", project)
	}
	p.ReadAt = token
	return p, token, nil
}
