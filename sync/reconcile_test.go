package sync

import (
	"context"
	"slices"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/targets"
)

// listingTarget is the fake workspace with a listing. skip hides accounts
// from it; during runs after the listing was read, before it is emitted.
type listingTarget struct {
	*fakeTarget
	skip   func(tid string) bool
	during func()
}

var _ targets.Lister = (*listingTarget)(nil)

func (t *listingTarget) ListUsers(ctx context.Context, emit func([]idsync.Applied) error) error {
	t.mu.Lock()
	var page []idsync.Applied
	for tid, a := range t.accounts {
		if t.skip == nil || !t.skip(tid) {
			a := a
			page = append(page, idsync.Applied{TargetID: tid, Account: &a})
		}
	}
	t.mu.Unlock()
	if t.during != nil {
		t.during()
	}
	return emit(page)
}

// A listing is a snapshot: an account whose applied state changed while
// the workspace was listed (an op applied in between) is not judged by it.
// Here c's account is re-created by such an op after the listing was read:
// the listing misses it, but it was not deleted by hand.
func TestReconcileIgnoresAccountsChangedDuringTheListing(t *testing.T) {
	h := newHarness(t, Policy{})
	lt := &listingTarget{fakeTarget: h.tgt}
	h.conn.Target = lt
	for _, n := range []string{"a", "b", "c"} {
		h.src.user(n, n)
	}
	h.run(Options{})
	old := h.applied()["c"]
	lt.skip = func(tid string) bool { return tid == old.TargetID }
	lt.during = func() {
		lt.mu.Lock()
		delete(lt.accounts, old.TargetID)
		lt.accounts["t-new"] = old.Account
		lt.mu.Unlock()
		if err := h.store.Update(context.Background(), func(tx *state.Tx) error {
			return tx.SetAppliedUser("acme", "t-new", old.Account)
		}); err != nil {
			t.Fatal(err)
		}
	}
	res := h.run(Options{Reconcile: true})
	if got := ops(res.Plan); len(got) != 0 {
		t.Fatalf("plan from a listing taken before c's op: %v", got)
	}
	if res.Reconcile == nil || res.Reconcile.Corrected != 0 || len(res.Reconcile.Unmanaged) != 0 {
		t.Fatalf("reconcile: %+v", res.Reconcile)
	}
	if got := h.applied()["c"].TargetID; got != "t-new" {
		t.Fatalf("c's applied target id: %q", got)
	}

	// The next listing sees c as it is, and a hand deletion of b as one.
	lt.skip, lt.during = nil, nil
	lt.mu.Lock()
	delete(lt.accounts, h.applied()["b"].TargetID)
	lt.mu.Unlock()
	res = h.run(Options{Reconcile: true})
	if got := ops(res.Plan); !slices.Equal(got, []string{"create b@acme.test"}) || res.Plan.Ops[0].Reason != reasonDeleted {
		t.Fatalf("plan after b was deleted by hand: %v %+v", got, res.Plan.Ops)
	}
}

// An account idsync disabled and someone enabled by hand is disabled again,
// and that disable counts toward the safety limits like any other.
func TestReconcileDisablesHandEnabledThroughSafety(t *testing.T) {
	h := newHarness(t, Policy{MaxDeletes: 1})
	lt := &listingTarget{fakeTarget: h.tgt}
	h.conn.Target = lt
	for _, n := range []string{"a", "b", "c"} {
		h.src.user(n, n, func(u *idsync.User) { u.Status = idsync.StatusDisabled })
	}
	h.src.user("d", "d")
	h.run(Options{})
	if got := len(h.applied()); got != 1 {
		t.Fatalf("applied %d users, want only d", got)
	}
	// Disabled in the IdP while applied: idsync disables them.
	for _, n := range []string{"a", "b"} {
		h.src.user(n, n)
	}
	h.run(Options{})
	for _, n := range []string{"a", "b"} {
		h.src.user(n, n, func(u *idsync.User) { u.Status = idsync.StatusDisabled })
	}
	h.conn.Policy.MaxDeletes = 0
	h.run(Options{})
	h.conn.Policy.MaxDeletes = 1
	lt.mu.Lock()
	for tid, a := range lt.accounts {
		a.Active = true // enabled by hand
		lt.accounts[tid] = a
	}
	lt.mu.Unlock()
	res := h.run(Options{Reconcile: true})
	if res.Held == "" || !slices.Equal(ops(res.Plan), []string{"disable a@acme.test", "disable b@acme.test"}) {
		t.Fatalf("held %q, plan %v", res.Held, ops(res.Plan))
	}
	if r := res.Plan.Ops[0].Reason; r != reasonEnabled+"; account disabled in Entra" {
		t.Fatalf("reason %q", r)
	}
}
