package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/internal/httppolicy"
	"github.com/idsync/idsync/state"
)

// DefaultRunTimeout is a run's deadline when its connection sets none
// (Connection.RunTimeout, config run_timeout): generous, so only a run that
// is stuck reaches it.
const DefaultRunTimeout = time.Hour

// ErrStalled is wrapped by the error of a run that passed its deadline and
// was ended (a *StalledError).
var ErrStalled = errors.New("run stalled")

// errDeadline is the cause of a run context's cancellation at the deadline.
var errDeadline = errors.New("the run's deadline passed")

// StalledError is the error of a run ended at its deadline.
type StalledError struct {
	Timeout time.Duration // the deadline, from the start of the run
	Phase   string        // what the run was doing when the deadline passed
	Err     error         // what the run returned once ended
}

func (e *StalledError) Error() string {
	return fmt.Sprintf("run stalled: still %s when its deadline (run_timeout %s) passed, so it was ended; the next run starts from where this one stopped: %v",
		e.Phase, e.Timeout, e.Err)
}

func (e *StalledError) Unwrap() []error { return []error{ErrStalled, e.Err} }

// PanicError is the error of a run in which a source, a target or idsync
// itself panicked: the panic is recovered and the run fails, and the
// daemon and the other connections go on.
type PanicError struct {
	Value string // the runtime's message, or the panic value's type only (newPanicError)
	Stack []byte // the panicking goroutine's stack (logged at debug level)
}

func (e *PanicError) Error() string { return "panic: " + e.Value }

// maxPanicText bounds a panic value in errors and the provisioning log.
const maxPanicText = 500

// newPanicError describes v without quoting data, as cmd/idsync's
// panicText does: the runtime's own messages (nil dereference, index out
// of range) name code only, but a panic(value) from an SDK may quote what
// a server sent (escapes included) or a secret, so only its type is told.
func newPanicError(v any) *PanicError {
	s := fmt.Sprintf("a %T value (not shown: it may quote a server's answer; the debug log has the stack)", v)
	if re, ok := v.(runtime.Error); ok {
		s = httppolicy.Text(re.Error())
	}
	if len(s) > maxPanicText {
		s = s[:maxPanicText] + "…"
	}
	return &PanicError{Value: s, Stack: debug.Stack()}
}

// protect runs f and turns a panic in it into a *PanicError. Every
// goroutine a run starts calls its work through protect: a panic there
// would otherwise end the process, whatever the run's own goroutine
// recovers.
func protect(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = newPanicError(v)
		}
	}()
	return f()
}

// Counters are what happened to one connection's runs since the process
// started, for metrics.
type Counters struct {
	Stalled  uint64 // runs ended at their deadline
	Panicked uint64 // runs failed by a recovered panic
	Skipped  uint64 // scheduled runs skipped because the previous one was still going
	// Triggers counts Scheduler.Trigger calls (pushes, notifications);
	// TriggeredRuns the runs they started (at most one per debounce window).
	Triggers      uint64
	TriggeredRuns uint64
	// Ops counts the ops the apply phase finished, by kind and outcome
	// (runs, resumes and approvals alike).
	Ops map[OpOutcome]uint64
}

// OpOutcome is an op kind and how applying it ended: "applied" or
// "failed" (a permanent failure, retried on a later run).
type OpOutcome struct {
	Kind   idsync.OpKind
	Result string
}

// Counters returns each connection's counters.
func (e *Engine) Counters() map[string]Counters {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]Counters, len(e.counters))
	for k, v := range e.counters {
		c := *v
		c.Ops = maps.Clone(v.Ops)
		out[k] = c
	}
	return out
}

func (e *Engine) count(conn string, f func(*Counters)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.counters == nil {
		e.counters = map[string]*Counters{}
	}
	c, ok := e.counters[conn]
	if !ok {
		c = &Counters{}
		e.counters[conn] = c
	}
	f(c)
}

// countOps adds ps to the connection's op counters with the given result.
func (e *Engine) countOps(conn string, ps []state.Pending, result string) {
	e.count(conn, func(n *Counters) {
		if n.Ops == nil {
			n.Ops = map[OpOutcome]uint64{}
		}
		for _, p := range ps {
			n.Ops[OpOutcome{Kind: p.Op.Kind, Result: result}]++
		}
	})
}

// runPhase is what a run is doing, for the message of a run that stalls.
type runPhase struct{ p atomic.Pointer[string] }

func (p *runPhase) set(s string) { p.p.Store(&s) }

func (p *runPhase) get() string {
	if s := p.p.Load(); s != nil {
		return *s
	}
	return "starting"
}

type phaseKey struct{}

// setPhase records what the run of ctx is doing now.
func setPhase(ctx context.Context, s string) {
	if p, ok := ctx.Value(phaseKey{}).(*runPhase); ok {
		p.set(s)
	}
}

// guarded runs f, the body of a run of c, under c's deadline and recovers
// a panic in it. A run past its deadline is ended through its context
// (ops already sent finish and are recorded: they run without
// cancellation) and its error is a *StalledError; a panic's is a
// *PanicError. Both are logged and counted.
func (e *Engine) guarded(ctx context.Context, c *Connection, log *slog.Logger, f func(context.Context) error) (err error) {
	timeout := c.RunTimeout
	if timeout <= 0 {
		timeout = DefaultRunTimeout
	}
	ph := &runPhase{}
	deadline := e.deadline
	if deadline == nil {
		deadline = context.WithTimeoutCause
	}
	defer e.inflight(c.Name, time.Now().Add(timeout))()
	rctx, cancel := deadline(context.WithValue(ctx, phaseKey{}, ph), timeout, errDeadline)
	defer cancel()
	var stalledIn string
	fired := make(chan struct{})
	stop := context.AfterFunc(rctx, func() {
		defer close(fired)
		if context.Cause(rctx) != errDeadline {
			return // stopped from outside (SIGTERM, Ctrl-C) or finished
		}
		at := ph.get()
		stalledIn = at
		e.count(c.Name, func(n *Counters) { n.Stalled++ })
		// Said now, not when the run has stopped: a backend that ignores
		// cancellation would otherwise hide the stall.
		log.Warn("run passed its deadline; ending it", "run_timeout", timeout, "phase", at)
	})
	defer stop()
	defer func() {
		if v := recover(); v != nil {
			err = newPanicError(v)
		}
		var pe *PanicError
		if errors.As(err, &pe) {
			e.count(c.Name, func(n *Counters) { n.Panicked++ })
			log.Error("recovered from a panic; the run failed", "panic", pe.Value)
			log.Debug("panic stack", "stack", string(pe.Stack))
			return
		}
		if err == nil {
			return
		}
		if context.Cause(rctx) == errDeadline {
			if !stop() {
				<-fired // it has counted and logged the stall
			}
			at := stalledIn
			if at == "" {
				at = ph.get()
			}
			err = &StalledError{Timeout: timeout, Phase: at, Err: err}
		}
	}()
	return f(rctx)
}
