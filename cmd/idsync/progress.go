package main

import (
	"fmt"
	"io"
	"os"
	stdsync "sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/idsync/idsync/sync"
)

// Progress on a terminal: while `sync` or `approve` pulls, a spinner with
// the pages read and objects seen; while it applies, a bar of ops applied of
// the total with the rate and the time left. It is drawn on stderr, only
// when stdout and stderr are both terminals (a pipe, a file or a pager gets
// exactly the output it got before), and never with --output json or
// --quiet. A command the daemon carries out for the CLI sends its progress
// back over the control socket (frameProgress) and the CLI draws it.
//
// github.com/schollz/progressbar/v3 draws it: the phases come one at a
// time, so one bar is all it takes, and it renders synchronously into the
// writer it is given, from the caller's goroutine (with the spinner's own
// timer off), so the log lines written between two updates can erase the
// bar under the same lock and nothing draws behind their back.
// vbauerster/mpb/v8 is built for many concurrent bars redrawn by its own
// goroutine, with a Wait/Abort protocol per bar: more than this needs.

// progressSink is where a command's progress goes: a bar on this terminal,
// or the CLI a daemon-run command reports to.
type progressSink interface {
	// report is sync.Options.Progress.
	report(sync.Progress)
	// clear takes the progress off the screen before other output.
	clear()
	// close clears and stops it.
	close()
}

// progressRedraw is how often the bar is redrawn at most (and, with no
// news, how often its spinner, rate and times move on).
const progressRedraw = 150 * time.Millisecond

// newProgress is the progress a command shows: nil with --quiet or
// --output json, when the command runs in the daemon for a CLI that did
// not ask for it, or when stdout and stderr are not both terminals. On a
// terminal, g.stderr is wrapped so that what is written there (log lines,
// errors) first erases the bar.
func newProgress(g *globals, output string, quiet bool) progressSink {
	if quiet || output == "json" {
		return nil
	}
	if g.daemon != nil {
		if g.remote == nil {
			return nil // the CLI draws no progress: don't send it
		}
		return g.remote
	}
	errf, ok := terminals(g)
	if !ok {
		return nil
	}
	v := &progressView{tty: errf, stop: make(chan struct{})}
	g.stderr = &progressWriter{v: v, w: g.stderr}
	v.wg.Go(v.tick)
	return v
}

// terminals returns stderr when stdout and stderr are both terminals.
func terminals(g *globals) (*os.File, bool) {
	out, ok1 := g.stdout.(*os.File)
	errf, ok2 := g.stderr.(*os.File)
	if !ok1 || !ok2 || !term.IsTerminal(int(out.Fd())) || !term.IsTerminal(int(errf.Fd())) {
		return nil, false
	}
	return errf, true
}

// progressReport is sink's report, or nil for no sink.
func progressReport(sink progressSink) func(sync.Progress) {
	if sink == nil {
		return nil
	}
	return sink.report
}

// progressView draws progress on a terminal. Every use of the bar holds
// mu: updates come from the engine's goroutines, the redraw tick from its
// own, log lines from anywhere.
type progressView struct {
	tty  *os.File
	stop chan struct{}
	wg   stdsync.WaitGroup

	mu     stdsync.Mutex
	bar    *progressbar.ProgressBar
	cur    sync.Progress
	shown  bool      // the bar is on the screen
	drawn  time.Time // last redraw
	closed bool
}

func (v *progressView) report(p sync.Progress) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	if (p.Phase == sync.PhaseApply || p.Phase == sync.PhaseResume) && p.Total == 0 {
		v.erase() // nothing to apply: nothing to show
		v.bar, v.cur = nil, p
		return
	}
	if v.bar == nil || p.Connection != v.cur.Connection || p.Phase != v.cur.Phase || p.Total != v.cur.Total {
		v.erase()
		v.bar = newBar(v.tty, p)
		v.cur = p
		v.draw(true)
		return
	}
	v.cur = p
	v.draw(p.Total > 0 && p.Done() >= p.Total)
}

