package graphbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/spicedb/pkg/datalayer"
	"github.com/authzed/spicedb/pkg/datastore"
	spiceembedded "github.com/authzed/spicedb/pkg/embedded"
	"github.com/authzed/spicedb/pkg/tuple"

	"github.com/seed-6461fa00/trellis/relations/embedded"
	"github.com/seed-6461fa00/trellis/schema"
)

// Target is SpiceDB's engine over one datastore, loaded with one shape.
type Target struct {
	Name   string
	Shape  Shape
	perms  v1.PermissionsServiceClient
	engine *embedded.Engine
	// dispatcher is SpiceDB's in-process checker over the same datastore,
	// which always answers by dispatch: the baseline CheckAtHead's query
	// plans are measured against.
	dispatcher *spiceembedded.Permissions
	ds         datastore.Datastore
	// Samples of (project, member) and (job, member of its project).
	ProjectMembers [][2]string
	JobMembers     [][2]string
	writes         int
}

// Start runs the engine over ds (which Target.Close closes) and writes
// Trellis's schema.
func Start(ctx context.Context, name string, ds datastore.Datastore) (*Target, error) {
	e, err := embedded.Start(ctx, embedded.Config{Datastore: ds})
	if err != nil {
		return nil, err
	}
	if _, err := v1.NewSchemaServiceClient(e.Conn()).WriteSchema(ctx, &v1.WriteSchemaRequest{Schema: schema.Text}); err != nil {
		return nil, errors.Join(err, e.Close(ctx))
	}
	dispatcher, err := spiceembedded.NewPermissions(spiceembedded.Config{
		Datastore: ds, SchemaMode: datalayer.SchemaModeReadNewWriteBoth, SchemaCacheMaxCostBytes: 16 << 20,
	})
	if err != nil {
		return nil, errors.Join(err, e.Close(ctx))
	}
	return &Target{Name: name, perms: v1.NewPermissionsServiceClient(e.Conn()), engine: e, dispatcher: dispatcher, ds: ds}, nil
}

// Close stops the engine and closes the datastore.
func (t *Target) Close(ctx context.Context) error {
	return errors.Join(t.engine.Close(ctx), t.dispatcher.Close(), t.ds.Close())
}

// LoadResult says how a load went.
type LoadResult struct {
	Relationships int
	Duration      time.Duration
}

// String reports the load and the process's peak RSS so far.
func (r LoadResult) String() string {
	return fmt.Sprintf("%d relationships in %v (%.0f a second), process peak RSS %s", r.Relationships,
		r.Duration.Round(time.Millisecond), float64(r.Relationships)/r.Duration.Seconds(), PeakRSS())
}

// Load writes shape into the target's datastore (see BulkLoad) and
// remembers the samples the operations need.
func (t *Target) Load(ctx context.Context, shape Shape, batch int) (LoadResult, error) {
	res, err := BulkLoad(ctx, t.ds, shape, batch)
	if err != nil {
		return res, err
	}
	return res, t.Adopt(ctx, shape)
}

// Adopt takes a datastore already loaded with shape: it only collects the
// samples the operations need.
//
// Samples are spread evenly over the whole graph, up to maxSamples of
// each kind, so every shape asks as many different questions as it can:
// a graph that yields only a few pairs would have SpiceDB's dispatch cache
// answer most calls, and flatter whatever it is compared with.
func (t *Target) Adopt(_ context.Context, shape Shape) error {
	const maxSamples = 1000
	t.Shape = shape
	members := map[string]string{} // project -> a member, for job samples
	memberStride := max(1, shape.Projects*shape.MembersPerProject/maxSamples)
	jobStride := max(1, shape.Jobs/maxSamples)
	memberN, jobN := 0, 0
	return shape.Generate(func(rel tuple.Relationship) error {
		switch {
		case rel.Resource.ObjectType == string(schema.TypeProject) && rel.Subject.ObjectID != HeavyUser:
			if _, ok := members[rel.Resource.ObjectID]; !ok {
				members[rel.Resource.ObjectID] = rel.Subject.ObjectID
			}
			if memberN%memberStride == 0 && len(t.ProjectMembers) < maxSamples {
				t.ProjectMembers = append(t.ProjectMembers, [2]string{rel.Resource.ObjectID, rel.Subject.ObjectID})
			}
			memberN++
		case rel.Resource.ObjectType == string(schema.TypeJob):
			if jobN%jobStride == 0 && len(t.JobMembers) < maxSamples {
				t.JobMembers = append(t.JobMembers, [2]string{rel.Resource.ObjectID, members[rel.Subject.ObjectID]})
			}
			jobN++
		}
		return nil
	})
}

