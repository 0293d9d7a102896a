package sync

import (
	"context"
	"fmt"
	stdsync "sync"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/targets"
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

// ownerTarget creates u00 as workspace account T; u01's create meets T
// (the same userName) and, like the SCIM target, asks targets.OwnerOf before
// adopting it. The test holds the database's writer from u00's answer until
// u01 has decided, so u00's record is waiting to commit meanwhile.
type ownerTarget struct {
	*fakeTarget
	t        *testing.T
	store    *state.Store
	engine   *Engine
	answered chan struct{}
	mu       stdsync.Mutex
	held     *state.Tx
	adopted  bool
}

func (o *ownerTarget) Apply(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	switch op.ObjectID {
	case "u00":
		tx, err := o.store.Begin(context.Background())
		if err != nil {
			return idsync.Applied{}, err
		}
		o.mu.Lock()
		o.held = tx
		o.mu.Unlock()
		close(o.answered)
		return idsync.Applied{TargetID: "T"}, nil
	case "u01":
		<-o.answered
		// Wait until u00's record is queued for the database.
		deadline := time.Now().Add(10 * time.Second)
		for {
			o.engine.mu.Lock()
			r := o.engine.recs["acme"]
			o.engine.mu.Unlock()
			queued := false
			if r != nil {
				_, queued = r.queue.State()
			}
			if queued || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond) // polls a condition, with a deadline
		}
		owner, err := targets.OwnerOf(ctx, targets.User, "T")
		o.mu.Lock()
		o.held.Rollback()
		o.mu.Unlock()
		if err != nil {
			return idsync.Applied{}, err
		}
		if owner != "" {
			return idsync.Applied{}, fmt.Errorf("workspace account T belongs to %s: not adopted", owner)
		}
		o.mu.Lock()
		o.adopted = true // the adoption's write to T (its attributes become u01's)
		o.mu.Unlock()
		return idsync.Applied{TargetID: "T"}, nil
	}
	return o.fakeTarget.Apply(ctx, op)
}

// The adoption guard (targets.OwnerOf) sees an account another worker has
// just created and is recording: u01 must not adopt u00's new account while
// u00's record waits for the database (its group commit), or u01's
// attributes are written over u00's account before the state's unique
// target id refuses the record.
func TestOwnerCheckSeesARecordWaitingToCommit(t *testing.T) {
	h := newHarness(t, Policy{})
	h.src.user("u00", "same")
	h.src.user("u01", "same2")
	h.tgt.conc = 2
	o := &ownerTarget{fakeTarget: h.tgt, t: t, store: h.store, engine: h.engine, answered: make(chan struct{})}
	h.conn.Target = o
	if _, err := h.engine.Run(context.Background(), h.conn, Options{}); err != nil {
		t.Fatal(err)
	}
	if o.adopted {
		t.Fatal("u01 adopted workspace account T while u00's record of it waited to commit: u00's account was written with u01's attributes")
	}
	if a := h.applied()["u00"]; a.TargetID != "T" {
		t.Fatalf("u00 recorded as %q, want T", a.TargetID)
	}
}
