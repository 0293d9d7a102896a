package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	stdsync "sync"
	"time"

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

	mu       stdsync.Mutex
	locks    map[string]*stdsync.Mutex
	running  map[*inflightRun]struct{} // runs inside guarded, with their deadlines (Stuck)
	counters map[string]*Counters
	recs     map[string]*recorder // each connection's group commit of records (recordgroup.go)
	// ProgressEvery, when > 0, logs each run's progress (phase, pages,
	// objects, ops applied of total) every that long while it lasts: the
	// daemon sets it, so a long run is not silent in its log.
	ProgressEvery time.Duration
	// deadline bounds a run's context (context.WithTimeoutCause when nil;
	// tests pass the deadline by hand).
	deadline func(context.Context, time.Duration, error) (context.Context, context.CancelFunc)
	// beforeFirstCursor, when set, is called by a first sync's snapshot
	// writer before its last transaction (tests order it after the apply).
	beforeFirstCursor func()
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
	// Reconcile lists the workspace and corrects drift (as every full
	// read does) without a full read of the directory.
	Reconcile bool
	// Progress, when set, is told how the run goes: each page pulled and
	// each op applied (progress.go). It is called one report at a time,
	// from the run's goroutines, and must return quickly.
	Progress func(Progress)
}

// Result is what a run did (or, for a dry run, would do).
type Result struct {
	Connection string      `json:"connection"`
	RunID      int64       `json:"run_id,omitempty"`
	DryRun     bool        `json:"dry_run"`
	Full       bool        `json:"full"` // the pull was a complete read and everyone was evaluated
	Plan       idsync.Plan `json:"plan"`
	Held       string      `json:"held,omitempty"`    // why safety limits (or an approval that no longer covers it) held the plan
	Resumed    int         `json:"resumed,omitempty"` // ops left by an interrupted run, applied first
	Pending    int         `json:"pending,omitempty"` // dry run: ops waiting in the outbox
	Applied    int         `json:"applied"`
	Failed     int         `json:"failed"`

	// PlanID is the plan's id (idsync.Plan.ID) when it was held, or the id
	// of the held plan an approval released.
	PlanID string `json:"plan_id,omitempty"`
	// Unapproved lists the destructive ops an approval's re-plan found that
	// the approved plan did not have: why it was held again.
	Unapproved []idsync.Op `json:"unapproved,omitempty"`
	// PolicyChanged says the connection's policy changed since its last
	// plan, so every user was evaluated.
	PolicyChanged bool `json:"policy_changed,omitempty"`
	// Reconcile is what listing the workspace found (full reads and
	// Options.Reconcile; nil when the run did not list).
	Reconcile *Reconcile `json:"reconcile,omitempty"`
	// Elapsed is how long the run took, waiting for the connection's lock
	// excluded (for the run duration metric).
	Elapsed time.Duration `json:"-"`
}

// ErrNoHeldPlan is returned by Approve when there is nothing to approve.
var ErrNoHeldPlan = errors.New("no held plan")

// ErrPlanChanged is returned by Approve when the held plan is no longer the
// one that was approved (ApproveOptions.PlanID).
var ErrPlanChanged = errors.New("the held plan has changed since it was reviewed")

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
// far as the run got. The run has a deadline (c.RunTimeout): one that passes
// it is ended and fails with a *StalledError. A panic in the run (source,
// target or engine) is recovered and fails it with a *PanicError.
func (e *Engine) Run(ctx context.Context, c *Connection, opt Options) (*Result, error) {
	defer e.lock(c.Name)()
	res := &Result{Connection: c.Name, DryRun: opt.DryRun, Plan: idsync.Plan{Connection: c.Name, Source: c.SourceType}}
	start := time.Now()
	defer func() { res.Elapsed = time.Since(start) }()
	log := c.scrubLog(e.Log).With("connection", c.Name)
	ctx, stop := e.track(ctx, c.Name, opt.Progress, log)
	defer stop()
	if opt.DryRun {
		err := e.guarded(ctx, c, log, func(ctx context.Context) error { return e.dryRunResult(ctx, c, opt, res) })
		return res, c.scrubErr(err)
	}
	kind := "incremental"
	if opt.Full {
		kind = "full"
	}
	if err := e.Store.Update(ctx, func(tx *state.Tx) (err error) {
		res.RunID, err = tx.StartRun(c.Name, kind)
		return err
	}); err != nil {
		return res, c.scrubErr(err)
	}
	err := c.scrubErr(e.guarded(ctx, c, log, func(ctx context.Context) error { return e.run(ctx, c, opt, res, nil, log) }))
	e.finish(ctx, res, err, log)
	return res, err
}

