package model

// Node is any object GraphQL's Node interface covers: *relations.Project,
// *relations.Artifact, *relations.User or *Viewer. The domain types stay
// free of GraphQL; the generated code tells them apart by type.
type Node any
