package relations

import (
	"context"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/seed-6461fa00/trellis/schema"
)

// MembershipEvent is a change of one user's role in one project.
type MembershipEvent struct {
	Project string
	User    User
	// Role is the user's role after the change; Removed means they have
	// none.
	Role    Role
	Removed bool
	// Token reads the graph as of the change, or later.
	Token Token
	// Err, when set, makes this no change but the reason a stream of
	// events ended, for consumers that take both from one channel; the
	// graph's own streams report it on their error channel.
	Err error
}

// WatchMembership streams the membership changes of a project the viewer
// may read, from the revision t names (or from now, without t) until ctx
// ends or the viewer can no longer read the project; events are checked
// against the viewer's access as of each change, so nothing is delivered
// that the viewer may not see. The error channel carries the reason the
// stream ended, if any.
func (g *Graph) WatchMembership(ctx context.Context, viewer User, project string, t Token) (<-chan MembershipEvent, <-chan error, error) {
	// The stream starts after the revision the viewer read the project
	// at (the token of what they read, say a members list): every change
	// they could not already see is delivered.
	at, err := g.readableAt(ctx, viewer, project, t)
	if err != nil {
		return nil, nil, err
	}
	filter := &v1.RelationshipFilter{ResourceType: string(schema.TypeProject), OptionalResourceId: project}
	return g.watchRoles(ctx, filter, &v1.ZedToken{Token: string(at)}, func(ctx context.Context, ev MembershipEvent) (bool, error) {
		// At the change's own revision: a later one could show access the
		// viewer did not have when the change happened, or hide one they had.
		return g.check(ctx, viewer, Object{schema.TypeProject, project}, schema.ProjectRead, atSnapshot(ev.Token))
	})
}

// WatchViewerProjects streams changes of the viewer's own roles, in any
// project: joining, changing role, leaving or being removed.
func (g *Graph) WatchViewerProjects(ctx context.Context, viewer User) (<-chan MembershipEvent, <-chan error, error) {
	// An empty ID would match every user's roles.
	if _, err := UserFromID(viewer.ID); err != nil {
		return nil, nil, err
	}
	head, err := g.schemas.ReadSchema(ctx, &v1.ReadSchemaRequest{})
	if err != nil {
		return nil, nil, fromSpiceDB(ctx, err, "")
	}
	filter := &v1.RelationshipFilter{
		ResourceType:          string(schema.TypeProject),
		OptionalSubjectFilter: &v1.SubjectFilter{SubjectType: string(schema.TypeUser), OptionalSubjectId: viewer.ID},
	}
	return g.watchRoles(ctx, filter, head.GetReadAt(), nil)
}

// watchRoles turns SpiceDB's Watch into role events. allowed, if set,
// decides whether an event may be delivered; false ends the stream.
func (g *Graph) watchRoles(ctx context.Context, filter *v1.RelationshipFilter, after *v1.ZedToken, allowed func(context.Context, MembershipEvent) (bool, error)) (<-chan MembershipEvent, <-chan error, error) {
	ctx, cancel := context.WithCancel(ctx)
	stream, err := v1.NewWatchServiceClient(g.conn).Watch(ctx, &v1.WatchRequest{
		OptionalUpdateKinds:         []v1.WatchKind{v1.WatchKind_WATCH_KIND_INCLUDE_RELATIONSHIP_UPDATES},
		OptionalRelationshipFilters: []*v1.RelationshipFilter{filter},
		OptionalStartCursor:         after,
	})
	if err != nil {
		cancel()
		return nil, nil, fromSpiceDB(ctx, err, "")
	}
	events := make(chan MembershipEvent, 16)
	errs := make(chan error, 1)
	go func() {
		defer cancel()
		defer close(events)
		defer close(errs)
		for {
			resp, err := stream.Recv()
			if err != nil {
				if ctx.Err() == nil {
					errs <- fromSpiceDB(ctx, err, "")
				}
				return
			}
			for _, ev := range roleEvents(resp) {
				if allowed != nil {
					ok, err := allowed(ctx, ev)
					if err != nil {
						errs <- err
						return
					}
					if !ok {
						return // the viewer lost access: deliver nothing more
					}
				}
				select {
				case events <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return events, errs, nil
}

// roleEvents turns one revision's updates into one event per user and
// project: a role change (delete the old, write the new) is one event.
func roleEvents(resp *v1.WatchResponse) []MembershipEvent {
	token := tokenOf(resp.GetChangesThrough())
	var order []string
	byKey := map[string]MembershipEvent{}
	for _, u := range resp.GetUpdates() {
		rel := u.GetRelationship()
		role := Role(rel.GetRelation())
		if role.rank() < 0 || rel.GetSubject().GetObject().GetObjectType() != string(schema.TypeUser) {
			continue
		}
		ev := MembershipEvent{
			Project: rel.GetResource().GetObjectId(),
			User:    User{ID: rel.GetSubject().GetObject().GetObjectId()},
			Role:    role,
			Removed: u.GetOperation() == v1.RelationshipUpdate_OPERATION_DELETE,
			Token:   token,
		}
		key := ev.Project + "\x00" + ev.User.ID
		prev, seen := byKey[key]
		if !seen {
			order = append(order, key)
		}
		if !seen || prev.Removed { // a role written wins over one deleted
			byKey[key] = ev
		}
	}
	out := make([]MembershipEvent, 0, len(order))
	for _, k := range order {
		out = append(out, byKey[k])
	}
	return out
}
