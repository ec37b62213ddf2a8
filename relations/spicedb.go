package relations

import (
	"context"
	"errors"
	"io"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed-6461fa00/trellis/schema"
)

// Token is a SpiceDB ZedToken: returned by every write, accepted by every
// read so that a client always sees its own writes. The zero Token asks for
// nothing in particular (minimize latency).
type Token string

func tokenOf(z *v1.ZedToken) Token { return Token(z.GetToken()) }

// readConsistency reads at least as fresh as t, or as fast as possible.
func readConsistency(t Token) *v1.Consistency {
	if t == "" {
		return &v1.Consistency{Requirement: &v1.Consistency_MinimizeLatency{MinimizeLatency: true}}
	}
	return &v1.Consistency{Requirement: &v1.Consistency_AtLeastAsFresh{AtLeastAsFresh: &v1.ZedToken{Token: string(t)}}}
}

// atSnapshot reads exactly the revision t names.
func atSnapshot(t Token) *v1.Consistency {
	return &v1.Consistency{Requirement: &v1.Consistency_AtExactSnapshot{AtExactSnapshot: &v1.ZedToken{Token: string(t)}}}
}

// fullyConsistent is used before every write: an authorization decision that
// guards a change must see every change before it.
func fullyConsistent() *v1.Consistency {
	return &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}}
}

func objectRef(t schema.ObjectType, id string) *v1.ObjectReference {
	return &v1.ObjectReference{ObjectType: string(t), ObjectId: id}
}

func userSubject(u User) *v1.SubjectReference {
	return &v1.SubjectReference{Object: objectRef(schema.TypeUser, u.ID)}
}

func projectRef(name string) *v1.ObjectReference { return objectRef(schema.TypeProject, name) }

// roleRelationship is the relationship that gives user u role r in project p.
func roleRelationship(p string, r Role, u User) *v1.Relationship {
	return &v1.Relationship{Resource: projectRef(p), Relation: string(r), Subject: userSubject(u)}
}

// exactly is a filter that matches one relationship.
func exactly(rel *v1.Relationship) *v1.RelationshipFilter {
	return &v1.RelationshipFilter{
		ResourceType:       rel.GetResource().GetObjectType(),
		OptionalResourceId: rel.GetResource().GetObjectId(),
		OptionalRelation:   rel.GetRelation(),
		OptionalSubjectFilter: &v1.SubjectFilter{
			SubjectType:       rel.GetSubject().GetObject().GetObjectType(),
			OptionalSubjectId: rel.GetSubject().GetObject().GetObjectId(),
		},
	}
}

func mustMatch(f *v1.RelationshipFilter) *v1.Precondition {
	return &v1.Precondition{Operation: v1.Precondition_OPERATION_MUST_MATCH, Filter: f}
}

func mustNotMatch(f *v1.RelationshipFilter) *v1.Precondition {
	return &v1.Precondition{Operation: v1.Precondition_OPERATION_MUST_NOT_MATCH, Filter: f}
}

func update(op v1.RelationshipUpdate_Operation, rel *v1.Relationship) *v1.RelationshipUpdate {
	return &v1.RelationshipUpdate{Operation: op, Relationship: rel}
}

// errorReason returns SpiceDB's ErrorInfo reason attached to err, if any.
func errorReason(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// fromSpiceDB translates an error of a SpiceDB call into the domain's Error.
// conflict is the message to use when the call lost to a concurrent change or
// a precondition failed.
func fromSpiceDB(ctx context.Context, err error, conflict string) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &Error{Code: CodeUnavailable, Message: "request canceled", Err: ctxErr}
	}
	var domain *Error
	if errors.As(err, &domain) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return &Error{Code: CodeInternal, Message: "relation graph failed", Err: err}
	}
	reason := errorReason(st)
	switch {
	case reason == v1.ErrorReason_ERROR_REASON_WRITE_OR_DELETE_PRECONDITION_FAILURE.String(),
		reason == v1.ErrorReason_ERROR_REASON_ATTEMPT_TO_RECREATE_RELATIONSHIP.String(),
		st.Code() == codes.Aborted:
		if conflict == "" {
			conflict = "a concurrent change interfered; retry"
		}
		return &Error{Code: CodeConflict, Message: conflict, Err: err}
	case st.Code() == codes.OutOfRange:
		// A ZedToken (or a page cursor, which carries one) from before the
		// GC window, from the future, or from another graph: the client's
		// to fix, not the server's failure.
		return &Error{Code: CodeInvalid, Field: "consistencyToken", Message: "the consistency token, or the page cursor's, cannot be read here: " + st.Message(), Err: err}
	case reason == v1.ErrorReason_ERROR_REASON_INVALID_CURSOR.String():
		return &Error{Code: CodeInvalid, Field: "after", Message: "the cursor does not belong to this query", Err: err}
	case st.Code() == codes.Unavailable, st.Code() == codes.DeadlineExceeded, st.Code() == codes.Canceled,
		st.Code() == codes.ResourceExhausted:
		return &Error{Code: CodeUnavailable, Message: "the relation graph is unavailable", Err: err}
	case st.Code() == codes.InvalidArgument && st.Message() == "invalid revision requested":
		// SpiceDB's words for a ZedToken it cannot decode at all.
		return &Error{Code: CodeInvalid, Field: "consistencyToken", Message: "the consistency token is not one this graph issued", Err: err}
	case st.Code() == codes.InvalidArgument:
		return &Error{Code: CodeInvalid, Message: st.Message(), Err: err}
	default:
		return &Error{Code: CodeInternal, Message: "relation graph failed", Err: err}
	}
}

// firstRelationship reads one relationship filter matches, if any.
func (g *Graph) firstRelationship(ctx context.Context, c *v1.Consistency, filter *v1.RelationshipFilter) (*v1.Relationship, bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := g.perms.ReadRelationships(ctx, &v1.ReadRelationshipsRequest{Consistency: c, RelationshipFilter: filter, OptionalLimit: 1})
	if err != nil {
		return nil, false, fromSpiceDB(ctx, err, "")
	}
	r, err := stream.Recv()
	switch {
	case err == nil:
		return r.GetRelationship(), true, nil
	case errors.Is(err, io.EOF):
		return nil, false, nil
	}
	return nil, false, fromSpiceDB(ctx, err, "")
}
