package relations

import (
	"context"
	"errors"
	"maps"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/seed-6461fa00/trellis/schema"
)

// Artifact is a thing of the platform (job, storage path, bucket, disk,
// image, secret, app, flow) that belongs to exactly one project.
type Artifact struct {
	ArtifactInfo
	// ReadAt is the consistency the artifact was read with.
	ReadAt Token
}

// ArtifactInfo is an artifact's metadata.
type ArtifactInfo struct {
	Kind    schema.ObjectType
	ID      string
	Project string
	Name    string
	// CreatedAt also tells this artifact from another registered under
	// its ID after it was removed: catalog deletions match it.
	CreatedAt time.Time
	CreatedBy string
}

// ArtifactRef names an artifact.
type ArtifactRef struct {
	Kind schema.ObjectType
	ID   string
}

func (r ArtifactRef) validate() error {
	if !schema.IsArtifactType(r.Kind) {
		return invalid("kind", "%q is not an artifact kind", r.Kind)
	}
	if !isObjectID(r.ID) {
		return invalid("id", "%q is not a valid artifact ID: use letters, digits and / _ | - = +", r.ID)
	}
	return nil
}

func (r ArtifactRef) object() Object { return Object{r.Kind, r.ID} }

// Share is a user's direct grant on one artifact.
type Share struct {
	User User
	Role Role // RoleReader or RoleWriter
}

func notFoundArtifact(r ArtifactRef) error {
	return errorf(CodeNotFound, "%s %q not found", r.Kind, r.ID)
}

// RegisterArtifact records a new artifact in project; the actor needs write
// on the project. An ID already registered (in any project) is CodeConflict.
func (g *Graph) RegisterArtifact(ctx context.Context, actor User, project string, ref ArtifactRef, name string) (Artifact, Token, error) {
	if err := ref.validate(); err != nil {
		return Artifact{}, "", err
	}
	if err := validateText("name", name, maxDisplayName, false); err != nil {
		return Artifact{}, "", err
	}
	pre, err := g.authorize(ctx, actor, project, schema.ProjectWrite)
	if err != nil {
		return Artifact{}, "", err
	}
	link := artifactLink(ref, project)
	token, err := g.write(ctx,
		[]*v1.RelationshipUpdate{update(v1.RelationshipUpdate_OPERATION_CREATE, link)},
		append(pre, mustNotMatch(&v1.RelationshipFilter{ResourceType: string(ref.Kind), OptionalResourceId: ref.ID})),
		string(ref.Kind)+" "+ref.ID+" is already registered")
	if err != nil {
		return Artifact{}, "", err
	}
	if name == "" {
		name = ref.ID
	}
	info := ArtifactInfo{Kind: ref.Kind, ID: ref.ID, Project: project, Name: name, CreatedAt: g.now().UTC(), CreatedBy: actor.ID}
	if err := g.catalog.PutArtifact(ctx, info); err != nil {
		_, undoErr := g.writeRelationships(context.WithoutCancel(ctx), &v1.WriteRelationshipsRequest{
			Updates: []*v1.RelationshipUpdate{update(v1.RelationshipUpdate_OPERATION_DELETE, link)},
		})
		return Artifact{}, "", &Error{Code: CodeUnavailable, Message: "could not store artifact metadata", Err: errors.Join(err, undoErr)}
	}
	return Artifact{ArtifactInfo: info, ReadAt: token}, token, nil
}

func artifactLink(ref ArtifactRef, project string) *v1.Relationship {
	return &v1.Relationship{
		Resource: objectRef(ref.Kind, ref.ID), Relation: string(schema.ArtifactProject),
		Subject: &v1.SubjectReference{Object: projectRef(project)},
	}
}

// Artifact returns an artifact the viewer may read (through its project or
// a share); CodeNotFound otherwise.
func (g *Graph) Artifact(ctx context.Context, viewer User, ref ArtifactRef, t Token) (Artifact, error) {
	if err := ref.validate(); err != nil {
		return Artifact{}, err
	}
	ok, err := g.Check(ctx, viewer, ref.object(), schema.ArtifactRead, t)
	if err != nil {
		return Artifact{}, err
	}
	if !ok {
		return Artifact{}, notFoundArtifact(ref)
	}
	found, err := g.artifactsMetadata(ctx, []ArtifactRef{ref}, t)
	if err != nil {
		return Artifact{}, err
	}
	return found[ref].Value, found[ref].Err
}

