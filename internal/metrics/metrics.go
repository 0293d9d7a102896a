package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/idsync/idsync/internal/httppolicy"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/sync"
)

// Run results, as the runs table records them (state.Run*).
var runResults = []string{state.RunOK, state.RunPartial, state.RunHeld, state.RunFailed}

// Sources is what the scrape-time collector reads.
type Sources struct {
	Store *state.Store
	// Connections names the connections configured now (a reload changes
	// them).
	Connections func() []string
	// Counters is sync.Engine.Counters.
	Counters func() map[string]sync.Counters
	Log      *slog.Logger
	// Now is the clock for ages (time.Now when nil).
	Now func() time.Time
}

// Metrics holds idsync's metrics and their registry.
type Metrics struct {
	reg *prometheus.Registry
	src Sources

	runs        *prometheus.CounterVec
	runDuration *prometheus.HistogramVec

	idpRequests     *prometheus.CounterVec
	idpThrottled    *prometheus.CounterVec
	idpWait         *prometheus.CounterVec
	targetRequests  *prometheus.CounterVec
	targetThrottled *prometheus.CounterVec
	targetWait      *prometheus.CounterVec
	unknownRequests *prometheus.CounterVec
}

var _ httppolicy.Observer = (*Metrics)(nil)

// New registers every metric (the Go runtime and process collectors
// included) on a registry of its own.
func New(src Sources) *Metrics {
	if src.Now == nil {
		src.Now = time.Now
	}
	if src.Log == nil {
		src.Log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{reg: prometheus.NewRegistry(), src: src}
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "idsync_runs_total",
		Help: "Scheduled and triggered runs by connection and result (ok, partial, held, failed).",
	}, []string{"connection", "result"})
	m.runDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "idsync_run_duration_seconds",
		Help:    "How long runs took, pull to last op recorded.",
		Buckets: []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
	}, []string{"connection"})
	m.idpRequests = counter("idsync_idp_requests_total", "Requests to identity providers by source type and HTTP status (\"error\": no answer).", "source", "status")
	m.idpThrottled = counter("idsync_idp_throttled_total", "429 answers from identity providers by source type.", "source")
	m.idpWait = counter("idsync_idp_throttle_wait_seconds_total", "Waits the identity providers' 429 answers asked for (Retry-After, X-Rate-Limit-Reset), by source type.", "source")
	m.targetRequests = counter("idsync_workspace_requests_total", "Requests to workspaces by target type and HTTP status (\"error\": no answer).", "target", "status")
	m.targetThrottled = counter("idsync_workspace_throttled_total", "429 answers from workspaces by target type.", "target")
	m.targetWait = counter("idsync_workspace_throttle_wait_seconds_total", "Waits the workspaces' 429 answers asked for (Retry-After), by target type.", "target")
	m.unknownRequests = counter("idsync_other_requests_total", "Requests by a backend idsync does not classify, by backend and HTTP status.", "backend", "status")
	m.reg.MustRegister(m.runs, m.runDuration,
		m.idpRequests, m.idpThrottled, m.idpWait, m.targetRequests, m.targetThrottled, m.targetWait, m.unknownRequests,
		&collector{m: m},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
	)
	m.Connections(src.Connections())
	return m
}

func counter(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

// Handler serves the registry in the Prometheus exposition format. A
// collector that fails (the state unreadable) is logged and left out;
// the rest is still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(m.src.Log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// Registry is the registry behind Handler (tests, extra collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Connections creates the run series of each connection at zero, so that
// rate() and increase() see a connection's first run (a series that
// appears at 1 has no increase). Call it at start and after a reload.
func (m *Metrics) Connections(names []string) {
	for _, c := range names {
		for _, r := range runResults {
			m.runs.WithLabelValues(c, r)
		}
	}
}

// ObserveRun records one finished run (Scheduler.OnResult).
func (m *Metrics) ObserveRun(res *sync.Result, err error) {
	if res == nil || res.DryRun {
		return
	}
	m.runs.WithLabelValues(res.Connection, RunResult(res, err)).Inc()
	if res.Elapsed > 0 {
		m.runDuration.WithLabelValues(res.Connection).Observe(res.Elapsed.Seconds())
	}
}

// RunResult is how a run ended, in the words of the runs table.
func RunResult(res *sync.Result, err error) string {
	switch {
	case err != nil:
		return state.RunFailed
	case res.Held != "":
		return state.RunHeld
	case res.Failed > 0:
		return state.RunPartial
	}
	return state.RunOK
}

// Observe counts one outbound request (httppolicy.Observer).
func (m *Metrics) Observe(x httppolicy.Exchange) {
	status := "error"
	if x.Status > 0 {
		status = strconv.Itoa(x.Status)
	}
	switch x.Backend {
	case "entra", "okta":
		m.idpRequests.WithLabelValues(x.Backend, status).Inc()
		if x.Status == http.StatusTooManyRequests {
			m.idpThrottled.WithLabelValues(x.Backend).Inc()
			m.idpWait.WithLabelValues(x.Backend).Add(x.Wait.Seconds())
		}
	case "scim", "webhook":
		m.targetRequests.WithLabelValues(x.Backend, status).Inc()
		if x.Status == http.StatusTooManyRequests {
			m.targetThrottled.WithLabelValues(x.Backend).Inc()
			m.targetWait.WithLabelValues(x.Backend).Add(x.Wait.Seconds())
		}
	default:
		m.unknownRequests.WithLabelValues(x.Backend, status).Inc()
	}
}

// scrapeTimeout bounds the state queries of one scrape.
const scrapeTimeout = 10 * time.Second

func (m *Metrics) context() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), scrapeTimeout)
}
