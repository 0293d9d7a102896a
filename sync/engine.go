package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	stdsync "sync"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/targets"
)

// Engine runs connections against one state store.
type Engine struct {
	Store *state.Store
	Log   *slog.Logger
	// Backoff retries an op whose target answered with a retryable error.
	Backoff targets.Backoff

	mu    stdsync.Mutex
	locks map[string]*stdsync.Mutex
}

// New returns an engine on store.
func New(store *state.Store, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{Store: store, Log: log}
}

// Options select what a run does.
type Options struct {
	// DryRun pulls and plans inside a transaction that is rolled back:
	// no cursor advanced, no snapshot changed, nothing applied or recorded.
	DryRun bool
	// Full re-reads the whole directory and evaluates every user.
	Full bool
}

// Result is what a run did (or, for a dry run, would do).
type Result struct {
	Connection string      `json:"connection"`
	RunID      int64       `json:"run_id,omitempty"`
	DryRun     bool        `json:"dry_run"`
	Full       bool        `json:"full"` // the pull was a complete read and everyone was evaluated
	Plan       idsync.Plan `json:"plan"`
	Held       string      `json:"held,omitempty"`    // why safety limits held the plan
	Resumed    int         `json:"resumed,omitempty"` // ops left by an interrupted run, applied first
	Pending    int         `json:"pending,omitempty"` // dry run: ops waiting in the outbox
	Applied    int         `json:"applied"`
	Failed     int         `json:"failed"`
}

// ErrNoHeldPlan is returned by Approve when there is nothing to approve.
var ErrNoHeldPlan = errors.New("no held plan")

// lock serialises runs of one connection: never two at once.
func (e *Engine) lock(name string) func() {
	e.mu.Lock()
	if e.locks == nil {
		e.locks = map[string]*stdsync.Mutex{}
	}
	l, ok := e.locks[name]
	if !ok {
		l = &stdsync.Mutex{}
		e.locks[name] = l
	}
	e.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Run runs connection c once: resume the outbox, pull, plan, check safety,
// apply. The returned error says why the run failed; the Result is filled as
// far as the run got.
func (e *Engine) Run(ctx context.Context, c *Connection, opt Options) (*Result, error) {
	defer e.lock(c.Name)()
	res := &Result{Connection: c.Name, DryRun: opt.DryRun, Plan: idsync.Plan{Connection: c.Name, Source: c.SourceType}}
	log := e.Log.With("connection", c.Name)
	if opt.DryRun {
		err := e.dryRun(ctx, c, opt, res)
		return res, err
	}
	kind := "incremental"
	if opt.Full {
		kind = "full"
	}
	if err := e.Store.Update(ctx, func(tx *state.Tx) (err error) {
		res.RunID, err = tx.StartRun(c.Name, kind)
		return err
	}); err != nil {
		return res, err
	}
	err := e.run(ctx, c, opt, res, log)
	e.finish(ctx, res, err, log)
	return res, err
}

func (e *Engine) run(ctx context.Context, c *Connection, opt Options, res *Result, log *slog.Logger) error {
	n, failed, err := e.drain(ctx, c, res.RunID, log)
	res.Resumed, res.Failed = n, failed
	if err != nil {
		return err
	}
	full, err := e.pull(ctx, c, opt.Full, func(f func(*state.Tx) error) error { return e.Store.Update(ctx, f) }, log)
	if err != nil {
		return err
	}
	res.Full = full || opt.Full
	var ops []idsync.Op
	err = e.Store.Update(ctx, func(tx *state.Tx) error {
		ev, err := c.evaluate(tx, res.Full)
		if err != nil {
			return err
		}
		if err := c.checkRefs(ev.graph); err != nil {
			return err
		}
		res.Plan = c.plan(ev)
		if reason, err := c.safety(tx, res.Plan); err != nil || reason != "" {
			res.Held = reason
			if err != nil {
				return err
			}
			// Dirty marks stay: the next run plans these users again.
			return tx.Hold(c.Name, res.RunID, reason, res.Plan)
		}
		if ops, err = tx.Enqueue(c.Name, res.RunID, res.Plan.Ops); err != nil {
			return err
		}
		if err := tx.DropHeld(c.Name); err != nil {
			return err
		}
		return tx.ClearDirty(c.Name, ev.dirtyUsers, ev.dirtyGroups, ev.all)
	})
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	if res.Held != "" {
		log.Warn("plan held by safety limits", "reason", res.Held, "ops", len(res.Plan.Ops))
		return nil
	}
	log.Info("plan", "ops", len(ops), "full", res.Full)
	applied, failed, err := e.drain(ctx, c, res.RunID, log)
	res.Applied, res.Failed = res.Applied+applied, res.Failed+failed
	return err
}

func (e *Engine) finish(ctx context.Context, res *Result, runErr error, log *slog.Logger) {
	r := state.Run{ID: res.RunID, Result: state.RunOK, Planned: len(res.Plan.Ops), Applied: res.Applied, Failed: res.Failed}
	switch {
	case runErr != nil:
		// The caller reports the error (the CLI prints it, the daemon logs it).
		r.Result, r.Error = state.RunFailed, runErr.Error()
	case res.Held != "":
		r.Result, r.Error = state.RunHeld, res.Held
	case res.Failed > 0:
		r.Result = state.RunPartial
	}
	// Record the end even when ctx was cancelled (SIGTERM): the log must say how the run ended.
	if err := e.Store.Update(context.WithoutCancel(ctx), func(tx *state.Tx) error { return tx.FinishRun(r) }); err != nil {
		log.Error("record run end", "error", err)
	}
}

// safety returns why plan must be held, or "".
func (c *Connection) safety(tx *state.Tx, plan idsync.Plan) (string, error) {
	n := plan.Destructive()
	if n == 0 {
		return "", nil
	}
	p := c.Policy
	if p.MaxDeletes > 0 && n > p.MaxDeletes {
		return fmt.Sprintf("%d deletes and disables exceed safety.max_deletes (%d)", n, p.MaxDeletes), nil
	}
	if p.MaxDeletePercent > 0 {
		applied, err := tx.AppliedCount(c.Name)
		if err != nil {
			return "", err
		}
		if pct := float64(n) * 100 / float64(max(applied, 1)); pct > p.MaxDeletePercent {
			return fmt.Sprintf("%d deletes and disables are %.1f%% of %d applied users, over safety.max_delete_percent (%g%%)",
				n, pct, applied, p.MaxDeletePercent), nil
		}
	}
	return "", nil
}

// Approve releases the connection's held plan: its ops go to the outbox and
// are applied now, whatever the safety limits say.
func (e *Engine) Approve(ctx context.Context, c *Connection) (*Result, error) {
	defer e.lock(c.Name)()
	res := &Result{Connection: c.Name}
	log := e.Log.With("connection", c.Name)
	err := e.Store.Update(ctx, func(tx *state.Tx) error {
		held, err := tx.Held(c.Name)
		if err != nil {
			return err
		}
		if held == nil {
			return fmt.Errorf("%s: %w", c.Name, ErrNoHeldPlan)
		}
		res.Plan = held.Plan
		if res.RunID, err = tx.StartRun(c.Name, "approve"); err != nil {
			return err
		}
		if _, err := tx.Enqueue(c.Name, res.RunID, held.Plan.Ops); err != nil {
			return err
		}
		return tx.DropHeld(c.Name)
	})
	if err != nil {
		return res, err
	}
	log.Info("held plan approved", "ops", len(res.Plan.Ops))
	res.Applied, res.Failed, err = e.drain(ctx, c, res.RunID, log)
	e.finish(ctx, res, err, log)
	return res, err
}
