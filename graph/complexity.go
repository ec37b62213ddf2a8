package graph

import (
	"github.com/seed-6461fa00/trellis/graph/model"
	"github.com/seed-6461fa00/trellis/relations"
)

// pageCost is what a page of a connection may cost: its size (capped as
// relations caps it) times what each item asks for.
func pageCost(first *int, child int) int {
	n := relations.DefaultPageSize
	if first != nil && *first > 0 {
		n = min(*first, relations.MaxPageSize)
	}
	return 1 + n*child
}

// complexity prices every list by the page it may return, so the
// complexity limit bounds the work a query can cause.
func complexity() ComplexityRoot {
	var c ComplexityRoot
	c.Query.Projects = func(child int, first *int, _ *string, _ *model.ProjectPermission, _ *model.Role, _ *string) int {
		return pageCost(first, child)
	}
	c.Viewer.Projects = func(child int, first *int, _ *string, _ *model.ProjectPermission, _ *model.Role) int {
		return pageCost(first, child)
	}
	c.Project.Members = func(child int, first *int, _ *string, _ *model.Role) int { return pageCost(first, child) }
	c.Project.Artifacts = func(child int, _ model.ArtifactKind, first *int, _ *string) int { return pageCost(first, child) }
	c.Artifact.SharedWith = func(child int, first *int, _ *string) int { return pageCost(first, child) }
	// Each ID is looked up on its own: priced like a page of that size.
	c.Query.Nodes = func(child int, ids []string, _ *string) int { return 1 + min(len(ids), maxNodes)*child }
	return c
}
