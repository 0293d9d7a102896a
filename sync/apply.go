package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	stdsync "sync"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/targets"
)

// defaultConcurrency applies when the target does not say (targets.Limiter).
const defaultConcurrency = 4

// drain applies every op in the connection's outbox. Ops run in plan order
// by phase (all creates before any member add, and so on; each round of
// ordered member-adds is a phase of its own). Within a phase
// the ops of one object (a user, or a group with its members) form a chain
// applied one at a time in plan order by one worker, so two changes to one
// account never race; chains of different objects run concurrently, at most
// the target's concurrency at once. A target that can (targets.Merger) gets
// a user's consecutive update, role and activity ops as one request.
//
// Each success updates the applied state and leaves the outbox in one
// transaction. A permanent failure is logged, leaves the outbox and marks
// its object dirty so the next run plans it again; it does not stop the
// others. Cancelling ctx stops new ops; ops already sent finish and are
// recorded. A target rejecting credentials stops the run.
func (e *Engine) drain(ctx context.Context, c *Connection, runID int64, log *slog.Logger) (applied, failed int, err error) {
	var pending []state.Pending
	if err := e.Store.View(ctx, func(tx *state.Tx) (err error) {
		pending, err = tx.Outbox(c.Name)
		return err
	}); err != nil {
		return 0, 0, err
	}
	return e.drainPending(ctx, c, runID, pending, log)
}

// drainPending is drain with the outbox's ops already read.
func (e *Engine) drainPending(ctx context.Context, c *Connection, runID int64, pending []state.Pending, log *slog.Logger) (applied, failed int, err error) {
	progressOf(ctx).total(len(pending))
	workers := defaultConcurrency
	if l, ok := c.Target.(targets.Limiter); ok {
		workers = max(l.Concurrency(), 1)
	}
	for len(pending) > 0 {
		n := 1
		for n < len(pending) && phaseOf(pending[n].Op) == phaseOf(pending[0].Op) {
			n++
		}
		pctx := ctx
		if x := takeRunListing(ctx); x != nil {
			pctx = targets.WithIndex(ctx, x) // the first phase, right after the plan
		}
		pctx = e.indexPhase(pctx, c, pending[:n], log)
		a, f, err := e.applyPhase(pctx, c, runID, chains(pending[:n]), workers, log)
		applied, failed = applied+a, failed+f
		if err != nil {
			return applied, failed, err
		}
		if ctx.Err() != nil {
			return applied, failed, fmt.Errorf("apply interrupted, %d ops left in the outbox: %w", len(pending)-n, ctx.Err())
		}
		pending = pending[n:]
	}
	return applied, failed, nil
}

// phase groups kinds that may run concurrently: an op never starts before
// every op of an earlier phase has finished.
func phase(k idsync.OpKind) int {
	switch k {
	case idsync.OpCreate, idsync.OpGroupCreate:
		return 0
	case idsync.OpGroupDelete, idsync.OpDelete:
		return 2
	}
	return 1
}

// phaseOf is phase, with each round of member-adds (idsync.Op.Round) a
// phase of its own: a user's k-th new group is joined only after the
// (k-1)-th, where the workspace cares which came first.
func phaseOf(op idsync.Op) [2]int {
	return [2]int{phase(op.Kind), op.Round}
}

// object names the workspace object an op changes: member ops change their
// group. It shares the op's id rather than building a string per op.
type object struct {
	group bool
	id    string
}

func objectKey(op idsync.Op) object {
	return object{op.Kind.IsGroup(), op.ObjectID}
}

