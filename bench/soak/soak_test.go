package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSoak is a short crash soak (the full one is `go run ./bench/soak`):
// idsync SIGKILLed at random points of its runs against a changing tenant,
// then the workspace must match the tenant exactly.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("builds idsync and runs it dozens of times")
	}
	touchSources(t)
	var log strings.Builder
	rep, err := soak(context.Background(), options{Kills: 12, Users: 400, Seed: 1, Dir: t.TempDir()}, &log)
	if rep != nil {
		var out strings.Builder
		rep.print(&out)
		t.Log("\n" + out.String())
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if rep.Kills != 12 {
		t.Fatalf("%d kills, want 12", rep.Kills)
	}
}

// touchSources stats every Go file of the module. The soak builds idsync in
// a child process, which go test's cache cannot see; files the test itself
// looks at are part of the cache key, so an edit anywhere re-runs the soak
// instead of replaying an old pass.
func touchSources(t *testing.T) {
	t.Helper()
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != "../.." {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".sql") || d.Name() == "go.mod" || d.Name() == "go.sum") {
			_, err = os.Stat(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
