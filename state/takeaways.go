package state

import (
	"fmt"
	"time"
)

// RecentTakeAways counts the user disables and deletes and the group
// deletes applied to conn's workspace since since, after the connection's
// latest approved plan (what an operator approved is not counted again).
// A push connection's safety limit adds them to each plan's: the IdP sends
// a mass removal one user per request, and each triggered run would
// otherwise see only a few.
func (tx *Tx) RecentTakeAways(conn string, since time.Time) (users, groups int, err error) {
	err = tx.tx.QueryRowContext(tx.ctx, `SELECT
		COALESCE(SUM(CASE WHEN kind IN ('disable', 'delete') THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN kind = 'group-delete' THEN 1 ELSE 0 END), 0)
		FROM events WHERE connection = ? AND result = 'applied' AND at >= ?
		AND run_id > COALESCE((SELECT MAX(id) FROM runs WHERE connection = ? AND kind = 'approve'), 0)`,
		conn, since.UTC().Format(time.RFC3339Nano), conn).Scan(&users, &groups)
	if err != nil {
		return 0, 0, fmt.Errorf("state: count recent deletes and disables: %w", err)
	}
	return users, groups, nil
}
