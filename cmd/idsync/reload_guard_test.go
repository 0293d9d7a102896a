package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// A SIGHUP with a config whose anchor contains an alias of itself used to
// kill the daemon (fatal error: stack overflow while decoding). It must keep
// running on the old configuration, log why with the file, line and field,
// and take the next good configuration.
func TestReloadWithSelfReferencingAliasKeepsDaemonRunning(t *testing.T) {
	e := newE2E(t, "    schedule: \"@every 1s\"\n")
	cmd := exec.Command(binary, "--config", e.config, "--verbose", "run")
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	})
	waitFor(t, "initial sync", func() bool { return len(e.ws.Users()) == 11 })
	good, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	for i, bad := range []struct{ extra, want string }{
		{"    groups: &g {sync: true, <<: *g}\n", "connections[0].groups: alias *g is inside its own anchor &g"},
		{"    safety: &s {<<: *s}\n", "connections[0].safety: alias *s is inside its own anchor &s"},
	} {
		if err := os.WriteFile(e.config, append(append([]byte(nil), good...), bad.extra...), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd.Process.Signal(syscall.SIGHUP)
		waitFor(t, "reload failure "+bad.want, func() bool {
			select {
			case <-exited:
				t.Fatalf("daemon died on reload %d: %v\n%s", i, exitErr, tail(stderr.String()))
			default:
			}
			return strings.Count(stderr.String(), "reload failed") == i+1
		})
		if !strings.Contains(stderr.String(), bad.want) || !strings.Contains(stderr.String(), "idsync.yaml:") {
			t.Fatalf("reload failure does not say %q with the file and line:\n%s", bad.want, tail(stderr.String()))
		}
	}

	// Still alive, on the old configuration, and it takes a good one.
	if err := os.WriteFile(e.config, good, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "reload", func() bool { return strings.Contains(stderr.String(), "configuration reloaded") })
	e.tenant.DisableUser(e.user("dave.diaz"))
	waitFor(t, "scheduled sync after the failed reloads", func() bool {
		return e.workspace()["dave.diaz@contoso.test"] == "active=false role=reader"
	})
}

// A panic while reloading (here a real one: the running app has no config,
// so reload dereferences nil) is an error for the daemon loop to log, with
// the stack in the debug log, not the end of the process.
func TestSafeReloadTurnsAPanicIntoAnError(t *testing.T) {
	e := newE2E(t, "")
	var log bytes.Buffer
	g := &globals{config: e.config, stdout: &log, stderr: &log}
	cur := &app{log: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	next, err := safeReload(context.Background(), g, cur)
	if next != nil || err == nil {
		t.Fatalf("safeReload = %v, %v; want an error", next, err)
	}
	if want := "reload: internal error (runtime error: invalid memory address or nil pointer dereference); this is a bug"; !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error = %q, want it to start %q", err, want)
	}
	if s := log.String(); !strings.Contains(s, "reload panicked") || !strings.Contains(s, "cmd/idsync.reload(") {
		t.Fatalf("debug log lacks the stack:\n%s", s[:min(len(s), 3000)])
	}
}

// A panic value may carry data: only the runtime's own messages are quoted.
func TestPanicTextQuotesNoData(t *testing.T) {
	if got := panicText("token s3cret"); strings.Contains(got, "s3cret") || got != "panic with a string" {
		t.Fatalf("panicText(string) = %q", got)
	}
}

// tail is the end of a long log, for failure messages.
func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}
