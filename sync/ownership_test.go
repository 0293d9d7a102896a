package sync

import (
	"context"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/targets"
)

// ownerAsker asks, during each create, whom the applied state records the
// workspace ids in ask for, as a target does before adopting an account.
type ownerAsker struct {
	*fakeTarget
	ask    map[targets.Kind]string // kind → workspace id
	answer map[targets.Kind]string
}

func (t *ownerAsker) Apply(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	if op.Kind == idsync.OpCreate {
		for kind, id := range t.ask {
			owner, err := targets.OwnerOf(ctx, kind, id)
			if err != nil {
				return idsync.Applied{}, err
			}
			t.answer[kind] = owner
		}
	}
	return t.fakeTarget.Apply(ctx, op)
}

// Every op is sent with the applied state's owner of each workspace id, so
// a target can refuse to adopt an account idsync manages for someone else
// before it writes anything.
func TestOpsCarryTheAppliedStatesOwners(t *testing.T) {
	h := newHarness(t, Policy{Scope: sources.Scope{Groups: []string{"Sales"}}, GroupSync: true})
	h.src.user("u1", "alice")
	h.src.group("g1", "Sales", "u1")
	h.run(Options{})
	var groupID string
	if err := h.store.View(context.Background(), func(tx *state.Tx) error {
		g, err := tx.AppliedGroup("acme", "g1")
		groupID = g.TargetID
		return err
	}); err != nil || groupID == "" {
		t.Fatalf("g1 applied as %q: %v", groupID, err)
	}
	userID := h.applied()["u1"].TargetID
	asker := &ownerAsker{fakeTarget: h.tgt, answer: map[targets.Kind]string{},
		ask: map[targets.Kind]string{targets.User: userID, targets.Group: groupID}}
	h.conn.Target = asker
	h.src.user("u2", "bob")
	h.src.record(idsync.MemberAddedChange("g1", "u2", idsync.MemberUser))
	h.run(Options{})
	if got := asker.answer; got[targets.User] != "u1" || got[targets.Group] != "g1" {
		t.Fatalf("owners seen by the target during bob's create: %v; want user %s → u1, group %s → g1", got, userID, groupID)
	}
	asker.ask = map[targets.Kind]string{targets.User: groupID + "-unknown", targets.Group: userID + "-unknown"}
	h.src.user("u3", "carol")
	h.src.record(idsync.MemberAddedChange("g1", "u3", idsync.MemberUser))
	h.run(Options{})
	if got := asker.answer; got[targets.User] != "" || got[targets.Group] != "" {
		t.Fatalf("owners of ids nobody holds: %v, want none", got)
	}
}

// An op's workspace ids come from the applied state when it is sent, never
// from the plan: an id the state no longer records is not sent (the
// target finds the object by identity), and a changed one is the current.
func TestTargetIDsComeFromTheAppliedState(t *testing.T) {
	h := newHarness(t, Policy{})
	acct := idsync.Account{ExternalID: "u1", UserName: "alice@acme.test", Active: true}
	err := h.store.Update(context.Background(), func(tx *state.Tx) error {
		if err := tx.SetAppliedUser("acme", "t-now", acct); err != nil {
			return err
		}
		for _, tc := range []struct {
			op   idsync.Op
			want string
		}{
			{idsync.Op{Kind: idsync.OpUpdate, ObjectID: "u1", TargetID: "t-planned", Account: &acct}, "t-now"},
			{idsync.Op{Kind: idsync.OpDisable, ObjectID: "u9", TargetID: "X", Account: &acct}, ""},
			{idsync.Op{Kind: idsync.OpDelete, ObjectID: "u9", TargetID: "X"}, ""},
			{idsync.Op{Kind: idsync.OpGroupDelete, ObjectID: "g9", TargetID: "X"}, ""},
			{idsync.Op{Kind: idsync.OpMemberRemove, ObjectID: "g9", TargetID: "X",
				Members: []idsync.Member{{ExternalID: "u1", TargetID: "t-planned"}}}, ""},
		} {
			op := tc.op
			if err := resolveTargetIDs(tx, "acme", &op); err != nil {
				return err
			}
			if op.TargetID != tc.want {
				t.Errorf("%s of %s planned with %q: sent with %q, want %q", op.Kind, op.ObjectID, tc.op.TargetID, op.TargetID, tc.want)
			}
			for _, m := range op.Members {
				if m.TargetID != "t-now" {
					t.Errorf("%s of %s: member %s sent with %q, want t-now", op.Kind, op.ObjectID, m.ExternalID, m.TargetID)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
