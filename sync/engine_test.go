package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/targets"
	_ "modernc.org/sqlite"
)

func TestFailedPullKeepsCursorAndAppliesNothing(t *testing.T) {
	h := newHarness(t, Policy{})
	h.src.user("u1", "alice")
	h.run(Options{})
	before := h.cursor().Cursor

	for i := range 5 {
		h.src.user(fmt.Sprintf("n%d", i), fmt.Sprintf("new%d", i))
	}
	h.src.record(idsync.UserRemovedChange("u1", idsync.RemovalHard))
	h.src.failPage = func(k int, full bool) error {
		if k == 2 {
			return errBoom
		}
		return nil
	}
	calls := h.tgt.calls
	res, err := h.engine.Run(context.Background(), h.conn, Options{})
	if !errors.Is(err, errBoom) {
		t.Fatalf("run error = %v, want boom", err)
	}
	if len(res.Plan.Ops) != 0 || h.tgt.calls != calls {
		t.Fatalf("a failed pull planned %d ops and made %d target calls", len(res.Plan.Ops), h.tgt.calls-calls)
	}
	if got := h.cursor().Cursor; got != before {
		t.Fatalf("cursor moved to %q after a failed pull (was %q)", got, before)
	}
	if _, ok := h.tgt.byUserName()["alice@acme.test"]; !ok {
		t.Fatal("alice was deleted by a failed pull")
	}
	var runs []state.Run
	h.store.View(context.Background(), func(tx *state.Tx) (err error) {
		runs, err = tx.Runs(state.Filter{Connection: "acme", Limit: 1})
		return err
	})
	if runs[0].Result != state.RunFailed || !strings.Contains(runs[0].Error, "boom") {
		t.Fatalf("last run recorded as %+v", runs[0])
	}

	// The next run resumes from the old cursor and converges.
	h.src.failPage = nil
	res = h.run(Options{})
	if last := h.src.pulls[len(h.src.pulls)-1]; last != before {
		t.Fatalf("next pull asked for cursor %q, want the old %q", last, before)
	}
	if got := len(h.tgt.byUserName()); got != 5 || len(res.Plan.Ops) != 6 {
		t.Fatalf("after recovery: %d accounts, plan %q", got, ops(res.Plan))
	}
}

func TestExpiredCursorFullResyncSweeps(t *testing.T) {
	h := newHarness(t, Policy{MaxDeletes: 0})
	h.src.user("u1", "alice")
	h.src.user("u2", "bob")
	h.src.user("u3", "carol")
	h.src.group("g1", "Staff", "u1", "u2")
	h.run(Options{})

	// bob vanishes without the source saying so (the delta history is gone).
	h.src.mu.Lock()
	delete(h.src.users, "u2")
	delete(h.src.members, [2]string{"g1", "u2"})
	h.src.mu.Unlock()
	h.src.expired = true

	// A full read that fails half way sweeps nothing.
	h.src.failPage = func(k int, full bool) error {
		if full && k == 2 {
			return errBoom
		}
		return nil
	}
	if _, err := h.engine.Run(context.Background(), h.conn, Options{}); !errors.Is(err, errBoom) {
		t.Fatalf("run error = %v", err)
	}
	if len(h.applied()) != 3 || len(h.tgt.byUserName()) != 3 {
		t.Fatal("a failed full read removed someone")
	}

	h.src.failPage = nil
	res := h.run(Options{})
	if !res.Full {
		t.Fatal("expired cursor did not lead to a full read")
	}
	if got := ops(res.Plan); !slices.Equal(got, []string{"delete bob@acme.test"}) {
		t.Fatalf("plan after full resync = %q, want only bob's delete", got)
	}
	h.src.expired = false
	if res := h.run(Options{}); len(res.Plan.Ops) != 0 {
		t.Fatalf("next incremental run plans %q", ops(res.Plan))
	}
}

func TestSafetyHoldAndApprove(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy Policy
	}{
		{"max_deletes", Policy{MaxDeletes: 2}},
		{"max_delete_percent", Policy{MaxDeletePercent: 25}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.policy)
			for i := range 10 {
				h.src.user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
			}
			h.run(Options{})
			for i := range 3 {
				h.src.record(idsync.UserRemovedChange(fmt.Sprintf("u%d", i), idsync.RemovalHard))
			}
			h.src.user("u9", "user9", func(u *idsync.User) { u.Title = "Boss" })
			before := h.applied()
			calls := h.tgt.calls

			res := h.run(Options{})
			if res.Held == "" {
				t.Fatalf("3 deletes of 10 were not held (plan %q)", ops(res.Plan))
			}
			if h.tgt.calls != calls {
				t.Fatal("a held run applied ops")
			}
			if after := h.applied(); len(after) != len(before) || after["u9"].Account.Title != "" {
				t.Fatal("a held run changed the applied state")
			}
			// Held again on the next run: the dirty marks survived.
			if res := h.run(Options{}); res.Held == "" || len(res.Plan.Ops) != 4 {
				t.Fatalf("second run: held=%q plan=%q", res.Held, ops(res.Plan))
			}

			res, err := h.engine.Approve(context.Background(), h.conn, ApproveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Applied != 4 || len(h.tgt.byUserName()) != 7 {
				t.Fatalf("approve applied %d ops, workspace has %d", res.Applied, len(h.tgt.byUserName()))
			}
			if _, err := h.engine.Approve(context.Background(), h.conn, ApproveOptions{}); !errors.Is(err, ErrNoHeldPlan) {
				t.Fatalf("second approve: %v", err)
			}
			if res := h.run(Options{}); len(res.Plan.Ops) != 0 || res.Held != "" {
				t.Fatalf("after approve: plan %q held %q", ops(res.Plan), res.Held)
			}
		})
	}
}

