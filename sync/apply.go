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
// by phase (all creates before any member add, and so on), each phase with
// bounded concurrency. Each success updates the applied state and leaves the
// outbox in one transaction. A permanent failure is logged, leaves the
// outbox and marks its object dirty so the next run plans it again; it does
// not stop the others. Cancelling ctx stops new ops; ops already sent finish
// and are recorded. A target rejecting credentials stops the run.
func (e *Engine) drain(ctx context.Context, c *Connection, runID int64, log *slog.Logger) (applied, failed int, err error) {
	var pending []state.Pending
	if err := e.Store.View(ctx, func(tx *state.Tx) (err error) {
		pending, err = tx.Outbox(c.Name)
		return err
	}); err != nil {
		return 0, 0, err
	}
	workers := defaultConcurrency
	if l, ok := c.Target.(targets.Limiter); ok {
		workers = max(l.Concurrency(), 1)
	}
	for len(pending) > 0 {
		n := 1
		for n < len(pending) && phase(pending[n].Op.Kind) == phase(pending[0].Op.Kind) {
			n++
		}
		a, f, err := e.applyPhase(ctx, c, runID, pending[:n], workers, log)
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

func (e *Engine) applyPhase(ctx context.Context, c *Connection, runID int64, ops []state.Pending, workers int, log *slog.Logger) (applied, failed int, fatal error) {
	var mu stdsync.Mutex
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan state.Pending)
	var wg stdsync.WaitGroup
	for range min(workers, len(ops)) {
		wg.Go(func() {
			for p := range work {
				ok, err := e.applyOne(stop, c, runID, p, log)
				mu.Lock()
				switch {
				case errors.Is(err, targets.ErrUnauthorized):
					if fatal == nil {
						fatal = err
					}
					cancel()
				case err != nil && fatal == nil:
					fatal = err
					cancel()
				case ok:
					applied++
				case stop.Err() == nil:
					failed++
				}
				mu.Unlock()
			}
		})
	}
	for _, p := range ops {
		if stop.Err() != nil {
			break
		}
		select {
		case work <- p:
		case <-stop.Done():
		}
	}
	close(work)
	wg.Wait()
	return applied, failed, fatal
}

// applyOne applies one pending op. It returns ok=true when applied, ok=false
// with a nil error when the op failed on its own (recorded, retried next
// run) or was not attempted because the run is stopping, and an error when
// the whole run must stop.
func (e *Engine) applyOne(stop context.Context, c *Connection, runID int64, p state.Pending, log *slog.Logger) (bool, error) {
	// An op in flight finishes even if the run is being stopped: its result
	// must be recorded, or a crash-free shutdown would apply it twice.
	opCtx := context.WithoutCancel(stop)
	op := p.Op
	if err := e.Store.View(opCtx, func(tx *state.Tx) error { return resolveTargetIDs(tx, c.Name, &op) }); err != nil {
		return false, err
	}
	var out idsync.Applied
	err := e.Backoff.Retry(stop, func() error {
		var err error
		out, err = c.Target.Apply(opCtx, op)
		return err
	})
	if err != nil {
		if retry, _ := targets.Retryable(err); retry && stop.Err() != nil {
			return false, nil // interrupted between tries: stays in the outbox
		}
	}
	switch {
	case err == nil:
		err := e.Store.Update(opCtx, func(tx *state.Tx) error {
			if err := recordApplied(tx, c.Name, op, out); err != nil {
				return err
			}
			if err := tx.Done(c.Name, p.Seq); err != nil {
				return err
			}
			return tx.AddEvent(state.Event{RunID: runID, Connection: c.Name, Kind: string(op.Kind), ObjectID: op.ObjectID,
				Name: op.Name(), Result: "applied", Detail: describe(op)})
		})
		return err == nil, err
	case errors.Is(err, targets.ErrUnauthorized):
		return false, fmt.Errorf("target refused idsync's credentials: %w", err)
	}
	log.Warn("op failed; will retry on the next run", "op", op.Kind, "object", op.Name(), "error", err)
	return false, e.Store.Update(opCtx, func(tx *state.Tx) error {
		if err := tx.Done(c.Name, p.Seq); err != nil {
			return err
		}
		if err := markDirty(tx, c.Name, op); err != nil {
			return err
		}
		return tx.AddEvent(state.Event{RunID: runID, Connection: c.Name, Kind: string(op.Kind), ObjectID: op.ObjectID,
			Name: op.Name(), Result: "failed", Detail: err.Error()})
	})
}

// resolveTargetIDs fills in workspace ids that were unknown when the op was
// planned (objects created earlier in the same run).
func resolveTargetIDs(tx *state.Tx, conn string, op *idsync.Op) error {
	if op.Kind.IsGroup() {
		if op.TargetID == "" && op.Kind != idsync.OpGroupCreate {
			gs, err := tx.AppliedGroups(conn)
			if err != nil {
				return err
			}
			op.TargetID = gs[op.ObjectID].TargetID
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
	if op.TargetID == "" && op.Kind != idsync.OpCreate {
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
	targetID := out.TargetID
	if targetID == "" {
		targetID = op.TargetID
	}
	switch op.Kind {
	case idsync.OpDelete:
		return tx.DeleteAppliedUser(conn, op.ObjectID)
	case idsync.OpGroupCreate, idsync.OpGroupUpdate:
		return tx.SetAppliedGroup(conn, state.AppliedGroup{ID: op.ObjectID, TargetID: targetID, Name: op.Group.DisplayName})
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
