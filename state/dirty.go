package state

import (
	"fmt"

	"github.com/idsync/idsync"
)

func (tx *Tx) markUser(conn, id string) error {
	_, err := tx.exec(`INSERT INTO dirty_users (connection, id) VALUES (?, ?) ON CONFLICT DO NOTHING`, conn, id)
	return err
}

func (tx *Tx) markGroup(conn, id string) error {
	_, err := tx.exec(`INSERT INTO dirty_groups (connection, id) VALUES (?, ?) ON CONFLICT DO NOTHING`, conn, id)
	return err
}

// markUsers marks ids (distinct, at most batchRows) dirty in one statement.
func (tx *Tx) markUsers(conn string, ids []string) error {
	return tx.markBatch(`dirty_users`, conn, ids)
}

// markGroups marks ids (distinct, at most batchRows) dirty in one statement.
func (tx *Tx) markGroups(conn string, ids []string) error {
	return tx.markBatch(`dirty_groups`, conn, ids)
}

func (tx *Tx) markBatch(table, conn string, ids []string) error {
	switch len(ids) {
	case 0:
		return nil
	case 1:
		_, err := tx.exec(`INSERT INTO `+table+` (connection, id) VALUES (?, ?) ON CONFLICT DO NOTHING`, conn, ids[0])
		return err
	}
	args := make([]any, 0, 2*len(ids))
	for _, id := range ids {
		args = append(args, conn, id)
	}
	return tx.execBatch(len(ids), `INSERT INTO `+table+` (connection, id) VALUES `+placeholders(len(ids), 2)+` ON CONFLICT DO NOTHING`, args...)
}

func (tx *Tx) markMember(conn, id, kind string) error {
	if kind == string(idsync.MemberGroup) {
		return tx.markGroup(conn, id)
	}
	return tx.markUser(conn, id)
}

// MarkUserDirty asks for the user to be evaluated again on the next run (a
// failed op is retried that way).
func (tx *Tx) MarkUserDirty(conn, id string) error {
	if err := tx.fenced(conn); err != nil {
		return err
	}
	if err := tx.markUser(conn, id); err != nil {
		return fmt.Errorf("state: mark dirty: %w", err)
	}
	return nil
}

// MarkGroupDirty asks for everyone below the group to be evaluated again.
func (tx *Tx) MarkGroupDirty(conn, id string) error {
	if err := tx.fenced(conn); err != nil {
		return err
	}
	if err := tx.markGroup(conn, id); err != nil {
		return fmt.Errorf("state: mark dirty: %w", err)
	}
	return nil
}

// Dirty returns the users and groups marked dirty.
func (tx *Tx) Dirty(conn string) (users, groups []string, err error) {
	// With leases, pushes at other daemons add marks meanwhile: see pushLock.
	if tx.store.fence != nil {
		if err := tx.pushLock(conn); err != nil {
			return nil, nil, err
		}
	}
	users, err = queryAll(tx, scanString, `SELECT id FROM dirty_users WHERE connection = ? ORDER BY id`, conn)
	if err != nil {
		return nil, nil, fmt.Errorf("state: read dirty users: %w", err)
	}
	groups, err = queryAll(tx, scanString, `SELECT id FROM dirty_groups WHERE connection = ? ORDER BY id`, conn)
	if err != nil {
		return nil, nil, fmt.Errorf("state: read dirty groups: %w", err)
	}
	return users, groups, nil
}

// ClearDirty unmarks the given users and groups (those a plan has covered);
// all=true clears everything of the connection (after a full evaluation).
func (tx *Tx) ClearDirty(conn string, users, groups []string, all bool) error {
	if err := tx.fenced(conn); err != nil {
		return err
	}
	if all {
		if _, err := tx.exec(`DELETE FROM dirty_users WHERE connection = ?`, conn); err != nil {
			return fmt.Errorf("state: clear dirty: %w", err)
		}
		_, err := tx.exec(`DELETE FROM dirty_groups WHERE connection = ?`, conn)
		return err
	}
	for _, id := range users {
		if _, err := tx.exec(`DELETE FROM dirty_users WHERE connection = ? AND id = ?`, conn, id); err != nil {
			return fmt.Errorf("state: clear dirty: %w", err)
		}
	}
	for _, id := range groups {
		if _, err := tx.exec(`DELETE FROM dirty_groups WHERE connection = ? AND id = ?`, conn, id); err != nil {
			return fmt.Errorf("state: clear dirty: %w", err)
		}
	}
	return nil
}
