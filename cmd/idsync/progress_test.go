package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/creack/pty"

	"github.com/idsync/idsync/sources/entra/entratest"
)

// onPTY runs idsync with a pseudo-terminal (120×40) as its stdin, stdout
// and stderr, and returns everything it wrote there and its exit status.
func (e *e2e) onPTY(args ...string) (string, int) {
	e.t.Helper()
	cmd := execIdsync(e.config, args...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		e.t.Fatalf("start idsync on a pty: %v", err)
	}
	defer f.Close()
	var out bytes.Buffer
	_, err = io.Copy(&out, f) // until the child's side closes: EIO on Linux
	var pe *os.PathError
	if err != nil && !(errors.As(err, &pe) && errors.Is(pe.Err, syscall.EIO)) {
		e.t.Fatalf("read the pty: %v", err)
	}
	code := 0
	if err := cmd.Wait(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			e.t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return out.String(), code
}

// hasBar reports whether out holds drawn progress: the bar's control
// sequences and its counts.
func hasBar(out string) bool {
	return strings.Contains(out, "\x1b[") || strings.Contains(out, "ops/s") || strings.Contains(out, "objects seen")
}

func TestProgressOnATerminal(t *testing.T) {
	e := newE2E(t, "")
	out, code := e.onPTY("sync")
	if code != exitOK {
		t.Fatalf("sync on a pty: exit %d\n%q", code, out)
	}
	// The pull's spinner, then the apply's bar of 11 creates (the sample's
	// Whale Users) with its count, rate and time left, then the plan.
	for _, want := range []string{"contoso: pulling", "objects seen", "contoso: applying", "/11", "ops/s", "applied 11, failed 0"} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q on the terminal:\n%q", want, out)
		}
	}
	// The bar is gone before the plan is printed: its line was erased.
	plan := strings.Index(out, "contoso (entra)")
	if erase := strings.LastIndex(out[:plan], "\r\x1b[2K"); erase < 0 || strings.Contains(out[erase:plan], "applying") {
		t.Fatalf("the bar was not erased before the plan:\n%q", out)
	}
}

func TestNoProgressOffTerminalOrWhenAskedNot(t *testing.T) {
	e := newE2E(t, "")
	// A pipe: exactly the plain output.
	r := e.must([]string{"sync"})
	if hasBar(r.stdout) || hasBar(r.stderr) || strings.Contains(r.stderr+r.stdout, "\r") {
		t.Fatalf("progress on a pipe:\nstdout %q\nstderr %q", r.stdout, r.stderr)
	}
	e.tenant.DisableUser(e.user("dave.diaz"))
	// --output json and --quiet on a terminal: none either.
	out, code := e.onPTY("sync", "--dry-run", "--output", "json")
	if code != exitOK || hasBar(out) || !strings.Contains(out, `"results"`) {
		t.Fatalf("sync --output json on a pty: exit %d\n%q", code, out)
	}
	out, code = e.onPTY("sync", "--quiet")
	if code != exitOK || hasBar(out) || !strings.Contains(out, "applied 1, failed 0") {
		t.Fatalf("sync --quiet on a pty: exit %d\n%q", code, out)
	}
}

// A sync the daemon carries out shows the daemon's progress on the CLI's
// terminal; through a pipe it sends none.
func TestProgressOfAForwardedSync(t *testing.T) {
	e := newE2E(t, "    schedule: \"@every 1h\"\n")
	d := e.startDaemon()
	waitFor(t, "the daemon's first run", func() bool { return strings.Contains(d.log.String(), "run finished") })
	for i := range 3 {
		id := e.tenant.AddUser(entratest.User{UserPrincipalName: fmt.Sprintf("hire%d@contoso.test", i), GivenName: "New", Surname: "Hire", AccountEnabled: true})
		e.tenant.AddMember(e.sample.Groups["Sales"], id)
	}
	out, code := e.onPTY("sync")
	if code != exitOK || !strings.Contains(out, "contoso: applying") || !strings.Contains(out, "/3") || !strings.Contains(out, "applied 3, failed 0") {
		t.Fatalf("forwarded sync on a pty: exit %d\n%q\ndaemon:\n%s", code, out, d.log)
	}
	if !strings.Contains(d.log.String(), "carrying out a command sent to the control socket") {
		t.Fatalf("the sync was not carried out by the daemon:\n%s", d.log)
	}
	r := e.must([]string{"sync", "--full"})
	if hasBar(r.stdout) || hasBar(r.stderr) {
		t.Fatalf("forwarded progress on a pipe:\nstdout %q\nstderr %q", r.stdout, r.stderr)
	}
}
