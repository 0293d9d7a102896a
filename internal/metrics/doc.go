// Package metrics is idsync's Prometheus instrumentation: the metric
// definitions, in one place, and what feeds them. The daemon builds one
// Metrics and serves Handler on http.listen at /metrics.
//
// Sources, each read where it is cheapest:
//   - run results (Scheduler.OnResult → ObserveRun): runs by result, run
//     duration;
//   - the engine's counters (sync.Engine.Counters), read at scrape time:
//     ops by kind and result, skipped, stalled and panicked runs, triggers;
//   - the state database, read at scrape time: outbox, held plans, last
//     completed run, cursor age;
//   - every outbound request (an httppolicy.Observer): IdP and workspace
//     requests by status, 429s and the waits they asked for.
//
// Names follow Prometheus conventions: idsync_ prefix, _total for
// counters, _seconds for durations and ages, _timestamp_seconds for
// times. Labels carry connection names, backend types, op kinds and HTTP
// statuses only: never a user, a URL or a secret.
package metrics
