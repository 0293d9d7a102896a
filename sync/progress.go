package sync

import (
	"context"
	"log/slog"
	stdsync "sync"
	"time"
)

// Phase is what a run is doing, for progress reports.
type Phase string

const (
	PhaseResume Phase = "resume" // applying ops an interrupted run left in the outbox
	PhasePull   Phase = "pull"   // reading the IdP into the snapshot
	PhaseList   Phase = "list"   // listing the workspace (full reads, --reconcile)
	PhasePlan   Phase = "plan"   // evaluating users and diffing
	PhaseApply  Phase = "apply"  // applying the plan
)

// Progress is how far a run has got. Pages and Objects count what the
// pull has read (pages of the IdP's answers, and the users, groups and
// memberships they held); Applied and Failed count the ops of the
// apply (or resume) phase done so far, of Total.
type Progress struct {
	Connection string    `json:"connection"`
	Phase      Phase     `json:"phase"`
	Started    time.Time `json:"started"` // when the run started
	Pages      int       `json:"pages"`
	Objects    int       `json:"objects"`
	Applied    int       `json:"applied"`
	Failed     int       `json:"failed"`
	Total      int       `json:"total"`
}

// Done is the ops of the phase finished, applied or failed.
func (p Progress) Done() int { return p.Applied + p.Failed }

// progress follows one run and reports it (Options.Progress) on every
// change, one report at a time and in order. A run without a reporter
// and without a periodic log has none: every method is a no-op on nil, so
// an unobserved run pays one nil check per page or op.
type progress struct {
	mu     stdsync.Mutex
	p      Progress
	report func(Progress)
}

type progressKey struct{}

// progressOf is ctx's run's progress, or nil.
func progressOf(ctx context.Context) *progress {
	t, _ := ctx.Value(progressKey{}).(*progress)
	return t
}

// track attaches a progress to ctx when someone follows the run: report
// (may be nil) gets every change, and with every > 0 the run's state is
// logged every that long while it lasts. stop ends the periodic log.
func (e *Engine) track(ctx context.Context, conn string, report func(Progress), log *slog.Logger) (context.Context, func()) {
	every := e.ProgressEvery
	if report == nil && every <= 0 {
		return ctx, func() {}
	}
	t := &progress{p: Progress{Connection: conn, Started: time.Now()}, report: report}
	ctx = context.WithValue(ctx, progressKey{}, t)
	if every <= 0 {
		return ctx, func() {}
	}
	done := make(chan struct{})
	var wg stdsync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				p := t.snapshot()
				log.Info("run in progress", "phase", p.Phase, "pages", p.Pages, "objects", p.Objects,
					"applied", p.Applied, "failed", p.Failed, "total", p.Total, "running_for", time.Since(p.Started).Round(time.Second))
			}
		}
	})
	return ctx, func() { close(done); wg.Wait() }
}

func (t *progress) snapshot() Progress {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.p
}

func (t *progress) update(f func(*Progress)) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f(&t.p)
	if t.report != nil {
		t.report(t.p)
	}
}

// phase starts a phase: its counts start from zero.
func (t *progress) phase(ph Phase) {
	t.update(func(p *Progress) {
		p.Phase, p.Applied, p.Failed, p.Total = ph, 0, 0, 0
		if ph == PhasePull {
			p.Pages, p.Objects = 0, 0
		}
	})
}

// page counts a page of n changes read from the IdP.
func (t *progress) page(n int) {
	t.update(func(p *Progress) { p.Pages++; p.Objects += n })
}

// total sets how many ops the apply phase has.
func (t *progress) total(n int) {
	t.update(func(p *Progress) { p.Total = n })
}

// done counts ops finished.
func (t *progress) done(applied, failed int) {
	if t == nil || applied+failed == 0 {
		return
	}
	t.update(func(p *Progress) { p.Applied += applied; p.Failed += failed })
}
