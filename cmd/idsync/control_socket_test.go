package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A state whose control socket path is longer than a unix socket may have:
// the daemon says so and what to do, before it takes the lock; a one-shot
// sync, which needs no socket, runs.
func TestDaemonRefusesAControlSocketPathTooLong(t *testing.T) {
	e := newE2E(t, "")
	long := filepath.Join(e.dir, strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(long, 0o700); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(long, "idsync.db")
	b, _ := os.ReadFile(e.config)
	cfg := strings.Replace(string(b), fmt.Sprintf("state: %q", filepath.Join(e.dir, "idsync.db")), fmt.Sprintf("state: %q", db), 1)
	if cfg == string(b) {
		t.Fatal("no state line to replace")
	}
	os.WriteFile(e.config, []byte(cfg), 0o600)
	r := e.idsync("run")
	want := fmt.Sprintf("control socket %s.sock: %d bytes long, and a unix socket's path may have at most %d", db, len(db)+5, maxControlPath)
	if r.code != exitError || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "give state (in the config) a shorter path") {
		t.Fatalf("daemon on a long state path: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(db + ".lock"); !os.IsNotExist(err) {
		t.Fatalf("the daemon took the lock before refusing: %v", err)
	}
	e.must([]string{"sync"})
	if n := len(e.ws.Users()); n != 11 {
		t.Fatalf("one-shot sync on the long path: %d users", n)
	}
}

// A CLI whose config names the state through a symlink reaches the daemon
// holding it (one lock, one socket by the real path): it is not a second
// writer, and the daemon answers it (here: refusing its other config).
func TestCLIReachesTheDaemonThroughASymlinkedState(t *testing.T) {
	e := newE2E(t, "    schedule: \"@every 1h\"\n")
	d := e.startDaemon()
	waitFor(t, "the daemon's first run", func() bool { return len(e.ws.Users()) == 11 })
	link := filepath.Join(t.TempDir(), "state.db")
	if err := os.Symlink(filepath.Join(e.dir, "idsync.db"), link); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(e.config)
	cfg := strings.Replace(string(b), fmt.Sprintf("state: %q", filepath.Join(e.dir, "idsync.db")), fmt.Sprintf("state: %q", link), 1)
	other := filepath.Join(e.dir, "by-link.yaml")
	os.WriteFile(other, []byte(cfg), 0o600)
	r := runBinary(t, "--config", other, "sync")
	if r.code != exitError || !strings.Contains(r.stderr, "not carried out: the daemon (pid "+fmt.Sprint(d.cmd.Process.Pid)) {
		t.Fatalf("a CLI on the state through a symlink: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// The CLI takes the daemon's output as it comes, even while its own stdout
// does not (a pager): the daemon's command ends without waiting for it.
func TestForwardQueuesOutputItsStdoutHasNotTaken(t *testing.T) {
	e := newE2E(t, "    schedule: \"@every 1h\"\n")
	d := e.startDaemon()
	waitFor(t, "the daemon's first run", func() bool { return len(e.ws.Users()) == 11 })
	name := strings.Repeat("x", 900<<10) // ~900 KB of error output: more than the socket holds
	free := make(chan struct{})
	slow := &blockingWriter{free: free}
	type fwd struct {
		code int
		err  error
	}
	done := make(chan fwd, 1)
	go func() {
		code, err := forward(context.Background(), filepath.Join(e.dir, "idsync.db.sock"),
			&globals{argv: []string{"sync", name}, stdout: slow, stderr: slow}, nil)
		done <- fwd{code, err}
	}()
	waitFor(t, "the daemon to finish the command while the CLI's stderr is blocked", func() bool {
		return strings.Contains(d.log.String(), "command done")
	})
	close(free)
	f := <-done
	if f.err != nil || f.code != exitError || !strings.Contains(slow.buf.String(), name) {
		t.Fatalf("forward: exit %d, %v, %d bytes of output", f.code, f.err, slow.buf.Len())
	}
}

// blockingWriter takes nothing until free is closed.
type blockingWriter struct {
	free <-chan struct{}
	buf  bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.free
	return w.buf.Write(p)
}
