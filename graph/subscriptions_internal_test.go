package graph

import (
	"errors"
	"testing"

	"github.com/seed-6461fa00/trellis/relations"
)

// TestFailedStreamEndsWithItsError: a subscription whose stream fails ends
// with an event every field of which answers the failure, while one that
// ends because the viewer lost access ends quietly.
func TestFailedStreamEndsWithItsError(t *testing.T) {
	ctx := t.Context()
	stream := func(err error) <-chan *relations.MembershipEvent {
		events := make(chan relations.MembershipEvent, 1)
		errs := make(chan error, 1)
		events <- relations.MembershipEvent{Project: "apollo"}
		if err != nil {
			errs <- err
		}
		close(events)
		close(errs)
		return forward(ctx, events, errs, func() {})
	}

	failed := errors.New("the relation graph is unavailable")
	out := stream(failed)
	if ev := <-out; ev.Project != "apollo" || ev.Err != nil {
		t.Fatalf("first event: %+v", ev)
	}
	last, ok := <-out
	if !ok || !errors.Is(last.Err, failed) {
		t.Fatalf("after the failure: %+v, %v; want an event carrying it", last, ok)
	}
	r := &membershipEventResolver{}
	for field, answer := range map[string]func() error{
		"project":          func() error { _, err := r.Project(ctx, last); return err },
		"user":             func() error { _, err := r.User(ctx, last); return err },
		"role":             func() error { _, err := r.Role(ctx, last); return err },
		"removed":          func() error { _, err := r.Removed(ctx, last); return err },
		"consistencyToken": func() error { _, err := r.ConsistencyToken(ctx, last); return err },
	} {
		if err := answer(); !errors.Is(err, failed) {
			t.Errorf("%s of the failure event: %v", field, err)
		}
	}
	if _, ok := <-out; ok {
		t.Fatal("the stream went on after its failure")
	}

	quiet := stream(nil)
	<-quiet
	if ev, ok := <-quiet; ok {
		t.Fatalf("a stream that ended without an error sent %+v", ev)
	}
}
