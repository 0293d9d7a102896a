package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// notifySocket is a fake systemd: a unixgram socket collecting what the
// daemon sends to NOTIFY_SOCKET.
type notifySocket struct {
	path string
	msgs chan string
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	dir, err := os.MkdirTemp("", "sd") // short: a socket path has at most 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	n := &notifySocket{path: filepath.Join(dir, "notify"), msgs: make(chan string, 1024)}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				close(n.msgs)
				return
			}
			n.msgs <- string(buf[:k])
		}
	}()
	return n
}

// next returns the next message that is not a watchdog ping, counting
// the pings it skips into pings.
func (n *notifySocket) next(t *testing.T, pings *int) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m, ok := <-n.msgs:
			if !ok {
				t.Fatal("notify socket closed")
			}
			if m == "WATCHDOG=1" {
				*pings++
				continue
			}
			return m
		case <-deadline:
			t.Fatal("timed out waiting for a notify message")
		}
	}
}

// expect skips messages until one satisfies ok, failing on any message
// listed in never.
func (n *notifySocket) expect(t *testing.T, what string, pings *int, ok func(string) bool, never ...string) string {
	t.Helper()
	for {
		m := n.next(t, pings)
		for _, bad := range never {
			if strings.HasPrefix(m, bad) {
				t.Fatalf("waiting for %s, got %q", what, m)
			}
		}
		if ok(m) {
			return m
		}
	}
}

func monotonicUsec(t *testing.T) int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return ts.Nano() / 1000
}

// TestSystemdNotifySequence runs the daemon under a fake systemd with a
// watchdog: READY=1 once the listener is bound, STATUS= after runs (a held
// plan named), WATCHDOG=1 pings at half of WATCHDOG_USEC for the PID
// WATCHDOG_PID names, RELOADING=1 with a CLOCK_MONOTONIC time and READY=1
// around SIGHUP, STOPPING=1 on SIGTERM.
func TestSystemdNotifySequence(t *testing.T) {
	e := newE2E(t, "    schedule: \"@every 1s\"\n    safety: {max_deletes: 1}\n"+listenOnLoopback)
	sock := newNotifySocket(t)
	// WATCHDOG_PID must be the daemon's own pid: a shell sets it to its
	// own and execs idsync, which keeps the pid.
	cmd := exec.Command("/bin/sh", "-c", `WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$0" "$@"`,
		binary, "--config", e.config, "--verbose", "run")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock.path, "WATCHDOG_USEC=400000") // ping every 200ms
	// A file, not a buffer: the daemon writes it directly, so whatever it
	// logged before sending READY=1 is in it when READY=1 arrives (a pipe
	// is copied by a goroutine that may lag).
	log := &fileLog{path: filepath.Join(t.TempDir(), "daemon.log")}
	f, err := os.Create(log.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
	})

	pings := 0
	sock.expect(t, "READY=1", &pings, func(m string) bool { return m == "READY=1" }, "STOPPING", "RELOADING")
	// The daemon logs "listening" before READY=1, but its log reaches the
	// buffer through a pipe copied by another goroutine: wait for it.
	waitFor(t, "the listening line logged before READY=1", func() bool { return listeningRE.MatchString(log.String()) })
	sock.expect(t, "a first STATUS", &pings, func(m string) bool { return m == "STATUS=1 connection ok" })

	// Sales leaves the scope in one change: its users' disables exceed
	// max_deletes 1 in one run, which is held and says so.
	if err := e.tenant.RemoveMember(e.sample.Groups["Whale Users"], e.sample.Groups["Sales"]); err != nil {
		t.Fatal(err)
	}
	sock.expect(t, "a held STATUS", &pings, func(m string) bool { return m == "STATUS=0 connections ok, 1 held: contoso" })
	if held := scrape(t, listeningRE.FindStringSubmatch(log.String())[1])[`idsync_held_plan{connection="contoso"}`]; held != 1 {
		t.Errorf("idsync_held_plan = %v while held, want 1", held)
	}

	// The watchdog: pings keep coming while runs go on.
	before := pings
	for pings < before+3 {
		select {
		case m := <-sock.msgs:
			if m == "WATCHDOG=1" {
				pings++
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d watchdog pings", pings-before)
		}
	}

	t0 := monotonicUsec(t)
	cmd.Process.Signal(syscall.SIGHUP)
	m := sock.expect(t, "RELOADING=1", &pings, func(m string) bool { return strings.HasPrefix(m, "RELOADING=1") }, "STOPPING")
	lines := strings.Split(m, "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") {
		t.Fatalf("reload message %q, want RELOADING=1 and MONOTONIC_USEC", m)
	}
	usec, err := strconv.ParseInt(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64)
	if t1 := monotonicUsec(t); err != nil || usec < t0 || usec > t1 {
		t.Fatalf("MONOTONIC_USEC=%d not within CLOCK_MONOTONIC [%d, %d] around the SIGHUP", usec, t0, t1)
	}
	sock.expect(t, "READY=1 after the reload", &pings, func(m string) bool { return m == "READY=1" }, "STOPPING", "RELOADING")
	// The new scheduler pings too.
	before = pings
	sock.expect(t, "a ping after the reload", &pings, func(string) bool { return pings > before })

	cmd.Process.Signal(syscall.SIGTERM)
	sock.expect(t, "STOPPING=1", &pings, func(m string) bool { return m == "STOPPING=1" })
	if err := <-done; err != nil {
		t.Fatalf("daemon exit: %v\n%s", err, tail(log.String()))
	}
	done <- nil // for the cleanup
}

// fileLog is a daemon's output written to a file.
type fileLog struct{ path string }

func (l *fileLog) String() string {
	b, _ := os.ReadFile(l.path)
	return string(b)
}
