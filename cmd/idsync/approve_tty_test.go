package main

import (
	"bytes"
	"maps"
	"os/exec"
	"strings"
	"testing"
)

// onTerminal runs idsync with a pseudo-terminal as its stdin and stdout
// (util-linux script(1)), typing input.
func (e *e2e) onTerminal(input string, args ...string) (string, int) {
	e.t.Helper()
	script, err := exec.LookPath("script")
	if err != nil {
		e.t.Skip("no script(1) to give idsync a terminal")
	}
	line := binary + " --config " + e.config + " " + strings.Join(args, " ")
	cmd := exec.Command(script, "-qec", line, "/dev/null")
	cmd.Stdin = strings.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("script: %v", err)
	}
	return out.String(), code
}

func TestApproveOnATerminalShowsThePlanAndAsks(t *testing.T) {
	e := newE2E(t, "")
	e.must([]string{"sync"})
	for _, n := range []string{"dave.diaz", "erin.evans", "oscar.olsen"} {
		e.tenant.DisableUser(e.user(n))
	}
	id := e.heldSync()

	t.Run("no keeps the plan held", func(t *testing.T) {
		out, code := e.onTerminal("n\n", "approve", "contoso")
		if code != exitError || !strings.Contains(out, "- disable  dave.diaz@contoso.test") || !strings.Contains(out, "plan "+id) ||
			!strings.Contains(out, "Apply this plan? [y/N]") || !strings.Contains(out, "not approved") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		if got := e.workspace(); !maps.Equal(got, sampleWorkspace) || e.statusPlanID() != id {
			t.Fatalf("after no: workspace %v, held %q", got, e.statusPlanID())
		}
	})
	t.Run("yes applies the plan that was shown", func(t *testing.T) {
		out, code := e.onTerminal("y\n", "approve", "contoso")
		if code != exitOK || !strings.Contains(out, "applied 3, failed 0") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		if got := e.workspace()["dave.diaz@contoso.test"]; got != "active=false role=reader" {
			t.Fatalf("dave after yes: %q", got)
		}
	})
}
