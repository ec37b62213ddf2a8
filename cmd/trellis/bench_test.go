package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBenchCommand: trellis bench loads the graph once into --dir, reuses
// it on the next run, and prints one row of medians per operation asked
// for; wrong input is refused before anything is loaded.
func TestBenchCommand(t *testing.T) {
	dir := t.TempDir()
	args := []string{"bench", "--shape", "1.5k", "--calls", "3", "--dir", dir, "--op", "check-direct-role-in-process", "--op", "write-one"}
	row := regexp.MustCompile(`(?m)^badger-1\.5k +(\S+) +3 +\d[\dµms.]* +\d[\dµms.]*$`)
	for i, want := range []string{"loaded 1500 relationships", "reusing the graph loaded earlier"} {
		out, err := run(t, args...)
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, out)
		}
		if !strings.Contains(out, want) {
			t.Errorf("run %d does not say %q:\n%s", i+1, want, out)
		}
		var ops []string
		for _, m := range row.FindAllStringSubmatch(out, -1) {
			ops = append(ops, m[1])
		}
		if strings.Join(ops, ",") != "check-direct-role-in-process,write-one" {
			t.Errorf("run %d measured %v:\n%s", i+1, ops, out)
		}
	}

	// A directory of the store's name that no complete load marked is
	// neither loaded into nor removed.
	other := t.TempDir()
	keep := filepath.Join(other, "badger-1.5k", "precious")
	if err := os.MkdirAll(filepath.Dir(keep), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keep, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--shape", "5M"}, `no graph shape "5M"`},
		{[]string{"--op", "check-everything"}, `no operation "check-everything"`},
		{[]string{"--calls", "0"}, "--calls must be at least 1"},
		{[]string{"--shape", "1.5k", "--dir", other}, "holds no complete 1.5k graph"},
		{[]string{"extra"}, "usage: trellis bench"},
	} {
		out, err := run(t, append([]string{"bench"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("bench %v: got %v, want an error saying %q\n%s", tc.args, err, tc.want, out)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("the unmarked directory was touched: %v", err)
	}
}
