package sync

import (
	"context"
	"errors"
	"slices"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/targets"
)

// mergingTarget is the fake workspace that also takes a user's changes as
// one request. failMerged, when set, fails a merged call before it acts.
type mergingTarget struct {
	*fakeTarget
	mu         stdsync.Mutex
	merged     [][]idsync.OpKind
	failMerged func(ops []idsync.Op) error
}

var _ targets.Merger = (*mergingTarget)(nil)

func (t *mergingTarget) ApplyMerged(ctx context.Context, ops []idsync.Op) (idsync.Applied, error) {
	kinds := make([]idsync.OpKind, len(ops))
	for i, op := range ops {
		kinds[i] = op.Kind
		if op.ObjectID != ops[0].ObjectID || !targets.Mergeable(op.Kind) {
			return idsync.Applied{}, errors.New("merged ops of two objects")
		}
	}
	t.mu.Lock()
	t.merged = append(t.merged, kinds)
	fail := t.failMerged
	t.mu.Unlock()
	if fail != nil {
		if err := fail(ops); err != nil {
			return idsync.Applied{}, err
		}
	}
	var out idsync.Applied
	for _, op := range ops {
		var err error
		if out, err = t.fakeTarget.Apply(ctx, op); err != nil {
			return idsync.Applied{}, err
		}
	}
	return out, nil
}