// ArtifactsByRef looks up many artifacts at once for viewer, with one bulk
// check and one catalog read: each answers as Artifact would alone.
func (g *Graph) ArtifactsByRef(ctx context.Context, viewer User, refs []ArtifactRef, t Token) (map[ArtifactRef]Found[Artifact], error) {
	out := make(map[ArtifactRef]Found[Artifact], len(refs))
	var items []CheckItem
	var candidates []ArtifactRef
	for _, ref := range refs {
		if err := ref.validate(); err != nil {
			out[ref] = Found[Artifact]{Err: err}
			continue
		}
		candidates = append(candidates, ref)
		items = append(items, CheckItem{Subject: viewer, Object: ref.object(), Permission: schema.ArtifactRead})
	}
	answers, err := g.CheckBulk(ctx, items, t)
	if err != nil {
		return nil, err
	}
	var readable []ArtifactRef
	for i, ref := range candidates {
		if answers[i] {
			readable = append(readable, ref)
		} else {
			out[ref] = Found[Artifact]{Err: notFoundArtifact(ref)}
		}
	}
	found, err := g.artifactsMetadata(ctx, readable, t)
	if err != nil {
		return nil, err
	}
	maps.Copy(out, found)
	return out, nil
}

// artifactsMetadata reads the metadata of artifacts the viewer may read:
// each one's project from SpiceDB, which holds it, and the rest in one
// catalog read.
func (g *Graph) artifactsMetadata(ctx context.Context, refs []ArtifactRef, t Token) (map[ArtifactRef]Found[Artifact], error) {
	infos, err := g.catalog.Artifacts(ctx, refs)
	if err != nil {
		return nil, &Error{Code: CodeUnavailable, Message: "could not read artifact metadata", Err: err}
	}
	out := make(map[ArtifactRef]Found[Artifact], len(refs))
	for _, ref := range refs {
		project, err := g.projectOf(ctx, ref.object(), t)
		if err != nil {
			out[ref] = Found[Artifact]{Err: notFoundArtifact(ref)}
			continue
		}
		info, ok := infos[ref]
		if !ok {
			info = ArtifactInfo{Kind: ref.Kind, ID: ref.ID, Name: ref.ID}
		}
		info.Project = project
		out[ref] = Found[Artifact]{Value: Artifact{ArtifactInfo: info, ReadAt: t}}
	}
	return out, nil
}

// Artifacts lists the artifacts of one kind in a project the viewer may
// read, one page at a time.
func (g *Graph) Artifacts(ctx context.Context, viewer User, project string, kind schema.ObjectType, req PageRequest) (Page[Artifact], error) {
	if !schema.IsArtifactType(kind) {
		return Page[Artifact]{}, invalid("kind", "%q is not an artifact kind", kind)
	}
	size, err := req.pageSize()
	if err != nil {
		return Page[Artifact]{}, err
	}
	after, token, err := g.cursors.start(viewer, req)
	if err != nil {
		return Page[Artifact]{}, err
	}
	if err := ValidateProjectName(project); err != nil {
		return Page[Artifact]{}, err
	}
	ok, err := g.Check(ctx, viewer, Object{schema.TypeProject, project}, schema.ProjectRead, token)
	if err != nil {
		return Page[Artifact]{}, err
	}
	if !ok {
		return Page[Artifact]{}, notFoundProject(project)
	}
	refs, err := relationshipPage(ctx, g, viewer, artifactsOf(project, kind), size, after, token, func(r *v1.Relationship) (ArtifactRef, bool) {
		return ArtifactRef{kind, r.GetResource().GetObjectId()}, true
	})
	if err != nil {
		return Page[Artifact]{}, err
	}
	page := Page[Artifact]{Cursors: refs.Cursors, HasNext: refs.HasNext}
	infos, err := g.catalog.Artifacts(ctx, refs.Items)
	if err != nil {
		return Page[Artifact]{}, &Error{Code: CodeUnavailable, Message: "could not read artifact metadata", Err: err}
	}
	for _, ref := range refs.Items {
		info, ok := infos[ref]
		if !ok {
			info = ArtifactInfo{Kind: ref.Kind, ID: ref.ID, Name: ref.ID}
		}
		info.Project = project
		page.Items = append(page.Items, Artifact{ArtifactInfo: info, ReadAt: token})
	}
	return page, nil
}

