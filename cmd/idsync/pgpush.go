package main

import (
	"context"
	"errors"
)

// Pushes at any daemon (state/pushwrite.go). With a PostgreSQL state the
// IdP may push to, or notify, a daemon that does not hold the connection's
// lease: the write lands there, and the run is asked of the holder through
// PostgreSQL's NOTIFY; each daemon LISTENs and triggers the connections it
// holds. Sent after the write committed (the trigger comes after it, as on
// SQLite): should the daemon die in between, the dirty marks are in the
// database and the holder's next scheduled run plans them.

// routeTrigger is the trigger the listener's handlers use: local for a
// connection this daemon holds (or always, without leases), else a
// request to the holder. It also starts listening for the other daemons'
// requests, until ctx ends.
func (l *leaser) routeTrigger(ctx context.Context, local func(conn, reason string) bool) func(conn, reason string) bool {
	if l == nil {
		return local
	}
	go l.store.ListenRuns(ctx, nil, func(conn string) {
		if l.holds(conn) {
			local(conn, "pushed to another daemon")
		}
	})
	return func(conn, reason string) bool {
		if l.holds(conn) {
			return local(conn, reason)
		}
		if err := l.store.NotifyRun(ctx, conn); err != nil {
			if !errors.Is(err, context.Canceled) {
				l.log.Warn("could not ask the daemon holding the connection to run it; it runs on its schedule", "connection", conn, "error", err)
			}
			return false
		}
		return true
	}
}

// ownsFunc is whether this daemon holds a connection's lease (nil without
// leases: it holds every connection).
func (l *leaser) ownsFunc() func(conn string) bool {
	if l == nil {
		return nil
	}
	return l.holds
}
