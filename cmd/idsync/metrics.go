package main

import (
	"github.com/idsync/idsync/internal/httppolicy"
	"github.com/idsync/idsync/internal/metrics"
)

// daemonMetrics builds the daemon's Prometheus metrics on a's store and
// engine (a reload keeps both) and makes them the observer of every
// outbound request; cur returns the configuration running now, whose
// connections the scrape-time metrics cover. Served at /metrics.
func daemonMetrics(a *app, cur func() *app) *metrics.Metrics {
	m := metrics.New(metrics.Sources{
		Store:       a.store,
		Counters:    a.engine.Counters,
		Connections: func() []string { return connNames(cur()) },
		Log:         a.log,
	})
	httppolicy.SetObserver(m)
	return m
}
