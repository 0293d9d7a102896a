package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	stdsync "sync"
	"testing"

	"github.com/idsync/idsync/sources/entra/entratest"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// TestForwardedCommandsMatchInProcess: two identical setups, one with the
// daemon running (sync and approve are carried out by it over the control
// socket) and one without (they run in-process). Every command prints the
// same and exits with the same status in both.
func TestForwardedCommandsMatchInProcess(t *testing.T) {
	const extra = "    schedule: \"@every 1h\"\n"
	a, b := newE2E(t, extra), newE2E(t, extra) // a: beside the daemon
	sock := filepath.Join(a.dir, "idsync.db.sock")
	if err := os.WriteFile(sock, []byte("left by a daemon that crashed"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := a.startDaemon()
	waitFor(t, "the daemon's first run", func() bool { return len(a.ws.Users()) == 11 })
	b.must([]string{"sync"})

	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket: %v, mode %v", err, fi.Mode())
	}
	if r := a.idsync("run"); r.code != exitError || !strings.Contains(r.stderr, fmt.Sprintf("in use by `idsync run` (pid %d, since ", d.cmd.Process.Pid)) {
		t.Fatalf("a second daemon: exit %d\n%s", r.code, r.stderr)
	}

	hire := func(e *e2e) {
		id := e.tenant.AddUser(entratest.User{UserPrincipalName: "quinn.quade@contoso.test", GivenName: "Quinn", Surname: "Quade", AccountEnabled: true})
		e.tenant.AddMember(e.sample.Groups["Sales"], id)
	}
	leave := func(e *e2e) { // 3 of 12 losing access: over the 10% limit
		for _, n := range []string{"dave.diaz", "erin.evans", "oscar.olsen"} {
			e.tenant.DisableUser(e.user(n))
		}
	}
	steps := []struct {
		name   string
		change func(*e2e)
		args   []string
		code   int
	}{
		{"nothing to do", nil, []string{"sync", "--detailed-exitcode"}, exitOK},
		{"a hire", hire, []string{"sync", "--detailed-exitcode"}, exitChanges},
		{"held", leave, []string{"sync", "contoso", "--detailed-exitcode"}, exitHeld},
		{"approve", nil, []string{"approve", "contoso"}, exitOK},
		{"nothing to approve", nil, []string{"approve", "contoso"}, exitError},
		{"unknown connection", nil, []string{"sync", "nosuch"}, exitError},
		{"a rename, as json", func(e *e2e) {
			e.tenant.UpdateUser(e.user("bob.baker"), func(u *entratest.User) { u.Surname = "Bakker" })
		}, []string{"sync", "--output", "json", "--full"}, exitOK},
	}
	// The daemon has its own run numbers, and each workspace numbers its
	// accounts in the order concurrent creates reached it (so plan ids,
	// which digest the workspace ids of disables, differ too).
	planID := regexp.MustCompile(`\b[0-9a-f]{12}\b`)
	runID := func(s string) string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if !strings.Contains(l, `"run_id"`) && !strings.Contains(l, `"targetId"`) {
				out = append(out, planID.ReplaceAllString(l, "<plan id>"))
			}
		}
		return strings.Join(out, "\n")
	}
	for _, s := range steps {
		if s.change != nil {
			s.change(a)
			s.change(b)
		}
		ra, rb := a.idsync(s.args...), b.idsync(s.args...)
		if ra.code != s.code || rb.code != s.code || runID(ra.stdout) != runID(rb.stdout) || ra.stderr != rb.stderr {
			t.Fatalf("%s: idsync %s\nby the daemon: exit %d\n%s%s\nin-process: exit %d\n%s%s", s.name, strings.Join(s.args, " "),
				ra.code, ra.stdout, ra.stderr, rb.code, rb.stdout, rb.stderr)
		}
	}
	if n := strings.Count(d.log.String(), "carrying out a command sent to the control socket"); n != len(steps) {
		t.Fatalf("the daemon carried out %d commands, want %d:\n%s", n, len(steps), d.log.String())
	}

	// Only sync and approve are carried out by the daemon.
	for _, argv := range [][]string{{"status"}, {"--config", a.config, "run"}, {"config", "check"}, {}} {
		var out, errb bytes.Buffer
		code, err := forward(context.Background(), sock, &globals{argv: argv, stdout: &out, stderr: &errb}, nil)
		if err != nil || code != exitError || !strings.Contains(errb.String(), "carries out only sync, approve, notify off|on|register and token create|revoke") {
			t.Fatalf("forwarding %q: exit %d, %v\n%s%s", argv, code, err, out.String(), errb.String())
		}
	}

	if err := d.stop(); err != nil {
		t.Fatalf("daemon: %v\n%s", err, d.log.String())
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("the control socket outlived the daemon: %v", err)
	}
}

// TestForwardedSyncCancelledWithTheCLI: Ctrl-C on a sync the daemon carries
// out cancels the daemon's run (after the op in flight); a later sync
// finishes the job, nothing applied twice.
func TestForwardedSyncCancelledWithTheCLI(t *testing.T) {
	e := newE2E(t, "    schedule: \"@every 1h\"\n")
	d := e.startDaemon()
	waitFor(t, "the daemon's first run", func() bool { return len(e.ws.Users()) == 11 })
	const hires = 12 // more than the workspace's concurrency: some ops are not started when the run is cancelled
	for i := range hires {
		id := e.tenant.AddUser(entratest.User{UserPrincipalName: fmt.Sprintf("hire%d@contoso.test", i), GivenName: "New", Surname: "Hire", AccountEnabled: true})
		e.tenant.AddMember(e.sample.Groups["Sales"], id)
	}
	// Every create waits until release: the run is cancelled while they do.
	stalled, free := make(chan struct{}), make(chan struct{})
	var once, freeOnce stdsync.Once
	release := func() { freeOnce.Do(func() { close(free) }) }
	defer release()
	e.ws.OnRequest(func(r scimtest.Request) {
		if r.Method == "POST" {
			once.Do(func() { close(stalled) })
			<-free
		}
	})
	cli := execIdsync(e.config, "sync")
	var out bytes.Buffer
	cli.Stdout, cli.Stderr = &out, &out
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	await(t, "the daemon to apply", stalled)
	cli.Process.Signal(os.Interrupt)
	if err := cli.Wait(); cli.ProcessState.ExitCode() != exitError || !strings.Contains(out.String(), "interrupted") {
		t.Fatalf("the CLI after Ctrl-C: %v\n%s", err, out.String())
	}
	release()
	done := fmt.Sprintf("msg=\"command done\" command=\"idsync sync\" pid=%d exit=1", cli.Process.Pid)
	waitFor(t, "the daemon to end the cancelled run", func() bool { return strings.Contains(d.log.String(), done) })
	if n := len(e.ws.Users()); n >= 11+hires {
		t.Fatalf("the cancelled run went on: %d accounts", n)
	}
	e.ws.OnRequest(nil)
	e.must([]string{"sync"})
	if n := len(e.workspace()); n != 11+hires { // fails on duplicates
		t.Fatalf("%d accounts, want %d", n, 11+hires)
	}
	if posts := e.ws.CountRequests("POST", "/Users"); posts != 11+hires {
		t.Fatalf("%d POSTs for %d accounts", posts, 11+hires)
	}
}
