package embedded_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/seed-6461fa00/trellis/relations/embedded"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
)

const writeSchema = `
definition user {}

definition group {
	relation member: user | group#member
}

caveat on_day(day int) {
	day == 1
}

definition doc {
	relation viewer: user | user:* | group#member | user with on_day
	relation owner: user
	relation gated: user with on_day
	permission view = viewer + owner
}
`

// startEngine runs an engine, stopped with the test, over a fresh store
// holding schemaText (nothing if empty).
func startEngine(t *testing.T, schemaText string) *embedded.Engine {
	t.Helper()
	ds, err := relationstest.NewDatastore(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	e := startOver(t, embedded.Config{Datastore: ds})
	if schemaText == "" {
		return e
	}
	if _, err := v1.NewSchemaServiceClient(e.Conn()).WriteSchema(t.Context(), &v1.WriteSchemaRequest{Schema: schemaText}); err != nil {
		t.Fatal(err)
	}
	return e
}

func updateOf(op v1.RelationshipUpdate_Operation, r *v1.Relationship) *v1.RelationshipUpdate {
	return &v1.RelationshipUpdate{Operation: op, Relationship: r}
}

func withSubjectRelation(r *v1.Relationship, relation string) *v1.Relationship {
	r.Subject.OptionalRelation = relation
	return r
}

func precondition(op v1.Precondition_Operation, f *v1.RelationshipFilter) *v1.Precondition {
	return &v1.Precondition{Operation: op, Filter: f}
}

// outcome is what a client can tell of a write's result.
type outcome struct {
	code   codes.Code
	reason string
}

func outcomeOf(err error) outcome {
	st := status.Convert(err)
	o := outcome{code: st.Code()}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			o.reason = info.GetReason()
		}
	}
	return o
}

