package sync

import (
	"context"
	stdsync "sync"
	"testing"
	"time"
)

func TestTriggerFloodMakesOneFollowUpRun(t *testing.T) {
	h := newHarness(t, Policy{})
	h.src.user("u1", "alice")
	src := &slowSource{fakeSource: h.src, hold: 200 * time.Millisecond}
	h.conn.Source = src
	s := NewScheduler(context.Background(), h.engine)
	s.Triggerable(h.conn, 300*time.Millisecond)

	if !s.Trigger(h.conn.Name, "test") {
		t.Fatal("a triggerable connection was reported unknown")
	}
	// Everything after the first trigger comes while its run is going.
	var wg stdsync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Go(func() {
			for i := 0; i < 2500; i++ {
				s.Trigger(h.conn.Name, "flood")
			}
		})
	}
	wg.Wait()
	s.Stop(true)

	if n := src.pulls.Load(); n != 2 {
		t.Fatalf("10,001 triggers made %d runs, want the first and one follow-up", n)
	}
	c := h.engine.Counters()[h.conn.Name]
	if c.Triggers != 10001 || c.TriggeredRuns != 2 {
		t.Fatalf("counters %+v, want 10001 triggers and 2 triggered runs", c)
	}
	if p := src.peak.Load(); p != 1 {
		t.Fatalf("%d triggered runs overlapped", p)
	}
}

func TestTriggerIdleConnectionRunsAtOnceAndUnknownIsIgnored(t *testing.T) {
	h := newHarness(t, Policy{})
	h.src.user("u1", "alice")
	s := NewScheduler(context.Background(), h.engine)
	if s.Trigger(h.conn.Name, "test") {
		t.Fatal("a connection never made triggerable was accepted")
	}
	if err := s.Add(h.conn, Schedule{Incremental: "@every 1h"}); err != nil {
		t.Fatal(err)
	}
	s.Trigger(h.conn.Name, "test")
	s.Stop(true)
	if _, ok := h.tgt.byUserName()["alice@acme.test"]; !ok {
		t.Fatal("the triggered run did not apply")
	}
	if n := h.engine.Counters()[h.conn.Name].TriggeredRuns; n != 1 {
		t.Fatalf("%d triggered runs, want 1", n)
	}
}
