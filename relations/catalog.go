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
	CreatedAt   time.Time
	// CreatedBy is the ID of the user who created the project.
	CreatedBy string
}

// Catalog stores project metadata and each user's current project. It is
// not an authority on anything: whether a project exists, and who may see
// it, is the relation graph's to say.
type Catalog interface {
	// PutProject stores info under info.Name, replacing what was there.
	PutProject(ctx context.Context, info ProjectInfo) error
	// Projects returns the metadata of those named projects that have any;
	// names without metadata are absent from the map, which is no error.
	Projects(ctx context.Context, names []string) (map[string]ProjectInfo, error)
	// DeleteProject removes a project's metadata; a missing one is no error.
	DeleteProject(ctx context.Context, name string) error
	// CurrentProject returns the user's current project, or "" if none.
	CurrentProject(ctx context.Context, userID string) (string, error)
	// SetCurrentProject records the user's current project.
	SetCurrentProject(ctx context.Context, userID, project string) error
	// PutArtifact stores an artifact's metadata, replacing what was there.
	PutArtifact(ctx context.Context, info ArtifactInfo) error
	// Artifacts returns the metadata of those artifacts that have any.
	Artifacts(ctx context.Context, refs []ArtifactRef) (map[ArtifactRef]ArtifactInfo, error)
	// DeleteArtifact removes an artifact's metadata; a missing one is no error.
	DeleteArtifact(ctx context.Context, ref ArtifactRef) error
}