// authorizeArtifact checks that actor may change the artifact (write on
// its project): CodeNotFound if they cannot read it, CodeForbidden if they
// can but may not change it. It returns the artifact's project and the
// preconditions that pin the artifact to it and the actor's project role.
func (g *Graph) authorizeArtifact(ctx context.Context, actor User, ref ArtifactRef) (string, []*v1.Precondition, error) {
	if err := ref.validate(); err != nil {
		return "", nil, err
	}
	readable, err := g.check(ctx, actor, ref.object(), schema.ArtifactRead, fullyConsistent())
	if err != nil {
		return "", nil, err
	}
	if !readable {
		return "", nil, notFoundArtifact(ref)
	}
	project, err := g.projectOfAt(ctx, ref.object(), fullyConsistent())
	if err != nil {
		return "", nil, notFoundArtifact(ref)
	}
	pre, err := g.authorize(ctx, actor, project, schema.ProjectWrite)
	if err != nil {
		// A user the artifact is only shared with sees it, but not its
		// project: to them this is forbidden, not missing.
		if ErrorCode(err) == CodeNotFound {
			return "", nil, errorf(CodeForbidden, "you need write access to the project of %s %q", ref.Kind, ref.ID)
		}
		return "", nil, err
	}
	return project, append(pre, mustMatch(exactly(artifactLink(ref, project)))), nil
}

// RemoveArtifact deletes an artifact and every grant on it; the actor needs
// write on its project.
func (g *Graph) RemoveArtifact(ctx context.Context, actor User, ref ArtifactRef) (Token, error) {
	_, pre, err := g.authorizeArtifact(ctx, actor, ref)
	if err != nil {
		return "", err
	}
	// The metadata to delete is read first: once the relationships are
	// gone, the ID may be registered again, with metadata of its own.
	infos, err := g.catalog.Artifacts(ctx, []ArtifactRef{ref})
	if err != nil {
		return "", &Error{Code: CodeUnavailable, Message: "could not read artifact metadata", Err: err}
	}
	resp, err := g.deleteRelationships(ctx, &v1.DeleteRelationshipsRequest{
		RelationshipFilter:    &v1.RelationshipFilter{ResourceType: string(ref.Kind), OptionalResourceId: ref.ID},
		OptionalPreconditions: pre,
	})
	if err != nil {
		return "", fromSpiceDB(ctx, err, "the artifact changed concurrently; retry")
	}
	if err := g.deleteArtifactMetadata(ctx, infos, ref); err != nil {
		return "", err
	}
	return tokenOf(resp.GetDeletedAt()), nil
}

// deleteArtifactMetadata deletes the metadata infos held for ref when it
// was read, if any.
func (g *Graph) deleteArtifactMetadata(ctx context.Context, infos map[ArtifactRef]ArtifactInfo, ref ArtifactRef) error {
	info, ok := infos[ref]
	if !ok {
		return nil
	}
	if err := g.catalog.DeleteArtifact(ctx, info); err != nil {
		return &Error{Code: CodeUnavailable, Message: "could not delete artifact metadata", Err: err}
	}
	return nil
}

func shareRelationship(ref ArtifactRef, role Role, u User) *v1.Relationship {
	return &v1.Relationship{Resource: objectRef(ref.Kind, ref.ID), Relation: string(role), Subject: userSubject(u)}
}

// ShareArtifact gives user direct reader or writer access to one artifact,
// replacing any earlier share, in one atomic write.
func (g *Graph) ShareArtifact(ctx context.Context, actor User, ref ArtifactRef, user User, role Role) (Token, error) {
	if role != RoleReader && role != RoleWriter {
		return "", invalid("role", "an artifact is shared as reader or writer, not %q", role)
	}
	if err := grantable(user); err != nil {
		return "", err
	}
	_, pre, err := g.authorizeArtifact(ctx, actor, ref)
	if err != nil {
		return "", err
	}
	other := RoleReader
	if role == RoleReader {
		other = RoleWriter
	}
	return g.write(ctx, []*v1.RelationshipUpdate{
		update(v1.RelationshipUpdate_OPERATION_TOUCH, shareRelationship(ref, role, user)),
		update(v1.RelationshipUpdate_OPERATION_DELETE, shareRelationship(ref, other, user)),
	}, pre, "the artifact or your role changed concurrently; retry")
}

