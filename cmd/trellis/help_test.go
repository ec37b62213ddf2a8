package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestServeHelpGolden pins `trellis serve --help`: every option, its
// default and its environment variable. Run with -update after changing
// a flag on purpose.
func TestServeHelpGolden(t *testing.T) {
	out, err := run(t, "serve", "--help")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "serve-help.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/trellis -run TestServeHelpGolden -update)", err)
	}
	if out != string(want) {
		t.Fatalf("serve --help changed; if on purpose, run with -update.\ngot:\n%s\nwant:\n%s", out, want)
	}
}
