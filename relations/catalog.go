package relations

import (
	"context"
	"time"
)

// ProjectInfo is a project's metadata: everything about a project that is
// not a relationship.
type ProjectInfo struct {
	Name        string
	DisplayName string
	Description string
	// CreatedAt also tells this project from another created under its
	// name after it was deleted: catalog updates and deletions match it.
	CreatedAt time.Time
	// CreatedBy is the ID of the user who created the project.
	CreatedBy string
}

// Catalog stores project metadata and each user's current project. It is
// not an authority on anything: whether a project exists, and who may see
// it, is the relation graph's to say.
type Catalog interface {
	// PutProject stores info under info.Name, replacing what was there:
	// the metadata of a project just created, or imported.
	PutProject(ctx context.Context, info ProjectInfo) error
	// ReplaceProject stores info in place of old, but only while the
	// metadata stored under old.Name is still old, field for field (a
	// zero CreatedAt standing for none). Otherwise it stores nothing and
	// reports false: since old was read, another update landed, or the
	// project was deleted and perhaps created again.
	ReplaceProject(ctx context.Context, old, info ProjectInfo) (bool, error)
	// Projects returns the metadata of those named projects that have any;
	// names without metadata are absent from the map, which is no error.
	Projects(ctx context.Context, names []string) (map[string]ProjectInfo, error)
	// DeleteProject removes info's metadata if it is still stored: a
	// project of the same name created since (another CreatedAt) keeps
	// its own, and missing metadata is no error.
	DeleteProject(ctx context.Context, info ProjectInfo) error
	// CurrentProject returns the user's current project, or "" if none.
	CurrentProject(ctx context.Context, userID string) (string, error)
	// SetCurrentProject records the user's current project.
	SetCurrentProject(ctx context.Context, userID, project string) error
	// PutArtifact stores an artifact's metadata, replacing what was there.
	PutArtifact(ctx context.Context, info ArtifactInfo) error
	// Artifacts returns the metadata of those artifacts that have any.
	Artifacts(ctx context.Context, refs []ArtifactRef) (map[ArtifactRef]ArtifactInfo, error)
	// DeleteArtifact removes info's metadata if it is still stored: an
	// artifact registered again under the same ID since (another
	// CreatedAt) keeps its own, and missing metadata is no error.
	DeleteArtifact(ctx context.Context, info ArtifactInfo) error
}