func TestCrashMidApplyResumesExactlyOnce(t *testing.T) {
	const n, k = 40, 13
	h := newHarness(t, Policy{})
	for i := range n {
		h.src.user(fmt.Sprintf("u%02d", i), fmt.Sprintf("user%02d", i))
	}
	h.tgt.conc = 4
	ctx, cancel := context.WithCancel(context.Background())
	h.tgt.after = func(done int) {
		if done == k {
			cancel()
		}
	}
	res, err := h.engine.Run(ctx, h.conn, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run error = %v, want canceled", err)
	}
	if res.Applied < k || res.Applied >= n {
		t.Fatalf("applied %d before the stop, want between %d and %d", res.Applied, k, n)
	}
	h.tgt.after = nil

	// A new engine on the same file, as after a restart.
	h.open()
	var pending int
	h.store.View(context.Background(), func(tx *state.Tx) (err error) { pending, err = tx.OutboxLen("acme"); return err })
	if pending != n-res.Applied {
		t.Fatalf("outbox holds %d ops, want %d", pending, n-res.Applied)
	}
	res2 := h.run(Options{})
	if res2.Resumed != pending || len(res2.Plan.Ops) != 0 {
		t.Fatalf("resumed %d (want %d), new plan %q", res2.Resumed, pending, ops(res2.Plan))
	}
	for id, times := range h.tgt.applied {
		if times != 1 {
			t.Errorf("op %s applied %d times", id, times)
		}
	}
	if len(h.tgt.applied) != n || len(h.tgt.byUserName()) != n || len(h.applied()) != n {
		t.Fatalf("ops %d, workspace %d, applied state %d; want %d each", len(h.tgt.applied), len(h.tgt.byUserName()), len(h.applied()), n)
	}
	h.store.View(context.Background(), func(tx *state.Tx) (err error) { pending, err = tx.OutboxLen("acme"); return err })
	if pending != 0 {
		t.Fatalf("outbox not empty: %d", pending)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	h := newHarness(t, Policy{DefaultRole: "reader"})
	h.src.user("u1", "alice")
	h.src.user("u2", "bob")
	h.run(Options{})
	h.src.user("u3", "carol")
	h.src.user("u1", "alice", func(u *idsync.User) { u.Department = "Sales" })
	h.src.record(idsync.UserRemovedChange("u2", idsync.RemovalSoft))

	before := dump(t, h.path)
	calls := h.tgt.calls
	first := h.run(Options{DryRun: true})
	second := h.run(Options{DryRun: true})
	want := []string{"create carol@acme.test", "update alice@acme.test", "disable bob@acme.test"}
	if got := ops(first.Plan); !slices.Equal(got, want) {
		t.Fatalf("dry-run plan = %q, want %q", got, want)
	}
	if !slices.Equal(ops(first.Plan), ops(second.Plan)) {
		t.Fatalf("two dry runs differ: %q vs %q", ops(first.Plan), ops(second.Plan))
	}
	if h.tgt.calls != calls {
		t.Fatal("dry run called the target")
	}
	if after := dump(t, h.path); after != before {
		t.Fatalf("dry run changed the database:\nbefore: %s\nafter:  %s", before, after)
	}
	// The real run applies exactly what the dry run showed.
	if got := ops(h.run(Options{}).Plan); !slices.Equal(got, want) {
		t.Fatalf("real plan = %q, want the dry run's %q", got, want)
	}
}

// dump renders every table's rows, sorted, so two databases can be compared by content.
func dump(t *testing.T, path string) string {
	t.Helper()
	db, list := rawDB(t, path)
	tables, err := db.Query(list)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tables.Next() {
		var n string
		tables.Scan(&n)
		names = append(names, n)
	}
	tables.Close()
	if len(names) < 10 {
		t.Fatalf("the state database has %d tables: %v", len(names), names)
	}
	var b strings.Builder
	for _, name := range names {
		rows, err := db.Query(`SELECT * FROM ` + name)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			lines = append(lines, fmt.Sprint(vals...))
		}
		rows.Close()
		slices.Sort(lines)
		fmt.Fprintf(&b, "%s=%q;", name, lines)
	}
	return b.String()
}

