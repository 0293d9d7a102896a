package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/sync"
)

// daemonWait is how long a writer keeps trying to reach a daemon that holds
// the lock but does not answer on its control socket yet (it is starting)
// or any more (it is stopping, and the lock will be free).
const daemonWait = 10 * time.Second

// daemonProgressEvery is how often the daemon logs a run that is still
// going (sync.Engine.ProgressEvery): a first sync of 100,000 users is not
// silent for minutes.
const daemonProgressEvery = 30 * time.Second

// openWriter returns the app of the one process that may write the state
// database. It takes the state's exclusive lock; if the idsync daemon holds
// it, the command (g.argv) is sent over the daemon's control socket, the
// daemon's stdout and stderr are copied to g's, and the error is an
// *exitCode carrying the daemon's exit status (the caller returns it); if
// another process holds it, the error names that process. Inside the daemon
// (a command sent to its control socket) it returns the daemon's app, whose
// close is a no-op.
func openWriter(ctx context.Context, g *globals) (*app, error) {
	if g.daemon != nil {
		a := *g.daemon
		a.borrowed = true
		return &a, nil
	}
	cfg, file, err := loadConfigFile(configPath(g.config))
	if err != nil {
		return nil, err
	}
	if state.IsPostgres(cfg.State) {
		return openPostgresWriter(ctx, g, cfg, file)
	}
	deadline := time.Now().Add(daemonWait)
	for {
		lock, err := state.TryLock(cfg.State, holder(g.argv, false))
		if err == nil {
			return openLocked(ctx, g, cfg, lock)
		}
		var inUse *state.InUseError
		if !errors.As(err, &inUse) || inUse.Holder == nil || !inUse.Holder.Daemon {
			return nil, err
		}
		code, err := forward(ctx, controlPath(cfg.State), g, &file)
		if err == nil {
			return nil, &exitCode{code: code}
		}
		if !errors.Is(err, errNoDaemon) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w; and its control socket does not answer: %w", inUse, err)
		}
		select { // the daemon is starting or stopping: try again
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// openDaemon is the daemon's openWriter: it takes the lock as the daemon
// (sync and approve are then sent to it), and never forwards.
func openDaemon(ctx context.Context, g *globals) (*app, error) {
	cfg, file, err := loadConfigFile(configPath(g.config))
	if err != nil {
		return nil, err
	}
	if state.IsPostgres(cfg.State) {
		return openPostgresDaemon(ctx, g, cfg, file)
	}
	if err := checkControlPath(controlPath(cfg.State)); err != nil {
		return nil, err
	}
	lock, err := state.TryLock(cfg.State, holder(g.argv, true))
	if err != nil {
		return nil, err
	}
	a, err := openLocked(ctx, g, cfg, lock)
	if err != nil {
		return nil, err
	}
	a.file = file
	a.engine.ProgressEvery = daemonProgressEvery
	return a, nil
}

// openLocked opens the app for writing under lock, which it releases on
// error. Runs still marked running were cut short (their process is gone:
// it had the lock) and are closed as interrupted.
func openLocked(ctx context.Context, g *globals, cfg *config.Config, lock *state.Lock) (a *app, err error) {
	defer func() {
		if err != nil {
			lock.Unlock()
		}
	}()
	if a, err = newApp(ctx, g, cfg, true); err != nil {
		return nil, err
	}
	if a.store, err = state.Open(ctx, cfg.State); err != nil {
		return nil, err
	}
	var cut []state.Run
	if err := a.store.Update(ctx, func(tx *state.Tx) (err error) {
		cut, err = tx.CloseInterrupted()
		return err
	}); err != nil {
		a.store.Close()
		return nil, err
	}
	for _, r := range cut {
		a.log.Warn("run interrupted: its process stopped before it ended", "connection", r.Connection, "run", r.ID, "kind", r.Kind, "started", r.StartedAt)
	}
	a.engine = sync.New(a.store, a.log)
	a.lock = lock
	return a, nil
}

// holder describes this process for the lock file.
func holder(argv []string, daemon bool) state.Holder {
	return state.Holder{PID: os.Getpid(), Command: commandLine(argv), Since: time.Now(), Daemon: daemon}
}

// commandLine is argv as a person would recognise it: "idsync sync --full",
// without the global flags.
func commandLine(argv []string) string {
	out := []string{"idsync"}
	for i := 0; i < len(argv); i++ {
		switch a := argv[i]; {
		case a == "--config" || a == "-c":
			i++ // and its value
		case strings.HasPrefix(a, "--config=") || (strings.HasPrefix(a, "-c") && !strings.HasPrefix(a, "--")),
			a == "--verbose" || a == "-v":
		default:
			out = append(out, a)
		}
	}
	return strings.Join(out, " ")
}

// controlPath is the daemon's control socket for the state at path: beside
// the database's real file, like its lock (state.RealPath), so every name
// of one database reaches the daemon that holds it.
func controlPath(path string) string { return state.RealPath(path) + ".sock" }

// maxControlPath is the longest path a unix socket may have: sun_path's
// size less its terminating NUL (107 bytes on Linux, 103 on macOS).
var maxControlPath = len(syscall.RawSockaddrUnix{}.Path) - 1

// checkControlPath refuses a control socket path the system cannot bind.
// The socket stays beside the database rather than in a shorter place:
// the daemon and every CLI, whoever runs it, must find it by the state's
// name alone, and only the state's directory is known to be the daemon's
// and no one else's.
func checkControlPath(path string) error {
	if len(path) > maxControlPath {
		return fmt.Errorf("control socket %s: %d bytes long, and a unix socket's path may have at most %d: "+
			"give state (in the config) a shorter path, the real one counts (symlinks resolved)", path, len(path), maxControlPath)
	}
	return nil
}