// TestInProcessWritesAnswerAsSpiceDBsAPI runs the same writes, in order,
// through SpiceDB's gRPC API on one store and in process on another: every
// one must succeed or fail alike, with the same status code and reason,
// and leave the same relationships.
func TestInProcessWritesAnswerAsSpiceDBsAPI(t *testing.T) {
	overGRPC, inProcess := startEngine(t, writeSchema), startEngine(t, writeSchema)
	perms := v1.NewPermissionsServiceClient(overGRPC.Conn())
	create, touch, del := v1.RelationshipUpdate_OPERATION_CREATE, v1.RelationshipUpdate_OPERATION_TOUCH, v1.RelationshipUpdate_OPERATION_DELETE
	mustMatch, mustNotMatch := v1.Precondition_OPERATION_MUST_MATCH, v1.Precondition_OPERATION_MUST_NOT_MATCH
	docViewers := &v1.RelationshipFilter{ResourceType: "doc", OptionalResourceId: "d1", OptionalRelation: "viewer"}
	many := make([]*v1.RelationshipUpdate, 1001)
	for i := range many {
		many[i] = updateOf(touch, rel("doc", "many", "viewer", "user", "u"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+strings.Repeat("y", i/26)))
	}
	cases := []struct {
		name string
		req  *v1.WriteRelationshipsRequest
		want codes.Code
	}{
		{"create", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(create, rel("doc", "d1", "viewer", "user", "alice"))}}, codes.OK},
		{"create it again", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(create, rel("doc", "d1", "viewer", "user", "alice"))}}, codes.AlreadyExists},
		{"touch it", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(touch, rel("doc", "d1", "viewer", "user", "alice"))}}, codes.OK},
		{"several at once", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{
			updateOf(create, rel("doc", "d1", "owner", "user", "bob")),
			updateOf(touch, rel("doc", "d1", "viewer", "user", "*")),
			updateOf(touch, withSubjectRelation(rel("doc", "d1", "viewer", "group", "eng"), "member")),
			updateOf(touch, withSubjectRelation(rel("group", "eng", "member", "group", "ops"), "member")),
		}}, codes.OK},
		{"delete one", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(del, rel("doc", "d1", "viewer", "user", "*"))}}, codes.OK},
		{"delete one absent", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(del, rel("doc", "d9", "viewer", "user", "carol"))}}, codes.OK},
		{"unknown type", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(touch, rel("folder", "f1", "viewer", "user", "alice"))}}, codes.FailedPrecondition},
		{"unknown subject type", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(touch, rel("doc", "d1", "viewer", "robot", "r2"))}}, codes.FailedPrecondition},
		{"unknown relation", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(touch, rel("doc", "d1", "editor", "user", "alice"))}}, codes.FailedPrecondition},
		{"unknown subject relation", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(touch, withSubjectRelation(rel("doc", "d1", "viewer", "group", "eng"), "lead"))}}, codes.FailedPrecondition},
		{"to a permission", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(touch, rel("doc", "d1", "view", "user", "alice"))}}, codes.InvalidArgument},
		{"subject type not allowed", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(touch, withSubjectRelation(rel("doc", "d1", "owner", "group", "eng"), "member"))}}, codes.InvalidArgument},
		{"wildcard not allowed", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(touch, rel("doc", "d1", "owner", "user", "*"))}}, codes.InvalidArgument},
		{"allowed only with a caveat, written without", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(touch, rel("doc", "d1", "gated", "user", "dave"))}}, codes.InvalidArgument},
		{"allowed only with a caveat, deleted without", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(del, rel("doc", "d1", "gated", "user", "dave"))}}, codes.OK},
		{"deleting a type the relation never takes", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(del, rel("doc", "d1", "owner", "group", "eng"))}}, codes.InvalidArgument},
		{"wildcard deleted where none is allowed", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(del, rel("doc", "d1", "owner", "user", "*"))}}, codes.InvalidArgument},
		{"deleted from a permission", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(del, rel("doc", "d1", "view", "user", "alice"))}}, codes.InvalidArgument},
		{"wildcard resource", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(touch, rel("doc", "*", "viewer", "user", "alice"))}}, codes.InvalidArgument},
		{"malformed resource ID", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(touch, rel("doc", "d 1", "viewer", "user", "alice"))}}, codes.InvalidArgument},
		{"malformed subject ID", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(touch, rel("doc", "d1", "viewer", "user", "al!ce"))}}, codes.InvalidArgument},
		{"malformed type", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(touch, rel("Doc", "d1", "viewer", "user", "alice"))}}, codes.InvalidArgument},
		{"malformed relation", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(touch, rel("doc", "d1", "v", "user", "alice"))}}, codes.InvalidArgument},
		{"malformed precondition", &v1.WriteRelationshipsRequest{OptionalPreconditions: []*v1.Precondition{precondition(mustMatch, &v1.RelationshipFilter{ResourceType: "doc", OptionalResourceId: "d 1"})}}, codes.InvalidArgument},
		{"no subject", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(touch, &v1.Relationship{Resource: &v1.ObjectReference{ObjectType: "doc", ObjectId: "d1"}, Relation: "viewer"})}}, codes.InvalidArgument},
		{"no operation", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(v1.RelationshipUpdate_OPERATION_UNSPECIFIED, rel("doc", "d1", "viewer", "user", "erin"))}}, codes.InvalidArgument},
		{"one relationship twice", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{
			updateOf(touch, rel("doc", "d2", "viewer", "user", "alice")), updateOf(del, rel("doc", "d2", "viewer", "user", "alice")),
		}}, codes.InvalidArgument},
		{"too many updates", &v1.WriteRelationshipsRequest{Updates: many}, codes.InvalidArgument},
		{"precondition holds", &v1.WriteRelationshipsRequest{
			Updates:               []*v1.RelationshipUpdate{updateOf(create, rel("doc", "d1", "viewer", "user", "frank"))},
			OptionalPreconditions: []*v1.Precondition{precondition(mustMatch, docViewers), precondition(mustNotMatch, &v1.RelationshipFilter{ResourceType: "doc", OptionalResourceId: "d3"})},
		}, codes.OK},
		{"must match fails", &v1.WriteRelationshipsRequest{
			Updates:               []*v1.RelationshipUpdate{updateOf(create, rel("doc", "d3", "viewer", "user", "frank"))},
			OptionalPreconditions: []*v1.Precondition{precondition(mustMatch, &v1.RelationshipFilter{ResourceType: "doc", OptionalResourceId: "d3"})},
		}, codes.FailedPrecondition},
		{"must not match fails", &v1.WriteRelationshipsRequest{
			Updates:               []*v1.RelationshipUpdate{updateOf(create, rel("doc", "d3", "viewer", "user", "frank"))},
			OptionalPreconditions: []*v1.Precondition{precondition(mustNotMatch, docViewers)},
		}, codes.FailedPrecondition},
		{"preconditions alone", &v1.WriteRelationshipsRequest{OptionalPreconditions: []*v1.Precondition{precondition(mustMatch, docViewers)}}, codes.OK},
		{"precondition on an unknown type", &v1.WriteRelationshipsRequest{OptionalPreconditions: []*v1.Precondition{precondition(mustMatch, &v1.RelationshipFilter{ResourceType: "folder"})}}, codes.FailedPrecondition},
		{"precondition on an unknown relation", &v1.WriteRelationshipsRequest{OptionalPreconditions: []*v1.Precondition{precondition(mustMatch, &v1.RelationshipFilter{ResourceType: "doc", OptionalRelation: "editor"})}}, codes.FailedPrecondition},
		{"precondition on an unknown subject type", &v1.WriteRelationshipsRequest{OptionalPreconditions: []*v1.Precondition{precondition(mustMatch, &v1.RelationshipFilter{ResourceType: "doc", OptionalSubjectFilter: &v1.SubjectFilter{SubjectType: "robot"}})}}, codes.FailedPrecondition},
		{"precondition on resource ID and prefix", &v1.WriteRelationshipsRequest{OptionalPreconditions: []*v1.Precondition{precondition(mustMatch, &v1.RelationshipFilter{ResourceType: "doc", OptionalResourceId: "d1", OptionalResourceIdPrefix: "d"})}}, codes.InvalidArgument},
		{"precondition filtering on nothing", &v1.WriteRelationshipsRequest{OptionalPreconditions: []*v1.Precondition{precondition(mustMatch, &v1.RelationshipFilter{})}}, codes.InvalidArgument},
		{"precondition on a subject relation", &v1.WriteRelationshipsRequest{OptionalPreconditions: []*v1.Precondition{precondition(mustMatch, &v1.RelationshipFilter{ResourceType: "doc", OptionalSubjectFilter: &v1.SubjectFilter{SubjectType: "group", OptionalRelation: &v1.SubjectFilter_RelationFilter{Relation: "member"}}})}}, codes.OK},
		{"precondition on an unknown subject relation", &v1.WriteRelationshipsRequest{OptionalPreconditions: []*v1.Precondition{precondition(mustMatch, &v1.RelationshipFilter{ResourceType: "doc", OptionalSubjectFilter: &v1.SubjectFilter{SubjectType: "group", OptionalRelation: &v1.SubjectFilter_RelationFilter{Relation: "lead"}}})}}, codes.FailedPrecondition},
		{"empty transaction metadata", &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(touch, rel("doc", "d5", "viewer", "user", "hal"))}, OptionalTransactionMetadata: &structpb.Struct{}}, codes.OK},
		{"too many preconditions", &v1.WriteRelationshipsRequest{OptionalPreconditions: slices.Repeat([]*v1.Precondition{precondition(mustMatch, docViewers)}, 1001)}, codes.InvalidArgument},
		{"precondition on an unknown type, malformed too", &v1.WriteRelationshipsRequest{OptionalPreconditions: []*v1.Precondition{precondition(mustMatch, &v1.RelationshipFilter{ResourceType: "folder", OptionalResourceId: "f1", OptionalResourceIdPrefix: "f"})}}, codes.FailedPrecondition},
		{"precondition without a filter", &v1.WriteRelationshipsRequest{OptionalPreconditions: []*v1.Precondition{{Operation: mustMatch}}}, codes.InvalidArgument},
	}
	for _, c := range cases {
		_, gerr := perms.WriteRelationships(t.Context(), c.req)
		resp, lerr := inProcess.WriteRelationships(t.Context(), c.req)
		got, want := outcomeOf(lerr), outcomeOf(gerr)
		if want.code != c.want {
			t.Errorf("%s: SpiceDB's API answered %v (%v), the case expects %v", c.name, want.code, gerr, c.want)
		}
		if got != want {
			t.Errorf("%s: in process %+v (%v), over gRPC %+v (%v)", c.name, got, lerr, want, gerr)
		}
		if lerr == nil && resp.GetWrittenAt().GetToken() == "" {
			t.Errorf("%s: no ZedToken", c.name)
		}
	}

	// Both stores now hold the same relationships, and the in-process
	// write's ZedToken reads them.
	resp, err := inProcess.WriteRelationships(t.Context(), &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(touch, rel("doc", "d4", "owner", "user", "gina"))}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := perms.WriteRelationships(t.Context(), &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(touch, rel("doc", "d4", "owner", "user", "gina"))}}); err != nil {
		t.Fatal(err)
	}
	atWrite := &v1.Consistency{Requirement: &v1.Consistency_AtExactSnapshot{AtExactSnapshot: resp.GetWrittenAt()}}
	fully := &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}}
	if a, b := readAll(t, inProcess, atWrite), readAll(t, overGRPC, fully); a != b {
		t.Fatalf("the stores differ:\nin process:\n%s\nover gRPC:\n%s", a, b)
	} else if !strings.Contains(a, "doc:d4#owner@user:gina") || !strings.Contains(a, "group:eng#member@group:ops#member") {
		t.Fatalf("writes missing from the store:\n%s", a)
	}
}

