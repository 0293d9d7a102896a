package sync

import (
	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
)

// lendPlan lets plan's ops go while pending, the same ops as the outbox
// holds them, are applied, and returns what puts them back. A first sync
// of 100,000 users held both arrays through its apply (~20 MB each, their
// accounts shared); the plan's own was needed only to be returned (and
// printed) at the end. pending[i] is plan.Ops[i] with its stable id and
// without workspace ids (state.EnqueuePending); the apply reads it and
// never writes it (it sends copies). So the op returned is pending[i]'s,
// with the id the plan did not have cleared and the workspace ids it had
// restored (a first sync has none).
func lendPlan(plan *idsync.Plan, pending []state.Pending) (restore func()) {
	if len(pending) != len(plan.Ops) {
		return func() {} // not this plan alone: keep it
	}
	type ids struct {
		target  string
		members []idsync.Member
	}
	had := map[int]ids{}
	for i, op := range plan.Ops {
		if op.TargetID != "" || len(op.Members) > 0 {
			had[i] = ids{op.TargetID, op.Members}
		}
	}
	plan.Ops = nil
	return func() {
		ops := make([]idsync.Op, len(pending))
		for i, p := range pending {
			op := p.Op
			op.ID = ""
			if h, ok := had[i]; ok {
				op.TargetID, op.Members = h.target, h.members
			}
			ops[i] = op
		}
		plan.Ops = ops
	}
}
