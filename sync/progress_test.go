package sync

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/idsync/idsync"
)

// A run's progress reports count the pull's pages and objects, then the
// apply's ops of its total, in order, one at a time.
func TestProgressReportsPullAndApply(t *testing.T) {
	h := newHarness(t, Policy{})
	for i := range 10 {
		h.src.user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
	}
	h.tgt.conc = 4
	var mu stdsync.Mutex
	var got []Progress
	res := h.run(Options{Progress: func(p Progress) {
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
	}})
	if res.Applied != 10 {
		t.Fatalf("applied %d", res.Applied)
	}
	var phases []Phase
	var last Progress
	for _, p := range got {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
		if p.Connection != "acme" || p.Started.IsZero() {
			t.Fatalf("report %+v", p)
		}
		if p.Phase == PhaseApply {
			if p.Done() < last.Done() {
				t.Fatalf("apply went backwards: %+v after %+v", p, last)
			}
			last = p
		}
	}
	// The fake target cannot list the workspace: no list phase.
	if want := []Phase{PhaseResume, PhasePull, PhasePlan, PhaseApply}; fmt.Sprint(phases) != fmt.Sprint(want) {
		t.Fatalf("phases %v, want %v", phases, want)
	}
	var pull Progress
	for _, p := range got {
		if p.Phase == PhasePull {
			pull = p
		}
	}
	// 10 users in pages of 3: 4 pages.
	if pull.Pages != 4 || pull.Objects != 10 {
		t.Fatalf("pull progress %+v, want 4 pages, 10 objects", pull)
	}
	if last.Total != 10 || last.Applied != 10 || last.Failed != 0 {
		t.Fatalf("last apply progress %+v", last)
	}
}

// Failed ops count as done, and a dry run reports its pull too.
func TestProgressCountsFailuresAndDryRuns(t *testing.T) {
	h := newHarness(t, Policy{})
	h.src.user("u1", "alice")
	h.src.user("u2", "bob")
	h.tgt.fail = func(op idsync.Op, call int) error {
		if op.ObjectID == "u2" {
			return fmt.Errorf("workspace answered 400")
		}
		return nil
	}
	var last Progress
	h.engine.Run(context.Background(), h.conn, Options{Progress: func(p Progress) { last = p }})
	if last.Phase != PhaseApply || last.Applied != 1 || last.Failed != 1 || last.Total != 2 {
		t.Fatalf("last progress %+v", last)
	}
	h.src.user("u3", "carol")
	var pulled Progress
	h.run(Options{DryRun: true, Progress: func(p Progress) {
		if p.Phase == PhasePull {
			pulled = p
		}
	}})
	if pulled.Pages == 0 || pulled.Objects == 0 {
		t.Fatalf("dry run pull progress %+v", pulled)
	}
}

// syncBuffer is a log destination tests can read while a run writes it.
type syncBuffer struct {
	mu  stdsync.Mutex
	buf bytes.Buffer
	// seen is closed the first time the buffer holds want.
	want string
	seen chan struct{}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.seen != nil && strings.Contains(b.buf.String(), b.want) {
		close(b.seen)
		b.seen = nil
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A long run is logged while it goes (Engine.ProgressEvery): here the
// target holds the apply until the periodic line has been logged.
func TestProgressIsLoggedDuringLongRuns(t *testing.T) {
	h := newHarness(t, Policy{})
	for i := range 3 {
		h.src.user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
	}
	logged := &syncBuffer{want: `msg="run in progress" connection=acme phase=apply`, seen: make(chan struct{})}
	seen := logged.seen
	h.engine.Log = slog.New(slog.NewTextHandler(logged, nil))
	h.engine.ProgressEvery = 5 * time.Millisecond
	h.tgt.fail = func(op idsync.Op, call int) error {
		if call == 2 {
			select {
			case <-seen:
			case <-time.After(30 * time.Second):
				return fmt.Errorf("no progress line logged while the run was held up")
			}
		}
		return nil
	}
	res := h.run(Options{})
	if res.Applied != 3 {
		t.Fatalf("applied %d, failed %d; log:\n%s", res.Applied, res.Failed, logged)
	}
	out := logged.String()
	if !strings.Contains(out, "total=3") || !strings.Contains(out, "running_for=") {
		t.Fatalf("progress line lacks its counts:\n%s", out)
	}
}

// BenchmarkProgress is a first run of 2,000 users into the fake target,
// without anyone following it, with a reporter, and with the periodic log.
//
//	go test ./sync -run '^$' -bench Progress -benchtime 5x
func BenchmarkProgress(b *testing.B) {
	for _, tc := range []struct {
		name   string
		report func(Progress)
		every  time.Duration
	}{{"none", nil, 0}, {"reported", func(Progress) {}, 0}, {"logged", nil, time.Hour}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				h := newHarness(b, Policy{})
				h.src.pageSize = 100
				for i := range 2000 {
					h.src.user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
				}
				h.tgt.conc = 4
				h.engine.ProgressEvery = tc.every
				b.StartTimer()
				if _, err := h.engine.Run(context.Background(), h.conn, Options{Progress: tc.report}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