// newBar is the bar of p's phase: a count of ops of the total while
// applying, a spinner with a count of objects while pulling, a spinner
// alone otherwise.
func newBar(w io.Writer, p sync.Progress) *progressbar.ProgressBar {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionUseANSICodes(true),
		progressbar.OptionSetSpinnerChangeInterval(0), // drawn by progressView only
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(0), // progressView throttles
	}
	if (p.Phase == sync.PhaseApply || p.Phase == sync.PhaseResume) && p.Total > 0 {
		what := "applying"
		if p.Phase == sync.PhaseResume {
			what = "resuming ops left in the outbox"
		}
		return progressbar.NewOptions(p.Total, append(opts,
			progressbar.OptionSetDescription(p.Connection+": "+what),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("ops"),
			progressbar.OptionSetPredictTime(true), progressbar.OptionSetElapsedTime(true))...)
	}
	opts = append(opts, progressbar.OptionSetElapsedTime(true), progressbar.OptionSetDescription(describePhase(p)))
	if p.Phase == sync.PhasePull {
		opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionShowTotalBytes(false),
			progressbar.OptionShowIts(), progressbar.OptionSetItsString("objects"))
	}
	return progressbar.NewOptions(-1, opts...)
}

func describePhase(p sync.Progress) string {
	switch p.Phase {
	case sync.PhasePull:
		return fmt.Sprintf("%s: pulling, %d pages, objects seen:", p.Connection, p.Pages)
	case sync.PhaseList:
		return p.Connection + ": listing the workspace"
	case sync.PhasePlan:
		return p.Connection + ": planning"
	}
	return p.Connection + ": " + string(p.Phase)
}

// draw redraws the bar with v.cur, at most every progressRedraw unless
// now (a new phase, or its end).
func (v *progressView) draw(now bool) {
	if v.bar == nil || (!now && v.shown && time.Since(v.drawn) < progressRedraw) {
		return
	}
	p := v.cur
	switch {
	case p.Total > 0 && (p.Phase == sync.PhaseApply || p.Phase == sync.PhaseResume):
		if d := p.Done(); d < p.Total {
			v.bar.Set(d)
		} else if !v.bar.IsFinished() {
			v.bar.Finish() // draws the full bar, and stays
		} else {
			v.bar.Describe(p.Connection + ": applied") // redraws the finished bar
		}
	case p.Phase == sync.PhasePull:
		v.bar.Describe(describePhase(p))
		v.bar.Set(p.Objects)
	default:
		v.bar.RenderBlank()
	}
	v.shown, v.drawn = true, time.Now()
}

// erase takes the bar off its line (the cursor stays at its start).
func (v *progressView) erase() {
	if v.shown {
		io.WriteString(v.tty, "\r\x1b[2K")
		v.shown = false
	}
}

func (v *progressView) clear() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.erase()
	if v.bar != nil {
		v.bar.Exit()
		v.bar = nil
	}
}

func (v *progressView) close() {
	v.mu.Lock()
	if !v.closed {
		v.closed = true
		close(v.stop)
	}
	v.mu.Unlock()
	v.wg.Wait()
	v.clear()
}

// tick moves the spinner, the rate and the times on while nothing is
// reported (a slow page, a workspace that makes idsync wait).
func (v *progressView) tick() {
	t := time.NewTicker(progressRedraw)
	defer t.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-t.C:
			v.mu.Lock()
			if v.bar != nil && time.Since(v.drawn) >= progressRedraw {
				v.draw(true)
			}
			v.mu.Unlock()
		}
	}
}

// progressWriter is the command's stderr while a bar is drawn: what is
// written erases the bar first; the next update draws it again below.
type progressWriter struct {
	v *progressView
	w io.Writer
}

func (pw *progressWriter) Write(p []byte) (int, error) {
	pw.v.mu.Lock()
	defer pw.v.mu.Unlock()
	pw.v.erase()
	return pw.w.Write(p)
}
