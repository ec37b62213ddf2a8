package relations

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/grpc"

	"github.com/seed-6461fa00/trellis/schema"
)

// Graph is the relation graph of a Trellis deployment: the domain API every
// transport uses. It is safe for concurrent use.
type Graph struct {
	conn    grpc.ClientConnInterface
	perms   v1.PermissionsServiceClient
	schemas v1.SchemaServiceClient
	catalog Catalog
	now     func() time.Time
	head    HeadChecker
	writer  LocalWriter
	// keepSchema leaves the stored schema as it is (WithStoredSchema).
	keepSchema bool
	cursors    cursorSeal
}

// HeadChecker answers one permission check inside the process, at the
// datastore's newest revision, without a gRPC round trip. SpiceDB's engine
// embedded in the same process offers it (embedded.Engine); a remote SpiceDB
// cannot.
type HeadChecker interface {
	CheckAtHead(ctx context.Context, resourceType, resourceID, permission, subjectType, subjectID string) (bool, error)
}

// LocalWriter applies writes and deletions inside the process, without a
// gRPC round trip: what SpiceDB embedded in the same process offers
// (embedded.Engine). Its errors carry the gRPC status SpiceDB's API would
// return.
type LocalWriter interface {
	WriteRelationships(ctx context.Context, req *v1.WriteRelationshipsRequest) (*v1.WriteRelationshipsResponse, error)
	DeleteRelationships(ctx context.Context, req *v1.DeleteRelationshipsRequest) (*v1.DeleteRelationshipsResponse, error)
}

// Option adjusts how Open builds a Graph.
type Option func(*Graph)

// WithHeadChecker sends single fully consistent checks (every check that
// guards a write) through c instead of the connection. Checks with a token
// or none go over the connection, so they read the same revisions the bulk
// checks and listings of the same request read; so do checks pinned to a
// snapshot.
func WithHeadChecker(c HeadChecker) Option {
	return func(g *Graph) { g.head = c }
}

// WithLocalWriter sends every WriteRelationships and DeleteRelationships
// through w instead of the connection: a durable write then costs its transaction, not the gRPC
// transport and middleware besides (docs/BENCHMARKS.md).
func WithLocalWriter(w LocalWriter) Option {
	return func(g *Graph) { g.writer = w }
}

// WithStoredSchema works under the schema the graph already holds instead
// of writing this build's: for tools that only read a graph, which must
// not change it, whichever Trellis wrote it.
func WithStoredSchema() Option {
	return func(g *Graph) { g.keepSchema = true }
}

// CursorKeySize is the least length of a key WithCursorKey takes, and the
// length of one a graph makes itself.
const CursorKeySize = 32

// WithCursorKey signs page cursors with key (CursorKeySize bytes or
// more): cursors stay valid across restarts, and across servers, that
// share it. Without it a graph makes a key of its own, and its cursors end
// with it.
func WithCursorKey(key []byte) Option {
	return func(g *Graph) { g.cursors.key = key }
}

