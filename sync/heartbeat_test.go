package sync

import (
	"context"
	"testing"
	"time"
)

// The heartbeat beats from the cron loop while the scheduler runs, with
// sub-second intervals, even while a run holds its connection, and never
// after Stop: a scheduler that no longer dispatches no longer beats.
func TestHeartbeatBeatsWhileTheSchedulerRuns(t *testing.T) {
	h := newHarness(t, Policy{})
	s := NewScheduler(context.Background(), h.engine)
	beats := make(chan struct{}, 100)
	s.Heartbeat(20*time.Millisecond, func() { beats <- struct{}{} })
	// A run of the connection stays stuck while the heart beats.
	unlock := h.engine.lock(h.conn.Name)
	s.RunNow(h.conn, Options{})
	s.Start()
	for i := range 3 {
		select {
		case <-beats:
		case <-time.After(30 * time.Second):
			t.Fatalf("heartbeat %d did not come", i+1)
		}
	}
	unlock()
	s.Stop(true)
	for len(beats) > 0 {
		<-beats
	}
	select {
	case <-beats:
		t.Fatal("a heartbeat after Stop")
	case <-time.After(100 * time.Millisecond):
	}
}
