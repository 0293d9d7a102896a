package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/idsync/idsync/state"
)

// A command forwarded to the daemon runs on the configuration the CLI
// loaded, or not at all: an edited file is refused until the daemon is
// reloaded, another file is refused naming both, and a byte-identical copy
// is the same configuration.
func TestForwardedCommandRunsOnTheCLIsConfigOrIsRefused(t *testing.T) {
	e := newE2E(t, "    schedule: \"@every 1h\"\n")
	d := e.startDaemon()
	waitFor(t, "the daemon's first run", func() bool { return len(e.ws.Users()) == 11 })
	orig, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(d.cmd.Process.Pid)
	roles := func() map[string]int {
		n := map[string]int{}
		for _, u := range e.ws.Users() {
			n[u.Role()]++
		}
		return n
	}
	before := roles()

	// A byte-identical copy elsewhere: the same configuration, carried out.
	copyPath := filepath.Join(t.TempDir(), "copy.yaml")
	if err := os.WriteFile(copyPath, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runBinary(t, "--config", copyPath, "sync"); r.code != exitOK {
		t.Fatalf("a copy of the daemon's file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The daemon's file, edited: refused, nothing done.
	edited := strings.Replace(string(orig), "default: reader", "default: writer", 1)
	if err := os.WriteFile(e.config, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.idsync("sync")
	for _, want := range []string{"not carried out", "loaded from " + state.RealPath(e.config) + " at ", "has changed since",
		"systemctl reload idsync", "kill -HUP " + pid, "stop the daemon"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("refusal lacks %q", want)
		}
	}
	if r.code != exitError || r.stdout != "" || t.Failed() {
		t.Fatalf("edited config: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if got := roles(); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("a refused command changed roles: %v, was %v", got, before)
	}
	if !strings.Contains(d.log.String(), "refused a command") {
		t.Fatalf("the daemon did not log the refusal:\n%s", d.log.String())
	}

	// Another file that differs: refused, naming both.
	other := filepath.Join(t.TempDir(), "other.yaml")
	if err := os.WriteFile(other, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runBinary(t, "--config", other, "approve", "contoso")
	if r.code != exitError || !strings.Contains(r.stderr, "this command loaded another configuration, "+state.RealPath(other)) ||
		!strings.Contains(r.stderr, "--config "+state.RealPath(e.config)) {
		t.Fatalf("another config: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Reloaded: the edited file is the daemon's, and the command runs on it.
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", func() bool { return strings.Contains(d.log.String(), "configuration reloaded") })
	if r := e.idsync("sync"); r.code != exitOK || !strings.Contains(r.stdout, "role changes") {
		t.Fatalf("after the reload: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := roles(); got["reader"] != 0 {
		t.Fatalf("after the reload and a sync, roles are %v: the edited default role was not used", got)
	}
}
