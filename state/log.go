package state

import (
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Run results.
const (
	RunRunning = "running"
	RunOK      = "ok"
	RunFailed  = "failed"  // the run stopped on an error (pull failed, target refused credentials...)
	RunHeld    = "held"    // safety limits held the plan
	RunPartial = "partial" // applied, but some ops failed and will be retried
	// RunInterrupted: the process running it stopped (killed, crashed, power
	// lost) before the run ended; the next writer closes it so.
	RunInterrupted = "interrupted"
)

// Run is one engine run of one connection.
type Run struct {
	ID         int64     `json:"id"`
	Connection string    `json:"connection"`
	Kind       string    `json:"kind"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Result     string    `json:"result"`
	Error      string    `json:"error,omitempty"`
	Planned    int       `json:"planned"`
	Applied    int       `json:"applied"`
	Failed     int       `json:"failed"`
}

// StartRun records the start of a run and returns its id.
func (tx *Tx) StartRun(conn, kind string) (int64, error) {
	// Fenced: a run of a connection this daemon lost would stay "running".
	if err := tx.fenced(conn); err != nil {
		return 0, err
	}
	// RETURNING, not LastInsertId: PostgreSQL's driver has none.
	var id int64
	if err := tx.tx.QueryRowContext(tx.ctx, `INSERT INTO runs (connection, kind, started_at) VALUES (?, ?, ?) RETURNING id`,
		conn, kind, tx.now()).Scan(&id); err != nil {
		return 0, fmt.Errorf("state: record run: %w", err)
	}
	return id, nil
}

// FinishRun records how run id ended.
func (tx *Tx) FinishRun(r Run) error {
	if _, err := tx.exec(`UPDATE runs SET finished_at = ?, result = ?, error = ?, planned = ?, applied = ?, failed = ? WHERE id = ?`,
		tx.now(), r.Result, r.Error, r.Planned, r.Applied, r.Failed, r.ID); err != nil {
		return fmt.Errorf("state: record run end: %w", err)
	}
	return nil
}

// CloseInterrupted marks every run still recorded as running as
// interrupted, with an event in the provisioning log for each, and returns
// them. Only the holder of the state's Lock may call it, right after taking
// the lock: then no run can still be going.
func (tx *Tx) CloseInterrupted() ([]Run, error) { return tx.closeInterrupted("") }

// CloseInterruptedOf is CloseInterrupted for one connection: a daemon that
// takes a connection's lease over closes the runs its previous holder left
// (several daemons share a PostgreSQL state; the others' runs go on).
func (tx *Tx) CloseInterruptedOf(conn string) ([]Run, error) { return tx.closeInterrupted(conn) }

func (tx *Tx) closeInterrupted(conn string) ([]Run, error) {
	q, args := `SELECT id, connection, kind, started_at FROM runs WHERE result = ?`, []any{RunRunning}
	if conn != "" {
		q, args = q+` AND connection = ?`, append(args, conn)
	}
	runs, err := queryAll(tx, func(r *sql.Rows) (Run, error) {
		var run Run
		var started string
		err := r.Scan(&run.ID, &run.Connection, &run.Kind, &started)
		run.StartedAt = parseTime(started)
		return run, err
	}, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("state: read unfinished runs: %w", err)
	}
	const why = "the process running it stopped before it ended (killed or crashed); ops it left in the outbox are applied by the next run"
	for i := range runs {
		r := &runs[i]
		r.Result, r.Error = RunInterrupted, why
		if _, err := tx.exec(`UPDATE runs SET finished_at = ?, result = ?, error = ? WHERE id = ?`, tx.now(), r.Result, r.Error, r.ID); err != nil {
			return nil, fmt.Errorf("state: close interrupted run: %w", err)
		}
		if err := tx.AddEvent(Event{RunID: r.ID, Connection: r.Connection, Kind: "run", Result: RunInterrupted,
			Detail: fmt.Sprintf("%s run #%d %s", r.Kind, r.ID, why)}); err != nil {
			return nil, err
		}
	}
	return runs, nil
}

// Event is one op outcome in the provisioning log.
type Event struct {
	ID         int64     `json:"id"`
	RunID      int64     `json:"run_id"`
	Connection string    `json:"connection"`
	At         time.Time `json:"at"`
	Kind       string    `json:"kind"`
	ObjectID   string    `json:"object_id"`
	Name       string    `json:"name"`
	Result     string    `json:"result"` // applied | failed; for kind "run": interrupted
	Detail     string    `json:"detail,omitempty"`
}

// AddEvent appends e to the provisioning log.
func (tx *Tx) AddEvent(e Event) error {
	if _, err := tx.exec(`INSERT INTO events (run_id, connection, at, kind, object_id, name, result, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.RunID, e.Connection, tx.now(), e.Kind, e.ObjectID, e.Name, e.Result, e.Detail); err != nil {
		return fmt.Errorf("state: record event: %w", err)
	}
	return nil
}

// Filter narrows Runs and Events. Zero fields match everything.
type Filter struct {
	Connection string
	User       string // IdP id or name (events only)
	Kind       string // event kind (events only), e.g. "reconcile"
	Since      time.Time
	Limit      int
}

func (f Filter) where(timeCol string, user bool) (string, []any) {
	var conds []string
	var args []any
	if f.Connection != "" {
		conds = append(conds, "connection = ?")
		args = append(args, f.Connection)
	}
	if user && f.User != "" {
		conds = append(conds, "(object_id = ? OR LOWER(name) = LOWER(?))")
		args = append(args, f.User, f.User)
	}
	if user && f.Kind != "" {
		conds = append(conds, "kind = ?")
		args = append(args, f.Kind)
	}
	if !f.Since.IsZero() {
		conds = append(conds, timeCol+" >= ?")
		args = append(args, f.Since.UTC().Format(time.RFC3339Nano))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func limit(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(" LIMIT %d", n)
}

// fmtTime is how times are stored: UTC RFC 3339 with nanoseconds, "" for
// the zero time.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// Runs returns matching runs, newest first.
func (tx *Tx) Runs(f Filter) ([]Run, error) {
	where, args := f.where("started_at", false)
	out, err := queryAll(tx, func(r *sql.Rows) (Run, error) {
		var run Run
		var started, finished string
		err := r.Scan(&run.ID, &run.Connection, &run.Kind, &started, &finished, &run.Result, &run.Error, &run.Planned, &run.Applied, &run.Failed)
		run.StartedAt, run.FinishedAt = parseTime(started), parseTime(finished)
		return run, err
	}, `SELECT id, connection, kind, started_at, finished_at, result, error, planned, applied, failed FROM runs`+where+` ORDER BY id DESC`+limit(f.Limit), args...)
	if err != nil {
		return nil, fmt.Errorf("state: read runs: %w", err)
	}
	return out, nil
}

// Events returns matching events, oldest first (the last Limit of them).
func (tx *Tx) Events(f Filter) ([]Event, error) {
	where, args := f.where("at", true)
	out, err := queryAll(tx, func(r *sql.Rows) (Event, error) {
		var e Event
		var at string
		err := r.Scan(&e.ID, &e.RunID, &e.Connection, &at, &e.Kind, &e.ObjectID, &e.Name, &e.Result, &e.Detail)
		e.At = parseTime(at)
		return e, err
	}, `SELECT id, run_id, connection, at, kind, object_id, name, result, detail FROM events`+where+` ORDER BY id DESC`+limit(f.Limit), args...)
	if err != nil {
		return nil, fmt.Errorf("state: read events: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// RunFailures counts the ops run runID recorded as failed so far (not a
// failed listing of the workspace, kind "reconcile").
func (tx *Tx) RunFailures(runID int64) (int, error) {
	var n int
	if err := tx.tx.QueryRowContext(tx.ctx, `SELECT COUNT(*) FROM events WHERE run_id = ? AND result = 'failed' AND kind <> 'reconcile'`, runID).Scan(&n); err != nil {
		return 0, fmt.Errorf("state: count failed ops: %w", err)
	}
	return n, nil
}
