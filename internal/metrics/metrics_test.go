package metrics_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/internal/httppolicy"
	"github.com/idsync/idsync/internal/metrics"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/sync"
)

// The scrape-time metrics come from a real state: a held plan, an outbox,
// a completed run and a saved cursor; the engine's counters; the run and
// request observations. testutil.GatherAndCompare checks the exposition.
func TestMetricsFromStateCountersAndObservations(t *testing.T) {
	ctx := context.Background()
	st, err := state.Open(ctx, filepath.Join(t.TempDir(), "idsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	err = st.Update(ctx, func(tx *state.Tx) error {
		id, err := tx.StartRun("acme", "incremental")
		if err != nil {
			return err
		}
		if err := tx.FinishRun(state.Run{ID: id, Result: state.RunOK}); err != nil {
			return err
		}
		if err := tx.SaveCursor("acme", "cursor", true); err != nil {
			return err
		}
		plan := idsync.Plan{Connection: "globex", Ops: []idsync.Op{{Kind: idsync.OpDelete, ObjectID: "u1"}, {Kind: idsync.OpDelete, ObjectID: "u2"}}}
		if err := tx.Hold("globex", id, "too many deletes", plan); err != nil {
			return err
		}
		_, err = tx.Enqueue("acme", id, []idsync.Op{{Kind: idsync.OpCreate, ObjectID: "u3"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(metrics.Sources{
		Store:       st,
		Connections: func() []string { return []string{"acme", "globex"} },
		Counters: func() map[string]sync.Counters {
			return map[string]sync.Counters{"acme": {Skipped: 2, Ops: map[sync.OpOutcome]uint64{{Kind: idsync.OpCreate, Result: "applied"}: 5}}}
		},
		Now: func() time.Time { return now.Add(time.Hour) },
	})
	m.ObserveRun(&sync.Result{Connection: "acme", Elapsed: 3 * time.Second}, nil)
	m.ObserveRun(&sync.Result{Connection: "globex", Held: "too many deletes"}, nil)
	m.ObserveRun(&sync.Result{Connection: "acme", DryRun: true}, nil) // not a run of the daemon's
	m.Observe(httppolicy.Exchange{Backend: "okta", Status: 429, Wait: 30 * time.Second})
	m.Observe(httppolicy.Exchange{Backend: "scim", Status: 0})

	want := `
# HELP idsync_held_plan 1 when the connection has a plan held by its safety limits, waiting for ` + "`idsync approve`" + `.
# TYPE idsync_held_plan gauge
idsync_held_plan{connection="acme"} 0
idsync_held_plan{connection="globex"} 1
# HELP idsync_held_plan_ops Ops in the connection's held plan (0 when none).
# TYPE idsync_held_plan_ops gauge
idsync_held_plan_ops{connection="acme"} 0
idsync_held_plan_ops{connection="globex"} 2
# HELP idsync_outbox_pending_ops Ops waiting in the outbox (planned, not yet applied).
# TYPE idsync_outbox_pending_ops gauge
idsync_outbox_pending_ops{connection="acme"} 1
idsync_outbox_pending_ops{connection="globex"} 0
# HELP idsync_ops_total Ops the apply phase finished, by connection, kind (create, update, role, disable, delete, group-…, member-…) and result (applied, failed).
# TYPE idsync_ops_total counter
idsync_ops_total{connection="acme",kind="create",result="applied"} 5
# HELP idsync_runs_skipped_total Scheduled ticks skipped because the connection's previous run was still going.
# TYPE idsync_runs_skipped_total counter
idsync_runs_skipped_total{connection="acme"} 2
# HELP idsync_idp_throttle_wait_seconds_total Waits the identity providers' 429 answers asked for (Retry-After, X-Rate-Limit-Reset), by source type.
# TYPE idsync_idp_throttle_wait_seconds_total counter
idsync_idp_throttle_wait_seconds_total{source="okta"} 30
# HELP idsync_workspace_requests_total Requests to workspaces by target type and HTTP status ("error": no answer).
# TYPE idsync_workspace_requests_total counter
idsync_workspace_requests_total{status="error",target="scim"} 1
# HELP idsync_runs_total Scheduled and triggered runs by connection and result (ok, partial, held, failed).
# TYPE idsync_runs_total counter
idsync_runs_total{connection="acme",result="failed"} 0
idsync_runs_total{connection="acme",result="held"} 0
idsync_runs_total{connection="acme",result="ok"} 1
idsync_runs_total{connection="acme",result="partial"} 0
idsync_runs_total{connection="globex",result="failed"} 0
idsync_runs_total{connection="globex",result="held"} 1
idsync_runs_total{connection="globex",result="ok"} 0
idsync_runs_total{connection="globex",result="partial"} 0
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"idsync_held_plan", "idsync_held_plan_ops", "idsync_outbox_pending_ops", "idsync_ops_total", "idsync_runs_skipped_total",
		"idsync_idp_throttle_wait_seconds_total", "idsync_workspace_requests_total", "idsync_runs_total"); err != nil {
		t.Fatal(err)
	}
	// Ages against the injected clock; the last success is the run's end.
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, mm := range mf.GetMetric() {
			if len(mm.GetLabel()) == 1 && mm.GetLabel()[0].GetValue() == "acme" && mm.GetGauge() != nil {
				got[mf.GetName()] = mm.GetGauge().GetValue()
			}
		}
	}
	for _, name := range []string{"idsync_cursor_age_seconds", "idsync_full_read_age_seconds"} {
		if got[name] < 3500 || got[name] > 3700 {
			t.Errorf("%s = %v, want about an hour", name, got[name])
		}
	}
	if ls := got["idsync_last_success_timestamp_seconds"]; ls < float64(now.Add(-time.Minute).Unix()) || ls > float64(now.Add(time.Minute).Unix()) {
		t.Errorf("last success %v, want about %d", ls, now.Unix())
	}
	if n := testutil.CollectAndCount(m.Registry(), "go_goroutines", "process_open_fds"); n != 2 {
		t.Errorf("runtime and process collectors: %d series, want 2", n)
	}
}
