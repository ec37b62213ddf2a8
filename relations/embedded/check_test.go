package embedded_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/spicedb/pkg/caveats/types"
	"github.com/authzed/spicedb/pkg/datalayer"
	"github.com/authzed/spicedb/pkg/datastore"
	spiceembedded "github.com/authzed/spicedb/pkg/embedded"
	"github.com/authzed/spicedb/pkg/schemadsl/compiler"
	"github.com/authzed/spicedb/pkg/schemadsl/input"
	"github.com/authzed/spicedb/pkg/tuple"
	"github.com/authzed/spicedb/pkg/validationfile"

	"github.com/seed-6461fa00/trellis/relations/embedded"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
)

// spiceDBTestConfigs is the directory of the graphs SpiceDB's consistency
// suite runs on, in the module cache of the SpiceDB this build pins. It
// asks the go command, and fails loudly where there is none (a test binary
// copied elsewhere): the graphs are in an internal package of SpiceDB's,
// which no import reaches.
func spiceDBTestConfigs(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/authzed/spicedb").Output()
	if err != nil {
		t.Fatalf("find SpiceDB's module: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "internal", "services", "integrationtesting", "testconfigs")
}

// TestPlansAnswerAsTheDispatcher loads each graph of SpiceDB's consistency
// suite into Trellis's store, then the graphs in testdata (one for each
// kind of schema the plans leave to the dispatcher that the suite does not
// reach, and planshapes.yaml, of shapes the plan serves after pruning and
// simplifying them), and asks CheckAtHead every check between the objects a graph's
// relationships name (every relation and permission of each, for each
// object as a plain subject), requiring SpiceDB's dispatcher's answer each
// time. The query plan must have answered in at least a third of the
// suite's graphs, or the comparison would say little: the rest use what
// the plans leave to the dispatcher.
func TestPlansAnswerAsTheDispatcher(t *testing.T) {
	dir := spiceDBTestConfigs(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) < 50 {
		t.Fatalf("SpiceDB's consistency graphs: %d files in %s (%v)", len(files), dir, err)
	}
	planned, dispatched, plannedGraphs := 0, 0, 0
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			p, d := compareWithDispatcher(t, os.DirFS(dir), filepath.Base(file))
			planned, dispatched = planned+p, dispatched+d
			if p > 0 {
				plannedGraphs++
			}
		})
	}
	t.Logf("%d checks answered by the query plan, %d by the dispatcher; the plan served %d of %d graphs", planned, dispatched, plannedGraphs, len(files))
	// Graphs of Trellis's own, for what the suite's graphs do not reach.
	ours, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(ours) == 0 {
		t.Fatalf("testdata graphs: %v, %v", ours, err)
	}
	for _, file := range ours {
		t.Run("testdata/"+filepath.Base(file), func(t *testing.T) {
			planned, dispatched := compareWithDispatcher(t, os.DirFS("testdata"), filepath.Base(file))
			if filepath.Base(file) == "planshapes.yaml" && (planned == 0 || dispatched > 0) {
				t.Errorf("the query plan answered %d checks and the dispatcher %d: the plan should answer all", planned, dispatched)
			}
		})
	}
	if 3*plannedGraphs < len(files) {
		t.Errorf("the query plan served %d of %d graphs: too few to hold it to the dispatcher", plannedGraphs, len(files))
	}
}

// TestPlansServeTrellisSchema asks every check of Trellis's own validation
// graph (every role, artifact kind and share) both ways, and requires that
// the query plan answered all of them: Trellis's checks never wait on the
// dispatcher.
func TestPlansServeTrellisSchema(t *testing.T) {
	planned, dispatched := compareWithDispatcher(t, os.DirFS(filepath.Join("..", "..", "schema")), "trellis.validation.yaml")
	t.Logf("%d checks answered by the query plan, %d by the dispatcher", planned, dispatched)
	if dispatched > 0 || planned < 1000 {
		t.Errorf("the query plan answered %d checks and the dispatcher %d: the plan should answer all of Trellis's", planned, dispatched)
	}
}