// chains splits a phase's ops into one chain per object, each in outbox
// (plan) order, the chains in the order of their first op.
func chains(ops []state.Pending) [][]state.Pending {
	at := make(map[object]int, len(ops))
	out := make([][]state.Pending, 0, len(ops))
	for j, p := range ops {
		k := objectKey(p.Op)
		i, ok := at[k]
		if !ok {
			// A chain of one op is ops' own element, not a copy: a first
			// sync's 100,000 creates are each a chain of one, and copying
			// them grew its heap by ~25 MB at its peak. The capacity is
			// capped so that a second op for the object allocates its own
			// array instead of overwriting the next element.
			at[k] = len(out)
			out = append(out, ops[j:j+1:j+1])
			continue
		}
		out[i] = append(out[i], p)
	}
	return out
}

// steps cuts an object's chain into what is sent at once: runs of two or
// more mergeable ops when the target merges, else one op each.
func steps(chain []state.Pending, merge bool) [][]state.Pending {
	var out [][]state.Pending
	for i := 0; i < len(chain); {
		j := i + 1
		if merge && targets.Mergeable(chain[i].Op.Kind) {
			for j < len(chain) && targets.Mergeable(chain[j].Op.Kind) {
				j++
			}
		}
		out = append(out, chain[i:j])
		i = j
	}
	return out
}

func (e *Engine) applyPhase(ctx context.Context, c *Connection, runID int64, chains [][]state.Pending, workers int, log *slog.Logger) (applied, failed int, fatal error) {
	if b, size := batching(ctx, c.Target, chains); b != nil {
		return e.applyBatched(ctx, c, runID, b, size, chains, workers, log)
	}
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	merger, merge := c.Target.(targets.Merger)
	return pool(stop, cancel, workers, chains, func(chain []state.Pending) (applied, failed int, err error) {
		for _, step := range steps(chain, merge) {
			if stop.Err() != nil {
				break // the rest of the chain stays in the outbox
			}
			a, f, err := e.applyStep(stop, c, runID, merger, step, log)
			applied, failed = applied+a, failed+f
			if err != nil {
				return applied, failed, err
			}
		}
		return applied, failed, nil
	})
}

// applyStep sends one step of a chain (see steps): several mergeable ops as
// one request, or one op. A panic in the target stops the run (the ops stay
// in the outbox) instead of the process.
func (e *Engine) applyStep(stop context.Context, c *Connection, runID int64, merger targets.Merger, step []state.Pending, log *slog.Logger) (a, f int, err error) {
	err = protect(func() (err error) {
		if len(step) > 1 {
			a, f, err = e.applyMerged(stop, c, runID, merger, step, log)
		} else {
			a, f, err = e.applyOne(stop, c, runID, step[0], log)
		}
		return err
	})
	return a, f, err
}

// pool applies jobs on up to workers goroutines until stop ends, summing
// what each applied and failed. The first error stops the others (cancel)
// and is returned.
func pool[T any](stop context.Context, cancel context.CancelFunc, workers int, jobs []T, do func(T) (applied, failed int, err error)) (applied, failed int, fatal error) {
	var mu stdsync.Mutex
	work := make(chan T)
	var wg stdsync.WaitGroup
	for range min(workers, len(jobs)) {
		wg.Go(func() {
			for job := range work {
				a, f, err := do(job)
				mu.Lock()
				if err != nil && fatal == nil {
					fatal = err
					cancel()
				}
				applied, failed = applied+a, failed+f
				mu.Unlock()
			}
		})
	}
	for _, job := range jobs {
		if stop.Err() != nil {
			break
		}
		select {
		case work <- job:
		case <-stop.Done():
		}
	}
	close(work)
	wg.Wait()
	return applied, failed, fatal
}