// dryRunResult plans a dry run into res.
func (e *Engine) dryRunResult(ctx context.Context, c *Connection, opt Options, res *Result) error {
	if err := e.dryRun(ctx, c, opt, res); err != nil {
		return err
	}
	if res.Held != "" {
		res.PlanID = res.Plan.ID()
	}
	// The dry run evaluated everyone if so (evaluate checks the same).
	return e.Store.View(ctx, func(tx *state.Tx) (err error) {
		_, changed, recorded, err := c.policyChanged(tx)
		res.PolicyChanged = changed && recorded
		return err
	})
}

// run resumes the outbox, pulls, plans and applies. With appr (an approve)
// the plan is held unless its destructive ops were all approved; without,
// unless it is within the safety limits.
func (e *Engine) run(ctx context.Context, c *Connection, opt Options, res *Result, appr *approval, log *slog.Logger) (err error) {
	setPhase(ctx, "resuming ops left in the outbox")
	progressOf(ctx).phase(PhaseResume)
	n, failed, err := e.drain(ctx, c, res.RunID, log)
	res.Resumed, res.Failed = n, failed
	if err != nil {
		return err
	}
	// A first read is planned from memory (first.go); an approval never is one.
	var first *firstPull
	if appr == nil {
		if first, err = e.pullFirst(ctx, c, opt, log); err != nil {
			return err
		}
		defer first.discard()
	}
	full := first != nil && first.full
	if first == nil {
		if full, err = e.pull(ctx, c, opt.Full, func(f func(*state.Tx) error) error { return e.Store.Update(ctx, f) }, log); err != nil {
			return err
		}
	}
	res.Full = full || opt.Full
	ls, rec, err := e.listWorkspace(ctx, c, res.Full || opt.Reconcile, func(f func(*state.Tx) error) error { return e.Store.View(ctx, f) }, log)
	if err != nil {
		return err
	}
	res.Reconcile = rec
	setPhase(ctx, "planning")
	progressOf(ctx).phase(PhasePlan)
	var pending []state.Pending // the outbox when it holds this plan only
	err = e.Store.Update(ctx, func(tx *state.Tx) error {
		d, err := c.reconcileTx(tx, ls)
		if err != nil {
			return err
		}
		// An approval evaluates everyone: the held plan may have come from a
		// full read or a policy change, and its re-plan must cover as much.
		var ev *evaluation
		if first != nil {
			ev, err = first.evaluate(tx, c)
		} else {
			ev, err = c.evaluate(tx, res.Full || appr != nil)
		}
		if err != nil {
			return err
		}
		res.PolicyChanged = ev.policyChanged
		if err := c.checkRefs(ev.graph); err != nil {
			return err
		}
		res.Plan = c.plan(ev)
		if err := c.explain(tx, res.RunID, d, &res.Plan, rec); err != nil {
			return err
		}
		var reason string
		if appr != nil {
			if err := appr.stillHeld(tx, c.Name); err != nil {
				return err
			}
			reason, res.Unapproved = appr.check(res.Plan)
		} else if reason, err = c.safety(tx, res.Plan); err != nil {
			return err
		}
		if first != nil {
			first.release(ev)
		}
		if reason != "" {
			res.Held, res.PlanID = reason, res.Plan.ID()
			// Dirty marks stay, and so does the old policy fingerprint:
			// the next run plans these users (or everyone) again.
			return tx.Hold(c.Name, res.RunID, reason, res.Plan)
		}
		waiting, err := tx.OutboxLen(c.Name)
		if err != nil {
			return err
		}
		if pending, err = tx.EnqueuePending(c.Name, res.RunID, res.Plan.Ops); err != nil {
			return err
		}
		if waiting > 0 {
			pending = nil // ops a failure left: drain reads the whole outbox, in order
		}
		if err := tx.DropHeld(c.Name); err != nil {
			return err
		}
		if err := tx.DropLostMembers(c.Name, ev.stale); err != nil {
			return err
		}
		if ev.policy != "" {
			if err := tx.SavePolicyFingerprint(c.Name, ev.policy); err != nil {
				return err
			}
		}
		return tx.ClearDirty(c.Name, ev.dirtyUsers, ev.dirtyGroups, ev.all)
	})
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	if res.PolicyChanged {
		log.Info("policy changed since the last plan: every user was evaluated")
	}
	if first != nil {
		e.writeFirst(ctx, c, first, res.RunID, res.Held == "")
		defer func() { err = errors.Join(err, first.wait()) }()
	}
	if res.Held != "" {
		log.Warn("plan held", "reason", res.Held, "plan", res.PlanID, "ops", len(res.Plan.Ops))
		return nil
	}
	log.Info("plan", "ops", len(res.Plan.Ops), "full", res.Full)
	setPhase(ctx, fmt.Sprintf("applying the plan (%d ops)", len(res.Plan.Ops)))
	progressOf(ctx).phase(PhaseApply)
	if ls != nil {
		// The first phase matches against this run's listing: the workspace
		// is not listed a second time (see indexPhase).
		ctx = withRunListing(ctx, ls.index())
	}
	var applied int
	if pending != nil {
		defer lendPlan(&res.Plan, pending)()
		applied, failed, err = e.drainPending(ctx, c, res.RunID, pending, log)
	} else {
		applied, failed, err = e.drain(ctx, c, res.RunID, log)
	}
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

// pushSourceType is the source type of push connections, and
// pushSafetyWindow how far back their safety limits count what was taken
// away (see safety).
const (
	pushSourceType   = "scim"
	pushSafetyWindow = time.Hour
)

// safety returns why plan must be held, or "". Group deletes count toward
// max_deletes with the users' deletes and disables; for
// max_delete_percent each is a share of its own kind (users of the applied
// users, groups of the applied groups), so a handful of groups is not
// diluted by thousands of users.
func (c *Connection) safety(tx *state.Tx, plan idsync.Plan) (string, error) {
	users, groups := 0, 0
	for _, o := range plan.Ops {
		switch {
		case o.Kind.Destructive():
			users++
		case o.Kind == idsync.OpGroupDelete:
			groups++
		}
	}
	n := users + groups
	if n == 0 {
		return "", nil
	}
	recent := ""
	if c.SourceType == pushSourceType {
		// A push connection's mass removal arrives one user per request,
		// each run planning a few: what was taken away in the last
		// pushSafetyWindow (since the latest approval) counts too.
		u, g, err := tx.RecentTakeAways(c.Name, time.Now().Add(-pushSafetyWindow))
		if err != nil {
			return "", err
		}
		if u+g > 0 {
			users, groups, n = users+u, groups+g, n+u+g
			recent = fmt.Sprintf(", %d of them pushed and applied in the last hour", u+g)
		}
	}
	p := c.Policy
	if p.MaxDeletes > 0 && n > p.MaxDeletes {
		if groups == 0 {
			return fmt.Sprintf("%d deletes and disables%s exceed safety.max_deletes (%d)", n, recent, p.MaxDeletes), nil
		}
		return fmt.Sprintf("%d deletes and disables (%d of them group deletes%s) exceed safety.max_deletes (%d)", n, groups, recent, p.MaxDeletes), nil
	}
	if p.MaxDeletePercent > 0 && users > 0 {
		applied, err := tx.AppliedCount(c.Name)
		if err != nil {
			return "", err
		}
		if pct := float64(users) * 100 / float64(max(applied, 1)); pct > p.MaxDeletePercent {
			return fmt.Sprintf("%d deletes and disables are %.1f%% of %d applied users, over safety.max_delete_percent (%g%%)",
				users, pct, applied, p.MaxDeletePercent), nil
		}
	}
	if p.MaxDeletePercent > 0 && groups > 0 {
		applied, err := tx.AppliedGroups(c.Name)
		if err != nil {
			return "", err
		}
		if pct := float64(groups) * 100 / float64(max(len(applied), 1)); pct > p.MaxDeletePercent {
			return fmt.Sprintf("%d group deletes are %.1f%% of %d applied groups, over safety.max_delete_percent (%g%%)",
				groups, pct, len(applied), p.MaxDeletePercent), nil
		}
	}
	return "", nil
}
