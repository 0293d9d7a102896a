package state

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// LastCompleted is when the connection's last run that went through to the
// end (RunOK, or RunPartial: applied, with failures retried later) finished;
// zero when none did. A run held, failed or interrupted does not count.
func (tx *Tx) LastCompleted(conn string) (time.Time, error) {
	var at string
	err := tx.tx.QueryRowContext(tx.ctx, `SELECT finished_at FROM runs WHERE connection = ? AND result IN (?, ?)
		ORDER BY id DESC LIMIT 1`, conn, RunOK, RunPartial).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("state: read last completed run: %w", err)
	}
	return parseTime(at), nil
}