// applyOne applies one pending op and returns how many ops were applied
// and failed (1 and 0, or 0 and 1; both 0 when the run is stopping and the
// op stays in the outbox), and an error when the whole run must stop.
func (e *Engine) applyOne(stop context.Context, c *Connection, runID int64, p state.Pending, log *slog.Logger) (applied, failed int, err error) {
	// An op in flight finishes even if the run is being stopped: its result
	// must be recorded, or a crash-free shutdown would apply it twice.
	opCtx := e.opContext(stop, c)
	op := p.Op
	if err := e.Store.View(opCtx, func(tx *state.Tx) error { return resolveTargetIDs(tx, c.Name, &op) }); err != nil {
		return 0, 0, err
	}
	var out idsync.Applied
	err = e.Backoff.Retry(stop, func() error {
		if err := e.Store.Holding(opCtx, c.Name); err != nil {
			return err
		}
		var err error
		out, err = c.Target.Apply(opCtx, op)
		return err
	})
	ps := []state.Pending{{Seq: p.Seq, RunID: p.RunID, Op: op}}
	return e.record(stop, c, runID, ps, out, err, log)
}

// applyMerged applies a user's consecutive mergeable ops as one request.
// On a permanent failure it applies them one at a time instead, so the
// failure is recorded against the op that causes it and the others land.
func (e *Engine) applyMerged(stop context.Context, c *Connection, runID int64, m targets.Merger, ps []state.Pending, log *slog.Logger) (applied, failed int, err error) {
	opCtx := e.opContext(stop, c)
	resolved := make([]state.Pending, len(ps))
	ops := make([]idsync.Op, len(ps))
	if err := e.Store.View(opCtx, func(tx *state.Tx) error {
		for i, p := range ps {
			resolved[i] = p
			if err := resolveTargetIDs(tx, c.Name, &resolved[i].Op); err != nil {
				return err
			}
			ops[i] = resolved[i].Op
		}
		return nil
	}); err != nil {
		return 0, 0, err
	}
	var out idsync.Applied
	err = e.Backoff.Retry(stop, func() error {
		if err := e.Store.Holding(opCtx, c.Name); err != nil {
			return err
		}
		var err error
		out, err = m.ApplyMerged(opCtx, ops)
		return err
	})
	if retry, _ := targets.Retryable(err); err == nil || retry || errors.Is(err, targets.ErrUnauthorized) {
		return e.record(stop, c, runID, resolved, out, err, log)
	}
	log.Debug("merged ops failed; applying them one at a time", "object", ops[0].Name(), "ops", len(ops), "error", err)
	for _, p := range ps {
		if stop.Err() != nil {
			break
		}
		a, f, err := e.applyOne(stop, c, runID, p, log)
		applied, failed = applied+a, failed+f
		if err != nil {
			return applied, failed, err
		}
	}
	return applied, failed, nil
}

