package notify

import (
	"sync/atomic"
	"testing"
	"time"
)

// With several daemons on one state, only the holder of a connection's
// lease looks after its subscriptions: a daemon that does not hold it
// creates, renews and deletes none (two doing it would delete each other's
// as orphans); once it holds the lease, it does.
func TestUpkeepOnlyByTheLeaseHolder(t *testing.T) {
	r := newGraphRig(t)
	var holds atomic.Bool
	var asked atomic.Int64
	r.svc.Owns = func(conn string) bool {
		asked.Add(1)
		return holds.Load()
	}
	r.svc.CheckEvery = 20 * time.Millisecond
	r.svc.Start(r.ctx)
	eventually(t, "three upkeep passes", func() bool { return asked.Load() >= 3 })
	if n := len(r.tenant.Subscriptions()); n != 0 {
		t.Fatalf("a daemon without the lease created %d subscriptions", n)
	}
	holds.Store(true)
	eventually(t, "the holder's subscriptions", func() bool { return len(r.tenant.Subscriptions()) == 2 && len(r.subs(t)) == 2 })
}
