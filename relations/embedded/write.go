package embedded

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/spicedb/pkg/datalayer"
	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/datastore/options"
	"github.com/authzed/spicedb/pkg/datastore/queryshape"
	ns "github.com/authzed/spicedb/pkg/namespace"
	"github.com/authzed/spicedb/pkg/schema"
	"github.com/authzed/spicedb/pkg/spiceerrors"
	"github.com/authzed/spicedb/pkg/tuple"
	"github.com/authzed/spicedb/pkg/zedtoken"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var tracer = otel.Tracer("github.com/seed-6461fa00/trellis/relations/embedded")

// startSpan opens the span that stands in for the one SpiceDB's gRPC
// server would open, so a traced request still shows its writes; end
// closes it with the call's error.
func startSpan(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, func(error)) {
	ctx, span := tracer.Start(ctx, name, trace.WithAttributes(attrs...))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(otelcodes.Error, status.Code(err).String())
		}
		span.End()
	}
}

// SpiceDB's own defaults for its API's writes.
const (
	maxUpdatesPerWrite = 1000
	maxPreconditions   = 1000
)

// WriteRelationships applies req in this process, in one datastore
// transaction: what SpiceDB's WriteRelationships does, without the gRPC
// hop, the request-validation middleware and the server interceptors a
// call on Conn pays, which are more than half of a durable write's time
// (docs/BENCHMARKS.md).
//
// It makes the checks SpiceDB's API makes of a write: object IDs well
// formed, no update twice, every relationship on a relation (not a
// permission) of a defined type, with a subject type that relation allows,
// and every precondition naming defined types and relations and holding at
// the transaction's snapshot. It takes plain relationships: a caveat, an
// expiration or transaction metadata is refused, since Trellis writes none;
// services that need them use the gRPC API. Errors carry the gRPC status,
// code and reason, SpiceDB's API would return.
func (e *Engine) WriteRelationships(ctx context.Context, req *v1.WriteRelationshipsRequest) (resp *v1.WriteRelationshipsResponse, err error) {
	ctx, end := startSpan(ctx, "WriteRelationships (in process)",
		attribute.Int("updates", len(req.GetUpdates())), attribute.Int("preconditions", len(req.GetOptionalPreconditions())))
	defer func() { end(err) }()
	updates, err := plainUpdates(req)
	if err != nil {
		return nil, err
	}
	pre := newPreconditions(req.GetOptionalPreconditions())
	rev, err := e.data.ReadWriteTx(ctx, func(ctx context.Context, rwt datalayer.ReadWriteTransaction) error {
		defs, err := definitionsFor(ctx, rwt, updates, pre.publicFilters())
		if err != nil {
			return err
		}
		if err := pre.check(defs); err != nil {
			return err
		}
		for _, u := range updates {
			if err := defs.checkUpdate(u); err != nil {
				return err
			}
		}
		if err := pre.hold(ctx, rwt); err != nil {
			return err
		}
		return rwt.WriteRelationships(ctx, updates)
	})
	token, err := e.tokenAt(ctx, rev, err)
	if err != nil {
		return nil, err
	}
	return &v1.WriteRelationshipsResponse{WrittenAt: token}, nil
}

// tokenAt is the ZedToken SpiceDB's API answers a write committed at rev
// with, or the status it answers the write's error with.
func (e *Engine) tokenAt(ctx context.Context, rev datastore.Revision, err error) (*v1.ZedToken, error) {
	if err == nil {
		var token *v1.ZedToken
		if token, err = zedtoken.NewFromRevision(ctx, rev, datalayer.NoSchemaHashInTransaction, e.data); err == nil {
			return token, nil
		}
	}
	return nil, withStatus(err)
}

