package notify

import (
	"sync/atomic"
	"time"
)

// Counts are one connection's notification counters, for /metrics
// (internal/metrics) and tests. Runs the triggers started are counted by
// the engine (sync.Counters.TriggeredRuns).
type Counts struct {
	Received    int64         // requests to a notification endpoint (validation handshakes apart)
	Accepted    int64         // notifications that passed the clientState / secret check
	Rejected    int64         // notifications with a wrong or unknown clientState / secret, or unreadable
	Dropped     int64         // requests dropped because the queue was full
	Triggers    int64         // run triggers sent to the scheduler
	Lifecycle   int64         // Graph lifecycle events handled
	Validations int64         // validation handshakes / verification challenges answered
	Lag         time.Duration // last delivery lag the IdP let us measure (Okta: event published → received)
}

type counters struct {
	received, accepted, rejected, dropped, triggers, lifecycle, validations atomic.Int64
	lag                                                                     atomic.Int64
}

func (c *counters) snapshot() Counts {
	return Counts{
		Received: c.received.Load(), Accepted: c.accepted.Load(), Rejected: c.rejected.Load(),
		Dropped: c.dropped.Load(), Triggers: c.triggers.Load(), Lifecycle: c.lifecycle.Load(),
		Validations: c.validations.Load(), Lag: time.Duration(c.lag.Load()),
	}
}
