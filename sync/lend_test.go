package sync

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets"
)

// A run that lends its plan's ops to the apply (lendPlan) returns the plan
// it planned also when the apply does not go through: an op refused for
// good, one still failing after its retries, and the run cancelled
// mid-apply, batched and one at a time. Its id (what a held plan or an
// approval compares) is the planned one too.
func TestLentPlanReturnedAfterFailuresAndCancel(t *testing.T) {
	for _, batched := range []bool{true, false} {
		t.Run(fmt.Sprintf("batched=%v", batched), func(t *testing.T) {
			h := newHarness(t, Policy{DefaultRole: "member", Rules: []RoleRule{{Group: "Admins", Role: "admin"}}, GroupSync: true, GroupInclude: []string{"Admins"}})
			if batched {
				h.conn.Target = &batchTarget{fakeTarget: h.tgt, size: 3, inflight: map[string]bool{}}
			}
			for i := range 8 {
				h.src.user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
			}
			h.src.group("g1", "Admins", "u0", "u1")
			// A first sync, then changes to everyone (ops with workspace
			// ids), each cut short.
			for round := range 2 {
				if round == 1 {
					h.tgt.fail, h.tgt.after = nil, nil
					h.run(Options{}) // what the first round left
					for i := range 8 {
						h.src.user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i), func(u *idsync.User) {
							u.Title = "New"
							if i == 7 {
								u.Status = idsync.StatusDisabled
							}
						})
					}
					h.src.group("g1", "Admins", "u2", "u3")
				}
				cutShort(t, h)
			}
		})
	}
}

// cutShort runs h with u1's ops refused, u2's failing after their retries
// and the run cancelled after its third op applied, and checks the plan
// returned against a dry run's.
func cutShort(t *testing.T, h *harness) {
	t.Helper()
	h.tgt.fail = func(op idsync.Op, call int) error {
		switch op.ObjectID {
		case "u1":
			return errors.New("refused")
		case "u2":
			return &targets.RetryableError{Err: errors.New("later")}
		}
		return nil
	}
	dry := h.run(Options{DryRun: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	h.tgt.after = func(int) {
		if n++; n == 3 {
			cancel()
		}
	}
	res, err := h.engine.Run(ctx, h.conn, Options{})
	if err == nil || res.Failed == 0 || res.Applied == 0 || res.Applied+res.Failed >= len(dry.Plan.Ops) {
		t.Fatalf("not a run cut short with failures: applied %d, failed %d of %d (%v)", res.Applied, res.Failed, len(dry.Plan.Ops), err)
	}
	if !reflect.DeepEqual(dry.Plan.Ops, res.Plan.Ops) {
		t.Errorf("the plan returned is not the one planned:\n got %+v\nwant %+v", res.Plan.Ops, dry.Plan.Ops)
	}
	if res.Plan.ID() != dry.Plan.ID() {
		t.Errorf("plan id %s, planned %s", res.Plan.ID(), dry.Plan.ID())
	}
}