func subject(id string) *v1.SubjectReference {
	return &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: string(schema.TypeUser), ObjectId: id}}
}

var fullyConsistent = &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}}

// grantedByAPI asks over SpiceDB's gRPC API, fully consistent.
func (t *Target) grantedByAPI(ctx context.Context, typ, id, perm, user string) (bool, error) {
	resp, err := t.perms.CheckPermission(ctx, &v1.CheckPermissionRequest{
		Consistency: fullyConsistent,
		Resource:    &v1.ObjectReference{ObjectType: typ, ObjectId: id},
		Permission:  perm,
		Subject:     subject(user),
	})
	return resp.GetPermissionship() == v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION, err
}

// grantedInProcess asks as Trellis does: CheckAtHead, by query plan.
func (t *Target) grantedInProcess(ctx context.Context, typ, id, perm, user string) (bool, error) {
	return t.engine.CheckAtHead(ctx, typ, id, perm, string(schema.TypeUser), user)
}

// grantedByDispatch asks SpiceDB's dispatcher alone, in process.
func (t *Target) grantedByDispatch(ctx context.Context, typ, id, perm, user string) (bool, error) {
	res, err := t.dispatcher.Check(ctx, spiceembedded.CheckRequest{ResourceType: typ, ResourceID: id, Permission: perm, SubjectType: string(schema.TypeUser), SubjectID: user})
	return res.HasPermission, err
}

// checkOps are the two checks measured, a direct role and a job through
// its project, each asked three ways: over gRPC, in process, and by
// SpiceDB's dispatcher in process (as CheckAtHead answered before it
// compiled query plans). Every sampled pair is granted; a no is an error.
func checkOps() []Op {
	ways := []struct {
		suffix string
		ask    func(t *Target, ctx context.Context, typ, id, perm, user string) (bool, error)
	}{
		{"", (*Target).grantedByAPI},
		{"-in-process", (*Target).grantedInProcess},
		{"-dispatched", (*Target).grantedByDispatch},
	}
	var ops []Op
	for _, way := range ways {
		ask := func(ctx context.Context, t *Target, typ, id, perm, user string) error {
			ok, err := way.ask(t, ctx, typ, id, perm, user)
			if err == nil && !ok {
				err = fmt.Errorf("%s:%s#%s@user:%s: no permission (check%s)", typ, id, perm, user, way.suffix)
			}
			return err
		}
		ops = append(ops,
			Op{Name: "check-direct-role" + way.suffix, Run: func(ctx context.Context, t *Target, i int) error {
				pm := t.ProjectMembers[i%len(t.ProjectMembers)]
				return ask(ctx, t, string(schema.TypeProject), pm[0], string(schema.ProjectRead), pm[1])
			}},
			Op{Name: "check-job-through-project" + way.suffix, Run: func(ctx context.Context, t *Target, i int) error {
				jm := t.JobMembers[i%len(t.JobMembers)]
				return ask(ctx, t, string(schema.TypeJob), jm[0], string(schema.JobRead), jm[1])
			}},
		)
	}
	return ops
}

// Op is one measured operation; i varies the input. Prepare, if set, runs
// before each Run, untimed.
type Op struct {
	Name    string
	Prepare func(ctx context.Context, t *Target, i int) error
	Run     func(ctx context.Context, t *Target, i int) error
}

