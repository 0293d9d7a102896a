package sync

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	stdsync "sync"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets"
)

// batchTarget is fakeTarget with Bulk: every user op is batchable.
type batchTarget struct {
	*fakeTarget
	size     int
	mu       stdsync.Mutex
	inflight map[string]bool
	batches  [][]string // object ids of each batch sent
	overlap  string
}

func (b *batchTarget) BatchSize(context.Context) int { return b.size }
func (b *batchTarget) Batchable(op idsync.Op) bool   { return !op.Kind.IsGroup() }
func (b *batchTarget) ApplyBatch(ctx context.Context, ops []idsync.Op) []targets.Result {
	b.mu.Lock()
	var ids []string
	for _, op := range ops {
		if b.inflight[op.ObjectID] {
			b.overlap = op.ObjectID
		}
		b.inflight[op.ObjectID] = true
		ids = append(ids, op.ObjectID)
	}
	b.batches = append(b.batches, ids)
	b.mu.Unlock()
	out := make([]targets.Result, len(ops))
	for i, op := range ops {
		out[i].Applied, out[i].Err = b.fakeTarget.Apply(ctx, op)
	}
	b.mu.Lock()
	for _, op := range ops {
		delete(b.inflight, op.ObjectID)
	}
	b.mu.Unlock()
	return out
}

var _ targets.Batcher = (*batchTarget)(nil)

// A batching target gets creates in batches of at most its size; each op's
// result is recorded on its own: a retryable one is sent again alone (the
// others are not repeated), a permanent one fails that user alone. An
// object's ops never share a batch or overlap.
func TestBatchedApply(t *testing.T) {
	h := newHarness(t, Policy{DefaultRole: "member", Rules: []RoleRule{{Group: "Admins", Role: "admin"}}})
	h.src.group("g1", "Admins")
	bt := &batchTarget{fakeTarget: h.tgt, size: 4, inflight: map[string]bool{}}
	h.tgt.conc = 3
	h.conn.Target = bt
	for i := range 10 {
		h.src.user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
	}
	tries := map[string]int{}
	var mu stdsync.Mutex
	h.tgt.fail = func(op idsync.Op, call int) error {
		mu.Lock()
		defer mu.Unlock()
		tries[op.ObjectID]++
		switch {
		case op.ObjectID == "u2" && tries["u2"] == 1:
			return &targets.RetryableError{Err: errors.New("429 inside bulk")}
		case op.ObjectID == "u5":
			return errors.New("400 inside bulk")
		}
		return nil
	}
	res := h.run(Options{})
	if res.Applied != 9 || res.Failed != 1 {
		t.Fatalf("applied %d, failed %d", res.Applied, res.Failed)
	}
	for id, n := range tries {
		want := 1
		if id == "u2" {
			want = 2
		}
		if n != want {
			t.Errorf("%s sent %d times, want %d", id, n, want)
		}
	}
	for _, b := range bt.batches {
		if len(b) > 4 {
			t.Errorf("batch of %d ops, over the size 4", len(b))
		}
	}
	if len(bt.batches) != 4 { // 4 + 4 + 2, then u2 again
		t.Errorf("%d batches %v, want 4", len(bt.batches), bt.batches)
	}
	if a := h.applied(); len(a) != 9 {
		t.Errorf("applied state holds %d users", len(a))
	}

	// An object's ops of one phase go in successive rounds, never together.
	h.tgt.fail = nil
	bt.batches = nil
	var all []string
	for i := range 10 {
		h.src.user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i), func(u *idsync.User) { u.Title = "New" })
		all = append(all, fmt.Sprintf("u%d", i))
	}
	h.src.group("g1", "Admins", all...)
	res = h.run(Options{})
	if len(res.Plan.Ops) < 19 || len(bt.batches) < 2 {
		t.Fatalf("plan %v in %d batches: want an update and a disable per user", ops(res.Plan), len(bt.batches))
	}
	if res.Failed != 0 || bt.overlap != "" {
		t.Fatalf("failed %d; ops of %q overlapped", res.Failed, bt.overlap)
	}
	for _, b := range bt.batches {
		seen := map[string]bool{}
		for _, id := range b {
			if seen[id] {
				t.Fatalf("two ops of %s in one batch %v", id, b)
			}
			seen[id] = true
		}
	}
}

// The ops a run applies share their accounts and groups with the plan it
// returns (state's EnqueuePending; batches hold pointers to them): applying
// must leave that plan, which `idsync sync` prints, as it was planned — the
// plan a dry run of the same state makes — through creates, member adds,
// updates, role changes and disables, batched and one at a time.
func TestApplyLeavesThePlanAsPlanned(t *testing.T) {
	h := newHarness(t, Policy{DefaultRole: "member", Rules: []RoleRule{{Group: "Admins", Role: "admin"}}, GroupSync: true, GroupInclude: []string{"Admins"}})
	bt := &batchTarget{fakeTarget: h.tgt, size: 3, inflight: map[string]bool{}}
	h.conn.Target = bt
	for i := range 8 {
		h.src.user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
	}
	h.src.group("g1", "Admins", "u0", "u1")
	same := func(round string) {
		t.Helper()
		dry := h.run(Options{DryRun: true})
		res := h.run(Options{})
		if len(res.Plan.Ops) == 0 || res.Applied != len(res.Plan.Ops) {
			t.Fatalf("%s: applied %d of %q", round, res.Applied, ops(res.Plan))
		}
		if !reflect.DeepEqual(dry.Plan.Ops, res.Plan.Ops) {
			t.Errorf("%s: the plan returned after the apply is not the one planned:\n got %+v\nwant %+v", round, res.Plan.Ops, dry.Plan.Ops)
		}
	}
	same("first sync")
	for i := range 8 {
		h.src.user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i), func(u *idsync.User) {
			u.Title = "New"
			if i == 7 {
				u.Status = idsync.StatusDisabled
			}
		})
	}
	h.src.group("g1", "Admins", "u2", "u3")
	same("changes")
}
