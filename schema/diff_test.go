package schema_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/seed-6461fa00/trellis/schema"
)

// TestDiff: every kind of change is named, and a schema compared with
// itself has none.
func TestDiff(t *testing.T) {
	old := `definition user {}
definition group {
	relation member: user
}
definition doc {
	relation viewer: user
	relation editor: user
	permission view = viewer + editor
	permission edit = editor
}
definition folder {}`
	updated := `definition user {}
definition group {
	relation member: user
}
definition doc {
	relation viewer: user | user:* | group#member
	relation owner: user
	permission view = viewer + owner
	permission admin = owner
}
definition team {}`
	got, err := schema.Diff(schema.Source{Name: "old.zed", Text: old}, schema.Source{Name: "new.zed", Text: updated})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"- definition folder",
		"+ definition team",
		"+ relation doc#owner",
		"- relation doc#editor",
		"+ permission doc#admin",
		"- permission doc#edit",
		"~ permission doc#view: its expression changed",
		"+ relation doc#viewer allows user:*",
		"+ relation doc#viewer allows group#member",
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d changes, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}

	same, err := schema.Diff(schema.Source{Name: "a", Text: schema.Text}, schema.Source{Name: "b", Text: schema.Text})
	if err != nil || len(same) != 0 {
		t.Fatalf("the schema against itself: %v, %v", same, err)
	}
	fromNothing, err := schema.Diff(schema.Source{Name: "empty"}, schema.Source{Name: "trellis", Text: schema.Text})
	if err != nil || !slices.Contains(fromNothing, "+ definition project") {
		t.Fatalf("from an empty store: %v, %v", fromNothing, err)
	}
	if _, err := schema.Diff(schema.Source{Name: "broken.zed", Text: "definition doc { relation r: nobody }"}, schema.Source{Name: "b", Text: schema.Text}); err == nil || !strings.Contains(err.Error(), "broken.zed") {
		t.Fatalf("a schema that does not compile: %v", err)
	}
}
