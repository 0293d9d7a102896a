package sync

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/idsync/idsync/state"
)

// dryRun plans what a run would do and changes nothing. It never takes the
// state's write lock, in SQLite or across processes: the daemon beside it
// keeps running while it pulls. A first full read (the snapshot is empty)
// is held in memory; any other pull goes into a private copy of the
// database (state.Scratch), in a transaction that is rolled back, and the
// copy is removed.
func (e *Engine) dryRun(ctx context.Context, c *Connection, opt Options, res *Result) error {
	var first bool
	if err := e.Store.View(ctx, func(tx *state.Tx) (err error) {
		first, err = firstRead(tx, c.Name, opt.Full)
		return err
	}); err != nil {
		return err
	}
	log := c.scrubLog(e.Log).With("connection", c.Name, "dry_run", true)
	if first {
		return e.dryRunInMemory(ctx, c, opt, res, log)
	}
	return e.dryRunOnCopy(ctx, c, opt, res, log)
}

// dryRunInMemory reads the whole directory into memory and plans against
// the applied state in a read transaction.
func (e *Engine) dryRunInMemory(ctx context.Context, c *Connection, opt Options, res *Result, log *slog.Logger) error {
	start := time.Now()
	mem := newMemDirectory()
	if _, _, err := readIntoMemory(ctx, c, mem, nil); err != nil {
		return fmt.Errorf("pull from %s failed; nothing planned: %w", c.idpName(), err)
	}
	res.Full = true
	g, err := c.loadGraph(mem)
	if err != nil {
		return err
	}
	ls, rec, err := e.listWorkspace(ctx, c, true, func(f func(*state.Tx) error) error { return e.Store.View(ctx, f) }, log)
	if err != nil {
		return err
	}
	res.Reconcile = rec
	pulled := time.Now()
	setPhase(ctx, "planning")
	progressOf(ctx).phase(PhasePlan)
	// The pull is over: the read transaction is short and sees one state.
	return e.Store.View(ctx, func(tx *state.Tx) error {
		var d *drift
		if ls != nil {
			if d, err = c.compare(tx, ls); err != nil {
				return fmt.Errorf("plan: %w", err)
			}
		}
		ev, err := c.evaluateIDs(tx, mem, g, nil)
		if err != nil {
			return fmt.Errorf("plan: %w", err)
		}
		if d != nil {
			d.patch(ev) // a read transaction: the drift is applied to the plan's view only
		}
		if err := planDry(tx, c, ev, d, res); err != nil {
			return err
		}
		log.Debug("dry run planned", "in_memory", true, "pull_and_load", pulled.Sub(start), "plan", time.Since(pulled), "ops", len(res.Plan.Ops))
		return nil
	})
}

// dryRunOnCopy pulls into a copy of the database taken in one read
// transaction, inside a transaction on the copy that is rolled back. The
// copy holds names and emails: it lives in a directory only this user can
// read, and is removed however the dry run ends.
func (e *Engine) dryRunOnCopy(ctx context.Context, c *Connection, opt Options, res *Result, log *slog.Logger) (err error) {
	start := time.Now()
	tx, done, err := e.Store.Scratch(ctx, c.Name)
	if err != nil {
		return fmt.Errorf("dry run: %w", err)
	}
	defer func() {
		if derr := done(); derr != nil && err == nil {
			err = fmt.Errorf("dry run: %w", derr)
		}
	}()
	copied := time.Now()
	full, err := e.pull(ctx, c, opt.Full, func(f func(*state.Tx) error) error { return f(tx) }, log)
	if err != nil {
		return err
	}
	res.Full = full || opt.Full
	ls, rec, err := e.listWorkspace(ctx, c, res.Full || opt.Reconcile, func(f func(*state.Tx) error) error { return f(tx) }, log)
	if err != nil {
		return err
	}
	res.Reconcile = rec
	pulled := time.Now()
	setPhase(ctx, "planning")
	progressOf(ctx).phase(PhasePlan)
	d, err := c.reconcileTx(tx, ls) // into the copy, rolled back
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	ev, err := c.evaluate(tx, res.Full)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	if err := planDry(tx, c, ev, d, res); err != nil {
		return err
	}
	log.Debug("dry run planned", "in_memory", false, "copy", copied.Sub(start), "pull", pulled.Sub(copied), "plan", time.Since(pulled), "ops", len(res.Plan.Ops))
	return nil
}

// planDry turns an evaluation into the dry run's plan, with the ops waiting
// in the outbox and what the safety limits would say.
func planDry(tx *state.Tx, c *Connection, ev *evaluation, d *drift, res *Result) (err error) {
	if err := c.checkRefs(ev.graph); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	res.Plan = c.plan(ev)
	if err := c.explain(tx, 0, d, &res.Plan, res.Reconcile); err != nil {
		return err
	}
	if res.Pending, err = tx.OutboxLen(c.Name); err != nil {
		return err
	}
	res.Held, err = c.safety(tx, res.Plan)
	return err
}

// firstRead reports whether a pull of conn reads everything into an empty
// snapshot.
func firstRead(tx *state.Tx, conn string, full bool) (bool, error) {
	cur, err := tx.Cursor(conn)
	if err != nil {
		return false, err
	}
	if cur.Cursor != "" && !full {
		return false, nil
	}
	n, err := tx.Counts(conn)
	return n == (state.SnapshotCounts{}), err
}
