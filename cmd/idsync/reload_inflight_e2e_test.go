package main

import (
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
)

// A reload while a run applies its plan: a broken file is refused with
// every one of its problems and changes nothing; a good file that changes
// the connection takes effect at once (the reload does not wait for the
// run), but the run in flight is neither cut nor switched: it applies its
// whole plan under the configuration it started with, and the runs after
// it use the new one.
func TestReloadLetsTheRunInFlightFinishUnderTheOldConfig(t *testing.T) {
	e := newE2E(t, "    schedule: \"@every 1s\"\n")
	stalled, release := stallFirst(e.ws, "POST")
	defer release()
	d := e.startDaemon()
	await(t, "the first create of the first run", stalled)

	old, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	// Two problems at once: both are reported, the file is not taken.
	broken := strings.Replace(string(old), "    schedule: \"@every 1s\"\n", "    schedule: \"every now and then\"\n    colour: blue\n", 1)
	if err := os.WriteFile(e.config, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the refused reload", func() bool { return strings.Contains(d.log.String(), "reload failed") })
	if log := d.log.String(); !strings.Contains(log, "connections[0].schedule") || !strings.Contains(log, "connections[0].colour") {
		t.Fatalf("the refused reload does not name both problems:\n%s", tail(log))
	}

	// Users no rule matches get writer instead of reader from now on.
	changed := strings.Replace(string(old), "      default: reader\n", "      default: writer\n", 1)
	if changed == string(old) {
		t.Fatal("the test config has no default role to change")
	}
	if err := os.WriteFile(e.config, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload, while the run is held in its first create", func() bool {
		return strings.Contains(d.log.String(), "configuration reloaded")
	})
	release()

	waitFor(t, "the default role of the new configuration", func() bool {
		n := 0
		for _, u := range e.ws.Users() {
			if u.Role() == "writer" {
				n++
			}
		}
		return len(e.ws.Users()) == 11 && n == 9 // 7 by default, 2 by the Whale Writers rule
	})
	// Every user was created once, by the run in flight, with the old
	// default; the new one came after, as role changes.
	creates, readers := 0, 0
	for _, r := range e.ws.Requests() {
		if r.Method != "POST" || r.Path != "/Users" {
			continue
		}
		creates++
		if strings.Contains(string(r.Body), `"reader"`) {
			readers++
		}
	}
	if creates != 11 || readers != 7 {
		t.Fatalf("%d creates, %d with role reader; want 11 and 7 (the plan made before the reload)", creates, readers)
	}
	// And the run in flight applied its whole plan: the 11 creates are
	// one run's, and nothing was cut.
	r := e.must([]string{"log", "--output", "json"})
	var out struct {
		Events []struct {
			RunID  int64  `json:"run_id"`
			Kind   string `json:"kind"`
			Result string `json:"result"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("log --output json: %v\n%s", err, r.stdout)
	}
	runs := map[int64]int{}
	for _, ev := range out.Events {
		if ev.Kind == "create" && ev.Result == "applied" {
			runs[ev.RunID]++
		}
		if ev.Kind == "run" {
			t.Errorf("a run was cut short: %+v", ev)
		}
	}
	if len(runs) != 1 || runs[1] != 11 {
		t.Fatalf("creates applied by run: %v; want all 11 by run 1, the one in flight during the reload\n%s", runs, r.stdout)
	}
}
