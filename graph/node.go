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

// nodeKey is what a global ID names.
type nodeKey struct {
	typ schema.ObjectType // or viewerType
	key string
}

func parseGlobalID(id string) (nodeKey, error) {
	typ, key, ok := strings.Cut(id, ":")
	if !ok || typ == "" || key == "" {
		return nodeKey{}, &relations.Error{Code: relations.CodeInvalid, Field: "id", Message: "a global ID is type:key, e.g. project:apollo"}
	}
	t := schema.ObjectType(typ)
	if typ != viewerType && t != schema.TypeUser && t != schema.TypeProject && !schema.IsArtifactType(t) {
		return nodeKey{}, &relations.Error{Code: relations.CodeInvalid, Field: "id", Message: "no object type " + typ + " has global IDs"}
	}
	return nodeKey{t, key}, nil
}

// loadNode starts loading what k names through the operation's loaders
// (nil for viewers and users, which need no lookup),
// so every node of a query, and every ID of nodes, shares one bulk check.
func loadNode(ctx context.Context, k nodeKey, t relations.Token) func() (model.Node, error) {
	switch {
	case k.typ == schema.TypeProject:
		return awaitFound(loadersOf(ctx).projectsByName.LoadThunk(ctx, tokened[string]{key: k.key, token: t}))
	case schema.IsArtifactType(k.typ):
		return awaitFound(loadersOf(ctx).artifactsByRef.LoadThunk(ctx, tokened[relations.ArtifactRef]{key: relations.ArtifactRef{Kind: k.typ, ID: k.key}, token: t}))
	}
	return nil
}

// awaitFound turns a loader's thunk into a node's: the object, or the
// error a lookup of it alone would have given.
func awaitFound[T any](thunk func() (relations.Found[T], error)) func() (model.Node, error) {
	return func() (model.Node, error) {
		found, err := thunk()
		if err == nil {
			err = found.Err
		}
		if err != nil {
			return nil, err
		}
		return &found.Value, nil
	}
}

// resolveNode finds the object id names, as the viewer may see it: what
// the viewer may not read is NOT_FOUND, as project and artifact answer,
// so a global ID reveals no more than a name does.
func resolveNode(ctx context.Context, u relations.User, id string, t relations.Token) (model.Node, error) {
	k, err := parseGlobalID(id)
	if err != nil {
		return nil, err
	}
	switch k.typ {
	case viewerType:
		if k.key != u.ID {
			return nil, &relations.Error{Code: relations.CodeNotFound, Message: "no such viewer"}
		}
		return viewerNode(u), nil
	case schema.TypeUser:
		user, err := relations.UserFromID(k.key)
		if err != nil {
			return nil, &relations.Error{Code: relations.CodeInvalid, Field: "id", Message: err.Error()}
		}
		return &user, nil
	}
	return loadNode(ctx, k, t)()
}

// resolveNodes answers each ID on its own: one the viewer may not read is
// null, with its error at its index, and the others still answer. All of
// them are queued before any is awaited, so they share one bulk check.
func resolveNodes(ctx context.Context, u relations.User, ids []string, t relations.Token) ([]model.Node, error) {
	if len(ids) > maxNodes {
		return nil, &relations.Error{Code: relations.CodeInvalid, Field: "ids", Message: "at most 100 IDs per query"}
	}
	for _, id := range ids {
		if k, err := parseGlobalID(id); err == nil {
			loadNode(ctx, k, t) // queue it; resolveNode below awaits it
		}
	}
	out := make([]model.Node, len(ids))
	for i, id := range ids {
		n, err := resolveNode(ctx, u, id, t)
		if err != nil {
			if relations.ErrorCode(err) == relations.CodeInternal || relations.ErrorCode(err) == relations.CodeUnavailable {
				return nil, err
			}
			graphql.AddError(graphql.WithPathContext(ctx, graphql.NewPathWithIndex(i)), err)
			continue
		}
		out[i] = n
	}
	return out, nil
}
