package sync

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/state"
)

// confirmUnseen runs between a completed full read of generation gen and
// its sweep. The sweep takes a user the read did not mention for deleted
// for good; a source that can look users up (sources.Confirmer) is asked
// about each of them first, and its answers go into the snapshot like a
// page of the read: a live user is stamped with gen (the sweep leaves it),
// a restorable one is soft-removed, only one the source says is gone is
// hard-removed. Every candidate must be answered, or the pull fails and
// nothing is swept. inTx is the pull's (dry runs included).
func confirmUnseen(ctx context.Context, c *Connection, gen int64, inTx func(func(*state.Tx) error) error, log *slog.Logger) error {
	cf, ok := c.Source.(sources.Confirmer)
	if !ok {
		return nil
	}
	var ids []string
	if err := inTx(func(tx *state.Tx) (err error) {
		ids, err = tx.UnseenUsers(c.Name, gen)
		return err
	}); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	pending := make(map[string]bool, len(ids))
	for _, id := range ids {
		pending[id] = true
	}
	var live, soft, gone int
	err := cf.Confirm(ctx, ids, func(page []idsync.Change) error {
		for _, ch := range page {
			var id string
			switch {
			case ch.Kind == idsync.ChangeUser && ch.User != nil:
				id = ch.User.ID
				live++
			case ch.Kind == idsync.ChangeUserRemoved && ch.Removal == idsync.RemovalSoft:
				id = ch.ID
				soft++
			case ch.Kind == idsync.ChangeUserRemoved && ch.Removal == idsync.RemovalHard:
				id = ch.ID
				gone++
			default:
				return fmt.Errorf("the source answered a confirmation with a %s change", ch.Kind)
			}
			if !pending[id] {
				return fmt.Errorf("the source confirmed user %q, which it was not asked about or already confirmed", id)
			}
			delete(pending, id)
		}
		return inTx(func(tx *state.Tx) error { return tx.ApplyChanges(c.Name, gen, page) })
	})
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		for id := range pending {
			return fmt.Errorf("the source did not say what became of %d of %d users, %s among them", len(pending), len(ids), id)
		}
	}
	log.Info("confirmed the users the full read did not mention", "users", len(ids), "live", live, "soft_deleted", soft, "deleted", gone)
	return nil
}
