package main

import (
	"context"
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