// plainUpdates checks the shape of req, what SpiceDB's request validation
// would, and converts its updates.
func plainUpdates(req *v1.WriteRelationshipsRequest) ([]tuple.RelationshipUpdate, error) {
	// In SpiceDB's order: its middleware's field rules first, then the
	// handler's limits.
	if err := validateFields(req); err != nil {
		return nil, err
	}
	switch {
	case len(req.GetOptionalTransactionMetadata().GetFields()) > 0:
		return nil, invalidf("in-process writes take no transaction metadata")
	case len(req.GetUpdates()) > maxUpdatesPerWrite:
		return nil, spiceerrors.WithCodeAndReason(fmt.Errorf("too many updates (%d) for WriteRelationships call (maximum: %d); consider using ImportBulkRelationships API instead", len(req.GetUpdates()), maxUpdatesPerWrite),
			codes.InvalidArgument, v1.ErrorReason_ERROR_REASON_TOO_MANY_UPDATES_IN_REQUEST)
	}
	if err := checkPreconditionCount(len(req.GetOptionalPreconditions())); err != nil {
		return nil, err
	}
	seen := make(map[string]struct{}, len(req.GetUpdates()))
	updates := make([]tuple.RelationshipUpdate, 0, len(req.GetUpdates()))
	for i, u := range req.GetUpdates() {
		r := u.GetRelationship()
		switch {
		case r.GetOptionalCaveat() != nil || r.GetOptionalExpiresAt() != nil:
			return nil, invalidf("update %d: in-process writes take relationships without caveat or expiration", i)
		case u.GetOperation() != v1.RelationshipUpdate_OPERATION_CREATE &&
			u.GetOperation() != v1.RelationshipUpdate_OPERATION_TOUCH &&
			u.GetOperation() != v1.RelationshipUpdate_OPERATION_DELETE:
			return nil, invalidf("update %d: unknown operation %v", i, u.GetOperation())
		}
		key := tuple.V1StringRelationshipWithoutCaveatOrExpiration(r)
		if _, dup := seen[key]; dup {
			return nil, spiceerrors.WithCodeAndReason(fmt.Errorf("found more than one update with relationship `%s` in this request; a relationship can only be specified in an update once per overall WriteRelationships request", key),
				codes.InvalidArgument, v1.ErrorReason_ERROR_REASON_UPDATES_ON_SAME_RELATIONSHIP)
		}
		seen[key] = struct{}{}
		converted, err := tuple.UpdateFromV1RelationshipUpdate(u)
		if err != nil {
			return nil, invalidf("update %d: %v", i, err)
		}
		updates = append(updates, converted)
	}
	return updates, nil
}

// relationshipFilter converts a filter (a precondition's, a deletion's),
// refusing the ones SpiceDB's API refuses.
func relationshipFilter(f *v1.RelationshipFilter) (datastore.RelationshipsFilter, error) {
	switch {
	case f.GetOptionalResourceId() != "" && f.GetOptionalResourceIdPrefix() != "":
		return datastore.RelationshipsFilter{}, invalidFilter("resource_id and resource_id_prefix cannot be set at the same time")
	case f.GetResourceType() == "" && f.GetOptionalResourceId() == "" && f.GetOptionalResourceIdPrefix() == "" &&
		f.GetOptionalRelation() == "" && f.GetOptionalSubjectFilter() == nil:
		return datastore.RelationshipsFilter{}, invalidFilter("at least one field must be set")
	}
	filter, err := datastore.RelationshipsFilterFromPublicFilter(f)
	if err != nil {
		return datastore.RelationshipsFilter{}, invalidf("filter: %v", err)
	}
	return filter, nil
}

// preconditions are a request's preconditions; check converts them.
type preconditions struct {
	list    []*v1.Precondition
	filters []datastore.RelationshipsFilter
}

// checkPreconditionCount refuses more preconditions than SpiceDB takes.
func checkPreconditionCount(n int) error {
	if n <= maxPreconditions {
		return nil
	}
	return spiceerrors.WithCodeAndDetailsAsError(fmt.Errorf("too many preconditions (%d) for this call (maximum: %d)", n, maxPreconditions),
		codes.InvalidArgument, spiceerrors.ForReason(v1.ErrorReason_ERROR_REASON_TOO_MANY_PRECONDITIONS_IN_REQUEST, map[string]string{
			"precondition_count": strconv.Itoa(n), "maximum_preconditions_allowed": strconv.Itoa(maxPreconditions),
		}))
}

func newPreconditions(list []*v1.Precondition) preconditions {
	return preconditions{list: list, filters: make([]datastore.RelationshipsFilter, len(list))}
}

// check checks each precondition as SpiceDB does, in its order: present,
// naming defined types and relations, then well formed.
func (p preconditions) check(defs definitions) error {
	for i, c := range p.list {
		if c.GetFilter() == nil {
			return invalidf("a precondition needs a filter")
		}
		if err := defs.checkFilter(c.GetFilter()); err != nil {
			return err
		}
		f, err := relationshipFilter(c.GetFilter())
		if err != nil {
			return err
		}
		p.filters[i] = f
	}
	return nil
}

func (p preconditions) publicFilters() []*v1.RelationshipFilter {
	out := make([]*v1.RelationshipFilter, len(p.list))
	for i, c := range p.list {
		out[i] = c.GetFilter()
	}
	return out
}

