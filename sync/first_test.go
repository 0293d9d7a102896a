package sync

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
)

// A real first sync plans from the read in memory and writes the snapshot
// while it applies: when the run returns, the snapshot, the cursor and the
// dirty marks are what a pull written first would have left, and the next
// run plans nothing.
func TestFirstSyncWritesSnapshotBehindThePlan(t *testing.T) {
	h := newHarness(t, Policy{DefaultRole: "reader", Rules: []RoleRule{{Group: "admins", Role: "admin"}}})
	for i, name := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace"} {
		h.src.user(string(rune('a'+i)), name)
	}
	h.src.group("g1", "admins", "a", "c")
	res := h.run(Options{})
	if len(res.Plan.Ops) != 7 || res.Applied != 7 || !res.Full {
		t.Fatalf("first run: %q, applied %d, full %v", ops(res.Plan), res.Applied, res.Full)
	}
	if got := h.tgt.byUserName()["alice@acme.test"].Role; got != "admin" {
		t.Errorf("alice's role = %q, want admin", got)
	}
	if cur := h.cursor(); cur.Cursor == "" {
		t.Fatal("no cursor saved after the first sync")
	}
	var counts state.SnapshotCounts
	var dirtyU, dirtyG []string
	h.store.View(context.Background(), func(tx *state.Tx) (err error) {
		if counts, err = tx.Counts("acme"); err != nil {
			return err
		}
		dirtyU, dirtyG, err = tx.Dirty("acme")
		return err
	})
	if counts.Users != 7 || counts.Groups != 1 {
		t.Errorf("snapshot after the first sync: %+v", counts)
	}
	if len(dirtyU) != 0 || len(dirtyG) != 0 {
		t.Errorf("dirty marks left by the snapshot written behind an applied plan: %v %v", dirtyU, dirtyG)
	}
	// The next run is incremental from that cursor and plans nothing; a
	// change after it is planned alone.
	if res := h.run(Options{}); len(res.Plan.Ops) != 0 {
		t.Fatalf("second run planned %q", ops(res.Plan))
	}
	h.src.record(idsync.MemberAddedChange("g1", "b", idsync.MemberUser))
	if res := h.run(Options{}); len(res.Plan.Ops) != 1 || res.Plan.Ops[0].ObjectID != "b" {
		t.Fatalf("after bob joined admins: %q", ops(res.Plan))
	}
}

// A held first sync still writes its snapshot and cursor, and keeps every
// user dirty: the next run plans them again.
func TestFirstSyncHeldKeepsDirtyMarks(t *testing.T) {
	h := newHarness(t, Policy{DefaultRole: "reader", Deprovision: DefaultDeprovision, MaxDeletes: 1})
	h.src.user("a", "alice")
	h.src.user("b", "bob", func(u *idsync.User) { u.Status = idsync.StatusDisabled })
	h.src.user("c", "carol", func(u *idsync.User) { u.Status = idsync.StatusDisabled })
	// Applied state from elsewhere makes the disables real: an older database.
	h.store.Update(context.Background(), func(tx *state.Tx) error {
		for _, id := range []string{"b", "c"} {
			if err := tx.SetAppliedUser("acme", "t-"+id, idsync.Account{ExternalID: id, UserName: id + "@acme.test", Active: true}); err != nil {
				return err
			}
		}
		return nil
	})
	res := h.run(Options{})
	if res.Held == "" {
		t.Fatalf("first run not held: %q", ops(res.Plan))
	}
	var dirty []string
	var counts state.SnapshotCounts
	h.store.View(context.Background(), func(tx *state.Tx) (err error) {
		if counts, err = tx.Counts("acme"); err != nil {
			return err
		}
		dirty, _, err = tx.Dirty("acme")
		return err
	})
	if counts.Users != 3 || len(dirty) != 3 || h.cursor().Cursor == "" {
		t.Errorf("held first sync: snapshot %+v, dirty %v, cursor %q", counts, dirty, h.cursor().Cursor)
	}
}

// An op that fails during a first sync is retried by the next run, however
// the apply and the snapshot writer interleave: the writer's last
// transaction clears the dirty marks its pages left, and must not clear
// the one the failure left (the next run is incremental and plans only
// dirty users).
func TestFirstSyncFailureBeforeSnapshotEndIsRetried(t *testing.T) {
	h := newHarness(t, Policy{DefaultRole: "reader"})
	h.src.user("a", "alice")
	h.src.user("b", "bob")
	broken := true
	h.tgt.fail = func(op idsync.Op, call int) error {
		if broken && op.ObjectID == "b" {
			return errors.New("400 Bad Request: invalid userName")
		}
		return nil
	}
	// The writer's last transaction waits until every op is applied or
	// recorded as failed.
	h.engine.beforeFirstCursor = func() {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			n := -1
			h.store.View(context.Background(), func(tx *state.Tx) (err error) {
				n, err = tx.OutboxLen("acme")
				return err
			})
			if n == 0 {
				return
			}
			time.Sleep(time.Millisecond)
		}
		t.Error("the first sync's ops were not all done")
	}
	res := h.run(Options{})
	if res.Applied != 1 || res.Failed != 1 || h.cursor().Cursor == "" {
		t.Fatalf("first sync: applied %d failed %d cursor %q", res.Applied, res.Failed, h.cursor().Cursor)
	}
	broken = false
	res = h.run(Options{})
	if got := ops(res.Plan); !slices.Equal(got, []string{"create bob@acme.test"}) || res.Applied != 1 {
		t.Fatalf("next run: plan %q applied %d; bob's failed create was forgotten", got, res.Applied)
	}
}

// A held first sync is released by an approval: the approved plan (the
// same one) is applied, and the run after plans nothing.
func TestFirstSyncHeldThenApproved(t *testing.T) {
	h := newHarness(t, Policy{DefaultRole: "reader", Deprovision: DefaultDeprovision, MaxDeletes: 1})
	h.src.user("a", "alice")
	h.src.user("b", "bob", func(u *idsync.User) { u.Status = idsync.StatusDisabled })
	h.src.user("c", "carol", func(u *idsync.User) { u.Status = idsync.StatusDisabled })
	h.store.Update(context.Background(), func(tx *state.Tx) error {
		for _, id := range []string{"b", "c"} {
			if err := tx.SetAppliedUser("acme", "t-"+id, idsync.Account{ExternalID: id, UserName: id + "@acme.test", Active: true}); err != nil {
				return err
			}
		}
		return nil
	})
	for _, id := range []string{"b", "c"} {
		h.tgt.accounts["t-"+id] = idsync.Account{ExternalID: id, UserName: id + "@acme.test", Active: true}
	}
	held := h.run(Options{})
	if held.Held == "" {
		t.Fatalf("first run not held: %q", ops(held.Plan))
	}
	res, err := h.engine.Approve(context.Background(), h.conn, ApproveOptions{PlanID: held.PlanID})
	if err != nil || res.Held != "" || res.Applied != len(held.Plan.Ops) {
		t.Fatalf("approve: %v, held %q, applied %d of %q", err, res.Held, res.Applied, ops(held.Plan))
	}
	if res := h.run(Options{}); len(res.Plan.Ops) != 0 {
		t.Fatalf("run after the approval planned %q", ops(res.Plan))
	}
}
