package sync

import (
	"context"
	"log/slog"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/targets"
)

// indexPhase returns ctx carrying the workspace's accounts
// (targets.Indexer) when the phase has user creates, or ops the target
// batches that change or delete a recorded account, and the target can
// list: each create is then one request (or one Bulk operation) instead of
// lookups and a POST, and each batched change is checked against the
// listing instead of a read of its own. The index is built at the start of
// every such phase of a drain, never kept across drains: after a crash the
// resumed drain sees what the interrupted one did. A target that cannot
// list, or a listing that fails, leaves ctx as it is: creates look up one
// by one, and changes go one by one with their own reads.
//
// A run that has listed the workspace already (drift reconcile on a full
// read) passes that listing down with withRunListing: the drain's first
// phase, which starts right after the plan, uses it as is and the
// workspace is not listed twice. Later phases never do: by then the
// listing is as old as the phases before (hours of creates), and a
// batched disable or delete checked against it could reach an account an
// admin handed to someone else since; they list again (or read each
// account) like any phase.
func (e *Engine) indexPhase(ctx context.Context, c *Connection, ops []state.Pending, log *slog.Logger) context.Context {
	ix, ok := c.Target.(targets.Indexer)
	if !ok || targets.IndexOf(ctx) != nil {
		return ctx
	}
	b, _ := c.Target.(targets.Batcher)
	creates, checks := 0, 0
	for _, p := range ops {
		switch k := p.Op.Kind; {
		case k == idsync.OpCreate:
			creates++
		case b != nil && !k.IsGroup() && b.Batchable(p.Op):
			checks++
		}
	}
	if checks > 1 && b.BatchSize(ctx) <= 1 {
		checks = 0 // not batched: each change reads its account anyway
	}
	// A listing saves a create two lookups, a batched change one read.
	weight := creates + checks/2
	if weight == 0 {
		return ctx
	}
	x, err := ix.IndexUsers(ctx, weight)
	if err != nil {
		log.Warn("could not list the workspace; each op looks its account up instead", "error", err)
		return ctx
	}
	if x != nil {
		log.Debug("workspace listed for the phase", "accounts", x.Len(), "creates", creates, "batched changes", checks)
	}
	return targets.WithIndex(ctx, x)
}

type runListingKey struct{}

// runListing holds the run's listing until the drain's first phase takes it.
type runListing struct{ x *targets.Index }

// withRunListing returns ctx carrying the run's listing for the first
// phase of the drain it is passed to (see indexPhase).
func withRunListing(ctx context.Context, x *targets.Index) context.Context {
	return context.WithValue(ctx, runListingKey{}, &runListing{x: x})
}

// takeRunListing is the run's listing the first time it is asked for,
// then nil: only the phase that follows the plan may trust it.
func takeRunListing(ctx context.Context) *targets.Index {
	l, _ := ctx.Value(runListingKey{}).(*runListing)
	if l == nil {
		return nil
	}
	x := l.x
	l.x = nil
	return x
}