// Open returns the graph served by conn, a connection to SpiceDB (in-process
// or remote) that already carries its credentials. It writes Trellis's
// schema when the stored one differs, so a fresh store is ready at once.
func Open(ctx context.Context, conn grpc.ClientConnInterface, catalog Catalog, opts ...Option) (*Graph, error) {
	if catalog == nil {
		return nil, errors.New("relations: a catalog is required")
	}
	g := &Graph{
		conn:    conn,
		perms:   v1.NewPermissionsServiceClient(conn),
		schemas: v1.NewSchemaServiceClient(conn),
		catalog: catalog,
		now:     time.Now,
	}
	for _, o := range opts {
		o(g)
	}
	if g.cursors.key == nil {
		g.cursors.key = make([]byte, CursorKeySize)
		if _, err := rand.Read(g.cursors.key); err != nil {
			return nil, fmt.Errorf("relations: make a cursor key: %w", err)
		}
	}
	if len(g.cursors.key) < CursorKeySize {
		return nil, fmt.Errorf("relations: a cursor key needs at least 32 bytes, not %d", len(g.cursors.key))
	}
	if g.keepSchema {
		return g, nil
	}
	if err := g.ensureSchema(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

func (g *Graph) ensureSchema(ctx context.Context) error {
	current, err := g.schemas.ReadSchema(ctx, &v1.ReadSchemaRequest{})
	if err == nil && current.GetSchemaText() == schema.Text {
		return nil
	}
	if _, err := g.schemas.WriteSchema(ctx, &v1.WriteSchemaRequest{Schema: schema.Text}); err != nil {
		return fmt.Errorf("write schema: %w", fromSpiceDB(ctx, err, "the schema changed concurrently"))
	}
	return nil
}

// Object names one object of the graph: a project or an artifact.
type Object struct {
	Type schema.ObjectType
	ID   string
}

// CheckItem is one question for CheckBulk: may Subject do Permission on Object?
type CheckItem struct {
	Subject    User
	Object     Object
	Permission schema.Permission
}

// Check asks SpiceDB whether subject has permission on object, reading at
// least as fresh as t. A conditional answer (a caveat without context) is no.
func (g *Graph) Check(ctx context.Context, subject User, object Object, permission schema.Permission, t Token) (bool, error) {
	return g.check(ctx, subject, object, permission, readConsistency(t))
}

func (g *Graph) check(ctx context.Context, subject User, object Object, permission schema.Permission, c *v1.Consistency) (bool, error) {
	if g.head != nil && c.GetFullyConsistent() && isCheckable(subject, object, permission) {
		ok, err := g.head.CheckAtHead(ctx, string(object.Type), object.ID, string(permission), string(schema.TypeUser), subject.ID)
		if err != nil {
			return false, fromSpiceDB(ctx, err, "")
		}
		return ok, nil
	}
	resp, err := g.perms.CheckPermission(ctx, &v1.CheckPermissionRequest{
		Consistency: c,
		Resource:    objectRef(object.Type, object.ID),
		Permission:  string(permission),
		Subject:     userSubject(subject),
	})
	if err != nil {
		return false, fromSpiceDB(ctx, err, "")
	}
	return resp.GetPermissionship() == v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION, nil
}

// isCheckable reports whether the in-process engine may take the check. It
// skips SpiceDB's request validation, so anything that validation would
// reject goes over the connection and gets SpiceDB's own error.
func isCheckable(subject User, object Object, permission schema.Permission) bool {
	return object.Type != schema.TypeUser && schema.HasPermission(object.Type, permission) && isObjectID(object.ID) && isObjectID(subject.ID)
}

// maxBulkItems is SpiceDB's limit on the items of one CheckBulkPermissions.
const maxBulkItems = 10000

// CheckNow asks whether subject has permission on object at the newest
// revision: fully consistent, so it sees every acknowledged write. With
// SpiceDB embedded (WithHeadChecker) it runs in this process without a
// gRPC round trip, the fastest question Trellis answers.
func (g *Graph) CheckNow(ctx context.Context, subject User, object Object, permission schema.Permission) (bool, error) {
	return g.check(ctx, subject, object, permission, fullyConsistent())
}

// CheckBulk answers many checks in one round trip per ten thousand items;
// the answers are in the order of items.
func (g *Graph) CheckBulk(ctx context.Context, items []CheckItem, t Token) ([]bool, error) {
	return g.checkBulk(ctx, items, readConsistency(t))
}

func (g *Graph) checkBulk(ctx context.Context, items []CheckItem, c *v1.Consistency) ([]bool, error) {
	answers := make([]bool, 0, len(items))
	for start := 0; start < len(items); start += maxBulkItems {
		chunk := items[start:min(start+maxBulkItems, len(items))]
		req := &v1.CheckBulkPermissionsRequest{Consistency: c}
		for _, it := range chunk {
			req.Items = append(req.Items, &v1.CheckBulkPermissionsRequestItem{
				Resource:   objectRef(it.Object.Type, it.Object.ID),
				Permission: string(it.Permission),
				Subject:    userSubject(it.Subject),
			})
		}
		resp, err := g.perms.CheckBulkPermissions(ctx, req)
		if err != nil {
			return nil, fromSpiceDB(ctx, err, "")
		}
		if len(resp.GetPairs()) != len(chunk) {
			return nil, errorf(CodeInternal, "bulk check answered %d of %d items", len(resp.GetPairs()), len(chunk))
		}
		for _, pair := range resp.GetPairs() {
			if e := pair.GetError(); e != nil {
				return nil, errorf(CodeInternal, "bulk check: %s", e.GetMessage())
			}
			answers = append(answers, pair.GetItem().GetPermissionship() == v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION)
		}
	}
	return answers, nil
}