// TestInProcessWriteWithoutSchema: before any schema is written, a write
// fails in process as it does over SpiceDB's API.
func TestInProcessWriteWithoutSchema(t *testing.T) {
	engines := [2]*embedded.Engine{startEngine(t, ""), startEngine(t, "")}
	req := &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{updateOf(v1.RelationshipUpdate_OPERATION_TOUCH, rel("doc", "d1", "viewer", "user", "alice"))}}
	_, gerr := v1.NewPermissionsServiceClient(engines[0].Conn()).WriteRelationships(t.Context(), req)
	_, lerr := engines[1].WriteRelationships(t.Context(), req)
	if got, want := outcomeOf(lerr), outcomeOf(gerr); got != want || want.code == codes.OK {
		t.Fatalf("in process %+v (%v), over gRPC %+v (%v)", got, lerr, want, gerr)
	}
}

// readAll lists every relationship of the test schema's types, one per line.
func readAll(t *testing.T, e *embedded.Engine, c *v1.Consistency) string {
	t.Helper()
	var b strings.Builder
	for _, typ := range []string{"doc", "group"} {
		stream, err := v1.NewPermissionsServiceClient(e.Conn()).ReadRelationships(t.Context(), &v1.ReadRelationshipsRequest{
			Consistency: c, RelationshipFilter: &v1.RelationshipFilter{ResourceType: typ},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range receiveAll(t, stream.Recv) {
			rel := r.GetRelationship()
			b.WriteString(rel.GetResource().GetObjectType() + ":" + rel.GetResource().GetObjectId() + "#" + rel.GetRelation() + "@" +
				rel.GetSubject().GetObject().GetObjectType() + ":" + rel.GetSubject().GetObject().GetObjectId())
			if sr := rel.GetSubject().GetOptionalRelation(); sr != "" {
				b.WriteString("#" + sr)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// TestInProcessWritesTakePlainRelationships: a caveat, an expiration or
// transaction metadata, which SpiceDB's API takes, is refused in process
// with a message that says so, and nothing is written.
func TestInProcessWritesTakePlainRelationships(t *testing.T) {
	e := startEngine(t, writeSchema)
	caveated := rel("doc", "d1", "viewer", "user", "alice")
	caveated.OptionalCaveat = &v1.ContextualizedCaveat{CaveatName: "on_day"}
	expiring := rel("doc", "d1", "viewer", "user", "bob")
	expiring.OptionalExpiresAt = timestamppb.New(time.Now().Add(time.Hour))
	metadata, err := structpb.NewStruct(map[string]any{"reason": "test"})
	if err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]*v1.WriteRelationshipsRequest{
		"caveat":     {Updates: []*v1.RelationshipUpdate{updateOf(v1.RelationshipUpdate_OPERATION_TOUCH, caveated)}},
		"expiration": {Updates: []*v1.RelationshipUpdate{updateOf(v1.RelationshipUpdate_OPERATION_TOUCH, expiring)}},
		"metadata": {
			Updates:                     []*v1.RelationshipUpdate{updateOf(v1.RelationshipUpdate_OPERATION_TOUCH, rel("doc", "d1", "viewer", "user", "carol"))},
			OptionalTransactionMetadata: metadata,
		},
	} {
		_, err := e.WriteRelationships(t.Context(), req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "in-process writes take") {
			t.Errorf("%s: %v, want InvalidArgument saying what in-process writes take", name, err)
		}
	}
	if got := readAll(t, e, &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}}); got != "" {
		t.Fatalf("refused writes left relationships:\n%s", got)
	}
}

// TestInProcessDeletionsAnswerAsSpiceDBsAPI runs the same deletions, in
// order, through SpiceDB's API on one store and in process on another:
// each must succeed or fail alike, with the same code and reason, delete
// as many and report the same progress, and leave the same relationships.
func TestInProcessDeletionsAnswerAsSpiceDBsAPI(t *testing.T) {
	overGRPC, inProcess := startEngine(t, writeSchema), startEngine(t, writeSchema)
	perms := v1.NewPermissionsServiceClient(overGRPC.Conn())
	var seed []*v1.RelationshipUpdate
	for i := range 30 {
		seed = append(seed, updateOf(v1.RelationshipUpdate_OPERATION_TOUCH, rel("doc", fmt.Sprintf("d%02d", i), "viewer", "user", fmt.Sprintf("u%d", i%3))))
	}
	seed = append(seed,
		updateOf(v1.RelationshipUpdate_OPERATION_TOUCH, rel("doc", "d00", "owner", "user", "alice")),
		updateOf(v1.RelationshipUpdate_OPERATION_TOUCH, withSubjectRelation(rel("doc", "d01", "viewer", "group", "eng"), "member")),
		updateOf(v1.RelationshipUpdate_OPERATION_TOUCH, rel("group", "eng", "member", "user", "bob")))
	for _, e := range []*embedded.Engine{overGRPC, inProcess} {
		if _, err := v1.NewPermissionsServiceClient(e.Conn()).WriteRelationships(t.Context(), &v1.WriteRelationshipsRequest{Updates: seed}); err != nil {
			t.Fatal(err)
		}
	}
	mustMatch, mustNotMatch := v1.Precondition_OPERATION_MUST_MATCH, v1.Precondition_OPERATION_MUST_NOT_MATCH
	docs := &v1.RelationshipFilter{ResourceType: "doc"}
	cases := []struct {
		name string
		req  *v1.DeleteRelationshipsRequest
		want codes.Code
	}{
		{"exactly the limit, whole", &v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "doc", OptionalSubjectFilter: &v1.SubjectFilter{SubjectType: "user", OptionalSubjectId: "u0"}}, OptionalLimit: 10}, codes.OK},
		{"one relationship", &v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "doc", OptionalResourceId: "d00", OptionalRelation: "owner"}}, codes.OK},
		{"nothing matches", &v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "doc", OptionalResourceId: "d99"}}, codes.OK},
		{"by subject", &v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "doc", OptionalSubjectFilter: &v1.SubjectFilter{SubjectType: "user", OptionalSubjectId: "u2"}}}, codes.OK},
		{"by subject relation", &v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "doc", OptionalSubjectFilter: &v1.SubjectFilter{SubjectType: "group", OptionalRelation: &v1.SubjectFilter_RelationFilter{Relation: "member"}}}}, codes.OK},
		{"more than the limit, whole", &v1.DeleteRelationshipsRequest{RelationshipFilter: docs, OptionalLimit: 5}, codes.InvalidArgument},
		{"more than the limit, partial", &v1.DeleteRelationshipsRequest{RelationshipFilter: docs, OptionalLimit: 5, OptionalAllowPartialDeletions: true}, codes.OK},
		{"within the limit", &v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "doc", OptionalResourceIdPrefix: "d2"}, OptionalLimit: 100}, codes.OK},
		{"a limit over the most", &v1.DeleteRelationshipsRequest{RelationshipFilter: docs, OptionalLimit: 1001}, codes.InvalidArgument},
		{"precondition fails", &v1.DeleteRelationshipsRequest{RelationshipFilter: docs, OptionalPreconditions: []*v1.Precondition{precondition(mustNotMatch, &v1.RelationshipFilter{ResourceType: "group"})}}, codes.FailedPrecondition},
		{"precondition on an unknown type", &v1.DeleteRelationshipsRequest{RelationshipFilter: docs, OptionalPreconditions: []*v1.Precondition{precondition(mustMatch, &v1.RelationshipFilter{ResourceType: "folder"})}}, codes.FailedPrecondition},
		{"unknown type", &v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "folder"}}, codes.FailedPrecondition},
		{"unknown relation", &v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "doc", OptionalRelation: "editor"}}, codes.FailedPrecondition},
		{"unknown subject type", &v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "doc", OptionalSubjectFilter: &v1.SubjectFilter{SubjectType: "robot"}}}, codes.FailedPrecondition},
		{"resource ID and prefix", &v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "doc", OptionalResourceId: "d1", OptionalResourceIdPrefix: "d"}}, codes.InvalidArgument},
		{"malformed resource ID", &v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "doc", OptionalResourceId: "d 1"}}, codes.InvalidArgument},
		{"no filter", &v1.DeleteRelationshipsRequest{}, codes.InvalidArgument},
		{"an empty filter", &v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{}}, codes.InvalidArgument},
		{"a wildcard resource ID", &v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "doc", OptionalResourceId: "*"}}, codes.InvalidArgument},
		{"an unknown type, malformed too", &v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "folder", OptionalResourceId: "f1", OptionalResourceIdPrefix: "f"}}, codes.FailedPrecondition},
		{"too many preconditions", &v1.DeleteRelationshipsRequest{RelationshipFilter: docs, OptionalPreconditions: slices.Repeat([]*v1.Precondition{precondition(mustMatch, docs)}, 1001)}, codes.InvalidArgument},
		{"malformed precondition", &v1.DeleteRelationshipsRequest{RelationshipFilter: docs, OptionalPreconditions: []*v1.Precondition{precondition(mustMatch, &v1.RelationshipFilter{ResourceType: "doc", OptionalResourceId: "d 1"})}}, codes.InvalidArgument},
		{"only a subject", &v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{OptionalSubjectFilter: &v1.SubjectFilter{SubjectType: "user", OptionalSubjectId: "u1"}}}, codes.OK},
		{"precondition holds", &v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "group"}, OptionalPreconditions: []*v1.Precondition{precondition(mustMatch, &v1.RelationshipFilter{ResourceType: "group", OptionalResourceId: "eng"})}}, codes.OK},
		{"the rest", &v1.DeleteRelationshipsRequest{RelationshipFilter: docs}, codes.OK},
	}
	for _, c := range cases {
		want, gerr := perms.DeleteRelationships(t.Context(), c.req)
		got, lerr := inProcess.DeleteRelationships(t.Context(), c.req)
		if outcomeOf(gerr).code != c.want {
			t.Errorf("%s: SpiceDB's API answered %v, the case expects %v", c.name, gerr, c.want)
		}
		if outcomeOf(lerr) != outcomeOf(gerr) {
			t.Errorf("%s: in process %+v (%v), over gRPC %+v (%v)", c.name, outcomeOf(lerr), lerr, outcomeOf(gerr), gerr)
		}
		if got.GetRelationshipsDeletedCount() != want.GetRelationshipsDeletedCount() || got.GetDeletionProgress() != want.GetDeletionProgress() {
			t.Errorf("%s: in process deleted %d (%v), over gRPC %d (%v)", c.name, got.GetRelationshipsDeletedCount(), got.GetDeletionProgress(),
				want.GetRelationshipsDeletedCount(), want.GetDeletionProgress())
		}
		fully := &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}}
		if a, b := readAll(t, inProcess, fully), readAll(t, overGRPC, fully); a != b {
			t.Fatalf("%s: the stores differ:\nin process:\n%s\nover gRPC:\n%s", c.name, a, b)
		}
	}
	if left := readAll(t, inProcess, &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}}); left != "" {
		t.Fatalf("left after deleting everything:\n%s", left)
	}
}
