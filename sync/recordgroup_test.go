package sync

import (
	"context"
	"fmt"
	stdsync "sync"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
)

// dupTarget answers the creates of two different users with one workspace
// id, and lets each round of the workers' creates answer together, so their
// records queue for the database at once (recordgroup.go's shared
// transaction).
type dupTarget struct {
	*fakeTarget
	mu      stdsync.Mutex
	waiting int
	release chan struct{}
	round   int
}

func (d *dupTarget) Apply(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	out, err := d.fakeTarget.Apply(ctx, op)
	if err == nil && op.Kind == idsync.OpCreate && (op.ObjectID == "u01" || op.ObjectID == "u03") {
		out.TargetID = "dup"
	}
	d.mu.Lock()
	d.waiting++
	ch := d.release
	if d.waiting == d.round {
		close(ch)
		d.waiting, d.release = 0, make(chan struct{})
	}
	d.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(2 * time.Second): // the last, short round
	}
	return out, err
}

// Records committed together: a record the applied state refuses (its
// workspace id is recorded for another user) is undone alone and its op
// fails; every other worker's record of the group lands, exactly once,
// and the outbox is empty.
func TestGroupedRecordsOneRefusedOthersLand(t *testing.T) {
	h := newHarness(t, Policy{})
	const n = 8
	for i := range n {
		h.src.user(fmt.Sprintf("u%02d", i), fmt.Sprintf("user%02d", i))
	}
	h.tgt.conc = 4
	d := &dupTarget{fakeTarget: h.tgt, release: make(chan struct{}), round: 4}
	h.conn.Target = d
	res, err := h.engine.Run(context.Background(), h.conn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != n-1 || res.Failed != 1 {
		t.Fatalf("applied %d, failed %d; want %d and 1", res.Applied, res.Failed, n-1)
	}
	applied := h.applied()
	if len(applied) != n-1 {
		t.Fatalf("applied state holds %d users, want %d", len(applied), n-1)
	}
	owners := 0
	for _, id := range []string{"u01", "u03"} {
		if a, ok := applied[id]; ok {
			owners++
			if a.TargetID != "dup" {
				t.Errorf("%s recorded as %s", id, a.TargetID)
			}
		}
	}
	if owners != 1 {
		t.Fatalf("%d of u01/u03 own the shared workspace id, want 1: %v", owners, applied)
	}
	var pending int
	var evs []state.Event
	if err := h.store.View(context.Background(), func(tx *state.Tx) (err error) {
		if pending, err = tx.OutboxLen("acme"); err != nil {
			return err
		}
		evs, err = tx.Events(state.Filter{Connection: "acme"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if pending != 0 {
		t.Fatalf("outbox holds %d ops", pending)
	}
	byResult := map[string]int{}
	for _, e := range evs {
		if e.Kind == string(idsync.OpCreate) {
			byResult[e.Result]++
		}
	}
	if byResult["applied"] != n-1 || byResult["failed"] != 1 {
		t.Fatalf("create events %v, want %d applied and 1 failed", byResult, n-1)
	}
}
