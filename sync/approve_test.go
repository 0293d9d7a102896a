package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
)

// heldHarness is ten users applied, then u0..u2 soft-deleted with
// soft_deleted: delete, so the next run holds three deletes (max_deletes 2).
func heldHarness(t *testing.T) (*harness, *Result) {
	t.Helper()
	d := DefaultDeprovision
	d.SoftDeleted = ActionDelete
	h := newHarness(t, Policy{MaxDeletes: 2, Deprovision: d})
	for i := range 10 {
		h.src.user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
	}
	h.run(Options{})
	for i := range 3 {
		h.src.record(idsync.UserRemovedChange(fmt.Sprintf("u%d", i), idsync.RemovalSoft))
	}
	res := h.run(Options{})
	if res.Held == "" || res.PlanID == "" {
		t.Fatalf("3 deletes were not held with an id: held %q id %q plan %q", res.Held, res.PlanID, ops(res.Plan))
	}
	return h, res
}

func (h *harness) held() *state.HeldPlan {
	h.t.Helper()
	var hp *state.HeldPlan
	if err := h.store.View(context.Background(), func(tx *state.Tx) (err error) {
		hp, err = tx.Held("acme")
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return hp
}

func destructiveOps(p idsync.Plan) []string {
	var out []string
	for _, o := range p.Ops {
		if destructive(o.Kind) {
			out = append(out, string(o.Kind)+" "+o.Name())
		}
	}
	return out
}

func TestApproveIsBoundToTheReviewedPlan(t *testing.T) {
	t.Run("same directory and policy give the same plan id", func(t *testing.T) {
		h, first := heldHarness(t)
		again := h.run(Options{})
		dry := h.run(Options{DryRun: true})
		if again.PlanID != first.PlanID || dry.PlanID != first.PlanID || h.held().ID != first.PlanID {
			t.Fatalf("plan ids: first %s, again %s, dry run %s, stored %s", first.PlanID, again.PlanID, dry.PlanID, h.held().ID)
		}
	})

	t.Run("new hires and profile changes between runs keep the plan id", func(t *testing.T) {
		h, first := heldHarness(t)
		// Churn while the plan waits for a person: a hire every scheduled
		// run, a title change. The held plan grows, but what it takes away
		// does not change, so the reviewed id still approves it.
		for i := range 3 {
			h.src.user(fmt.Sprintf("n%d", i), fmt.Sprintf("hire%d", i))
			h.src.user("u5", "user5", func(u *idsync.User) { u.Title = fmt.Sprintf("Title %d", i) })
			res := h.run(Options{})
			if res.Held == "" || res.PlanID != first.PlanID {
				t.Fatalf("run %d under churn: held %q, plan %s (reviewed %s): %q", i, res.Held, res.PlanID, first.PlanID, ops(res.Plan))
			}
		}
		res, err := h.engine.Approve(context.Background(), h.conn, ApproveOptions{PlanID: first.PlanID})
		if err != nil || res.Held != "" {
			t.Fatalf("approve of the reviewed id under churn: %v, held %q", err, res.Held)
		}
		ws := h.tgt.byUserName()
		if _, ok := ws["hire2@acme.test"]; !ok || len(ws) != 10 || ws["user5@acme.test"].Title != "Title 2" {
			t.Fatalf("workspace after approve: %d accounts (want 7 + 3 hires), user5 %+v", len(ws), ws["user5@acme.test"])
		}
	})

	t.Run("users restored in the IdP after the hold are neither deleted nor disabled", func(t *testing.T) {
		h, held := heldHarness(t)
		for i := range 3 {
			h.src.user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i)) // restored from the recycle bin
		}
		res, err := h.engine.Approve(context.Background(), h.conn, ApproveOptions{PlanID: held.PlanID})
		if err != nil {
			t.Fatal(err)
		}
		if res.Held != "" || len(destructiveOps(res.Plan)) != 0 {
			t.Fatalf("approve after the restore: held %q, plan %q", res.Held, ops(res.Plan))
		}
		ws := h.tgt.byUserName()
		for i := range 10 {
			if a, ok := ws[fmt.Sprintf("user%d@acme.test", i)]; !ok || !a.Active {
				t.Fatalf("user%d after approve: present %v, %+v", i, ok, a)
			}
		}
		if h.held() != nil {
			t.Fatal("the held plan is still held after its approval")
		}
	})

	t.Run("users restored after the hold are spared, the approved rest is applied", func(t *testing.T) {
		h, held := heldHarness(t)
		h.src.user("u1", "user1")
		res, err := h.engine.Approve(context.Background(), h.conn, ApproveOptions{PlanID: held.PlanID})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"delete user0@acme.test", "delete user2@acme.test"}
		if got := destructiveOps(res.Plan); res.Held != "" || !slices.Equal(got, want) || res.Applied != 2 {
			t.Fatalf("approve: held %q, destructive %q (want %q), applied %d", res.Held, got, want, res.Applied)
		}
		ws := h.tgt.byUserName()
		if _, ok := ws["user1@acme.test"]; !ok || len(ws) != 8 {
			t.Fatalf("workspace after approve: %d accounts, user1 present %v", len(ws), ok)
		}
	})

	t.Run("destructive ops not in the approved plan hold the new plan under its own id", func(t *testing.T) {
		h, held := heldHarness(t)
		h.src.record(idsync.UserRemovedChange("u5", idsync.RemovalHard))
		calls := h.tgt.calls
		res, err := h.engine.Approve(context.Background(), h.conn, ApproveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Held == "" || res.PlanID == "" || res.PlanID == held.PlanID {
			t.Fatalf("approve with a new delete: held %q, id %q (approved %q)", res.Held, res.PlanID, held.PlanID)
		}
		if len(res.Unapproved) != 1 || res.Unapproved[0].ObjectID != "u5" || !strings.Contains(res.Held, "delete user5@acme.test") {
			t.Fatalf("unapproved %v, reason %q", ops(idsync.Plan{Ops: res.Unapproved}), res.Held)
		}
		if h.tgt.calls != calls || len(h.tgt.byUserName()) != 10 {
			t.Fatalf("a held approval made %d target calls", h.tgt.calls-calls)
		}
		if got := h.held(); got == nil || got.ID != res.PlanID {
			t.Fatalf("held plan after the refused approval: %+v, want id %s", got, res.PlanID)
		}
		// Approving the new plan applies all four deletes.
		res, err = h.engine.Approve(context.Background(), h.conn, ApproveOptions{PlanID: res.PlanID})
		if err != nil || res.Held != "" || res.Applied != 4 || len(h.tgt.byUserName()) != 6 {
			t.Fatalf("second approve: %v, held %q, applied %d, workspace %d", err, res.Held, res.Applied, len(h.tgt.byUserName()))
		}
	})

	t.Run("--plan with a changed held plan refuses", func(t *testing.T) {
		h, first := heldHarness(t)
		h.src.record(idsync.UserRemovedChange("u3", idsync.RemovalSoft))
		second := h.run(Options{})
		if second.Held == "" || second.PlanID == first.PlanID {
			t.Fatalf("the changed plan: held %q, id %q (first %q)", second.Held, second.PlanID, first.PlanID)
		}
		calls := h.tgt.calls
		_, err := h.engine.Approve(context.Background(), h.conn, ApproveOptions{PlanID: first.PlanID})
		if !errors.Is(err, ErrPlanChanged) || !strings.Contains(err.Error(), first.PlanID) || !strings.Contains(err.Error(), second.PlanID) {
			t.Fatalf("approve of a replaced plan: %v", err)
		}
		if h.tgt.calls != calls || h.held().ID != second.PlanID {
			t.Fatal("a refused approval touched the workspace or the held plan")
		}
		res, err := h.engine.Approve(context.Background(), h.conn, ApproveOptions{PlanID: second.PlanID})
		if err != nil || res.Applied != 4 {
			t.Fatalf("approve of the current plan: %v, applied %d", err, res.Applied)
		}
	})
}
