package sync

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/state/pgtest"
)

// TestDryRunStalledMidPullDoesNotBlockTheWriter: a dry run (another
// process's store on the same file) stalls in the middle of its pull; the
// writer's run beside it must go through. A dry run that held SQLite's
// write lock during the pull made it fail with "database is locked" once
// the busy timeout ran out.
func TestDryRunStalledMidPullDoesNotBlockTheWriter(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the dry run's copy goes
	h := newHarness(t, Policy{DefaultRole: "reader"})
	for i, n := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace"} {
		h.src.user(string(rune('a'+i)), n)
	}
	h.run(Options{})

	other, err := state.Open(context.Background(), pgtest.Loc(t, h.path)) // as `idsync sync --dry-run` in another process
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	dry := New(other, nil)
	stalled, release := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	h.src.failPage = func(k int, full bool) error {
		if full && k == 2 && once.CompareAndSwap(false, true) {
			close(stalled)
			<-release
		}
		return nil
	}
	type outcome struct {
		res *Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := dry.Run(context.Background(), h.conn, Options{DryRun: true, Full: true})
		done <- outcome{res, err}
	}()
	<-stalled
	h.src.user("h", "heidi")
	res, err := h.engine.Run(context.Background(), h.conn, Options{})
	close(release)
	if err != nil {
		t.Fatalf("the writer's run beside a stalled dry run: %v", err)
	}
	if got := ops(res.Plan); !slices.Equal(got, []string{"create heidi@acme.test"}) {
		t.Fatalf("the writer's plan: %q", got)
	}
	out := <-done
	if out.err != nil || !out.res.DryRun {
		t.Fatalf("dry run: %v", out.err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Fatalf("the dry run left %d files in TMPDIR", len(ents))
	}
}

// TestDryRunRemovesItsCopy: the copy of the state (names, emails) is gone
// after a dry run, also one that failed.
func TestDryRunRemovesItsCopy(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	h := newHarness(t, Policy{DefaultRole: "reader"})
	h.src.user("a", "alice")
	h.run(Options{})
	h.src.user("b", "bob")
	h.src.failPage = func(k int, full bool) error { return errBoom }
	if _, err := h.engine.Run(context.Background(), h.conn, Options{DryRun: true}); !errors.Is(err, errBoom) {
		t.Fatalf("dry run: %v", err)
	}
	h.src.failPage = nil
	if res := h.run(Options{DryRun: true}); !slices.Equal(ops(res.Plan), []string{"create bob@acme.test"}) {
		t.Fatalf("plan %q", ops(res.Plan))
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Fatalf("dry runs left %d files in TMPDIR", len(ents))
	}
}

// TestDryRunOnAReadOnlyStore: status, log, explain and dry runs open the
// state read-only; a dry run still plans, from a state that does not
// exist yet (first read, in memory) and from one that does (on a copy).
func TestDryRunOnAReadOnlyStore(t *testing.T) {
	h := newHarness(t, Policy{DefaultRole: "reader"})
	h.src.user("a", "alice")
	plan := func(path string) []string {
		t.Helper()
		ro, err := state.OpenReadOnly(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		res, err := New(ro, nil).Run(context.Background(), h.conn, Options{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		return ops(res.Plan)
	}
	if got := plan(pgtest.Loc(t, t.TempDir()+"/none.db")); !slices.Equal(got, []string{"create alice@acme.test"}) {
		t.Fatalf("first read: %q", got)
	}
	h.run(Options{})
	h.src.user("b", "bob")
	if got := plan(pgtest.Loc(t, h.path)); !slices.Equal(got, []string{"create bob@acme.test"}) {
		t.Fatalf("incremental: %q", got)
	}
}
