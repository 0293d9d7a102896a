package sync

import (
	"time"

	"github.com/robfig/cron/v3"
)

// Heartbeat calls f every interval from the scheduler's own cron loop, for
// as long as the scheduler runs (Start to Stop). It is how the daemon pings
// systemd's watchdog: f is called only while the loop that dispatches the
// scheduled runs can still dispatch, so a scheduler that hangs stops the
// pings and systemd restarts the service. So does a run still going
// stuckGrace (StuckGrace) past its deadline: ended at the deadline, it
// ignores it, and only a restart frees its connection. f must return
// quickly; runs never delay it (each job, runs included, gets its own
// goroutine).
func (s *Scheduler) Heartbeat(interval time.Duration, f func()) {
	if interval <= 0 {
		return
	}
	s.cron.Schedule(every(interval), cron.FuncJob(func() {
		if s.ctx.Err() != nil {
			return
		}
		if conn, late, stuck := s.engine.Stuck(time.Now(), s.stuckGrace); stuck {
			s.engine.Log.Error("a run is stuck past its deadline and ignores being ended; no heartbeat, so the service manager restarts idsync",
				"connection", conn, "past_deadline", late.Round(time.Second))
			return
		}
		f()
	}))
}

// every is a cron.Schedule with sub-second precision (cron.Every rounds
// up to whole seconds, too coarse for a short WatchdogSec).
type every time.Duration

var _ cron.Schedule = every(0)

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }
