package sync

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idsync/idsync"
)

// slowSource holds every pull open for a while and records how many overlap.
type slowSource struct {
	*fakeSource
	cur, peak, pulls atomic.Int32
	hold             time.Duration
}

func (s *slowSource) Pull(ctx context.Context, cursor string, emit func([]idsync.Change) error) (string, bool, error) {
	n := s.cur.Add(1)
	defer s.cur.Add(-1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	s.pulls.Add(1)
	time.Sleep(s.hold)
	return s.fakeSource.Pull(ctx, cursor, emit)
}

func TestSchedulerNeverOverlapsRunsOfAConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for cron ticks")
	}
	h := newHarness(t, Policy{})
	h.src.user("u1", "alice")
	src := &slowSource{fakeSource: h.src, hold: 1500 * time.Millisecond}
	h.conn.Source = src
	s := NewScheduler(context.Background(), h.engine)
	// Both jobs tick every second while each pull takes 1.5 s.
	if err := s.Add(h.conn, Schedule{Incremental: "@every 1s", Full: "@every 1s"}); err != nil {
		t.Fatal(err)
	}
	s.RunNow(h.conn, Options{})
	s.Start()
	time.Sleep(4 * time.Second)
	s.Stop(true)
	if p := src.peak.Load(); p != 1 {
		t.Fatalf("%d runs of one connection overlapped", p)
	}
	if n := src.pulls.Load(); n < 2 {
		t.Fatalf("only %d runs happened", n)
	}
	if _, ok := h.tgt.byUserName()["alice@acme.test"]; !ok {
		t.Fatal("scheduled runs did not apply")
	}
}

func TestSchedulerRejectsBadSpec(t *testing.T) {
	h := newHarness(t, Policy{})
	s := NewScheduler(context.Background(), h.engine)
	if err := s.Add(h.conn, Schedule{Incremental: "every 5m"}); err == nil {
		t.Fatal("a bad cron spec was accepted")
	}
}
