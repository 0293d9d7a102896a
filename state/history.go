package state

import (
	"database/sql"
	"fmt"
)

// OpCount is how many events of one kind and result a run recorded.
type OpCount struct {
	RunID  int64  `json:"run_id"`
	Kind   string `json:"kind"`   // op kind, or "run", "reconcile"...
	Result string `json:"result"` // applied | failed | ...
	N      int    `json:"n"`
}

// RunOps counts the events of conn's runs with ids from first to last
// (inclusive) by run, kind and result, for the status page's chart.
func (tx *Tx) RunOps(conn string, first, last int64) ([]OpCount, error) {
	out, err := queryAll(tx, func(r *sql.Rows) (OpCount, error) {
		var c OpCount
		err := r.Scan(&c.RunID, &c.Kind, &c.Result, &c.N)
		return c, err
	}, `SELECT run_id, kind, result, COUNT(*) FROM events WHERE connection = ? AND run_id >= ? AND run_id <= ?
		GROUP BY run_id, kind, result ORDER BY run_id, kind, result`, conn, first, last)
	if err != nil {
		return nil, fmt.Errorf("state: count ops by run: %w", err)
	}
	return out, nil
}
