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
		got, err := run(t.Context(), dir)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got.projects, `{"name":"apollo","viewerRole":"READER"}`) {
			t.Fatalf("bob's projects: %s", got.projects)
		}
		if got.bobMayWrite {
			t.Fatal("a reader may write")
		}
		if !got.bobMayRead {
			t.Fatal("a reader may not read, in process")
		}
	}
}
