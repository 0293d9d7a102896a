package sync

import (
	"context"
	"log/slog"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/targets"
)

// indexCreates returns ctx carrying the workspace's accounts
// (targets.Indexer) when the phase has user creates and the target can
// list, so each create is one request instead of lookups and a POST. The
// index is built at the start of every drain's create phase, never kept
// across drains: after a crash the resumed drain sees what the interrupted
// one created and adopts it. A target that cannot list, or a listing that
// fails, leaves ctx as it is and the creates look up one by one.
//
// A run that has listed the workspace already (drift reconcile on a full
// read) may pass that listing down as a targets.Index (targets.NewIndex,
// Add each account, targets.WithIndex on the drain's ctx): it is used as
// is and the workspace is not listed twice.
func (e *Engine) indexCreates(ctx context.Context, c *Connection, ops []state.Pending, log *slog.Logger) context.Context {
	ix, ok := c.Target.(targets.Indexer)
	if !ok || targets.IndexOf(ctx) != nil {
		return ctx
	}
	creates := 0
	for _, p := range ops {
		if p.Op.Kind == idsync.OpCreate {
			creates++
		}
	}
	if creates == 0 {
		return ctx
	}
	x, err := ix.IndexUsers(ctx, creates)
	if err != nil {
		log.Warn("could not list the workspace; each create looks its account up instead", "error", err)
		return ctx
	}
	if x != nil {
		log.Debug("workspace listed for creates", "accounts", x.Len(), "creates", creates)
	}
	return targets.WithIndex(ctx, x)
}