func TestRetriesAndFailures(t *testing.T) {
	t.Run("429 honours Retry-After", func(t *testing.T) {
		h := newHarness(t, Policy{})
		h.src.user("u1", "alice")
		h.tgt.fail = func(op idsync.Op, call int) error {
			if call <= 2 {
				return &targets.RetryableError{After: 7 * time.Second, Err: errors.New("429 Too Many Requests")}
			}
			return nil
		}
		res := h.run(Options{})
		if res.Applied != 1 || !slices.Equal(h.sleeps, []time.Duration{7 * time.Second, 7 * time.Second}) {
			t.Fatalf("applied %d, slept %v", res.Applied, h.sleeps)
		}
	})
	t.Run("permanent failure does not block others and is retried next run", func(t *testing.T) {
		h := newHarness(t, Policy{})
		for _, n := range []string{"alice", "bob", "carol"} {
			h.src.user("id-"+n, n)
		}
		broken := true
		h.tgt.fail = func(op idsync.Op, call int) error {
			if broken && op.Name() == "bob@acme.test" {
				return errors.New("400 Bad Request: invalid userName")
			}
			return nil
		}
		res := h.run(Options{})
		if res.Applied != 2 || res.Failed != 1 || len(h.sleeps) != 0 {
			t.Fatalf("applied %d failed %d slept %v", res.Applied, res.Failed, h.sleeps)
		}
		var events []state.Event
		h.store.View(context.Background(), func(tx *state.Tx) (err error) {
			events, err = tx.Events(state.Filter{Connection: "acme", User: "bob@acme.test"})
			return err
		})
		if len(events) != 1 || events[0].Result != "failed" || !strings.Contains(events[0].Detail, "invalid userName") {
			t.Fatalf("bob's events: %+v", events)
		}
		broken = false
		res = h.run(Options{})
		if got := ops(res.Plan); !slices.Equal(got, []string{"create bob@acme.test"}) || res.Applied != 1 {
			t.Fatalf("retry run: plan %q applied %d", got, res.Applied)
		}
	})
	t.Run("rejected credentials stop the run once", func(t *testing.T) {
		h := newHarness(t, Policy{})
		for i := range 20 {
			h.src.user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
		}
		h.tgt.conc = 4
		h.tgt.fail = func(op idsync.Op, call int) error {
			return fmt.Errorf("scim: 401 Unauthorized: %w", targets.ErrUnauthorized)
		}
		_, err := h.engine.Run(context.Background(), h.conn, Options{})
		if !errors.Is(err, targets.ErrUnauthorized) {
			t.Fatalf("err = %v", err)
		}
		if h.tgt.calls > 4 {
			t.Fatalf("%d calls after the target rejected the token; want at most one per worker", h.tgt.calls)
		}
		var pending int
		h.store.View(context.Background(), func(tx *state.Tx) (err error) { pending, err = tx.OutboxLen("acme"); return err })
		if pending != 20 {
			t.Fatalf("outbox holds %d, want all 20 kept for the next run", pending)
		}
	})
}

func TestScopeGroupTypoIsAnError(t *testing.T) {
	h := newHarness(t, Policy{Scope: sources.Scope{Groups: []string{"Whale Usres"}}})
	h.src.user("u1", "alice")
	h.src.group("g1", "Whale Users", "u1")
	_, err := h.engine.Run(context.Background(), h.conn, Options{})
	if err == nil || !strings.Contains(err.Error(), `"Whale Usres"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestGroupSync(t *testing.T) {
	h := newHarness(t, Policy{Scope: sources.Scope{Groups: []string{"Eng", "Sales"}}, GroupSync: true})
	h.src.user("u1", "alice")
	h.src.user("u2", "bob")
	h.src.group("g-eng", "Eng", "u1")
	h.src.group("g-sales", "Sales", "u2")
	res := h.run(Options{})
	want := []string{"create alice@acme.test", "create bob@acme.test", "group-create Eng", "group-create Sales", "member-add Eng", "member-add Sales"}
	if got := ops(res.Plan); !slices.Equal(got, want) {
		t.Fatalf("plan = %q, want %q", got, want)
	}
	for gid, members := range h.tgt.groups {
		if len(members) != 1 || members[0] == "" {
			t.Fatalf("group %s members %q", gid, members)
		}
	}
	h.src.record(idsync.MemberAddedChange("g-sales", "u1", idsync.MemberUser))
	h.src.record(idsync.GroupChange(idsync.Group{ID: "g-eng", Name: "Engineering"}))
	h.conn.Policy.Scope.Groups = []string{"Engineering", "Sales"}
	if got := ops(h.run(Options{}).Plan); !slices.Equal(got, []string{"group-update Engineering", "member-add Sales"}) {
		t.Fatalf("plan = %q", got)
	}
}