// compareWithDispatcher loads the validation file name from fsys and asks
// every check its graph allows of CheckAtHead and of SpiceDB's dispatcher,
// requiring the same answer. It counts the checks CheckAtHead answered by
// the query plan and by the dispatcher.
func compareWithDispatcher(t *testing.T, fsys fs.FS, name string) (planned, dispatched int) {
	t.Helper()
	ctx := t.Context()
	e, dispatcher, populated := loadGraph(t, fsys, name)
	objects := map[string][]string{}
	add := func(typ, id string) {
		if id != tuple.PublicWildcard && !slices.Contains(objects[typ], id) {
			objects[typ] = append(objects[typ], id)
		}
	}
	for _, rel := range populated.Relationships {
		add(rel.Resource.ObjectType, rel.Resource.ObjectID)
		add(rel.Subject.ObjectType, rel.Subject.ObjectID)
	}
	for _, def := range populated.NamespaceDefinitions {
		for _, rel := range def.GetRelation() {
			for subjectType, subjects := range objects {
				byPlan, err := e.PlanServes(ctx, def.GetName(), rel.GetName(), subjectType)
				if err != nil {
					t.Fatal(err)
				}
				for _, resource := range objects[def.GetName()] {
					for _, subject := range subjects {
						got, gotErr := e.CheckAtHead(ctx, def.GetName(), resource, rel.GetName(), subjectType, subject)
						want, wantErr := dispatcher.Check(ctx, spiceembedded.CheckRequest{
							ResourceType: def.GetName(), ResourceID: resource, Permission: rel.GetName(),
							SubjectType: subjectType, SubjectID: subject,
						})
						if (gotErr != nil) != (wantErr != nil) || got != want.HasPermission {
							t.Errorf("%s:%s#%s@%s:%s (plan: %v): got %v, %v; the dispatcher answers %v, %v",
								def.GetName(), resource, rel.GetName(), subjectType, subject, byPlan, got, gotErr, want.HasPermission, wantErr)
						}
						if byPlan {
							planned++
						} else {
							dispatched++
						}
					}
				}
			}
		}
	}
	return planned, dispatched
}

// loadGraph loads the validation file name from fsys into a store of
// Trellis's and starts an engine and SpiceDB's dispatcher over it.
func loadGraph(t *testing.T, fsys fs.FS, name string) (*embedded.Engine, *spiceembedded.Permissions, *validationfile.PopulatedValidationFile) {
	t.Helper()
	ctx := t.Context()
	ds, err := relationstest.NewDatastore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := startOver(t, embedded.Config{Datastore: ds})
	mode := datalayer.SchemaModeReadNewWriteBoth
	populated, _, err := validationfile.PopulateFromFS(ctx, datalayer.NewDataLayer(ds, datalayer.WithSchemaMode(mode)), types.Default.TypeSet, fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	dispatcher, err := spiceembedded.NewPermissions(spiceembedded.Config{Datastore: ds, SchemaMode: mode})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dispatcher.Close() })
	return e, dispatcher, populated
}

// Two schemas of one document type: viewers may view only in the second.
const (
	ownersView = "definition user {}\ndefinition doc {\n\trelation owner: user\n\trelation viewer: user\n\tpermission view = owner\n\tpermission edit = owner\n}\n"
	viewersToo = "definition user {}\ndefinition doc {\n\trelation owner: user\n\trelation viewer: user\n\tpermission view = owner + viewer\n\tpermission edit = owner\n}\n"
)

// TestPlansFollowTheSchema: a schema write that changes what a permission
// grants changes CheckAtHead's next answer, both on a store read by the
// unified schema (whose hash keys the plans) and on one still read per
// definition (which has no hash, and is left to the dispatcher).
func TestPlansFollowTheSchema(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacy=%v", legacy), func(t *testing.T) {
			ctx := t.Context()
			viewer := tuple.MustParse("doc:d#viewer@user:vic")
			var e *embedded.Engine
			if legacy {
				ds, err := relationstest.NewDatastore(ctx)
				if err != nil {
					t.Fatal(err)
				}
				compiled, err := compiler.Compile(compiler.InputSchema{Source: input.Source("schema.zed"), SchemaString: ownersView}, compiler.AllowUnprefixedObjectType())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ds.ReadWriteTx(ctx, func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
					if err := rwt.LegacyWriteNamespaces(ctx, compiled.ObjectDefinitions...); err != nil {
						return err
					}
					return rwt.WriteRelationships(ctx, []tuple.RelationshipUpdate{tuple.Create(viewer)})
				}); err != nil {
					t.Fatal(err)
				}
				e = startOver(t, embedded.Config{Datastore: ds})
			} else {
				e = startEngine(t, ownersView)
				if _, err := e.WriteRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{
					updateOf(v1.RelationshipUpdate_OPERATION_CREATE, tuple.ToV1Relationship(viewer)),
				}}); err != nil {
					t.Fatal(err)
				}
			}
			if planned, err := e.PlanServes(ctx, "doc", "view", "user"); err != nil || planned == legacy {
				t.Fatalf("query plan serving doc#view: %v, %v", planned, err)
			}
			if ok, err := e.CheckAtHead(ctx, "doc", "d", "view", "user", "vic"); err != nil || ok {
				t.Fatalf("a viewer may view before the schema grants it: %v, %v", ok, err)
			}
			if _, err := v1.NewSchemaServiceClient(e.Conn()).WriteSchema(ctx, &v1.WriteSchemaRequest{Schema: viewersToo}); err != nil {
				t.Fatal(err)
			}
			if ok, err := e.CheckAtHead(ctx, "doc", "d", "view", "user", "vic"); err != nil || !ok {
				t.Fatalf("a viewer may not view once the schema grants it: %v, %v", ok, err)
			}
		})
	}
}

