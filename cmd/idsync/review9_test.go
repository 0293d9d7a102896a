package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// REVIEW9. "Values from the environment or secret files never
// appear in any message from any backend": the config's Scrub covers only
// errors raised while wiring (config check, Open). Errors a backend raises
// while a run goes (a transport error quoting the target URL, Entra's
// sign-in error naming tenant_id) are printed, logged and stored in the
// runs table as they are, so a value the operator kept in the environment
// (a tenant URL with a tenant key in its path, a tenant id) is shown: on
// the terminal, in the runs table, and in the provisioning log (idsync log)
// where every failed op's detail quotes the URL.
func TestReview9EnvironmentValuesNeverInRunErrors(t *testing.T) {
	const marker = "Zx9RUNTIMEq7"
	for _, tc := range []struct {
		name, literal, env, value string
	}{
		// A SCIM tenant URL from the environment whose workspace is down.
		{"target url", "url", "REVIEW9_SCIM_URL", "https://127.0.0.1:1/scim/v2/" + marker},
		// An Entra tenant_id from the environment that Entra rejects.
		{"tenant_id", "tenant_id", "REVIEW9_TENANT", "contoso-" + marker + ".onmicrosoft.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newE2E(t, "")
			b, err := os.ReadFile(e.config)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			done := false
			for _, l := range strings.Split(string(b), "\n") {
				if k, _, ok := strings.Cut(strings.TrimSpace(l), ":"); ok && k == tc.literal && !done {
					indent := l[:len(l)-len(strings.TrimLeft(l, " "))]
					l = indent + tc.literal + ": " + strconv.Quote("${"+tc.env+"}")
					done = true
				}
				lines = append(lines, l)
			}
			if !done {
				t.Fatalf("no %s in the config:\n%s", tc.literal, b)
			}
			if err := os.WriteFile(e.config, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv(tc.env, tc.value)
			r := e.idsync("sync")
			if r.code != exitError {
				t.Fatalf("sync: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if out := r.stdout + r.stderr; strings.Contains(out, marker) {
				t.Errorf("sync prints a value from the environment:\n%s", out)
			}
			if l := e.idsync("log"); strings.Contains(l.stdout+l.stderr, marker) {
				t.Errorf("idsync log prints a value from the environment:\n%s", l.stdout)
			}
			for _, run := range runsOf(t, filepath.Join(e.dir, "idsync.db"), "contoso") {
				if strings.Contains(run.Error, marker) {
					t.Errorf("the runs table stores a value from the environment: %s", run.Error)
				}
			}
		})
	}
}

// Review of issue 9: Server-supplied text is cleaned only where a
// backend puts it into an error; names the IdP supplies (a group's
// displayName, which in Entra any user who may create a Microsoft 365 group
// chooses) reach the plan printed by `idsync sync` and the provisioning log
// printed by `idsync log` with their terminal escapes (here a title change
// and a screen clear). The terminal output of names and details must go
// through the same cleaning (or %q) as server text.
func TestReview9EscapesInAGroupNameNeverReachTheTerminal(t *testing.T) {
	e := newE2E(t, "")
	id := e.tenant.AddGroup("Design \x1b]0;pwned\x07Team\x1b[2J", "")
	if err := e.tenant.AddMember(id, e.user("alice.archer")); err != nil {
		t.Fatal(err)
	}
	// The operator includes the group by id (as idsync suggests for groups
	// whose names change).
	f, err := os.OpenFile(e.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "    groups: {sync: true, include: [%q]}\n", id)
	f.Close()
	r := e.must([]string{"sync"}, exitOK, exitChanges)
	if strings.ContainsRune(r.stdout+r.stderr, 0x1b) {
		t.Errorf("idsync sync prints a terminal escape from a group name:\n%q", r.stdout)
	}
	l := e.must([]string{"log"})
	if strings.ContainsRune(l.stdout, 0x1b) {
		t.Errorf("idsync log prints a terminal escape from a group name:\n%q", l.stdout)
	}
}