// record stores the outcome of applying ps (one op, or several merged into
// one request whose result out is each op's): on success each op's applied
// state, outbox removal and event in one transaction; on a permanent
// failure the same removal with a failed event and dirty marks. A workspace
// object the applied state already records for another object (the target
// answered with someone else's id) fails the ops and overwrites nothing.
func (e *Engine) record(stop context.Context, c *Connection, runID int64, ps []state.Pending, out idsync.Applied, cause error, log *slog.Logger) (applied, failed int, fatal error) {
	defer func() { progressOf(stop).done(applied, failed) }()
	opCtx := context.WithoutCancel(stop)
	switch retry, _ := targets.Retryable(cause); {
	case retry && stop.Err() != nil:
		return 0, 0, nil // interrupted between tries: stays in the outbox
	case errors.Is(cause, state.ErrLeaseLost) || errors.Is(cause, state.ErrNotLeased):
		return 0, 0, cause // not sent: stays in the outbox for the lease's holder
	case errors.Is(cause, targets.ErrUnauthorized):
		return 0, 0, fmt.Errorf("target refused idsync's credentials: %w", cause)
	case cause == nil:
		// The workspace ids being recorded are claimed until the record
		// has committed (or failed): the adoption guard sees them.
		for _, p := range ps {
			if tid := out.TargetID; tid != "" && p.Op.Unmanaged == "" && p.Op.Kind != idsync.OpDelete && p.Op.Kind != idsync.OpGroupDelete {
				defer e.claim(c.Name, p.Op.Kind.IsGroup(), tid, p.Op.ObjectID)()
			}
		}
		// With the records of the connection's other workers waiting now
		// (recordgroup.go): committed before this returns.
		cause = e.recordUpdate(opCtx, c.Name, func(tx *state.Tx) error {
			for _, p := range ps {
				op := p.Op
				if err := recordApplied(tx, c.Name, op, out); err != nil {
					return err
				}
				if err := tx.Done(c.Name, p.Seq); err != nil {
					return err
				}
				ev := state.Event{RunID: runID, Connection: c.Name, Kind: string(op.Kind), ObjectID: op.ObjectID,
					Name: op.Name(), Result: "applied", Detail: describe(op)}
				if err := tx.AddEvent(ev); err != nil {
					return err
				}
			}
			return nil
		})
		switch {
		case cause == nil:
			e.countOps(c.Name, ps, "applied")
			return len(ps), 0, nil
		case !errors.Is(cause, state.ErrTargetTaken):
			return 0, 0, cause
		}
	}
	for _, p := range ps {
		log.Warn("op failed; will retry on the next run", "op", p.Op.Kind, "object", p.Op.Name(), "error", cause)
	}
	e.countOps(c.Name, ps, "failed")
	return 0, len(ps), e.Store.Update(opCtx, func(tx *state.Tx) error {
		for _, p := range ps {
			op := p.Op
			if err := tx.Done(c.Name, p.Seq); err != nil {
				return err
			}
			if err := markDirty(tx, c.Name, op); err != nil {
				return err
			}
			ev := state.Event{RunID: runID, Connection: c.Name, Kind: string(op.Kind), ObjectID: op.ObjectID,
				Name: op.Name(), Result: "failed", Detail: c.scrub(cause.Error())}
			if err := tx.AddEvent(ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// opContext is the context an op is sent in: not cancelled with the run
// (an op in flight finishes and is recorded), and carrying the applied
// state's owner of each workspace id (targets.WithOwner), so a target never
// adopts an account idsync manages for someone else, even on a workspace
// that does not keep externalId.
func (e *Engine) opContext(stop context.Context, c *Connection) context.Context {
	return targets.WithOwner(context.WithoutCancel(stop), func(ctx context.Context, kind targets.Kind, targetID string) (owner string, err error) {
		// A record waiting to commit first (View does not wait for it).
		if owner := e.claimed(c.Name, kind == targets.Group, targetID); owner != "" {
			return owner, nil
		}
		err = e.Store.View(ctx, func(tx *state.Tx) error {
			if kind == targets.Group {
				owner, err = tx.TargetGroup(c.Name, targetID)
			} else {
				owner, err = tx.TargetUser(c.Name, targetID)
			}
			return err
		})
		return owner, err
	})
}

// resolveTargetIDs sets the workspace ids of op and its members from the
// applied state as it is now, never from the plan: an object created
// earlier in the run has one by now, and one whose id the state has
// forgotten since (migration 0003, a refused record) has none, so the
// target finds it by identity rather than writing to whatever that id
// names today.
func resolveTargetIDs(tx *state.Tx, conn string, op *idsync.Op) error {
	if op.Unmanaged != "" {
		op.TargetID = op.Unmanaged // not in the applied state: named by its workspace id
		return nil
	}
	if op.Kind.IsGroup() {
		op.TargetID = ""
		if op.Kind != idsync.OpGroupCreate {
			g, err := tx.AppliedGroup(conn, op.ObjectID)
			if err != nil {
				return err
			}
			op.TargetID = g.TargetID
		}
		if len(op.Members) == 0 {
			return nil
		}
		ids := make([]string, len(op.Members))
		for i, m := range op.Members {
			ids[i] = m.ExternalID
		}
		applied, err := tx.AppliedUsers(conn, ids)
		if err != nil {
			return err
		}
		members := op.Members[:0:0]
		for _, m := range op.Members {
			if a, ok := applied[m.ExternalID]; ok {
				m.TargetID = a.TargetID
				members = append(members, m)
			}
		}
		op.Members = members
		return nil
	}
	op.TargetID = ""
	if op.Kind != idsync.OpCreate {
		applied, err := tx.AppliedUsers(conn, []string{op.ObjectID})
		if err != nil {
			return err
		}
		op.TargetID = applied[op.ObjectID].TargetID
	}
	return nil
}

// recordApplied updates the applied state after a successful op. Each op
// records only its own aspect (attributes, role, or activity), so one that
// failed does not appear applied because a later one succeeded.
func recordApplied(tx *state.Tx, conn string, op idsync.Op, out idsync.Applied) error {
	if op.Unmanaged != "" {
		return nil // an unmanaged account stays unmanaged
	}
	targetID := out.TargetID
	if targetID == "" {
		targetID = op.TargetID
	}
	switch op.Kind {
	case idsync.OpDelete:
		return tx.DeleteAppliedUser(conn, op.ObjectID)
	case idsync.OpGroupCreate, idsync.OpGroupUpdate:
		return tx.SetAppliedGroup(conn, state.AppliedGroup{ID: op.ObjectID, TargetID: targetID, Name: op.Group.DisplayName, Description: op.Group.Description})
	case idsync.OpGroupDelete:
		return tx.DeleteAppliedGroup(conn, op.ObjectID)
	case idsync.OpMemberAdd, idsync.OpMemberRemove:
		ids := make([]string, len(op.Members))
		for i, m := range op.Members {
			ids[i] = m.ExternalID
		}
		return tx.SetAppliedMembers(conn, op.ObjectID, ids, op.Kind == idsync.OpMemberAdd)
	}
	if op.Account == nil {
		return fmt.Errorf("%s op for %s has no account", op.Kind, op.ObjectID)
	}
	cur := *op.Account
	if op.Kind != idsync.OpCreate {
		have, err := tx.AppliedUsers(conn, []string{op.ObjectID})
		if err != nil {
			return err
		}
		if a, ok := have[op.ObjectID]; ok {
			cur = a.Account
			if targetID == "" {
				targetID = a.TargetID
			}
		}
		switch op.Kind {
		case idsync.OpUpdate:
			role, active := cur.Role, cur.Active
			cur = *op.Account
			cur.Role, cur.Active = role, active
		case idsync.OpSetRole:
			cur.Role = op.Account.Role
		case idsync.OpEnable, idsync.OpDisable:
			cur.Active = op.Account.Active
		}
	}
	return tx.SetAppliedUser(conn, targetID, cur)
}

func markDirty(tx *state.Tx, conn string, op idsync.Op) error {
	if op.Unmanaged != "" {
		return nil
	}
	if !op.Kind.IsGroup() {
		return tx.MarkUserDirty(conn, op.ObjectID)
	}
	for _, m := range op.Members {
		if err := tx.MarkUserDirty(conn, m.ExternalID); err != nil {
			return err
		}
	}
	return tx.MarkGroupDirty(conn, op.ObjectID)
}

// describe is the provisioning log's one-line detail of an op.
func describe(op idsync.Op) string {
	switch op.Kind {
	case idsync.OpUpdate:
		parts := make([]string, len(op.Changes))
		for i, ch := range op.Changes {
			parts[i] = fmt.Sprintf("%s: %q → %q", ch.Field, ch.Old, ch.New)
		}
		return strings.Join(parts, ", ")
	case idsync.OpSetRole:
		prev := ""
		if op.Prev != nil {
			prev = op.Prev.Role
		}
		return fmt.Sprintf("%s → %s", orNone(prev), orNone(op.Account.Role))
	case idsync.OpCreate:
		if op.Account.Role != "" {
			return "role=" + op.Account.Role
		}
	case idsync.OpMemberAdd, idsync.OpMemberRemove:
		return fmt.Sprintf("%d members", len(op.Members))
	}
	return op.Reason
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
