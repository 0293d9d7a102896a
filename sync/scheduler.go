package sync

import (
	"context"
	"fmt"
	stdsync "sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule is when a connection runs.
type Schedule struct {
	Incremental string // robfig/cron spec, e.g. "@every 5m"
	Full        string // scheduled full reconcile, e.g. "@weekly"
	// Debounce folds triggers (pushes, change notifications) that come
	// within it after a triggered run started into one follow-up run;
	// 0 means DefaultDebounce.
	Debounce time.Duration
}

// Scheduler runs connections on their cron schedules until stopped.
type Scheduler struct {
	engine *Engine
	cron   *cron.Cron
	ctx    context.Context
	cancel context.CancelFunc
	now    stdsync.WaitGroup // RunNow and triggered runs
	clock  func() time.Time

	tmu      stdsync.Mutex
	triggers map[string]*trigger // by connection name
	stopped  bool                // no new triggered runs once Stop began
	// stuckGrace: how long past its deadline a run may still be going
	// before the heartbeat stops (Heartbeat).
	stuckGrace time.Duration
	// OnResult, when set, is called after every scheduled run.
	OnResult func(*Result, error)
}

// NewScheduler returns a scheduler for e whose runs use ctx (cancelling it
// stops runs between ops).
func NewScheduler(ctx context.Context, e *Engine) *Scheduler {
	ctx, cancel := context.WithCancel(ctx)
	return &Scheduler{engine: e, cron: cron.New(cron.WithLogger(cron.DiscardLogger)), ctx: ctx, cancel: cancel, clock: time.Now,
		stuckGrace: StuckGrace}
}

// Add schedules c. A tick that comes while the previous run of the same
// job is still going is skipped, logged and counted (Counters.Skipped);
// the engine's per-connection lock keeps an incremental and a full run of
// one connection from overlapping. A run that stalls is ended at its
// deadline (Connection.RunTimeout), so the ticks after it run again.
func (s *Scheduler) Add(c *Connection, sched Schedule) error {
	s.Triggerable(c, sched.Debounce)
	for _, j := range []struct {
		spec string
		full bool
	}{{sched.Incremental, false}, {sched.Full, true}} {
		if j.spec == "" {
			continue
		}
		if _, err := s.cron.AddJob(j.spec, s.job(c, Options{Full: j.full})); err != nil {
			return fmt.Errorf("schedule %s: %q: %w", c.Name, j.spec, err)
		}
	}
	return nil
}

// job is one schedule of c: a run per tick, unless the previous one is
// still going (robfig's SkipIfStillRunning drops such ticks without a word).
func (s *Scheduler) job(c *Connection, opt Options) cron.Job {
	var since atomic.Int64 // start of the run going on (UnixNano), 0 when none
	kind := "incremental"
	if opt.Full {
		kind = "full"
	}
	return cron.FuncJob(func() {
		if s.ctx.Err() != nil {
			return
		}
		now := time.Now()
		if !since.CompareAndSwap(0, now.UnixNano()) {
			s.engine.count(c.Name, func(n *Counters) { n.Skipped++ })
			s.engine.Log.Info("scheduled run skipped: the previous one is still going", "connection", c.Name, "kind", kind,
				"running_for", now.Sub(time.Unix(0, since.Load())).Round(time.Second))
			return
		}
		defer since.Store(0)
		// Cleared before OnResult too, so whoever learns of the result
		// can tick again at once.
		s.run(c, opt, func() { since.Store(0) })
	})
}

// run runs c once and reports the result. The engine recovers a panic in
// the run itself; this recovers one in OnResult, so that a scheduled tick
// can never end the daemon.
func (s *Scheduler) run(c *Connection, opt Options, done func()) {
	defer func() {
		if v := recover(); v != nil {
			pe := newPanicError(v)
			s.engine.Log.Error("recovered from a panic after a run", "connection", c.Name, "panic", pe.Value)
			s.engine.Log.Debug("panic stack", "connection", c.Name, "stack", string(pe.Stack))
		}
	}()
	res, err := s.engine.Run(s.ctx, c, opt)
	if done != nil {
		done()
	}
	if s.OnResult != nil {
		s.OnResult(res, err)
	}
}

// RunNow starts a run of c outside the schedule (at daemon start, so a
// restart does not wait a whole interval).
func (s *Scheduler) RunNow(c *Connection, opt Options) {
	s.now.Go(func() { s.run(c, opt, nil) })
}

// Start starts the cron loop.
func (s *Scheduler) Start() { s.cron.Start() }

// Stop stops scheduling, asks running runs to stop after their in-flight
// ops (drain=false) or lets them finish (drain=true), and returns once none
// is left.
func (s *Scheduler) Stop(drain bool) {
	s.tmu.Lock()
	s.stopped = true
	s.tmu.Unlock()
	done := s.cron.Stop()
	if !drain {
		s.cancel()
	}
	<-done.Done()
	s.now.Wait()
	s.cancel()
}