// Ops are the operations measured on every target.
var Ops = append(checkOps(), []Op{
	// Asked again at the same revision, SpiceDB's dispatch cache holds the
	// answer: this measures streaming 1,000 results.
	{Name: "lookup-resources-1000", Run: func(ctx context.Context, t *Target, _ int) error {
		return t.lookupHeavy(ctx)
	}},
	// A write before each (untimed) moves the head, so the fully
	// consistent lookup finds nothing cached and reads the datastore.
	{Name: "lookup-resources-1000-after-a-write", Prepare: func(ctx context.Context, t *Target, i int) error {
		return t.writeOne(ctx, i)
	}, Run: func(ctx context.Context, t *Target, _ int) error {
		return t.lookupHeavy(ctx)
	}},
	{Name: "lookup-subjects", Run: func(ctx context.Context, t *Target, i int) error {
		pm := t.ProjectMembers[i%len(t.ProjectMembers)]
		stream, err := t.perms.LookupSubjects(ctx, &v1.LookupSubjectsRequest{
			Consistency: fullyConsistent, Resource: &v1.ObjectReference{ObjectType: string(schema.TypeProject), ObjectId: pm[0]},
			Permission: string(schema.ProjectRead), SubjectObjectType: string(schema.TypeUser),
		})
		if err != nil {
			return err
		}
		return drainAtLeast(stream.Recv, t.Shape.MembersPerProject, "subjects")
	}},
	{Name: "write-one", Run: func(ctx context.Context, t *Target, i int) error {
		return t.writeOne(ctx, i)
	}},
	{Name: "write-one-in-process", Run: func(ctx context.Context, t *Target, i int) error {
		_, err := t.engine.WriteRelationships(ctx, t.nextWrite(i))
		return err
	}},
	// The same write straight into the datastore, without SpiceDB: what
	// storage alone costs, so the engine's share is the difference.
	{Name: "write-one-datastore-alone", Run: func(ctx context.Context, t *Target, i int) error {
		update, err := tuple.UpdateFromV1RelationshipUpdate(t.nextWrite(i).GetUpdates()[0])
		if err != nil {
			return err
		}
		_, err = t.ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
			return rwt.WriteRelationships(ctx, []tuple.RelationshipUpdate{update})
		})
		return err
	}},
}...)

func (t *Target) lookupHeavy(ctx context.Context) error {
	stream, err := t.perms.LookupResources(ctx, &v1.LookupResourcesRequest{
		Consistency: fullyConsistent, ResourceObjectType: string(schema.TypeProject), Permission: string(schema.ProjectRead), Subject: subject(HeavyUser),
	})
	if err != nil {
		return err
	}
	return drainAtLeast(stream.Recv, t.Shape.HeavyProjects, "projects")
}

// writeOne durably adds a reader, new each time, to a project, over
// SpiceDB's gRPC API.
func (t *Target) writeOne(ctx context.Context, i int) error {
	_, err := t.perms.WriteRelationships(ctx, t.nextWrite(i))
	return err
}

// nextWrite is a write of one reader, new each time, to a project.
func (t *Target) nextWrite(i int) *v1.WriteRelationshipsRequest {
	t.writes++
	return &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{{
		Operation: v1.RelationshipUpdate_OPERATION_TOUCH,
		Relationship: &v1.Relationship{
			Resource: &v1.ObjectReference{ObjectType: string(schema.TypeProject), ObjectId: ProjectID(i % t.Shape.Projects)},
			Relation: string(schema.ProjectReader), Subject: subject(fmt.Sprintf("w%d-%d", t.writes, i)),
		},
	}}}
}

// drainAtLeast reads a stream to its end and fails if it held fewer than
// want results.
func drainAtLeast[T any](recv func() (T, error), want int, what string) error {
	n := 0
	for {
		_, err := recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		n++
	}
	if n < want {
		return fmt.Errorf("found %d %s, want at least %d", n, what, want)
	}
	return nil
}

// Latencies summarizes measured durations.
type Latencies []time.Duration

// Percentile returns the p-th percentile (0 < p ≤ 100).
func (l Latencies) Percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

// Call runs op once on input i and returns how long Run took. Prepare, if
// op has it, runs first inside untimed, which may stop a benchmark's clock
// around it (nil: just run it).
func (op Op) Call(ctx context.Context, t *Target, i int, untimed func(func() error) error) (time.Duration, error) {
	if op.Prepare != nil {
		prepare := func() error { return op.Prepare(ctx, t, i) }
		if untimed == nil {
			untimed = func(f func() error) error { return f() }
		}
		if err := untimed(prepare); err != nil {
			return 0, fmt.Errorf("%s on %s: prepare: %w", op.Name, t.Name, err)
		}
	}
	start := time.Now()
	if err := op.Run(ctx, t, i); err != nil {
		return 0, fmt.Errorf("%s on %s: %w", op.Name, t.Name, err)
	}
	return time.Since(start), nil
}

// Measure runs op n times (at least once) and returns each duration.
func Measure(ctx context.Context, t *Target, op Op, n int) (Latencies, error) {
	out := make(Latencies, 0, n)
	for i := range max(n, 1) {
		d, err := op.Call(ctx, t, i, nil)
		if err != nil {
			return out, err
		}
		out = append(out, d)
	}
	return out, nil
}
