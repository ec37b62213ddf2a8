package embedded

import (
	"context"
	"fmt"
	"strconv"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/spicedb/pkg/datalayer"
	"github.com/authzed/spicedb/pkg/datastore/options"
	"github.com/authzed/spicedb/pkg/datastore/queryshape"
	"github.com/authzed/spicedb/pkg/spiceerrors"
	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/grpc/codes"
)

// maxDeleteLimit is SpiceDB's default most relationships one limited
// deletion may name.
const maxDeleteLimit = 1000

// DeleteRelationships deletes in this process, in one datastore
// transaction, every relationship a filter matches: what SpiceDB's
// DeleteRelationships does, without the gRPC hop and server middleware,
// as WriteRelationships is to its namesake.
//
// It makes the checks SpiceDB's API makes: the API's field rules, a filter
// naming defined types and relations and setting at least one field (and
// not both a resource ID and a prefix), preconditions as for a write, a
// limit of at most 1,000; with a limit and without partial deletions, more
// matches than the limit is an error and deletes nothing. Transaction
// metadata is refused. Errors carry the gRPC status, code and reason,
// SpiceDB's API would return.
func (e *Engine) DeleteRelationships(ctx context.Context, req *v1.DeleteRelationshipsRequest) (resp *v1.DeleteRelationshipsResponse, err error) {
	ctx, end := startSpan(ctx, "DeleteRelationships (in process)",
		attribute.Int("preconditions", len(req.GetOptionalPreconditions())), attribute.Int("limit", int(req.GetOptionalLimit())))
	defer func() { end(err) }()
	// In SpiceDB's order: its middleware's field rules first, then the
	// handler's limits, then, in the transaction, names before shapes.
	if err := validateFields(req); err != nil {
		return nil, err
	}
	if len(req.GetOptionalTransactionMetadata().GetFields()) > 0 {
		return nil, invalidf("in-process deletions take no transaction metadata")
	}
	if err := checkPreconditionCount(len(req.GetOptionalPreconditions())); err != nil {
		return nil, err
	}
	if req.GetOptionalLimit() > maxDeleteLimit {
		return nil, spiceerrors.WithCodeAndDetailsAsError(fmt.Errorf("provided limit %d is greater than maximum allowed of %d", req.GetOptionalLimit(), maxDeleteLimit),
			codes.InvalidArgument, spiceerrors.ForReason(v1.ErrorReason_ERROR_REASON_EXCEEDS_MAXIMUM_ALLOWABLE_LIMIT, map[string]string{
				"limit_provided": strconv.FormatUint(uint64(req.GetOptionalLimit()), 10), "maximum_limit_allowed": strconv.Itoa(maxDeleteLimit),
			}))
	}
	pre := newPreconditions(req.GetOptionalPreconditions())
	public := req.GetRelationshipFilter()
	limit := uint64(req.GetOptionalLimit())
	progress := v1.DeleteRelationshipsResponse_DELETION_PROGRESS_COMPLETE
	var deleted uint64
	rev, err := e.data.ReadWriteTx(ctx, func(ctx context.Context, rwt datalayer.ReadWriteTransaction) error {
		progress, deleted = v1.DeleteRelationshipsResponse_DELETION_PROGRESS_COMPLETE, 0
		defs, err := definitionsFor(ctx, rwt, nil, append(pre.publicFilters(), public))
		if err != nil {
			return err
		}
		if err := defs.checkFilter(public); err != nil {
			return err
		}
		filter, err := relationshipFilter(public)
		if err != nil {
			return err
		}
		if err := pre.check(defs); err != nil {
			return err
		}
		if err := pre.hold(ctx, rwt); err != nil {
			return err
		}
		if limit == 0 {
			deleted, _, err = rwt.DeleteRelationships(ctx, public)
			return err
		}
		if !req.GetOptionalAllowPartialDeletions() {
			over := limit + 1
			it, err := rwt.QueryRelationships(ctx, filter, options.WithLimit(&over), options.WithQueryShape(queryshape.Varying))
			if err != nil {
				return err
			}
			n := uint64(0)
			for _, err := range it {
				if err != nil {
					return err
				}
				if n++; n > limit {
					return tooManyToDelete(public, limit)
				}
			}
		}
		var reached bool
		deleted, reached, err = rwt.DeleteRelationships(ctx, public, options.WithDeleteLimit(&limit))
		if reached {
			progress = v1.DeleteRelationshipsResponse_DELETION_PROGRESS_PARTIAL
		}
		return err
	})
	token, err := e.tokenAt(ctx, rev, err)
	if err != nil {
		return nil, err
	}
	return &v1.DeleteRelationshipsResponse{DeletedAt: token, DeletionProgress: progress, RelationshipsDeletedCount: deleted}, nil
}

func tooManyToDelete(f *v1.RelationshipFilter, limit uint64) error {
	err := fmt.Errorf("found more than %d relationships to be deleted and partial deletion was not requested", limit)
	metadata := map[string]string{"limit": strconv.FormatUint(limit, 10), "filter_resource_type": f.GetResourceType()}
	for key, value := range map[string]string{
		"filter_resource_id":      f.GetOptionalResourceId(),
		"filter_relation":         f.GetOptionalRelation(),
		"filter_subject_type":     f.GetOptionalSubjectFilter().GetSubjectType(),
		"filter_subject_id":       f.GetOptionalSubjectFilter().GetOptionalSubjectId(),
		"filter_subject_relation": f.GetOptionalSubjectFilter().GetOptionalRelation().GetRelation(),
	} {
		if value != "" {
			metadata[key] = value
		}
	}
	return spiceerrors.WithCodeAndDetailsAsError(err, codes.InvalidArgument, spiceerrors.ForReason(
		v1.ErrorReason_ERROR_REASON_TOO_MANY_RELATIONSHIPS_FOR_TRANSACTIONAL_DELETE, metadata))
}
