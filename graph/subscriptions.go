package graph

import (
	"context"

	"github.com/seed-6461fa00/trellis/relations"
)

// forward adapts a stream of events to what gqlgen sends: pointers, closed
// when the stream or the subscription ends. A stream that ends in an error
// (not the viewer losing access, which ends it quietly) sends one last
// event carrying it, which every field of the event answers with: the
// client learns the subscription failed, rather than see it complete.
func forward(ctx context.Context, events <-chan relations.MembershipEvent, errs <-chan error) <-chan *relations.MembershipEvent {
	out := make(chan *relations.MembershipEvent)
	go func() {
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
			send(relations.MembershipEvent{Err: err})
		}
	}()
	return out
}
