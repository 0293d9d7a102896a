package main

import (
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/state"
)

func TestStatusHealth(t *testing.T) {
	at := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
	run := func(result string) state.Run { return state.Run{Result: result, StartedAt: at, Failed: 2} }
	for _, tc := range []struct {
		runs      []state.Run
		held      bool
		old       bool
		label     string
		class, in string
	}{
		{nil, false, false, "never run", "none", "no run"},
		{[]state.Run{run("ok")}, true, false, "held", "warn", "waits for approval"},
		{[]state.Run{run("failed"), run("interrupted"), run("ok")}, false, false, "failing", "bad", "last 2 run(s) failed"},
		{[]state.Run{run("running"), run("failed"), run("ok")}, false, false, "failing", "bad", "last 1 run(s)"},
		{[]state.Run{run("partial")}, false, false, "degraded", "warn", "2 ops failed"},
		{[]state.Run{run("running")}, false, false, "running", "ok", "first run"},
		{[]state.Run{run("ok")}, false, true, "stale", "warn", "7"},
		{[]state.Run{run("ok"), run("failed")}, false, false, "healthy", "ok", "ended ok"},
	} {
		var held *state.HeldPlan
		if tc.held {
			held = &state.HeldPlan{HeldAt: at}
		}
		label, class, why := health(tc.runs, held, tc.old)
		if label != tc.label || class != tc.class || !strings.Contains(why, tc.in) {
			t.Errorf("health(%v, held %v, old %v) = %q %q %q", tc.runs, tc.held, tc.old, label, class, why)
		}
	}
}

func TestStatusNextRun(t *testing.T) {
	now := time.Now()
	last := []state.Run{{StartedAt: now.Add(-2 * time.Minute)}}
	if got := nextRunText("@every 5m", last, now); !strings.Contains(got, "(in 3m0s)") {
		t.Errorf("@every 5m, last run 2m ago: %q", got)
	}
	if got := nextRunText("@every 5m", []state.Run{{StartedAt: now.Add(-6 * time.Minute)}}, now); got != "due now" {
		t.Errorf("@every 5m, last run 6m ago: %q", got)
	}
	if got := nextRunText("@hourly", last, now); !strings.Contains(got, "(in ") {
		t.Errorf("@hourly: %q", got)
	}
}

func TestShellQuoteAndOpenPaths(t *testing.T) {
	for in, want := range map[string]string{"/etc/idsync/idsync.yaml": "/etc/idsync/idsync.yaml", "/srv/my conf/x.yaml": "'/srv/my conf/x.yaml'", "/a/it's": `'/a/it'\''s'`} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
	for p, open := range map[string]bool{"/healthz": true, "/readyz": true, "/scim/v2/acme/Users": true, "/": false, "/metrics": false, "/healthzx": false, "/scim": false} {
		if isOpenPath(p) != open {
			t.Errorf("isOpenPath(%q) = %v", p, !open)
		}
	}
	for l, lo := range map[string]bool{"127.0.0.1:8080": true, "[::1]:80": true, "localhost:1": true, ":8080": false, "0.0.0.0:1": false, "10.1.2.3:80": false} {
		if loopbackListen(l) != lo {
			t.Errorf("loopbackListen(%q) = %v", l, !lo)
		}
	}
}
