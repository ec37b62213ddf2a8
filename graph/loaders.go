package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vikstrous/dataloadgen"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/schema"
)

// Per-operation loaders batch what the fields of a list ask for, so a page
// of projects or artifacts costs one bulk check, not one per item.

type loadersKey struct{}

// tokened is a loader key read at one consistency token.
type tokened[K comparable] struct {
	key   K
	token relations.Token
}

type loaders struct {
	access    *dataloadgen.Loader[tokened[string], relations.Access]
	artifacts *dataloadgen.Loader[tokened[relations.ArtifactRef], []schema.Permission]
	// By key, as node(id) finds them.
	projectsByName *dataloadgen.Loader[tokened[string], relations.Found[relations.Project]]
	artifactsByRef *dataloadgen.Loader[tokened[relations.ArtifactRef], relations.Found[relations.Artifact]]
}

// batchWait is how long a loader collects keys before it fetches: long
// enough for every item of a page to ask, short next to a round trip.
const batchWait = 2 * time.Millisecond

func newLoaders(g *relations.Graph) *loaders {
	opts := []dataloadgen.Option{dataloadgen.WithWait(batchWait), dataloadgen.WithBatchCapacity(relations.MaxPageSize * 2)}
	return &loaders{
		access:         dataloadgen.NewLoader(batchByToken(g.AccessTo), opts...),
		artifacts:      dataloadgen.NewLoader(batchByToken(g.ArtifactPermissions), opts...),
		projectsByName: dataloadgen.NewLoader(batchByToken(g.ProjectsByName), opts...),
		artifactsByRef: dataloadgen.NewLoader(batchByToken(g.ArtifactsByRef), opts...),
	}
}

// batchByToken turns a bulk lookup for the viewer into a loader's fetch:
// one call per consistency token in the batch (a page shares one).
func batchByToken[K comparable, V any](fetch func(context.Context, relations.User, []K, relations.Token) (map[K]V, error)) func(context.Context, []tokened[K]) ([]V, []error) {
	return func(ctx context.Context, keys []tokened[K]) ([]V, []error) {
		out := make([]V, len(keys))
		errs := make([]error, len(keys))
		u, err := viewer(ctx)
		if err != nil {
			for i := range errs {
				errs[i] = err
			}
			return out, errs
		}
		byToken := map[relations.Token][]int{}
		for i, k := range keys {
			byToken[k.token] = append(byToken[k.token], i)
		}
		for token, idx := range byToken {
			batch := make([]K, len(idx))
			for j, i := range idx {
				batch[j] = keys[i].key
			}
			values, err := fetch(ctx, u, batch, token)
			for _, i := range idx {
				out[i], errs[i] = values[keys[i].key], err
			}
		}
		return out, errs
	}
}

// withLoaders gives every operation its own loaders: their cache must not
// outlive the operation (a WebSocket connection runs many) or cross viewers.
func withLoaders(g *relations.Graph) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		return next(context.WithValue(ctx, loadersKey{}, newLoaders(g)))
	}
}

func loadersOf(ctx context.Context) *loaders { return ctx.Value(loadersKey{}).(*loaders) }

func accessKey(ctx context.Context, p *relations.Project) tokened[string] {
	return tokened[string]{key: p.Name, token: consistency(ctx, nil, p.ReadAt)}
}

func artifactKey(ctx context.Context, a *relations.Artifact) tokened[relations.ArtifactRef] {
	return tokened[relations.ArtifactRef]{key: relations.ArtifactRef{Kind: a.Kind, ID: a.ID}, token: consistency(ctx, nil, a.ReadAt)}
}

// projectAccess loads the viewer's access to a project, batched with the
// rest of the operation's projects.
func projectAccess(ctx context.Context, p *relations.Project) (relations.Access, error) {
	return loadersOf(ctx).access.Load(ctx, accessKey(ctx, p))
}

// artifactPermissions loads the viewer's permissions on an artifact,
// batched with the rest of the operation's artifacts.
func artifactPermissions(ctx context.Context, a *relations.Artifact) ([]schema.Permission, error) {
	return loadersOf(ctx).artifacts.Load(ctx, artifactKey(ctx, a))
}

// primeAccess queues a page's projects in one batch up front, so the page's
// fields share one bulk check however the scheduler interleaves them.
func primeAccess(ctx context.Context, projects []relations.Project) {
	for i := range projects {
		loadersOf(ctx).access.LoadThunk(ctx, accessKey(ctx, &projects[i]))
	}
}

// primeArtifacts does the same for a page of artifacts.
func primeArtifacts(ctx context.Context, artifacts []relations.Artifact) {
	for i := range artifacts {
		loadersOf(ctx).artifacts.LoadThunk(ctx, artifactKey(ctx, &artifacts[i]))
	}
}
