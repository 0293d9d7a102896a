// Package notify turns the IdPs' change notifications into runs: Microsoft
// Graph change notifications (subscriptions on users and groups, owned and
// renewed by the daemon) and Okta event hooks. A notification is only a
// trigger: it asks the scheduler for a debounced incremental pull of its
// connection (sync.Scheduler.Trigger), and the pull reads the source's own
// delta link or System Log cursor. A lost, duplicated, forged or late
// notification therefore costs at most latency, never correctness; the
// schedule keeps running as the safety net.
//
// Endpoints, under the daemon's http.listen:
//
//	/notify/<connection>/graph            Graph notificationUrl
//	/notify/<connection>/graph/lifecycle  Graph lifecycleNotificationUrl
//	/notify/<connection>/okta             Okta event hook
//
// Requests are answered at once (Graph 202, Okta 204) and queued; a few
// workers check them (Graph clientState, in constant time, against the
// SHA-256 the state holds) and trigger. The queue is bounded: a flood is
// dropped (counted), never buffered without limit, and the scheduler makes
// at most one run per debounce window whatever comes.
package notify
