package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/state"
)

// pull reads the source into the snapshot. inTx runs a function in the
// transaction a page goes to: its own per page for a real run, the one
// rolled-back transaction for a dry run. The cursor is saved, and a full
// read swept, only once the source has delivered everything; a pull that
// fails leaves the previous cursor in place and sweeps nothing.
func (e *Engine) pull(ctx context.Context, c *Connection, forceFull bool, inTx func(func(*state.Tx) error) error, log *slog.Logger) (full bool, err error) {
	var cursor string
	var gen int64
	start := func() error {
		return inTx(func(tx *state.Tx) error {
			cur, err := tx.Cursor(c.Name)
			if err != nil {
				return err
			}
			cursor = cur.Cursor
			gen, err = tx.NextGeneration(c.Name)
			return err
		})
	}
	if err := start(); err != nil {
		return false, err
	}
	if forceFull {
		cursor = ""
	}
	pages := 0
	emit := func(page []idsync.Change) error {
		pages++
		return inTx(func(tx *state.Tx) error { return tx.ApplyChanges(c.Name, gen, page) })
	}
	next, full, err := c.Source.Pull(ctx, cursor, emit)
	if errors.Is(err, sources.ErrCursorExpired) && cursor != "" {
		log.Warn("cursor expired; reading the whole directory again", "error", err)
		if err := start(); err != nil { // a fresh generation: the sweep must not count what the aborted pull touched
			return false, err
		}
		next, full, err = c.Source.Pull(ctx, "", emit)
	}
	if err != nil {
		return false, fmt.Errorf("pull from %s failed after %d pages; nothing planned, cursor kept: %w", c.idpName(), pages, err)
	}
	err = inTx(func(tx *state.Tx) error {
		if full {
			if err := tx.Sweep(c.Name, gen); err != nil {
				return err
			}
		}
		return tx.SaveCursor(c.Name, next, full)
	})
	if err != nil {
		return false, err
	}
	log.Debug("pulled", "pages", pages, "full", full)
	return full, nil
}
