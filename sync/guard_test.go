package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
)

// logBuffer collects an engine's log lines.
type logBuffer struct {
	mu  stdsync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func captureLog(h *harness) *logBuffer {
	b := &logBuffer{}
	h.engine.Log = slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return b
}

// hangSource is an IdP that stops answering: while hang is set, a pull
// says it has started (entered) and then waits for its context to end, as
// a client reading from a server that trickles bytes does.
type hangSource struct {
	*fakeSource
	hang    atomic.Bool
	entered chan struct{}
}

func newHangSource(src *fakeSource) *hangSource {
	s := &hangSource{fakeSource: src, entered: make(chan struct{}, 10)}
	s.hang.Store(true)
	return s
}

func (s *hangSource) Pull(ctx context.Context, cursor string, emit func([]idsync.Change) error) (string, bool, error) {
	if !s.hang.Load() {
		return s.fakeSource.Pull(ctx, cursor, emit)
	}
	s.entered <- struct{}{}
	select {
	case <-ctx.Done():
		return "", false, fmt.Errorf("hang: read users: %w", ctx.Err())
	case <-time.After(30 * time.Second):
		return "", false, errors.New("hang: nothing ended the pull within 30s")
	}
}

// manualDeadline makes h's runs pass their deadline only when the test
// says so: each run's trigger is sent on the returned channel.
func manualDeadline(h *harness) <-chan func() {
	triggers := make(chan func(), 10)
	h.engine.deadline = func(ctx context.Context, d time.Duration, cause error) (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancelCause(ctx)
		triggers <- func() { cancel(cause) }
		return ctx, func() { cancel(context.Canceled) }
	}
	return triggers
}

func lastRun(t *testing.T, h *harness, conn string) state.Run {
	t.Helper()
	var runs []state.Run
	if err := h.store.View(context.Background(), func(tx *state.Tx) (err error) {
		runs, err = tx.Runs(state.Filter{Connection: conn, Limit: 1})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(runs) == 0 {
		t.Fatalf("no run of %s recorded", conn)
	}
	return runs[0]
}

// TestHangingIdPRunIsEndedAtItsDeadline: an IdP that stops answering in
// the middle of a pull no longer holds the connection forever. The run is
// ended at its deadline, logged with what it was doing, recorded as
// failed and counted, and the next run goes through.
func TestHangingIdPRunIsEndedAtItsDeadline(t *testing.T) {
	h := newHarness(t, Policy{})
	logs := captureLog(h)
	h.src.user("u1", "alice")
	src := newHangSource(h.src)
	h.conn.Source = src
	h.conn.RunTimeout = 50 * time.Millisecond

	_, err := h.engine.Run(context.Background(), h.conn, Options{})
	var stalled *StalledError
	if !errors.Is(err, ErrStalled) || !errors.As(err, &stalled) {
		t.Fatalf("run of a hanging IdP: %v, want a stalled run", err)
	}
	if stalled.Phase != "pulling from Entra" || !strings.Contains(err.Error(), "run_timeout 50ms") {
		t.Errorf("the error does not say what stalled and which deadline passed: %v", err)
	}
	if r := lastRun(t, h, "acme"); r.Result != state.RunFailed || !strings.Contains(r.Error, "run stalled") {
		t.Errorf("the run was recorded as %s %q, want failed and stalled", r.Result, r.Error)
	}
	if n := h.engine.Counters()["acme"].Stalled; n != 1 {
		t.Errorf("stalled runs counted: %d, want 1", n)
	}
	if l := logs.String(); !strings.Contains(l, "run passed its deadline") || !strings.Contains(l, `phase="pulling from Entra"`) {
		t.Errorf("the stall was not logged with its phase:\n%s", l)
	}

	// The IdP answers again: the next run is not held up by the last one.
	src.hang.Store(false)
	h.conn.RunTimeout = 0 // DefaultRunTimeout
	h.run(Options{})
	if _, ok := h.tgt.byUserName()["alice@acme.test"]; !ok {
		t.Fatal("the run after the stall did not apply")
	}
}

// TestOpInFlightAtTheDeadlineFinishesAndIsRecorded: ending a stalled run
// never abandons an op the target is already carrying out: it finishes and
// is recorded, and the ops not yet sent stay in the outbox for the next run,
// which applies each exactly once.
func TestOpInFlightAtTheDeadlineFinishesAndIsRecorded(t *testing.T) {
	h := newHarness(t, Policy{})
	for i := range 3 {
		h.src.user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
	}
	triggers := manualDeadline(h)
	inFlight, release := make(chan struct{}), make(chan struct{})
	h.tgt.fail = func(op idsync.Op, call int) error {
		if call == 1 {
			close(inFlight)
			<-release
		}
		return nil
	}
	done := make(chan error, 1)
	go func() {
		_, err := h.engine.Run(context.Background(), h.conn, Options{})
		done <- err
	}()
	trigger := <-triggers
	<-inFlight
	trigger() // the deadline passes while the first create is on the wire
	close(release)
	err := <-done
	var stalled *StalledError
	if !errors.As(err, &stalled) || !strings.HasPrefix(stalled.Phase, "applying the plan") {
		t.Fatalf("run: %v, want stalled while applying", err)
	}
	if n := len(h.applied()); n != 1 {
		t.Fatalf("%d ops recorded as applied, want the 1 in flight at the deadline", n)
	}
	if r := lastRun(t, h, "acme"); r.Result != state.RunFailed || r.Applied != 1 {
		t.Errorf("run recorded as %s with %d applied, want failed with 1", r.Result, r.Applied)
	}

	h.tgt.fail = nil
	res := h.run(Options{}) // its deadline is never passed

	if res.Resumed != 2 || len(h.applied()) != 3 {
		t.Fatalf("next run resumed %d ops, %d applied; want 2 and 3", res.Resumed, len(h.applied()))
	}
	for id, n := range h.tgt.applied {
		if n != 1 {
			t.Errorf("op %s applied %d times", id, n)
		}
	}
}

// TestSchedulerSkipsTicksOfAStalledRunThenRunsAgain: under the daemon, a
// tick that finds the previous run still going is skipped with a log line
// and counted (robfig's SkipIfStillRunning dropped them silently), and
// once the stalled run is ended at its deadline the next tick runs.
func TestSchedulerSkipsTicksOfAStalledRunThenRunsAgain(t *testing.T) {
	h := newHarness(t, Policy{})
	logs := captureLog(h)
	h.src.user("u1", "alice")
	src := newHangSource(h.src)
	h.conn.Source = src
	triggers := manualDeadline(h)
	s := NewScheduler(context.Background(), h.engine)
	results := make(chan error, 3)
	s.OnResult = func(_ *Result, err error) { results <- err }
	tick := s.job(h.conn, Options{})

	go tick.Run()
	trigger := <-triggers
	<-src.entered
	tick.Run() // returns at once: the first run is still pulling
	if n := h.engine.Counters()["acme"].Skipped; n != 1 {
		t.Fatalf("skipped ticks counted: %d, want 1", n)
	}
	if l := logs.String(); !strings.Contains(l, "scheduled run skipped") || !strings.Contains(l, "connection=acme") {
		t.Fatalf("the skipped tick was not logged:\n%s", l)
	}
	trigger()
	if err := <-results; !errors.Is(err, ErrStalled) {
		t.Fatalf("stalled run: %v", err)
	}

	src.hang.Store(false)
	tick.Run() // its deadline is never passed
	if err := <-results; err != nil {
		t.Fatalf("the tick after the stall: %v", err)
	}
	if _, ok := h.tgt.byUserName()["alice@acme.test"]; !ok {
		t.Fatal("the tick after the stall did not apply")
	}
}

// TestPanickingSourceFailsOnlyItsOwnRun: a source that panics in the
// middle of a pull fails that run (recorded, stack in the debug log); the
// scheduler, the engine and another connection carry on.
func TestPanickingSourceFailsOnlyItsOwnRun(t *testing.T) {
	h := newHarness(t, Policy{})
	logs := captureLog(h)
	h.src.user("u1", "alice")
	h.src.failPage = func(k int, full bool) error {
		page, i := []int{1, 2, 3}, 7
		return fmt.Errorf("%d", page[i]) // a real runtime error: its message names code only
	}
	other := newFakeSource()
	other.user("b1", "bob")
	otherTgt := newFakeTarget()
	beta := &Connection{Name: "beta", SourceType: "okta", Source: other, Target: otherTgt, Policy: Policy{Deprovision: DefaultDeprovision}}

	s := NewScheduler(context.Background(), h.engine)
	var mu stdsync.Mutex
	errs := map[string]error{}
	s.OnResult = func(res *Result, err error) {
		mu.Lock()
		defer mu.Unlock()
		errs[res.Connection] = err
	}
	s.RunNow(h.conn, Options{})
	s.RunNow(beta, Options{})
	s.Stop(true)

	var pe *PanicError
	if err := errs["acme"]; !errors.As(err, &pe) || err.Error() != "panic: runtime error: index out of range [7] with length 3" {
		t.Fatalf("run with a panicking source: %v", err)
	}
	if r := lastRun(t, h, "acme"); r.Result != state.RunFailed || r.Error != "panic: runtime error: index out of range [7] with length 3" {
		t.Errorf("run recorded as %s %q", r.Result, r.Error)
	}
	if l := logs.String(); !strings.Contains(l, "level=DEBUG msg=\"panic stack\"") || !strings.Contains(l, "goroutine") {
		t.Errorf("the panic's stack is not in the debug log:\n%s", l)
	}
	if n := h.engine.Counters()["acme"].Panicked; n != 1 {
		t.Errorf("panicked runs counted: %d", n)
	}
	if err := errs["beta"]; err != nil {
		t.Fatalf("the other connection: %v", err)
	}
	if _, ok := otherTgt.byUserName()["bob@acme.test"]; !ok {
		t.Fatal("the other connection did not apply")
	}
	if r := lastRun(t, h, "beta"); r.Result != state.RunOK {
		t.Errorf("the other connection's run: %s", r.Result)
	}

	// The source is fixed: the connection runs again.
	h.src.failPage = nil
	h.run(Options{})
	if _, ok := h.tgt.byUserName()["alice@acme.test"]; !ok {
		t.Fatal("the run after the panic did not apply")
	}
}

// TestPanickingTargetInAnApplyWorkerIsRecovered: a target panics inside
// one of the apply workers (a goroutine of its own, where a recover in the
// run's goroutine cannot reach). The run fails; the op stays in the outbox
// and is applied by the next run.
func TestPanickingTargetInAnApplyWorkerIsRecovered(t *testing.T) {
	h := newHarness(t, Policy{})
	for i := range 4 {
		h.src.user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
	}
	h.tgt.conc = 2
	h.tgt.fail = func(op idsync.Op, call int) error {
		if op.ObjectID == "u2" {
			var m map[string]int
			m["x"]++ // assignment to entry in nil map
		}
		return nil
	}
	res, err := h.engine.Run(context.Background(), h.conn, Options{})
	var pe *PanicError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "panic: assignment to entry in nil map") {
		t.Fatalf("run with a panicking target: %v", err)
	}
	if r := lastRun(t, h, "acme"); r.Result != state.RunFailed || !strings.HasPrefix(r.Error, "panic: ") {
		t.Errorf("run recorded as %s %q", r.Result, r.Error)
	}
	h.tgt.fail = nil
	res = h.run(Options{})
	if len(h.applied()) != 4 {
		t.Fatalf("after the panic the next run left %d of 4 applied (resumed %d)", len(h.applied()), res.Resumed)
	}
}

// TestPanicInDryRunAndApproveIsRecovered: the other ways into a run
// recover too.
func TestPanicInDryRunAndApproveIsRecovered(t *testing.T) {
	h := newHarness(t, Policy{MaxDeletes: 1})
	for i := range 4 {
		h.src.user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
	}
	boom := func(k int, full bool) error {
		var p *int
		return fmt.Errorf("%d", *p) // a real nil dereference
	}

	h.src.failPage = boom
	var pe *PanicError
	if _, err := h.engine.Run(context.Background(), h.conn, Options{DryRun: true}); !errors.As(err, &pe) {
		t.Fatalf("first (in-memory) dry run: %v", err)
	}
	h.src.failPage = nil
	h.run(Options{})
	h.src.failPage = boom
	if _, err := h.engine.Run(context.Background(), h.conn, Options{DryRun: true, Full: true}); !errors.As(err, &pe) {
		t.Fatalf("dry run on a copy: %v", err)
	}

	h.src.failPage = nil
	for i := range 2 {
		h.src.record(idsync.UserRemovedChange(fmt.Sprintf("u%d", i), idsync.RemovalHard))
	}
	if res := h.run(Options{}); res.Held == "" {
		t.Fatal("2 deletes over max_deletes 1 were not held")
	}
	h.src.user("u9", "user9") // a page for the approval's pull
	h.src.failPage = boom
	_, err := h.engine.Approve(context.Background(), h.conn, ApproveOptions{})
	if !errors.As(err, &pe) || err.Error() != "panic: runtime error: invalid memory address or nil pointer dereference" {
		t.Fatalf("approve with a panicking source: %v", err)
	}
	if r := lastRun(t, h, "acme"); r.Kind != "approve" || r.Result != state.RunFailed {
		t.Errorf("approve recorded as %s %s", r.Kind, r.Result)
	}
}
