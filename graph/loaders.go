package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vikstrous/dataloadgen"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/schema"
)

// Per-request loaders batch what the fields of a list ask for, so a page of
// projects costs one bulk check, not one per project.

type loadersKey struct{}

// accessKey names one project's access, read at one consistency.
type accessKey struct {
	project string
	token   relations.Token
}

// artifactKey names one artifact's permissions, read at one consistency.
type artifactKey struct {
	ref   relations.ArtifactRef
	token relations.Token
}

type loaders struct {
	access    *dataloadgen.Loader[accessKey, relations.Access]
	artifacts *dataloadgen.Loader[artifactKey, []schema.Permission]
}

// batchWait is how long a loader collects keys before it fetches: long
// enough for every item of a page to ask, short next to a round trip.
const batchWait = 2 * time.Millisecond

func newLoaders(g *relations.Graph) *loaders {
	return &loaders{
		access: dataloadgen.NewLoader(func(ctx context.Context, keys []accessKey) ([]relations.Access, []error) {
			return fetchAccess(ctx, g, keys)
		}, dataloadgen.WithWait(batchWait), dataloadgen.WithBatchCapacity(relations.MaxPageSize*2)),
		artifacts: dataloadgen.NewLoader(func(ctx context.Context, keys []artifactKey) ([][]schema.Permission, []error) {
			return fetchArtifactPermissions(ctx, g, keys)
		}, dataloadgen.WithWait(batchWait), dataloadgen.WithBatchCapacity(relations.MaxPageSize*2)),
	}
}

// fetchArtifactPermissions answers a batch with one bulk check per
// consistency token.
func fetchArtifactPermissions(ctx context.Context, g *relations.Graph, keys []artifactKey) ([][]schema.Permission, []error) {
	out := make([][]schema.Permission, len(keys))
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
		refs := make([]relations.ArtifactRef, len(idx))
		for j, i := range idx {
			refs[j] = keys[i].ref
		}
		perms, err := g.ArtifactPermissions(ctx, u, refs, token)
		for _, i := range idx {
			out[i], errs[i] = perms[keys[i].ref], err
		}
	}
	return out, errs
}

// artifactPermissions loads the viewer's permissions on an artifact,
// batched with the rest of the request's artifacts.
func artifactPermissions(ctx context.Context, g *relations.Graph, a *relations.Artifact) ([]schema.Permission, error) {
	key := artifactKey{ref: relations.ArtifactRef{Kind: a.Kind, ID: a.ID}, token: consistency(ctx, nil, a.ReadAt)}
	if l, ok := ctx.Value(loadersKey{}).(*loaders); ok {
		return l.artifacts.Load(ctx, key)
	}
	u, err := viewer(ctx)
	if err != nil {
		return nil, err
	}
	perms, err := g.ArtifactPermissions(ctx, u, []relations.ArtifactRef{key.ref}, key.token)
	return perms[key.ref], err
}

// primeArtifacts queues a page's artifacts in one batch up front.
func primeArtifacts(ctx context.Context, artifacts []relations.Artifact) {
	l, ok := ctx.Value(loadersKey{}).(*loaders)
	if !ok {
		return
	}
	for i := range artifacts {
		a := &artifacts[i]
		l.artifacts.LoadThunk(ctx, artifactKey{ref: relations.ArtifactRef{Kind: a.Kind, ID: a.ID}, token: consistency(ctx, nil, a.ReadAt)})
	}
}

// fetchAccess answers a batch with one AccessTo call per consistency
// token (a page shares one).
func fetchAccess(ctx context.Context, g *relations.Graph, keys []accessKey) ([]relations.Access, []error) {
	out := make([]relations.Access, len(keys))
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
		names := make([]string, len(idx))
		for j, i := range idx {
			names[j] = keys[i].project
		}
		access, err := g.AccessTo(ctx, u, names, token)
		for _, i := range idx {
			out[i], errs[i] = access[keys[i].project], err
		}
	}
	return out, errs
}

// withLoaders gives every operation its own loaders: their cache must not
// outlive the operation (a WebSocket connection runs many) or cross viewers.
func withLoaders(g *relations.Graph) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		return next(context.WithValue(ctx, loadersKey{}, newLoaders(g)))
	}
}

// projectAccess loads the viewer's access to a project, batched with the
// rest of the request's projects.
func projectAccess(ctx context.Context, g *relations.Graph, p *relations.Project) (relations.Access, error) {
	token := consistency(ctx, nil, p.ReadAt)
	if l, ok := ctx.Value(loadersKey{}).(*loaders); ok {
		return l.access.Load(ctx, accessKey{project: p.Name, token: token})
	}
	u, err := viewer(ctx)
	if err != nil {
		return relations.Access{}, err
	}
	access, err := g.AccessTo(ctx, u, []string{p.Name}, token)
	return access[p.Name], err
}

// primeAccess queues a page's projects in one batch up front, so the page's
// fields share one bulk check however the scheduler interleaves them.
func primeAccess(ctx context.Context, projects []relations.Project) {
	l, ok := ctx.Value(loadersKey{}).(*loaders)
	if !ok {
		return
	}
	for i := range projects {
		l.access.LoadThunk(ctx, accessKey{project: projects[i].Name, token: consistency(ctx, nil, projects[i].ReadAt)})
	}
}
