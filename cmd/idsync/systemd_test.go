package main

import (
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRunSummaryLine(t *testing.T) {
	var s runSummary
	s.setConnections([]string{"acme", "globex", "initech", "umbrella"})
	if got, want := s.record("acme", "ok"), "1 connection ok, 3 waiting: globex, initech, umbrella"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
	s.record("globex", "ok")
	s.record("initech", "ok")
	if got, want := s.record("umbrella", "held"), "3 connections ok, 1 held: umbrella"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
	if got, want := s.record("acme", "failed"), "2 connections ok, 1 failed: acme, 1 held: umbrella"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
	// A reload that drops connections drops them from the line.
	s.setConnections([]string{"acme", "initech"})
	if got, want := s.record("initech", "partial"), "0 connections ok, 1 failed: acme, 1 partial: initech"; got != want {
		t.Errorf("line after reload = %q, want %q", got, want)
	}
}

// The watchdog is pinged at half of WATCHDOG_USEC, and only by the process
// WATCHDOG_PID names (a child of the service must not keep it alive).
func TestWatchdogInterval(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	t.Setenv("WATCHDOG_USEC", "30000000")
	t.Setenv("WATCHDOG_PID", "")
	if got := watchdogInterval(log); got != 15*time.Second {
		t.Errorf("interval = %s, want 15s", got)
	}
	t.Setenv("WATCHDOG_PID", "1")
	if got := watchdogInterval(log); got != 0 {
		t.Errorf("interval with another process's WATCHDOG_PID = %s, want 0", got)
	}
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	if got := watchdogInterval(log); got != 15*time.Second {
		t.Errorf("interval with our WATCHDOG_PID = %s, want 15s", got)
	}
	t.Setenv("WATCHDOG_USEC", "")
	if got := watchdogInterval(log); got != 0 {
		t.Errorf("interval without WATCHDOG_USEC = %s, want 0", got)
	}
}

// The README shows the unit the package ships, as it is.
func TestReadmeShowsTheShippedUnit(t *testing.T) {
	unit, err := os.ReadFile("../../deploy/idsync.service")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```ini\n"+string(unit)+"```\n") {
		t.Fatal("README.md does not show deploy/idsync.service as it is: copy the file into the ```ini block of \"Running as a service\"")
	}
}
