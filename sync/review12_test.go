package sync

import (
	"context"
	"testing"
	"time"

	"github.com/idsync/idsync"
)

// deafSource hangs in Pull until released, deaf to its context: a backend
// call without cancellation, or a bug.
type deafSource struct {
	*fakeSource
	entered chan struct{}
	release chan struct{}
}

func (s deafSource) Pull(ctx context.Context, cursor string, emit func([]idsync.Change) error) (string, bool, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.fakeSource.Pull(ctx, cursor, emit)
}

// The watchdog's heartbeat must stop while a run is stuck past its
// deadline: ended through its context, it did not return. Before, the cron
// loop beat regardless, so systemd never restarted a daemon whose
// connection was wedged for good (each tick "skipped: the previous one is
// still going"), and the unit's promise (a hung scheduler is restarted)
// held for nothing. Once the run returns, the beats come again.
func TestHeartbeatStopsWhileARunIgnoresItsDeadline(t *testing.T) {
	h := newHarness(t, Policy{})
	h.src.user("u1", "alice")
	src := deafSource{fakeSource: h.src, entered: make(chan struct{}, 1), release: make(chan struct{})}
	h.conn.Source = src
	h.conn.RunTimeout = 10 * time.Millisecond
	s := NewScheduler(context.Background(), h.engine)
	s.stuckGrace = 0
	beats := make(chan struct{}, 1000)
	s.Heartbeat(5*time.Millisecond, func() { beats <- struct{}{} })
	s.Start()
	released := false
	release := func() {
		if !released {
			released = true
			close(src.release)
		}
	}
	defer s.Stop(true)
	defer release() // before Stop waits for the run
	wait := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	<-beats
	s.RunNow(h.conn, Options{})
	<-src.entered
	wait("the run's deadline", func() bool { return h.engine.Counters()["acme"].Stalled > 0 })
	// The beats stop: a quiet spell of 20 intervals.
	wait("the heartbeat to stop", func() bool {
		select {
		case <-beats:
			return false
		case <-time.After(100 * time.Millisecond):
			return true
		}
	})
	release()
	wait("the heartbeat to come back", func() bool {
		select {
		case <-beats:
			return true
		default:
			return false
		}
	})
}
