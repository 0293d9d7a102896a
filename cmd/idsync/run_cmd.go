package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	stdsync "sync"
	"sync/atomic"
	"syscall"

	sd "github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/cobra"

	"github.com/idsync/idsync/internal/httppolicy"
	"github.com/idsync/idsync/internal/metrics"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/sync"
)

func runCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run as a daemon: every connection on its schedule, plus the HTTP listener",
		Long: `Run every connection on its cron schedule (schedule, and full_resync for full
reconciles) until stopped, with /healthz and /readyz on http.listen when set.
Each connection also runs once at start.

The daemon holds the state's write lock while it runs. 'idsync sync' and
'idsync approve' started beside it are carried out by the daemon: they reach it
on the control socket beside the state file ("<state>.sock", owner-only) and
print what the daemon's run prints.

Signals: SIGTERM or SIGINT stops scheduling, lets ops already sent finish and be
recorded (the rest stay in the outbox for the next start), then exits. SIGHUP
reloads the configuration; a broken file is reported and the old one kept.
Under systemd (Type=notify) it reports READY, RELOADING and STOPPING.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			return daemon(cmd.Context(), g, hup)
		},
	}
}

// daemon runs until ctx ends; every value on hup reloads the configuration.
func daemon(ctx context.Context, g *globals, hup <-chan os.Signal) error {
	a, err := openDaemon(ctx, g)
	if err != nil {
		return err
	}
	defer a.close()
	log := a.log
	// cur is the running configuration: a reload replaces it, and commands
	// sent to the control socket run on the one current when they arrive.
	var cur atomic.Pointer[app]
	cur.Store(a)
	met := daemonMetrics(a, cur.Load)
	defer httppolicy.SetObserver(nil)
	var summary runSummary // for systemd's STATUS=
	watchdog := watchdogInterval(log)
	// With a PostgreSQL state, the daemon runs the connections it holds
	// leases on (postgres.go); lm is nil with SQLite.
	var lm *leaser
	ctlPath := controlPath(a.cfg.State)
	if state.IsPostgres(a.cfg.State) {
		if lm, err = startLeaser(ctx, a, g.argv, func() []string { return connNames(cur.Load()) }); err != nil {
			return err
		}
		defer lm.leave() // after the scheduler stopped (below)
		ctlPath = lm.self.Control
	}
	var ready stdsync.Once
	readyCh := make(chan struct{})
	start := func(a *app) (*sync.Scheduler, error) {
		a, runNow := lm.scheduled(a)
		s := sync.NewScheduler(ctx, a.engine)
		summary.setConnections(connNames(a))
		met.Connections(connNames(a))
		s.OnResult = func(res *sync.Result, err error) {
			ready.Do(func() { close(readyCh) })
			met.ObserveRun(res, err)
			if res != nil {
				sdNotify(log, "STATUS="+summary.record(res.Connection, metrics.RunResult(res, err)))
			}
			if err != nil {
				log.Error("run failed", "connection", res.Connection, "error", err)
			} else if res != nil {
				log.Info("run finished", "connection", res.Connection, "planned", len(res.Plan.Ops), "applied", res.Applied,
					"failed", res.Failed, "held", res.Held != "")
			}
		}
		for _, c := range a.conns {
			if err := s.Add(c, a.sched[c.Name]); err != nil {
				return nil, err
			}
		}
		notifyTriggerable(s, a)
		for _, c := range a.conns {
			if runNow(c) {
				s.RunNow(c, sync.Options{})
			}
		}
		startWatchdog(s, watchdog, log)
		s.Start()
		return s, nil
	}
	ctl, err := listenControl(ctx, ctlPath, log, cur.Load)
	if err != nil {
		return err
	}
	defer ctl.close() // before a.close: commands it carries out use the store
	sched, err := start(a)
	if err != nil {
		return err
	}
	// The scheduler is replaced on reload; pushes and notifications
	// trigger runs on the current one.
	var curSched atomic.Pointer[sync.Scheduler]
	curSched.Store(sched)
	if a.cfg.HTTP.Listen != "" {
		// With leases, a push for a connection another daemon holds asks
		// that daemon to run it (pgpush.go).
		srv, err := listen(ctx, a, daemonHTTP{
			ready:   readyCh,
			app:     cur.Load,
			trigger: lm.routeTrigger(ctx, func(conn, reason string) bool { return curSched.Load().Trigger(conn, reason) }),
			owns:    lm.ownsFunc(),
			metrics: met.Handler(),
		})
		if err != nil {
			sched.Stop(false)
			return err
		}
		defer srv.Shutdown(context.WithoutCancel(ctx))
	}
	sdNotify(log, sd.SdNotifyReady) // the state is open and the listener bound
	log.Info("idsync running", "connections", len(a.conns), "state", state.Redact(a.cfg.State), "control", ctlPath)

	var retired stdsync.WaitGroup // schedulers replaced by a reload, finishing their runs
	for {
		select {
		case <-ctx.Done():
			sdNotify(log, sd.SdNotifyStopping)
			log.Info("stopping: letting ops in flight finish")
			ctl.close()
			sched.Stop(false)
			retired.Wait()
			log.Info("stopped")
			return nil
		case <-hup:
			sdNotify(log, sdReloading())
			next, err := safeReload(ctx, g, cur.Load())
			if err != nil {
				log.Error("reload failed; keeping the running configuration", "error", err)
				sdNotify(log, sd.SdNotifyReady)
				continue
			}
			old := sched
			if sched, err = start(next); err != nil {
				log.Error("reload failed; keeping the running configuration", "error", err)
				sched = old
				sdNotify(log, sd.SdNotifyReady)
				continue
			}
			retired.Go(func() { old.Stop(true) })
			cur.Store(next)
			curSched.Store(sched)
			sdNotify(log, sd.SdNotifyReady)
			log.Info("configuration reloaded", "connections", len(next.conns))
		case <-lm.changes(): // a lease gained or lost: the scheduler runs what is held
			old := sched
			if sched, err = start(cur.Load()); err != nil {
				log.Error("restarting the scheduler on a lease change failed", "error", err)
				sched = old
				continue
			}
			retired.Go(func() { old.Stop(true) })
			curSched.Store(sched)
		}
	}
}

// reload reads the configuration again and wires it on the running store
// and engine (a changed state path needs a restart).
func reload(ctx context.Context, g *globals, cur *app) (*app, error) {
	cfg, file, err := loadConfigFile(configPath(g.config))
	if err != nil {
		return nil, err
	}
	if cfg.State != cur.cfg.State {
		return nil, fmt.Errorf("state: changed from %s to %s; restart idsync to switch databases", state.Redact(cur.cfg.State), state.Redact(cfg.State))
	}
	next := &app{cfg: cfg, store: cur.store, engine: cur.engine, log: cur.log, file: file}
	if err := next.wire(ctx, cfg); err != nil {
		return nil, err
	}
	return next, nil
}

// daemonHTTP is what the listener's handlers may use of the running daemon.
type daemonHTTP struct {
	ready <-chan struct{} // closed once a first run has finished
	// app is the configuration running now (a reload replaces it).
	app func() *app
	// trigger asks for a debounced run of a connection (sync.Scheduler.Trigger
	// on the current scheduler); false for an unknown connection.
	trigger func(conn, reason string) bool
	// metrics serves /metrics (internal/metrics).
	metrics http.Handler
	// owns: whether this daemon holds a connection's lease (nil: all of
	// them, without leases); subscription upkeep is the holder's.
	owns func(conn string) bool
}

// listen serves /healthz (the process is up) and /readyz (a first run has
// finished) on http.listen, and the features mounted below.
func listen(ctx context.Context, a *app, d daemonHTTP) (*http.Server, error) {
	ready := d.ready
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-ready:
			fmt.Fprintln(w, "ready")
		default:
			http.Error(w, "waiting for the first run", http.StatusServiceUnavailable)
		}
	})
	mux.Handle("GET /{$}", limitInFlight(maxPageRequests, statusPage(d)))
	mux.Handle("GET /metrics", limitInFlight(maxPageRequests, d.metrics))
	mountSCIM(ctx, mux, a, d) // push connections at /scim/v2/<connection>/
	mountPprof(mux)           // /debug/pprof/ with IDSYNC_DEBUG_PPROF=1 only (pprof.go)
	srv := newHTTPServer(withAuth(a, d, mux), a.log)
	if t := a.cfg.HTTP.TLS; t != nil {
		// Loaded here, not in the serving goroutine: a key the service's
		// user cannot read must stop the start, not leave a daemon that
		// said READY=1 with no listener.
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("http.tls: %w (the files must be readable by idsync's user; under systemd hand them over with LoadCredential=)", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	ln, err := net.Listen("tcp", a.cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http.listen: %w", err)
	}
	mountNotify(ctx, mux, a, d) // /notify/<connection>/...: change notifications (notify_cmd.go); bound first: Graph calls it back
	warnPlainBind(a.log, ln.Addr(), a.cfg.HTTP.TLS != nil)
	go func() {
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http listener stopped", "error", err)
		}
	}()
	a.log.Info("listening", "addr", ln.Addr().String())
	return srv, nil
}
