package sync

import (
	"time"
)

// DefaultDebounce is how long after a triggered run starts further
// triggers are folded into one follow-up run.
const DefaultDebounce = 2 * time.Second

// trigger is one connection's push/notification state. Triggers are hints:
// the run they start reads the source's own cursor (or the pushed
// snapshot), so a lost or duplicated trigger costs latency, never
// correctness.
type trigger struct {
	conn     *Connection
	debounce time.Duration
	running  bool      // a triggered run (or its follow-up wait) is going
	started  time.Time // start of the latest triggered run
	pending  bool      // a trigger came during the run or its debounce window
	reasons  map[string]int
}

// Trigger asks for an incremental run of the named connection soon
// (leading edge): when none is going, one starts at once; triggers that
// come while it runs or within the connection's debounce after it started
// make exactly one follow-up run, started no earlier than debounce after
// the previous one. A flood of triggers therefore costs at most one run
// per debounce window, and Trigger itself never blocks. It reports
// whether the connection is known; unknown names are ignored.
func (s *Scheduler) Trigger(name, reason string) bool {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	t, ok := s.triggers[name]
	if !ok || s.stopped || s.ctx.Err() != nil {
		return ok
	}
	s.engine.count(name, func(n *Counters) { n.Triggers++ })
	if t.running {
		t.pending = true
		if t.reasons == nil {
			t.reasons = map[string]int{}
		}
		t.reasons[reason]++
		return true
	}
	t.running = true
	s.now.Go(func() { s.triggered(t, reason) })
	return true
}

// triggered runs t's connection, then follow-ups while triggers keep
// coming, each no sooner than debounce after the previous start.
func (s *Scheduler) triggered(t *trigger, reason string) {
	for {
		s.tmu.Lock()
		t.started = s.clock()
		t.pending = false
		t.reasons = nil
		s.tmu.Unlock()

		s.engine.count(t.conn.Name, func(n *Counters) { n.TriggeredRuns++ })
		s.engine.Log.Info("triggered run", "connection", t.conn.Name, "reason", reason)
		s.run(t.conn, Options{}, nil)

		s.tmu.Lock()
		wait := t.debounce - s.clock().Sub(t.started)
		s.tmu.Unlock()
		if wait > 0 {
			select {
			case <-time.After(wait):
			case <-s.ctx.Done():
			}
		}
		s.tmu.Lock()
		if !t.pending || s.ctx.Err() != nil {
			t.running = false
			s.tmu.Unlock()
			return
		}
		reason = "follow-up"
		for r := range t.reasons {
			reason = r + " (follow-up)"
			break
		}
		s.tmu.Unlock()
	}
}

// Triggerable makes c answer Trigger with the given debounce (0 means
// DefaultDebounce). Connections added with Add are triggerable with the
// default; push connections and notification sources call this to set
// their own.
func (s *Scheduler) Triggerable(c *Connection, debounce time.Duration) {
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if s.triggers == nil {
		s.triggers = map[string]*trigger{}
	}
	if t, ok := s.triggers[c.Name]; ok {
		t.conn, t.debounce = c, debounce
		return
	}
	s.triggers[c.Name] = &trigger{conn: c, debounce: debounce}
}
