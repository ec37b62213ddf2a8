package graph

import (
	"context"

	"github.com/seed-6461fa00/trellis/relations"
)

// forward adapts a stream of events to what gqlgen sends: pointers, closed
// when the stream or the subscription ends.
func forward(ctx context.Context, events <-chan relations.MembershipEvent) <-chan *relations.MembershipEvent {
	out := make(chan *relations.MembershipEvent)
	go func() {
		defer close(out)
		for ev := range events {
			select {
			case out <- &ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