// hold checks the preconditions at the transaction's snapshot.
func (p preconditions) hold(ctx context.Context, rwt datalayer.ReadWriteTransaction) error {
	limitOne := uint64(1)
	for i, c := range p.list {
		it, err := rwt.QueryRelationships(ctx, p.filters[i], options.WithLimit(&limitOne), options.WithQueryShape(queryshape.Varying))
		if err != nil {
			return err
		}
		_, found, err := datastore.FirstRelationshipIn(it)
		if err != nil {
			return err
		}
		if found != (c.GetOperation() == v1.Precondition_OPERATION_MUST_MATCH) {
			return preconditionFailed(c)
		}
	}
	return nil
}

// definitions are the schema's type definitions a write names.
type definitions map[string]*schema.Definition

// definitionsFor reads, at the transaction's snapshot, the definition of
// every type the updates and the filters name.
func definitionsFor(ctx context.Context, rwt datalayer.ReadWriteTransaction, updates []tuple.RelationshipUpdate, filters []*v1.RelationshipFilter) (definitions, error) {
	// Read even when nothing is named: as in SpiceDB, a store without a
	// schema takes no write.
	sr, err := rwt.ReadSchema(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]struct{}{}
	for _, u := range updates {
		names[u.Relationship.Resource.ObjectType] = struct{}{}
		names[u.Relationship.Subject.ObjectType] = struct{}{}
	}
	for _, f := range filters {
		if t := f.GetResourceType(); t != "" {
			names[t] = struct{}{}
		}
		if t := f.GetOptionalSubjectFilter().GetSubjectType(); t != "" {
			names[t] = struct{}{}
		}
	}
	if len(names) == 0 {
		return definitions{}, nil
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	found, err := sr.LookupTypeDefinitionsByNames(ctx, list)
	if err != nil {
		return nil, err
	}
	defs := make(definitions, len(found))
	for name, nsDef := range found {
		d, err := schema.NewDefinition(nsDef)
		if err != nil {
			return nil, err
		}
		defs[name] = d
	}
	return defs, nil
}

func (defs definitions) lookup(typ string) (*schema.Definition, error) {
	d, ok := defs[typ]
	if !ok {
		return nil, spiceerrors.WithCodeAndReason(fmt.Errorf("object definition `%s` not found", typ),
			codes.FailedPrecondition, v1.ErrorReason_ERROR_REASON_UNKNOWN_DEFINITION)
	}
	return d, nil
}

// relation checks that typ defines relation (a relation or a permission);
// the ellipsis passes where allowed.
func (defs definitions) relation(typ, relation string, ellipsisAllowed bool) (*schema.Definition, error) {
	d, err := defs.lookup(typ)
	if err != nil {
		return nil, err
	}
	if (ellipsisAllowed && relation == tuple.Ellipsis) || d.HasRelation(relation) {
		return d, nil
	}
	return nil, spiceerrors.WithCodeAndReason(fmt.Errorf("relation/permission `%s` not found under definition `%s`", relation, typ),
		codes.FailedPrecondition, v1.ErrorReason_ERROR_REASON_UNKNOWN_RELATION_OR_PERMISSION)
}

// checkUpdate is SpiceDB's check of one update against the schema.
func (defs definitions) checkUpdate(u tuple.RelationshipUpdate) error {
	rel := u.Relationship
	resource, err := defs.relation(rel.Resource.ObjectType, rel.Resource.Relation, false)
	if err != nil {
		return err
	}
	if _, err := defs.relation(rel.Subject.ObjectType, rel.Subject.Relation, true); err != nil {
		return err
	}
	if resource.IsPermission(rel.Resource.Relation) {
		return spiceerrors.WithCodeAndReason(fmt.Errorf("cannot write a relationship to permission `%s` in relationship `%s`", rel.Resource.Relation, tuple.StringWithoutCaveatOrExpiration(rel)),
			codes.InvalidArgument, v1.ErrorReason_ERROR_REASON_CANNOT_UPDATE_PERMISSION)
	}
	var allowed bool
	switch {
	case u.Operation != tuple.UpdateOperationDelete:
		// Written relationships must match an allowed subject type exactly.
		want := ns.AllowedRelation(rel.Subject.ObjectType, rel.Subject.Relation)
		if rel.Subject.ObjectID == tuple.PublicWildcard {
			want = ns.AllowedPublicNamespace(rel.Subject.ObjectType)
		}
		ok, err := resource.HasAllowedRelation(rel.Resource.Relation, want)
		if err != nil {
			return err
		}
		allowed = ok == schema.AllowedRelationValid
	case rel.Subject.ObjectID == tuple.PublicWildcard:
		// A deletion may name a subject type allowed only with a caveat.
		ok, err := resource.IsAllowedPublicNamespace(rel.Resource.Relation, rel.Subject.ObjectType)
		if err != nil {
			return err
		}
		allowed = ok == schema.PublicSubjectAllowed
	default:
		ok, err := resource.IsAllowedDirectRelation(rel.Resource.Relation, rel.Subject.ObjectType, rel.Subject.Relation)
		if err != nil {
			return err
		}
		allowed = ok == schema.DirectRelationValid
	}
	if !allowed {
		return spiceerrors.WithCodeAndReason(fmt.Errorf("subjects of type `%s` are not allowed on relation `%s#%s`", subjectTypeOf(rel), rel.Resource.ObjectType, rel.Resource.Relation),
			codes.InvalidArgument, v1.ErrorReason_ERROR_REASON_INVALID_SUBJECT_TYPE)
	}
	return nil
}

func subjectTypeOf(rel tuple.Relationship) string {
	switch {
	case rel.Subject.ObjectID == tuple.PublicWildcard:
		return rel.Subject.ObjectType + ":*"
	case rel.Subject.Relation != tuple.Ellipsis:
		return rel.Subject.ObjectType + "#" + rel.Subject.Relation
	}
	return rel.Subject.ObjectType
}

// checkFilter checks that a precondition names defined types and relations.
func (defs definitions) checkFilter(f *v1.RelationshipFilter) error {
	if t := f.GetResourceType(); t != "" {
		relation := f.GetOptionalRelation()
		if _, err := defs.relation(t, cmp.Or(relation, tuple.Ellipsis), relation == ""); err != nil {
			return err
		}
	}
	if s := f.GetOptionalSubjectFilter(); s.GetSubjectType() != "" {
		relation := s.GetOptionalRelation().GetRelation()
		if _, err := defs.relation(s.GetSubjectType(), cmp.Or(relation, tuple.Ellipsis), relation == ""); err != nil {
			return err
		}
	}
	return nil
}

func preconditionFailed(p *v1.Precondition) error {
	return spiceerrors.WithCodeAndReason(fmt.Errorf("unable to satisfy write precondition `%s`", p),
		codes.FailedPrecondition, v1.ErrorReason_ERROR_REASON_WRITE_OR_DELETE_PRECONDITION_FAILURE)
}

// validateFields applies the API's field rules (names, ID patterns,
// required fields), as generated Go rather than the CEL programs SpiceDB's
// middleware runs, which cost a write as much CPU as its transaction.
func validateFields(req interface {
	Validate() error
	HandwrittenValidate() error
}) error {
	if err := req.Validate(); err != nil {
		return invalidf("validation error: %v", err)
	}
	if err := req.HandwrittenValidate(); err != nil {
		return invalidf("validation error: %v", err)
	}
	return nil
}

func invalidFilter(why string) error {
	return spiceerrors.WithCodeAndReason(fmt.Errorf("the relationship filter provided is not valid: %s", why),
		codes.InvalidArgument, v1.ErrorReason_ERROR_REASON_INVALID_FILTER)
}

func invalidf(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

// withStatus gives an error of the transaction the gRPC status SpiceDB's
// API would (its internal/services/shared RewriteError, for what a write
// can meet): the datastore's own errors carry theirs already.
func withStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	var typeErr schema.TypeError
	switch {
	case errors.Is(err, context.Canceled):
		return spiceerrors.WithCodeAndDetailsAsError(err, codes.Canceled)
	case errors.Is(err, context.DeadlineExceeded):
		return spiceerrors.WithCodeAndDetailsAsError(err, codes.DeadlineExceeded)
	case errors.As(err, new(datastore.ReadOnlyError)):
		return spiceerrors.WithCodeAndReason(err, codes.Unavailable, v1.ErrorReason_ERROR_REASON_SERVICE_READ_ONLY)
	case errors.As(err, &typeErr):
		return spiceerrors.WithCodeAndReason(err, codes.FailedPrecondition, v1.ErrorReason_ERROR_REASON_SCHEMA_TYPE_ERROR)
	case errors.Is(err, datastore.ErrSchemaHashPreconditionFailed):
		return spiceerrors.WithCodeAndDetailsAsError(err, codes.FailedPrecondition)
	case errors.Is(err, datastore.ErrSchemaNotFound), errors.As(err, new(datastore.SchemaNotDefinedError)):
		return spiceerrors.WithCodeAndDetailsAsError(err, codes.NotFound)
	}
	return spiceerrors.WithCodeAndDetailsAsError(err, codes.Internal)
}
