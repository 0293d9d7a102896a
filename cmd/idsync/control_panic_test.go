package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/sync"
)

// TestPanicInAForwardedCommandSparesTheDaemon: a command the daemon carries
// out for the CLI panics outside any run (here: its app has no engine, so
// the sync command dereferences nil). The CLI gets "panic: ..." and exit 1;
// the daemon logs the stack at debug level and goes on answering.
func TestPanicInAForwardedCommandSparesTheDaemon(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := &sync.Connection{Name: "acme"}
	broken := &app{cfg: &config.Config{}, log: log, conns: []*sync.Connection{c}, byName: map[string]*sync.Connection{"acme": c}}
	path := filepath.Join(t.TempDir(), "idsync.db.sock")
	srv, err := listenControl(ctx, path, log, func() *app { return broken })
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()

	for range 2 { // the second one shows the daemon still answers
		var stdout, stderr bytes.Buffer
		code, err := forward(ctx, path, &globals{stdout: &stdout, stderr: &stderr, argv: []string{"sync", "acme"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if code != exitError || !strings.Contains(stderr.String(), "idsync: panic: runtime error: invalid memory address or nil pointer dereference") {
			t.Fatalf("forwarded command that panics: exit %d\nstderr:\n%s", code, stderr.String())
		}
	}
	if l := logs.String(); !strings.Contains(l, `level=ERROR msg="recovered from a panic in a command sent to the control socket" command="idsync sync acme"`) ||
		!strings.Contains(l, `level=DEBUG msg="panic stack"`) {
		t.Fatalf("daemon log:\n%s", l)
	}
}
