package graph

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/seed-6461fa00/trellis/graph/model"
	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/schema"
)

// Global IDs are "type:key": the object reference SpiceDB, zed and the
// trellis CLI use, so an ID read here can be pasted into any of them. The
// viewer's is "viewer:<user ID>", apart from the user's own, because a
// client cache would otherwise merge two types under one ID.
const viewerType = "viewer"

// maxNodes caps one nodes query, as page sizes are capped.
const maxNodes = 100

func globalID(typ schema.ObjectType, key string) string { return string(typ) + ":" + key }

func viewerNode(u relations.User) *model.Viewer {
	return &model.Viewer{ID: viewerType + ":" + u.ID, User: &u}
}

// resolveNode finds the object id names, as the viewer may see it: what
// the viewer may not read is NOT_FOUND, as project and artifact answer,
// so a global ID reveals no more than a name does.
func (r *queryResolver) resolveNode(ctx context.Context, u relations.User, id string, t relations.Token) (model.Node, error) {
	typ, key, ok := strings.Cut(id, ":")
	if !ok || typ == "" || key == "" {
		return nil, &relations.Error{Code: relations.CodeInvalid, Field: "id", Message: "a global ID is type:key, e.g. project:apollo"}
	}
	switch objType := schema.ObjectType(typ); {
	case typ == viewerType:
		if key != u.ID {
			return nil, &relations.Error{Code: relations.CodeNotFound, Message: "no such viewer"}
		}
		return viewerNode(u), nil
	case objType == schema.TypeUser:
		user, err := relations.UserFromID(key)
		if err != nil {
			return nil, &relations.Error{Code: relations.CodeInvalid, Field: "id", Message: err.Error()}
		}
		return &user, nil
	case objType == schema.TypeProject:
		p, err := r.Graph.Project(ctx, u, key, t)
		if err != nil {
			return nil, err
		}
		return &p, nil
	case schema.IsArtifactType(objType):
		a, err := r.Graph.Artifact(ctx, u, relations.ArtifactRef{Kind: objType, ID: key}, t)
		if err != nil {
			return nil, err
		}
		return &a, nil
	default:
		return nil, &relations.Error{Code: relations.CodeInvalid, Field: "id", Message: "no object type " + typ + " has global IDs"}
	}
}

// resolveNodes answers each ID on its own: one the viewer may not read is
// null, with its error at its index, and the others still answer.
func (r *queryResolver) resolveNodes(ctx context.Context, u relations.User, ids []string, t relations.Token) ([]model.Node, error) {
	if len(ids) > maxNodes {
		return nil, &relations.Error{Code: relations.CodeInvalid, Field: "ids", Message: "at most 100 IDs per query"}
	}
	out := make([]model.Node, len(ids))
	for i, id := range ids {
		n, err := r.resolveNode(ctx, u, id, t)
		if err != nil {
			if relations.ErrorCode(err) == relations.CodeInternal || relations.ErrorCode(err) == relations.CodeUnavailable {
				return nil, err
			}
			itemCtx := graphql.WithPathContext(ctx, graphql.NewPathWithIndex(i))
			graphql.AddError(itemCtx, err)
			continue
		}
		out[i] = n
	}
	return out, nil
}
