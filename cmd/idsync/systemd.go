package main

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	stdsync "sync"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"github.com/idsync/idsync/sync"
)

// sdNotify tells systemd (Type=notify, NOTIFY_SOCKET) about the daemon's
// state; outside systemd it does nothing. A failure to send is only worth
// a debug line: the service manager is then not listening anyway.
func sdNotify(log *slog.Logger, state string) {
	if _, err := sd.SdNotify(false, state); err != nil {
		log.Debug("sd_notify failed", "state", strings.SplitN(state, "\n", 2)[0], "error", err)
	}
}

// sdReloading is RELOADING=1 with the CLOCK_MONOTONIC time systemd
// (Type=notify-reload) matches against the reload it asked for.
func sdReloading() string {
	return strings.TrimSuffix(sd.SdNotifyReloading+"\n"+sd.SdNotifyMonotonicUsec(), "\n")
}

// watchdogInterval is how often to ping systemd's watchdog: half of
// WatchdogSec (WATCHDOG_USEC, when WATCHDOG_PID is unset or ours), 0 when
// the watchdog is off.
func watchdogInterval(log *slog.Logger) time.Duration {
	d, err := sd.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("systemd watchdog settings unreadable; not pinging it", "error", err)
		return 0
	}
	return d / 2
}

// startWatchdog pings systemd's watchdog from s's own cron loop (see
// sync.Scheduler.Heartbeat): while that loop can dispatch, the pings come;
// a hung scheduler stops them and systemd restarts idsync. Each scheduler
// (a reload starts a new one) carries its own heartbeat.
func startWatchdog(s *sync.Scheduler, interval time.Duration, log *slog.Logger) {
	if interval <= 0 {
		return
	}
	s.Heartbeat(interval, func() { sdNotify(log, sd.SdNotifyWatchdog) })
}

// runSummary keeps how each connection's last run ended, for the STATUS=
// line systemctl status shows ("3 connections ok, 1 held: acme").
type runSummary struct {
	mu    stdsync.Mutex
	conns []string
	last  map[string]string // connection → state.Run* result
}

// setConnections makes names the connections summarised (at start and
// after a reload), keeping what is known of those that stay.
func (s *runSummary) setConnections(names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns = slices.Clone(names)
	if s.last == nil {
		s.last = map[string]string{}
	}
	for c := range s.last {
		if !slices.Contains(names, c) {
			delete(s.last, c)
		}
	}
}

// record notes how conn's run ended and returns the summary line.
func (s *runSummary) record(conn, result string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		s.last = map[string]string{}
	}
	s.last[conn] = result
	return s.line()
}

// summaryOrder is the order of the non-ok groups on the line: what needs
// an operator first.
var summaryOrder = []string{"failed", "held", "partial", "waiting"}

func (s *runSummary) line() string {
	by := map[string][]string{}
	for _, c := range s.conns {
		r, ok := s.last[c]
		if !ok {
			r = "waiting" // no run finished since the daemon started
		}
		by[r] = append(by[r], c)
	}
	ok := len(by["ok"])
	parts := []string{plural(ok, "connection") + " ok"}
	for _, r := range summaryOrder {
		if cs := by[r]; len(cs) > 0 {
			parts = append(parts, fmt.Sprintf("%d %s: %s", len(cs), r, strings.Join(cs, ", ")))
		}
	}
	return strings.Join(parts, ", ")
}
