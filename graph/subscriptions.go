package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/seed-6461fa00/trellis/relations"
)

// subscriptionSlots caps the subscriptions each user has open, over all
// their connections: every one keeps a SpiceDB Watch running, which reads
// the change log on every commit, so one token opening thousands would
// tax every write.
type subscriptionSlots struct {
	limit int
	mu    sync.Mutex
	open  map[string]int
}

// take reserves a subscription for user; release gives it back.
func (s *subscriptionSlots) take(user relations.User) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[user.ID] >= s.limit {
		return nil, &gqlerror.Error{
			Message:    fmt.Sprintf("you have %d subscriptions open, the most one user may; end one before starting another", s.limit),
			Extensions: map[string]any{"code": "TOO_MANY_SUBSCRIPTIONS"},
		}
	}
	s.open[user.ID]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.open[user.ID]--; s.open[user.ID] == 0 {
				delete(s.open, user.ID)
			}
		})
	}, nil
}

// watch starts, in one of user's places, the stream start opens, and
// adapts it for gqlgen (forward). The place is free again as soon as the
// client ends the subscription, not once the stream has wound down.
func (s *subscriptionSlots) watch(ctx context.Context, user relations.User, start func() (<-chan relations.MembershipEvent, <-chan error, error)) (<-chan *relations.MembershipEvent, error) {
	release, err := s.take(user)
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, release)
	events, errs, err := start()
	if err != nil {
		release()
		return nil, err
	}
	return forward(ctx, events, errs, release), nil
}

// forward adapts a stream of events to what gqlgen sends: pointers, closed
// when the stream or the subscription ends. A stream that ends in an error
// (not the viewer losing access, which ends it quietly) sends one last
// event carrying it, which every field of the event answers with, folded
// into one error by failedEventErrors: the client learns the subscription
// failed, rather than see it complete.
// release is called once the subscription is over.
func forward(ctx context.Context, events <-chan relations.MembershipEvent, errs <-chan error, release func()) <-chan *relations.MembershipEvent {
	out := make(chan *relations.MembershipEvent)
	go func() {
		defer release()
		defer close(out)
		send := func(ev relations.MembershipEvent) bool {
			select {
			case out <- &ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for ev := range events {
			if !send(ev) {
				return
			}
		}
		if err := <-errs; err != nil {
			slog.ErrorContext(ctx, "graphql: subscription failed", "err", err)
			send(relations.MembershipEvent{Err: &streamFailure{err}})
		}
	}()
	return out
}

// streamFailure marks the error a failed stream's last event carries, so
// its copies, one from each field the client selected, are told apart
// from every other error.
type streamFailure struct{ err error }

func (f *streamFailure) Error() string { return f.err.Error() }
func (f *streamFailure) Unwrap() error { return f.err }

// failedEventErrors reports a stream's failure once. Every field of the
// event that carries it (see forward) answers with the failure: the copies
// are folded into the first, and only they. gqlgen gives the fields of a
// subscription's event paths without the subscription's own field; the
// one kept gets it back.
type failedEventErrors struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = failedEventErrors{}

func (failedEventErrors) ExtensionName() string                   { return "FailedSubscriptionEvent" }
func (failedEventErrors) Validate(graphql.ExecutableSchema) error { return nil }

func (failedEventErrors) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || len(resp.Errors) == 0 || !graphql.HasOperationContext(ctx) {
		return resp
	}
	opCtx := graphql.GetOperationContext(ctx)
	if opCtx.Operation == nil || opCtx.Operation.Operation != ast.Subscription {
		return resp
	}
	roots := graphql.CollectFields(opCtx, opCtx.Operation.SelectionSet, []string{"Subscription"})
	if len(roots) != 1 {
		return resp
	}
	root := roots[0]
	// An event carries at most one failure.
	var kept gqlerror.List
	var reported *streamFailure
	for _, e := range resp.Errors {
		var f *streamFailure
		if !errors.As(e.Err, &f) {
			kept = append(kept, e)
			continue
		}
		if f == reported {
			continue
		}
		reported = f
		e.Path = append(ast.Path{ast.PathName(root.Alias)}, e.Path...)
		kept = append(kept, e)
	}
	resp.Errors = kept
	return resp
}
