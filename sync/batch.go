package sync

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/targets"
)

// batching returns the target's Batcher and batch size when it can send
// several of this phase's ops in one request (targets.Batcher), else nil.
func batching(ctx context.Context, t targets.Target, chains [][]state.Pending) (targets.Batcher, int) {
	b, ok := t.(targets.Batcher)
	if !ok {
		return nil, 0
	}
	n := 0
	for _, ch := range chains {
		if batchable(ctx, b, ch[0].Op) {
			n++
		}
	}
	if n < 2 {
		return nil, 0
	}
	if size := b.BatchSize(ctx); size > 1 {
		return b, size
	}
	return nil, 0
}

// batchable reports whether op goes in a batch in the phase of ctx. For a
// target that lists (targets.Indexer), a change to an existing account
// only when the phase has the workspace's index (targets.Batcher): without
// one the target would read each account before writing to it, and those
// ops run concurrently alone instead.
func batchable(ctx context.Context, b targets.Batcher, op idsync.Op) bool {
	if !b.Batchable(op) {
		return false
	}
	_, lists := b.(targets.Indexer)
	return op.Kind == idsync.OpCreate || !lists || targets.IndexOf(ctx) != nil
}

// applyBatched is applyPhase for a target that batches: the phase runs in
// rounds, round k sending the k-th step of every chain, so an object's
// next op still waits for its previous one. A round's batchable single
// ops go in batches of at most size; the other steps go alone, as in
// applyPhase. Batches and single steps run concurrently, at most workers
// at once.
func (e *Engine) applyBatched(ctx context.Context, c *Connection, runID int64, b targets.Batcher, size int, chains [][]state.Pending, workers int, log *slog.Logger) (applied, failed int, fatal error) {
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	merger, merge := c.Target.(targets.Merger)
	// A chain of one op is one step, itself: only longer chains are cut
	// (steps), so a first sync's 100,000 single creates allocate nothing
	// here. A batch holds pointers to its ops (applyBatch copies the few in
	// flight): copies of every batched op took ~25 MB at the start of a
	// 100,000-user first sync's apply, its peak.
	cut := make([][][]state.Pending, len(chains))
	rounds := 0
	for i, ch := range chains {
		if len(ch) > 1 {
			cut[i] = steps(ch, merge)
		}
		rounds = max(rounds, max(len(cut[i]), 1))
	}
	for k := 0; k < rounds && stop.Err() == nil; k++ {
		var jobs []func() (int, int, error)
		var batch []*state.Pending
		flush := func() {
			if len(batch) == 0 {
				return
			}
			ps := batch
			batch = nil
			jobs = append(jobs, func() (int, int, error) { return e.applyBatch(stop, c, runID, b, ps, log) })
		}
		for i, st := range cut {
			var step []state.Pending
			switch {
			case st != nil && k < len(st):
				step = st[k]
			case st == nil && k == 0:
				step = chains[i]
			default:
				continue
			}
			switch {
			case len(step) == 1 && batchable(ctx, b, step[0].Op):
				if batch == nil {
					batch = make([]*state.Pending, 0, min(size, len(chains)))
				}
				batch = append(batch, &step[0])
				if len(batch) == size {
					flush()
				}
			default:
				jobs = append(jobs, func() (int, int, error) { return e.applyStep(stop, c, runID, merger, step, log) })
			}
		}
		flush()
		a, f, err := pool(stop, cancel, workers, jobs, func(job func() (int, int, error)) (a, f int, err error) {
			err = protect(func() (err error) {
				a, f, err = job()
				return err
			})
			return a, f, err
		})
		applied, failed = applied+a, failed+f
		if err != nil && fatal == nil {
			fatal = err
		}
	}
	return applied, failed, fatal
}

// applyBatch applies ops of different objects in as few requests as the
// target can (targets.Batcher) and records each op on its own, like
// applyOne: a success, a permanent failure, or (after the retries) a
// retryable failure. Only the ops that failed retryably are sent again.
func (e *Engine) applyBatch(stop context.Context, c *Connection, runID int64, b targets.Batcher, ps []*state.Pending, log *slog.Logger) (applied, failed int, fatal error) {
	opCtx := e.opContext(stop, c)
	rest := make([]state.Pending, len(ps))
	for i, p := range ps {
		rest[i] = *p
	}
	if err := e.Store.View(opCtx, func(tx *state.Tx) error {
		for i := range rest {
			if err := resolveTargetIDs(tx, c.Name, &rest[i].Op); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return 0, 0, err
	}
	last := make([]targets.Result, len(rest))
	settle := func(p state.Pending, r targets.Result) error {
		a, f, err := e.record(stop, c, runID, []state.Pending{p}, r.Applied, r.Err, log)
		applied, failed = applied+a, failed+f
		return err
	}
	errStop := errors.New("stop")
	err := e.Backoff.Retry(stop, func() error {
		if err := e.Store.Holding(opCtx, c.Name); err != nil {
			return err
		}
		ops := make([]idsync.Op, len(rest))
		for i, p := range rest {
			ops[i] = p.Op
		}
		results := b.ApplyBatch(opCtx, ops)
		var again []state.Pending
		var againRes []targets.Result
		var after time.Duration
		for i, p := range rest {
			r := targets.Result{Err: errors.New("target gave no result for the op")}
			if i < len(results) {
				r = results[i]
			}
			if retry, a := targets.Retryable(r.Err); retry {
				again, againRes = append(again, p), append(againRes, r)
				after = max(after, a)
				continue
			}
			if err := settle(p, r); err != nil {
				fatal = err
				return errStop
			}
		}
		rest, last = again, againRes
		if len(rest) > 0 {
			return &targets.RetryableError{After: after, Err: last[0].Err}
		}
		return nil
	})
	if fatal != nil || (err != nil && errors.Is(err, errStop)) {
		return applied, failed, fatal
	}
	if errors.Is(err, state.ErrLeaseLost) || errors.Is(err, state.ErrNotLeased) {
		return applied, failed, err // the rest is not sent: it stays in the outbox for the lease's holder
	}
	for i, p := range rest {
		if err := settle(p, last[i]); err != nil {
			return applied, failed, err
		}
	}
	return applied, failed, nil
}