// UnshareArtifact takes a user's direct access to an artifact away. A user
// the artifact is not shared with is CodeNotFound, as removing someone who
// is not a member of a project is.
func (g *Graph) UnshareArtifact(ctx context.Context, actor User, ref ArtifactRef, user User) (Token, error) {
	if _, err := UserFromID(user.ID); err != nil {
		return "", err
	}
	_, pre, err := g.authorizeArtifact(ctx, actor, ref)
	if err != nil {
		return "", err
	}
	sharesOfUser := &v1.RelationshipFilter{
		ResourceType: string(ref.Kind), OptionalResourceId: ref.ID,
		OptionalSubjectFilter: &v1.SubjectFilter{SubjectType: string(schema.TypeUser), OptionalSubjectId: user.ID},
	}
	_, shared, err := g.firstRelationship(ctx, fullyConsistent(), sharesOfUser)
	if err != nil {
		return "", err
	}
	if !shared {
		return "", errorf(CodeNotFound, "%s %q is not shared with %s", ref.Kind, ref.ID, user.ID)
	}
	// Pinned, so an unshare that lands first makes this one a conflict,
	// not a silent second success.
	return g.write(ctx, []*v1.RelationshipUpdate{
		update(v1.RelationshipUpdate_OPERATION_DELETE, shareRelationship(ref, RoleReader, user)),
		update(v1.RelationshipUpdate_OPERATION_DELETE, shareRelationship(ref, RoleWriter, user)),
	}, append(pre, mustMatch(sharesOfUser)), "the artifact, its shares or your role changed concurrently; retry")
}

// SharedWith lists the users an artifact is shared with directly, by role
// then user, one page at a time; every page of one listing reads the same
// snapshot. The viewer must be able to read the artifact's project: a
// user it is only shared with sees the artifact, not who else may.
func (g *Graph) SharedWith(ctx context.Context, viewer User, ref ArtifactRef, q PageRequest) (Page[Share], error) {
	size, err := q.pageSize()
	if err != nil {
		return Page[Share]{}, err
	}
	after, token, err := g.cursors.start(viewer, q)
	if err != nil {
		return Page[Share]{}, err
	}
	if err := ref.validate(); err != nil {
		return Page[Share]{}, err
	}
	// Only the access checks, both in one call: the artifact's metadata
	// is not needed here.
	project, err := g.projectOfAt(ctx, ref.object(), readConsistency(token))
	if err != nil {
		return Page[Share]{}, notFoundArtifact(ref)
	}
	may, err := g.CheckBulk(ctx, []CheckItem{
		{Subject: viewer, Object: ref.object(), Permission: schema.ArtifactRead},
		{Subject: viewer, Object: Object{schema.TypeProject, project}, Permission: schema.ProjectRead},
	}, token)
	switch {
	case err != nil:
		return Page[Share]{}, err
	case !may[0]:
		return Page[Share]{}, notFoundArtifact(ref)
	case !may[1]:
		return Page[Share]{}, errorf(CodeForbidden, "only members of its project see whom %s %q is shared with", ref.Kind, ref.ID)
	}
	filter := &v1.RelationshipFilter{
		ResourceType: string(ref.Kind), OptionalResourceId: ref.ID,
		OptionalSubjectFilter: &v1.SubjectFilter{SubjectType: string(schema.TypeUser)},
	}
	return relationshipPage(ctx, g, viewer, filter, size, after, token, func(r *v1.Relationship) (Share, bool) {
		role := Role(r.GetRelation())
		return Share{User: User{ID: r.GetSubject().GetObject().GetObjectId()}, Role: role}, role == RoleReader || role == RoleWriter
	})
}

// ArtifactPermissions returns, for each artifact, the permissions of its
// kind the viewer holds on it, with one bulk check for all of them.
func (g *Graph) ArtifactPermissions(ctx context.Context, viewer User, refs []ArtifactRef, t Token) (map[ArtifactRef][]schema.Permission, error) {
	var items []CheckItem
	for _, ref := range refs {
		if err := ref.validate(); err != nil {
			return nil, err
		}
		for _, p := range schema.Permissions[ref.Kind] {
			items = append(items, CheckItem{Subject: viewer, Object: ref.object(), Permission: p})
		}
	}
	answers, err := g.CheckBulk(ctx, items, t)
	if err != nil {
		return nil, err
	}
	out := make(map[ArtifactRef][]schema.Permission, len(refs))
	i := 0
	for _, ref := range refs {
		perms := []schema.Permission{}
		for _, p := range schema.Permissions[ref.Kind] {
			if answers[i] {
				perms = append(perms, p)
			}
			i++
		}
		out[ref] = perms
	}
	return out, nil
}
