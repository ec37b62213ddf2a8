package relations_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
	"github.com/seed-6461fa00/trellis/schema"
)

// body returns an export without its header line (which names the
// revision), sorted: two exports of the same graph have the same body.
func body(t *testing.T, export []byte) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(string(export)), "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], `"format":"trellis-export"`) {
		t.Fatalf("no export header: %.200s", export)
	}
	out := slices.Clone(lines[1:])
	slices.Sort(out)
	return out
}

// graphWithJob is a graph with the grant fixture's projects and a job,
// "Nightly", in the fixture's project.
func graphWithJob(t *testing.T) (*relationstest.Env, fixture, relations.ArtifactRef) {
	t.Helper()
	env := relationstest.Open(t)
	f := newFixture(t, env)
	job := relations.ArtifactRef{Kind: schema.TypeJob, ID: f.project + "-job"}
	if _, _, err := f.g.RegisterArtifact(t.Context(), f.users["writer"], f.project, job, "Nightly"); err != nil {
		t.Fatal(err)
	}
	return env, f, job
}

// TestExportImportRoundTrip: export, import into an empty store, export
// again: the same relationships and metadata, and the same answers.
func TestExportImportRoundTrip(t *testing.T) {
	src, f, job := graphWithJob(t)
	ctx := t.Context()
	sam := relationstest.MustUser(t, "sam@example.com")
	if _, err := f.g.ShareArtifact(ctx, f.users["writer"], job, sam, relations.RoleReader); err != nil {
		t.Fatal(err)
	}

	var first bytes.Buffer
	seen := 0
	if err := src.Graph.Export(ctx, &first, func(n int) { seen = n }); err != nil {
		t.Fatal(err)
	}
	if seen == 0 {
		t.Fatal("progress never reported")
	}

	dst := relationstest.Open(t)
	token, err := dst.Graph.Import(ctx, bytes.NewReader(first.Bytes()), nil)
	if err != nil {
		t.Fatal(err)
	}
	var second bytes.Buffer
	if err := dst.Graph.Export(ctx, &second, nil); err != nil {
		t.Fatal(err)
	}
	if a, b := body(t, first.Bytes()), body(t, second.Bytes()); !slices.Equal(a, b) {
		t.Fatalf("round trip changed the export:\nfirst  %v\nsecond %v", a, b)
	}
	for _, u := range []relations.User{f.users["reader"], sam, f.users["none"]} {
		for _, p := range []schema.Permission{schema.JobRead, schema.JobTerminate} {
			want, err := src.Graph.Check(ctx, u, relations.Object{Type: job.Kind, ID: job.ID}, p, "")
			if err != nil {
				t.Fatal(err)
			}
			got, err := dst.Graph.Check(ctx, u, relations.Object{Type: job.Kind, ID: job.ID}, p, token)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s %s: %v after import, %v before", u.ID, p, got, want)
			}
		}
	}
	a, err := dst.Graph.Artifact(ctx, f.users["reader"], job, token)
	if err != nil || a.Name != "Nightly" {
		t.Fatalf("artifact metadata after import: %+v, %v", a, err)
	}

	// The same export again: the target is no longer empty.
	if _, err := dst.Graph.Import(ctx, bytes.NewReader(first.Bytes()), nil); relations.ErrorCode(err) != relations.CodeConflict {
		t.Fatalf("importing into a non-empty store: %v", err)
	}
	// A truncated export is refused before anything is written: the same
	// store then takes the whole export.
	fresh := relationstest.Open(t)
	cut := first.Bytes()[:bytes.LastIndexByte(bytes.TrimRight(first.Bytes(), "\n"), '\n')+1]
	if _, err := fresh.Graph.Import(ctx, bytes.NewReader(cut), nil); relations.ErrorCode(err) != relations.CodeInvalid {
		t.Fatalf("importing a truncated export: %v", err)
	}
	if _, err := fresh.Graph.Import(ctx, strings.NewReader("hello\n"), nil); relations.ErrorCode(err) != relations.CodeInvalid {
		t.Fatalf("importing a file that is no export: %v", err)
	}
	if _, err := fresh.Graph.Import(ctx, bytes.NewReader(first.Bytes()), nil); err != nil {
		t.Fatalf("a refused import left the store changed: %v", err)
	}
}

// TestFailedImportIsUndone: an import that fails after writing part of an
// export (here on a relationship it holds twice) leaves the store empty,
// so the good export can then be imported into it.
func TestFailedImportIsUndone(t *testing.T) {
	src, f, _ := graphWithJob(t)
	ctx := t.Context()
	var export bytes.Buffer
	if err := src.Graph.Export(ctx, &export, nil); err != nil {
		t.Fatal(err)
	}
	// The first relationship again, last, with the end record counting it.
	lines := strings.Split(strings.TrimSpace(export.String()), "\n")
	var dup, end string
	var rest []string
	for _, l := range lines {
		switch {
		case dup == "" && strings.HasPrefix(l, `{"relationship"`):
			dup = l
			rest = append(rest, l)
		case strings.HasPrefix(l, `{"end"`):
			end = l
		default:
			rest = append(rest, l)
		}
	}
	var trailer map[string]map[string]int
	if err := json.Unmarshal([]byte(end), &trailer); err != nil {
		t.Fatalf("end record %q: %v", end, err)
	}
	trailer["end"]["relationships"]++
	bumped, err := json.Marshal(trailer)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Join(append(rest, dup, string(bumped)), "\n") + "\n"

	dst := relationstest.Open(t)
	if _, err := dst.Graph.Import(ctx, strings.NewReader(broken), nil); err == nil {
		t.Fatal("an export holding a relationship twice was imported")
	} else if strings.Contains(err.Error(), "undone") {
		t.Fatal(err)
	}
	if left, err := dst.Catalog.Projects(ctx, []string{f.project}); err != nil || len(left) != 0 {
		t.Fatalf("the failed import left project metadata: %v %v", left, err)
	}
	if _, err := dst.Graph.Import(ctx, bytes.NewReader(export.Bytes()), nil); err != nil {
		t.Fatalf("after a failed import, the good export: %v", err)
	}
}