func (h *harness) events(user string) []state.Event {
	h.t.Helper()
	var ev []state.Event
	if err := h.store.View(context.Background(), func(tx *state.Tx) (err error) {
		ev, err = tx.Events(state.Filter{Connection: "acme", User: user})
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return ev
}

// reEnableWithChanges leaves u1 disabled, then re-enables it with a new
// title and role: the next plan holds update, role and enable for u1.
func reEnableWithChanges(h *harness) {
	h.src.user("u1", "alice")
	h.src.user("u2", "bob")
	h.src.group("g1", "Editors")
	h.run(Options{})
	h.src.user("u1", "alice", func(u *idsync.User) { u.Status = idsync.StatusDisabled })
	h.run(Options{})
	h.src.user("u1", "alice", func(u *idsync.User) { u.Title = "Director" })
	h.src.record(idsync.MemberAddedChange("g1", "u1", idsync.MemberUser))
}

// One user's update, role and enable of one plan reach a merging target as
// one call, in plan order, and each is recorded: applied state, event,
// outbox.
func TestMergedOpsAreOneCall(t *testing.T) {
	h := newHarness(t, Policy{DefaultRole: "viewer", Rules: []RoleRule{{Group: "Editors", Role: "editor"}}})
	mt := &mergingTarget{fakeTarget: h.tgt}
	h.conn.Target = mt
	reEnableWithChanges(h)
	mt.merged = nil

	res := h.run(Options{})
	if got := ops(res.Plan); !slices.Equal(got, []string{"update alice@acme.test", "role alice@acme.test", "enable alice@acme.test"}) {
		t.Fatalf("plan = %q", got)
	}
	want := [][]idsync.OpKind{{idsync.OpUpdate, idsync.OpSetRole, idsync.OpEnable}}
	if !slices.EqualFunc(mt.merged, want, slices.Equal) || res.Applied != 3 || res.Failed != 0 {
		t.Fatalf("merged calls %v, applied %d failed %d; want one call %v", mt.merged, res.Applied, res.Failed, want)
	}
	a := h.applied()["u1"].Account
	if a.Title != "Director" || a.Role != "editor" || !a.Active {
		t.Fatalf("applied state %+v", a)
	}
	var kinds []string
	for _, e := range h.events("u1") {
		if e.RunID == res.RunID && e.Result == "applied" {
			kinds = append(kinds, e.Kind)
		}
	}
	if !slices.Equal(kinds, []string{"update", "role", "enable"}) {
		t.Fatalf("events of the run: %v", kinds)
	}
	if res := h.run(Options{}); len(res.Plan.Ops) != 0 {
		t.Fatalf("next run plans %q", ops(res.Plan))
	}
}

// A merged call that fails permanently is retried op by op: the failure is
// the role's alone, the update and enable land.
func TestMergedFailureFallsBackToOneAtATime(t *testing.T) {
	h := newHarness(t, Policy{DefaultRole: "viewer", Rules: []RoleRule{{Group: "Editors", Role: "editor"}}})
	mt := &mergingTarget{fakeTarget: h.tgt}
	h.conn.Target = mt
	reEnableWithChanges(h)
	errRole := errors.New("role editor is not accepted")
	mt.failMerged = func([]idsync.Op) error { return errRole }
	h.tgt.fail = func(op idsync.Op, call int) error {
		if op.Kind == idsync.OpSetRole {
			return errRole
		}
		return nil
	}
	res := h.run(Options{})
	if res.Applied != 2 || res.Failed != 1 {
		t.Fatalf("applied %d failed %d, want 2 and 1", res.Applied, res.Failed)
	}
	a := h.applied()["u1"].Account
	if a.Title != "Director" || a.Role != "viewer" || !a.Active {
		t.Fatalf("applied state %+v: want the update and enable recorded, the role not", a)
	}
	var failed []string
	for _, e := range h.events("u1") {
		if e.RunID == res.RunID && e.Result == "failed" {
			failed = append(failed, e.Kind+": "+e.Detail)
		}
	}
	if len(failed) != 1 || !strings.HasPrefix(failed[0], "role: ") || !strings.Contains(failed[0], errRole.Error()) {
		t.Fatalf("failed events %q", failed)
	}
	h.tgt.fail, mt.failMerged = nil, nil
	if got := ops(h.run(Options{}).Plan); !slices.Equal(got, []string{"role alice@acme.test"}) {
		t.Fatalf("next plan %q, want the role again", got)
	}
}

// inFlight wraps the fake workspace and records ops of one object that
// overlap, and the order each object's ops arrive in. An update holds its
// object until another op of it arrives (an overlap) or hold has passed,
// so an engine that would send the next op at once is caught doing so.
type inFlight struct {
	*fakeTarget
	hold    time.Duration
	mu      stdsync.Mutex
	now     map[string]int
	overlap []string
	order   map[string][]idsync.OpKind
	arrived chan string
}

func (t *inFlight) Apply(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	t.mu.Lock()
	if t.now[op.ObjectID]++; t.now[op.ObjectID] > 1 {
		t.overlap = append(t.overlap, op.ObjectID)
	}
	t.order[op.ObjectID] = append(t.order[op.ObjectID], op.Kind)
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.now[op.ObjectID]--
		t.mu.Unlock()
	}()
	if op.Kind == idsync.OpUpdate {
		timer := time.NewTimer(t.hold)
		defer timer.Stop()
		select {
		case <-t.arrived:
		case <-timer.C:
		}
	} else {
		select {
		case t.arrived <- op.ObjectID:
		default:
		}
	}
	return t.fakeTarget.Apply(ctx, op)
}

// Without merging, one object's ops still run one at a time in plan order,
// while objects run side by side.
func TestOneOpAtATimePerObject(t *testing.T) {
	h := newHarness(t, Policy{DefaultRole: "viewer", Rules: []RoleRule{{Group: "Editors", Role: "editor"}}})
	h.tgt.conc = 4
	ft := &inFlight{fakeTarget: h.tgt, hold: 500 * time.Millisecond, now: map[string]int{}, order: map[string][]idsync.OpKind{}, arrived: make(chan string)}
	h.conn.Target = ft
	reEnableWithChanges(h)
	ft.order = map[string][]idsync.OpKind{}
	h.run(Options{})
	if len(ft.overlap) != 0 {
		t.Fatalf("ops of %v ran concurrently", ft.overlap)
	}
	if got := ft.order["u1"]; !slices.Equal(got, []idsync.OpKind{idsync.OpUpdate, idsync.OpSetRole, idsync.OpEnable}) {
		t.Fatalf("u1's ops arrived as %v", got)
	}
}

// sharedID answers a create of one user with the workspace id of another
// (a workspace that hands out one account twice).
type sharedID struct {
	*fakeTarget
	from, to string // the create of from answers to's id
	id       string
}

func (t *sharedID) Apply(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	out, err := t.fakeTarget.Apply(ctx, op)
	if err == nil && op.Kind == idsync.OpCreate {
		switch op.ObjectID {
		case t.to:
			t.id = out.TargetID
		case t.from:
			out.TargetID = t.id
		}
	}
	return out, err
}

// A target id already recorded for another user fails only the op that
// would record it again; the first user's record is untouched.
func TestTargetIDOfAnotherUserFailsTheOp(t *testing.T) {
	h := newHarness(t, Policy{})
	st := &sharedID{fakeTarget: h.tgt, from: "u2", to: "u1"}
	h.conn.Target = st
	h.src.user("u1", "alice")
	h.run(Options{})
	h.src.user("u2", "bob")
	h.src.user("u3", "carol")
	res, err := h.engine.Run(context.Background(), h.conn, Options{})
	if err != nil || res.Applied != 1 || res.Failed != 1 {
		t.Fatalf("run: %v, applied %d failed %d; want carol applied, bob failed", err, res.Applied, res.Failed)
	}
	applied := h.applied()
	if applied["u1"].TargetID != st.id || applied["u1"].Account.UserName != "alice@acme.test" {
		t.Fatalf("alice's record changed: %+v", applied["u1"])
	}
	if _, ok := applied["u2"]; ok {
		t.Fatalf("bob recorded on alice's account: %+v", applied["u2"])
	}
	ev := h.events("u2")
	if len(ev) != 1 || ev[0].Result != "failed" || !strings.Contains(ev[0].Detail, "alice@acme.test (u1)") || !strings.Contains(ev[0].Detail, "bob@acme.test (u2)") {
		t.Fatalf("bob's events %+v", ev)
	}
	if got := ops(h.run(Options{}).Plan); !slices.Equal(got, []string{"create bob@acme.test"}) {
		t.Fatalf("next plan %q, want bob's create again", got)
	}
}
