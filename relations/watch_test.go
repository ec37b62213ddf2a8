package relations_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
)

func next(t *testing.T, events <-chan relations.MembershipEvent) relations.MembershipEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return relations.MembershipEvent{}
}

// TestWatchMembership: a reader of a project hears its membership changes,
// a role change as one event; a stranger cannot subscribe; a subscriber
// removed from the project hears nothing more.
func TestWatchMembership(t *testing.T) {
	env := relationstest.Open(t)
	f := newFixture(t, env)
	ctx := t.Context()
	admin, reader := f.users["admin"], f.users["reader"]

	if _, _, err := f.g.WatchMembership(ctx, f.users["none"], f.project, ""); relations.ErrorCode(err) != relations.CodeNotFound {
		t.Fatalf("a stranger subscribing: %v", err)
	}
	events, _, err := f.g.WatchMembership(ctx, reader, f.project, "")
	if err != nil {
		t.Fatal(err)
	}
	newbie := f.newbie
	if _, err := f.g.AddMember(ctx, admin, f.project, newbie, relations.RoleReader); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events); ev.User != newbie || ev.Role != relations.RoleReader || ev.Removed {
		t.Fatalf("added: %+v", ev)
	}
	if _, err := f.g.ChangeRole(ctx, admin, f.project, newbie, relations.RoleWriter); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events); ev.User != newbie || ev.Role != relations.RoleWriter || ev.Removed {
		t.Fatalf("changed role: %+v", ev)
	}
	// The subscriber is removed: that event is the last it may see... and
	// it may not see it either, since it no longer reads the project.
	if _, err := f.g.RemoveMember(ctx, admin, f.project, reader); err != nil {
		t.Fatal(err)
	}
	if _, err := f.g.AddMember(ctx, admin, f.project, relationstest.MustUser(t, "after"), relations.RoleReader); err != nil {
		t.Fatal(err)
	}
	select {
	case ev, ok := <-events:
		if ok {
			t.Fatalf("a removed subscriber received %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream of a removed subscriber did not end")
	}
}

// TestWatchViewerProjects: a user hears their own roles change anywhere.
func TestWatchViewerProjects(t *testing.T) {
	env := relationstest.Open(t)
	f := newFixture(t, env)
	ctx := t.Context()
	events, _, err := f.g.WatchViewerProjects(ctx, f.newbie)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.g.AddMember(ctx, f.users["admin"], f.project, f.users["none"], relations.RoleReader); err != nil {
		t.Fatal(err) // someone else: not the newbie's business
	}
	if _, err := f.g.AddMember(ctx, f.users["admin"], f.project, f.newbie, relations.RoleManager); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events); ev.Project != f.project || ev.Role != relations.RoleManager || ev.User != f.newbie {
		t.Fatalf("joined: %+v", ev)
	}
	if _, err := f.g.Leave(ctx, f.newbie, f.project); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events); !ev.Removed || ev.Project != f.project {
		t.Fatalf("left: %+v", ev)
	}
}

// TestWatchChecksEachChangeAtItsOwnRevision: a subscriber who is removed
// and re-added while the stream lags behind hears nothing from the time
// they could not read the project: each change is checked at its own
// revision, not at a later one where access came back.
func TestWatchChecksEachChangeAtItsOwnRevision(t *testing.T) {
	env := relationstest.Open(t)
	f := newFixture(t, env)
	ctx := t.Context()
	admin, reader := f.users["admin"], f.users["reader"]
	events, _, err := f.g.WatchMembership(ctx, reader, f.project, "")
	if err != nil {
		t.Fatal(err)
	}
	// More events than the stream buffers, none read yet: the stream is
	// held back at the last of them while the next changes happen.
	const backlog = 20
	for i := range backlog {
		if _, err := f.g.AddMember(ctx, admin, f.project, relationstest.MustUser(t, fmt.Sprintf("early-%d", i)), relations.RoleReader); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // let the stream fill up
	if _, err := f.g.RemoveMember(ctx, admin, f.project, reader); err != nil {
		t.Fatal(err)
	}
	secret := relationstest.MustUser(t, "added-while-away")
	if _, err := f.g.AddMember(ctx, admin, f.project, secret, relations.RoleReader); err != nil {
		t.Fatal(err)
	}
	if _, err := f.g.AddMember(ctx, admin, f.project, reader, relations.RoleReader); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		select {
		case ev, ok := <-events:
			if !ok {
				if i != backlog {
					t.Fatalf("the stream ended after %d events, want %d", i, backlog)
				}
				return
			}
			if ev.User == secret || ev.User == reader {
				t.Fatalf("event %d reached a subscriber who could not read the project then: %+v", i, ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("after %d events the stream neither delivered nor ended", i)
		}
	}
}

// TestWatchMembershipFromAToken: a subscriber passing the token of what it
// last saw hears every change after it, those made before it subscribed
// included.
func TestWatchMembershipFromAToken(t *testing.T) {
	env := relationstest.Open(t)
	f := newFixture(t, env)
	ctx := t.Context()
	admin, reader := f.users["admin"], f.users["reader"]
	seen, err := f.g.AddMember(ctx, admin, f.project, relationstest.MustUser(t, "earlier"), relations.RoleReader)
	if err != nil {
		t.Fatal(err)
	}
	// Added after that token, before the subscription.
	if _, err := f.g.AddMember(ctx, admin, f.project, f.newbie, relations.RoleWriter); err != nil {
		t.Fatal(err)
	}
	events, _, err := f.g.WatchMembership(ctx, reader, f.project, seen)
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events); ev.User != f.newbie || ev.Role != relations.RoleWriter {
		t.Fatalf("the first change after the token: %+v", ev)
	}
	if _, _, err := f.g.WatchMembership(ctx, f.users["none"], f.project, seen); relations.ErrorCode(err) != relations.CodeNotFound {
		t.Fatalf("a stranger subscribing with a token: %v", err)
	}
}
