package sync

import (
	"context"
	"fmt"
	"strings"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
)

// ApproveOptions say what an approval approves.
type ApproveOptions struct {
	// PlanID pins the approval to the held plan with this id (the one a
	// person reviewed); "" approves the held plan as it stands.
	PlanID string
	// Progress is Options.Progress for the approval's run.
	Progress func(Progress)
}

// Approve releases the connection's held plan. It does not apply the
// stored ops: the directory may have moved since (users restored, others
// removed). Like a run, it resumes the outbox and pulls; then it plans
// every user again and applies that plan if each of its disables, deletes
// and group deletes was in the approved plan (other ops are always fine),
// whatever the safety limits say. Otherwise the new plan is held with its
// own id, Result.Held and Result.Unapproved say what is new, and nothing is
// applied.
func (e *Engine) Approve(ctx context.Context, c *Connection, opt ApproveOptions) (*Result, error) {
	defer e.lock(c.Name)()
	res := &Result{Connection: c.Name, Plan: idsync.Plan{Connection: c.Name, Source: c.SourceType}}
	log := c.scrubLog(e.Log).With("connection", c.Name)
	var held *state.HeldPlan
	if err := e.Store.View(ctx, func(tx *state.Tx) (err error) {
		held, err = tx.Held(c.Name)
		return err
	}); err != nil {
		return res, err
	}
	if held == nil {
		return res, fmt.Errorf("%s: %w", c.Name, ErrNoHeldPlan)
	}
	if opt.PlanID != "" && opt.PlanID != held.ID {
		return res, planChanged(c.Name, opt.PlanID, held.ID)
	}
	res.PlanID = held.ID
	if err := e.Store.Update(ctx, func(tx *state.Tx) (err error) {
		res.RunID, err = tx.StartRun(c.Name, "approve")
		return err
	}); err != nil {
		return res, err
	}
	log.Info("approving held plan", "plan", held.ID, "ops", len(held.Plan.Ops))
	ctx, stop := e.track(ctx, c.Name, opt.Progress, log)
	defer stop()
	err := c.scrubErr(e.guarded(ctx, c, log, func(ctx context.Context) error {
		return e.run(ctx, c, Options{Reconcile: disablesUnmanaged(held.Plan)}, res, newApproval(held), log)
	}))
	e.finish(ctx, res, err, log)
	return res, err
}

func planChanged(conn, approved, now string) error {
	return fmt.Errorf("%s: %w: plan %s was approved but the held plan is now %s; review it ('idsync approve %s' shows it) and approve that id",
		conn, ErrPlanChanged, approved, now, conn)
}

// approval is what a person approved: a held plan's id and its
// destructive ops.
type approval struct {
	id          string
	destructive map[opKey]bool
}

type opKey struct {
	kind idsync.OpKind
	id   string
}

// destructive reports whether an op of kind k takes something away: what
// an approval must have seen, and all the plan id covers.
func destructive(k idsync.OpKind) bool { return k.TakesAway() }

func newApproval(h *state.HeldPlan) *approval {
	a := &approval{id: h.ID, destructive: map[opKey]bool{}}
	for _, o := range h.Plan.Ops {
		if destructive(o.Kind) {
			a.destructive[opKey{o.Kind, o.ObjectID}] = true
		}
	}
	return a
}

// check returns why plan p may not be applied under this approval (its
// destructive ops that were not approved), or "".
func (a *approval) check(p idsync.Plan) (string, []idsync.Op) {
	var extra []idsync.Op
	for _, o := range p.Ops {
		if destructive(o.Kind) && !a.destructive[opKey{o.Kind, o.ObjectID}] {
			extra = append(extra, o)
		}
	}
	if len(extra) == 0 {
		return "", nil
	}
	names := make([]string, 0, min(len(extra), 5))
	for _, o := range extra[:min(len(extra), 5)] {
		names = append(names, string(o.Kind)+" "+o.Name())
	}
	list := strings.Join(names, ", ")
	if len(extra) > 5 {
		list += fmt.Sprintf(" and %d more", len(extra)-5)
	}
	n := "1 destructive op is"
	if len(extra) > 1 {
		n = fmt.Sprintf("%d destructive ops are", len(extra))
	}
	return fmt.Sprintf("the directory changed since plan %s was approved: %s not in it (%s)", a.id, n, list), extra
}

// stillHeld makes sure the approved plan is still the held one when the
// re-plan is committed.
func (a *approval) stillHeld(tx *state.Tx, conn string) error {
	h, err := tx.Held(conn)
	if err != nil {
		return err
	}
	if h == nil {
		return fmt.Errorf("%s: %w", conn, ErrNoHeldPlan)
	}
	if h.ID != a.id {
		return planChanged(conn, a.id, h.ID)
	}
	return nil
}
