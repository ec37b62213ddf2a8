package relations_test

import (
	"context"
	"sync/atomic"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
	"github.com/seed-6461fa00/trellis/schema"
)

// countedChecker counts the checks that took the in-process path.
type countedChecker struct {
	relations.HeadChecker
	n *atomic.Int64
}

func (c countedChecker) CheckAtHead(ctx context.Context, resourceType, resourceID, permission, subjectType, subjectID string) (bool, error) {
	c.n.Add(1)
	return c.HeadChecker.CheckAtHead(ctx, resourceType, resourceID, permission, subjectType, subjectID)
}

// TestInProcessChecksMatchTheAPI: every check relations answers in process
// agrees with SpiceDB's CheckPermission API, fully consistent, for each
// role, an outsider and another project's admin, on the project and on a
// job shared directly with the outsider.
func TestInProcessChecksMatchTheAPI(t *testing.T) {
	var inProcess atomic.Int64
	env := relationstest.Open(t, relationstest.WrapChecker(func(c relations.HeadChecker) relations.HeadChecker {
		return countedChecker{c, &inProcess}
	}))
	f := newFixture(t, env)
	ctx := t.Context()
	job := relations.ArtifactRef{Kind: "job", ID: "train-" + f.project}
	if _, _, err := f.g.RegisterArtifact(ctx, f.users["writer"], f.project, job, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.g.ShareArtifact(ctx, f.users["writer"], job, f.users["none"], relations.RoleReader); err != nil {
		t.Fatal(err)
	}
	inProcess.Store(0)
	api := v1.NewPermissionsServiceClient(env.Conn)
	objects := []relations.Object{{Type: schema.TypeProject, ID: f.project}, {Type: schema.TypeJob, ID: job.ID}}
	asked, granted := 0, 0
	for name, user := range f.users {
		for _, obj := range objects {
			for _, perm := range schema.Permissions[obj.Type] {
				got, err := f.g.CheckNow(ctx, user, obj, perm)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := api.CheckPermission(ctx, &v1.CheckPermissionRequest{
					Consistency: &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}},
					Resource:    &v1.ObjectReference{ObjectType: string(obj.Type), ObjectId: obj.ID},
					Permission:  string(perm),
					Subject:     &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: string(schema.TypeUser), ObjectId: user.ID}},
				})
				if err != nil {
					t.Fatal(err)
				}
				want := resp.GetPermissionship() == v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION
				if got != want {
					t.Errorf("%s on %s:%s#%s: in process %v, API %v", name, obj.Type, obj.ID, perm, got, want)
				}
				asked++
				if got {
					granted++
				}
			}
		}
	}
	if inProcess.Load() != int64(asked) {
		t.Fatalf("%d of %d checks ran in process", inProcess.Load(), asked)
	}
	if granted == 0 || granted == asked {
		t.Fatalf("%d of %d checks granted: the matrix cannot tell right from wrong", granted, asked)
	}
}

// TestInProcessCheckReadsItsOwnWrite: a fully consistent check, answered
// in process, sees a write the moment it is acknowledged.
func TestInProcessCheckReadsItsOwnWrite(t *testing.T) {
	var inProcess atomic.Int64
	env := relationstest.Open(t, relationstest.WrapChecker(func(c relations.HeadChecker) relations.HeadChecker {
		return countedChecker{c, &inProcess}
	}))
	f := newFixture(t, env)
	inProcess.Store(0)
	project := relations.Object{Type: schema.TypeProject, ID: f.project}
	for i := range 20 {
		user := relationstest.MustUser(t, "newcomer-"+string(rune('a'+i)))
		if _, err := f.g.AddMember(t.Context(), f.users["admin"], f.project, user, relations.RoleWriter); err != nil {
			t.Fatal(err)
		}
		ok, err := f.g.CheckNow(t.Context(), user, project, schema.ProjectWrite)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Fatalf("write %d: a fully consistent check does not see it", i)
		}
	}
	if inProcess.Load() < 20 {
		t.Fatalf("only %d of the 20 checks ran in process", inProcess.Load())
	}
}
