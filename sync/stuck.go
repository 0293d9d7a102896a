package sync

import "time"

// StuckGrace is how long a run may go on past its deadline (run_timeout)
// before it counts as stuck: at the deadline it is ended through its
// context and the ops already sent finish (each bounded by the HTTP
// client's own timeouts), so a run still going this long after ignores
// cancellation for good (a bug, or a backend call without a context).
// The watchdog heartbeat stops then (Scheduler.Heartbeat): a restart is
// the only way to get that connection running again.
const StuckGrace = 5 * time.Minute

// inflightRun is a run inside guarded and its deadline.
type inflightRun struct {
	conn     string
	deadline time.Time
}

// inflight notes a run of conn that must end by deadline; the returned
// func forgets it.
func (e *Engine) inflight(conn string, deadline time.Time) func() {
	r := &inflightRun{conn: conn, deadline: deadline}
	e.mu.Lock()
	if e.running == nil {
		e.running = map[*inflightRun]struct{}{}
	}
	e.running[r] = struct{}{}
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		delete(e.running, r)
		e.mu.Unlock()
	}
}

// Stuck names a run still going more than grace after its deadline at now,
// and how long past the deadline it is.
func (e *Engine) Stuck(now time.Time, grace time.Duration) (conn string, late time.Duration, stuck bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for r := range e.running {
		if d := now.Sub(r.deadline); d > grace && d > late {
			conn, late, stuck = r.conn, d, true
		}
	}
	return conn, late, stuck
}
