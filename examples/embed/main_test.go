package main

import (
	"strings"
	"testing"
)

// TestExample runs the embedding example end to end, twice over one data
// directory (the second run finds the first run's project).
func TestExample(t *testing.T) {
	dir := t.TempDir()
	for range 2 {
		projects, mayWrite, err := run(t.Context(), dir)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(projects, `{"name":"apollo","viewerRole":"READER"}`) {
			t.Fatalf("bob's projects: %s", projects)
		}
		if mayWrite {
			t.Fatal("a reader may write")
		}
	}
}
