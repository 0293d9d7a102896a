package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/idsync/idsync/state"
)

// The scrape-time metrics: read from the engine's counters and the state
// database when Prometheus asks, so they are never stale and cost nothing
// between scrapes.
var (
	descOps = prometheus.NewDesc("idsync_ops_total",
		"Ops the apply phase finished, by connection, kind (create, update, role, disable, delete, group-…, member-…) and result (applied, failed).",
		[]string{"connection", "kind", "result"}, nil)
	descSkipped = prometheus.NewDesc("idsync_runs_skipped_total",
		"Scheduled ticks skipped because the connection's previous run was still going.", []string{"connection"}, nil)
	descStalled = prometheus.NewDesc("idsync_runs_stalled_total",
		"Runs ended at their deadline (run_timeout).", []string{"connection"}, nil)
	descPanicked = prometheus.NewDesc("idsync_runs_panicked_total",
		"Runs failed by a recovered panic (a bug: please report it).", []string{"connection"}, nil)
	descTriggers = prometheus.NewDesc("idsync_triggers_total",
		"Run triggers (SCIM pushes, change notifications) received.", []string{"connection"}, nil)
	descTriggeredRuns = prometheus.NewDesc("idsync_triggered_runs_total",
		"Runs started by triggers (at most one per debounce window).", []string{"connection"}, nil)

	descOutbox = prometheus.NewDesc("idsync_outbox_pending_ops",
		"Ops waiting in the outbox (planned, not yet applied).", []string{"connection"}, nil)
	descHeld = prometheus.NewDesc("idsync_held_plan",
		"1 when the connection has a plan held by its safety limits, waiting for `idsync approve`.", []string{"connection"}, nil)
	descHeldOps = prometheus.NewDesc("idsync_held_plan_ops",
		"Ops in the connection's held plan (0 when none).", []string{"connection"}, nil)
	descLastSuccess = prometheus.NewDesc("idsync_last_success_timestamp_seconds",
		"When the connection's last completed run (ok or partial) finished, Unix time; absent before the first.", []string{"connection"}, nil)
	descCursorAge = prometheus.NewDesc("idsync_cursor_age_seconds",
		"Time since the connection's last completed pull saved its cursor (Entra delta tokens expire after 7 days); absent before the first.", []string{"connection"}, nil)
	descFullAge = prometheus.NewDesc("idsync_full_read_age_seconds",
		"Time since the connection's last complete read of the directory; absent before the first.", []string{"connection"}, nil)
)

// collector is the scrape-time part of Metrics.
type collector struct{ m *Metrics }

var _ prometheus.Collector = (*collector)(nil)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOps, descSkipped, descStalled, descPanicked, descTriggers, descTriggeredRuns,
		descOutbox, descHeld, descHeldOps, descLastSuccess, descCursorAge, descFullAge} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.counters(ch)
	c.state(ch)
}

func (c *collector) counters(ch chan<- prometheus.Metric) {
	if c.m.src.Counters == nil {
		return
	}
	for conn, n := range c.m.src.Counters() {
		for o, v := range n.Ops {
			ch <- prometheus.MustNewConstMetric(descOps, prometheus.CounterValue, float64(v), conn, string(o.Kind), o.Result)
		}
		for d, v := range map[*prometheus.Desc]uint64{descSkipped: n.Skipped, descStalled: n.Stalled, descPanicked: n.Panicked,
			descTriggers: n.Triggers, descTriggeredRuns: n.TriggeredRuns} {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), conn)
		}
	}
}

// state reads the outbox, held plans, runs and cursors of the configured
// connections in one read transaction (which never blocks the writer).
func (c *collector) state(ch chan<- prometheus.Metric) {
	src := c.m.src
	if src.Store == nil {
		return
	}
	ctx, cancel := c.m.context()
	defer cancel()
	now := src.Now()
	gauge := func(d *prometheus.Desc, v float64, conn string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, conn)
	}
	err := src.Store.View(ctx, func(tx *state.Tx) error {
		for _, conn := range src.Connections() {
			n, err := tx.OutboxLen(conn)
			if err != nil {
				return err
			}
			gauge(descOutbox, float64(n), conn)
			h, err := tx.Held(conn)
			if err != nil {
				return err
			}
			held, ops := 0.0, 0.0
			if h != nil {
				held, ops = 1, float64(len(h.Plan.Ops))
			}
			gauge(descHeld, held, conn)
			gauge(descHeldOps, ops, conn)
			last, err := tx.LastCompleted(conn)
			if err != nil {
				return err
			}
			if !last.IsZero() {
				gauge(descLastSuccess, float64(last.UnixNano())/1e9, conn)
			}
			cur, err := tx.Cursor(conn)
			if err != nil {
				return err
			}
			if !cur.UpdatedAt.IsZero() {
				gauge(descCursorAge, max(now.Sub(cur.UpdatedAt).Seconds(), 0), conn)
			}
			if !cur.FullAt.IsZero() {
				gauge(descFullAge, max(now.Sub(cur.FullAt).Seconds(), 0), conn)
			}
		}
		return nil
	})
	if err != nil {
		src.Log.Warn("metrics: reading the state failed; the state metrics are left out of this scrape", "error", err)
		ch <- prometheus.NewInvalidMetric(descOutbox, err)
	}
}
