package graph

import (
	"context"

	"github.com/seed-6461fa00/trellis/graph/model"
	"github.com/seed-6461fa00/trellis/relations"
)

// projectsPage is the viewer's projects connection, for Query.projects and
// Viewer.projects alike.
func projectsPage(ctx context.Context, g *relations.Graph, first *int, after *string, permission *model.ProjectPermission, minRole *model.Role, token relations.Token) (*model.ProjectConnection, error) {
	u, err := viewer(ctx)
	if err != nil {
		return nil, err
	}
	q := relations.ProjectQuery{PageRequest: pageRequest(first, after, token)}
	if permission != nil {
		q.Permission = projectPermission(*permission)
	}
	if minRole != nil {
		q.MinRole = roleFromModel(*minRole)
	}
	page, err := g.Projects(ctx, u, q)
	if err != nil {
		return nil, err
	}
	primeAccess(ctx, page.Items)
	conn := &model.ProjectConnection{PageInfo: pageInfo(page.HasNext, page.Cursors)}
	for i := range page.Items {
		conn.Edges = append(conn.Edges, &model.ProjectEdge{Cursor: page.Cursors[i], Node: &page.Items[i]})
	}
	return conn, nil
}
