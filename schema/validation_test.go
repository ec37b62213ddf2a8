package schema_test

import (
	"os"
	"strings"
	"testing"

	"github.com/seed-6461fa00/trellis/schema"
)

// TestValidationFile runs every assertion and expected relation of
// trellis.validation.yaml through SpiceDB's own development engine, so a
// schema change that breaks a rule fails the build.
func TestValidationFile(t *testing.T) {
	contents, err := os.ReadFile("trellis.validation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	problems, n, err := schema.Validate(t.Context(), contents, os.DirFS("."))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("trellis.validation.yaml: %s", p)
	}
	if n < 300 {
		t.Errorf("validation file has %d assertions; it must cover every role × permission pair", n)
	}
}

// TestValidationFileUsesEmbeddedSchema guards against the embedded schema and
// the file the validation file names drifting apart.
func TestValidationFileUsesEmbeddedSchema(t *testing.T) {
	onDisk, err := os.ReadFile("schema.zed")
	if err != nil {
		t.Fatal(err)
	}
	if string(onDisk) != schema.Text {
		t.Fatal("schema.Text differs from schema.zed")
	}
}

// TestEveryPermissionIsAsserted makes the validation file keep up with the
// schema: each permission of each definition appears in some assertion.
func TestEveryPermissionIsAsserted(t *testing.T) {
	contents, err := os.ReadFile("trellis.validation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for typ, perms := range schema.Permissions {
		for _, p := range perms {
			needle := "#" + string(p) + "@"
			found := false
			for _, line := range strings.Split(string(contents), "\n") {
				if strings.Contains(line, "\""+string(typ)+":") && strings.Contains(line, needle) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("no assertion about %s#%s", typ, p)
			}
		}
	}
}