// TestConcurrentChecksShareThePlans: checks from many goroutines share the
// compiled plans, while a schema write replaces them under their feet.
// The race detector runs it clean (go test -race ./relations/embedded/);
// make test does not run the detector.
func TestConcurrentChecksShareThePlans(t *testing.T) {
	ctx := t.Context()
	e := startEngine(t, ownersView)
	var updates []*v1.RelationshipUpdate
	for _, r := range []string{"doc:d#owner@user:olga", "doc:d#viewer@user:vic"} {
		updates = append(updates, updateOf(v1.RelationshipUpdate_OPERATION_CREATE, tuple.ToV1Relationship(tuple.MustParse(r))))
	}
	if _, err := e.WriteRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: updates}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var written atomic.Bool
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			// Until the schema write is in, and some after it.
			for i := 0; i < 100 || !written.Load(); i++ {
				perm := []string{"view", "edit"}[(g+i)%2]
				if ok, err := e.CheckAtHead(ctx, "doc", "d", perm, "user", "olga"); err != nil || !ok {
					errs <- fmt.Errorf("owner's %s: %v, %v", perm, ok, err)
					return
				}
				if ok, err := e.CheckAtHead(ctx, "doc", "d", "edit", "user", "vic"); err != nil || ok {
					errs <- fmt.Errorf("viewer's edit: %v, %v", ok, err)
					return
				}
			}
		})
	}
	_, err := v1.NewSchemaServiceClient(e.Conn()).WriteSchema(ctx, &v1.WriteSchemaRequest{Schema: viewersToo})
	written.Store(true)
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ok, err := e.CheckAtHead(ctx, "doc", "d", "view", "user", "vic"); err != nil || !ok {
		t.Fatalf("the viewer's view after the schema write: %v, %v", ok, err)
	}
}

// TestUndefinedNamesAnswerAsTheDispatcher: a check naming a type, a
// permission or a subject type the schema does not define, a wildcard or
// an empty ID, is answered (or refused) as the dispatcher answers it, and leaves no plan behind: names
// from callers cannot grow the plans without bound.
func TestUndefinedNamesAnswerAsTheDispatcher(t *testing.T) {
	ctx := t.Context()
	e, dispatcher, _ := loadGraph(t, os.DirFS(filepath.Join("..", "..", "schema")), "trellis.validation.yaml")
	for _, c := range [][5]string{
		{"project", "apollo", "read", "user", "rita"},
		{"spaceship", "apollo", "read", "user", "rita"},
		{"project", "apollo", "fly", "user", "rita"},
		{"project", "apollo", "read", "robot", "rita"},
		{"project", "apollo", "reader", "project", "apollo"},
		{"project", "apollo", "read", "user", "*"},
		{"project", "*", "read", "user", "rita"},
		{"user", "rita", "read", "user", "rita"},
		{"job", "", "read", "user", "rita"},
		{"job", "apollo-job", "read", "user", ""},
	} {
		got, gotErr := e.CheckAtHead(ctx, c[0], c[1], c[2], c[3], c[4])
		want, wantErr := dispatcher.Check(ctx, spiceembedded.CheckRequest{ResourceType: c[0], ResourceID: c[1], Permission: c[2], SubjectType: c[3], SubjectID: c[4]})
		if (gotErr != nil) != (wantErr != nil) || got != want.HasPermission {
			t.Errorf("%s:%s#%s@%s:%s: got %v, %v; the dispatcher answers %v, %v", c[0], c[1], c[2], c[3], c[4], got, gotErr, want.HasPermission, wantErr)
		}
	}
	for i := range 100 {
		_, _ = e.CheckAtHead(ctx, "project", "apollo", "read", fmt.Sprintf("robot%d", i), "rita")
		_, _ = e.CheckAtHead(ctx, fmt.Sprintf("spaceship%d", i), "apollo", "read", "user", "rita")
	}
	if n := e.PlansHeld(); n != 2 {
		t.Errorf("%d plans held after two kinds of defined check and 200 undefined ones, want 2", n)
	}
}
