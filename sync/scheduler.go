package sync

import (
	"context"
	"fmt"
	stdsync "sync"

	"github.com/robfig/cron/v3"
)

// Schedule is when a connection runs.
type Schedule struct {
	Incremental string // robfig/cron spec, e.g. "@every 5m"
	Full        string // scheduled full reconcile, e.g. "@weekly"
}

// Scheduler runs connections on their cron schedules until stopped.
type Scheduler struct {
	engine *Engine
	cron   *cron.Cron
	ctx    context.Context
	cancel context.CancelFunc
	now    stdsync.WaitGroup // RunNow runs
	// OnResult, when set, is called after every scheduled run.
	OnResult func(*Result, error)
}

// NewScheduler returns a scheduler for e whose runs use ctx (cancelling it
// stops runs between ops).
func NewScheduler(ctx context.Context, e *Engine) *Scheduler {
	ctx, cancel := context.WithCancel(ctx)
	return &Scheduler{engine: e, cron: cron.New(cron.WithLogger(cron.DiscardLogger)), ctx: ctx, cancel: cancel}
}

// Add schedules c. A tick that comes while the previous run of the same
// job is still going is skipped; the engine's per-connection lock keeps an
// incremental and a full run of one connection from overlapping.
func (s *Scheduler) Add(c *Connection, sched Schedule) error {
	for _, j := range []struct {
		spec string
		full bool
	}{{sched.Incremental, false}, {sched.Full, true}} {
		if j.spec == "" {
			continue
		}
		opt := Options{Full: j.full}
		job := cron.NewChain(cron.SkipIfStillRunning(cron.DiscardLogger)).Then(cron.FuncJob(func() {
			if s.ctx.Err() != nil {
				return
			}
			res, err := s.engine.Run(s.ctx, c, opt)
			if s.OnResult != nil {
				s.OnResult(res, err)
			}
		}))
		if _, err := s.cron.AddJob(j.spec, job); err != nil {
			return fmt.Errorf("schedule %s: %q: %w", c.Name, j.spec, err)
		}
	}
	return nil
}

// RunNow starts a run of c outside the schedule (at daemon start, so a
// restart does not wait a whole interval).
func (s *Scheduler) RunNow(c *Connection, opt Options) {
	s.now.Go(func() {
		res, err := s.engine.Run(s.ctx, c, opt)
		if s.OnResult != nil {
			s.OnResult(res, err)
		}
	})
}

// Start starts the cron loop.
func (s *Scheduler) Start() { s.cron.Start() }

// Stop stops scheduling, asks running runs to stop after their in-flight
// ops (drain=false) or lets them finish (drain=true), and returns once none
// is left.
func (s *Scheduler) Stop(drain bool) {
	done := s.cron.Stop()
	if !drain {
		s.cancel()
	}
	<-done.Done()
	s.now.Wait()
	s.cancel()
}
