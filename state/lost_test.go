package state

import (
	"slices"
	"testing"
)

// A membership drift reconcile found gone keeps its order number until it
// is applied again: a team deleted by hand and re-created stays a user's
// first (primary) team. One the IdP no longer wants is dropped, and
// joining again later comes last, as any new membership.
func TestLostMembershipsKeepTheirOrder(t *testing.T) {
	s := open(t, t.TempDir()+"/idsync.db")
	for _, st := range []struct {
		group string
		users []string
	}{{"g-alpha", []string{"u1", "u2"}}, {"g-beta", []string{"u1"}}, {"g-gamma", []string{"u2"}}} {
		update(t, s, func(tx *Tx) error {
			if err := tx.SetAppliedGroup("acme", AppliedGroup{ID: st.group, TargetID: "t-" + st.group, Name: st.group}); err != nil {
				return err
			}
			return tx.SetAppliedMembers("acme", st.group, st.users, true)
		})
	}
	order := func() map[string][]string {
		var got map[string][]string
		update(t, s, func(tx *Tx) (err error) { got, err = tx.MemberOrder("acme", nil); return err })
		return got
	}
	update(t, s, func(tx *Tx) error { return tx.LoseAppliedGroup("acme", "g-alpha") }) // deleted by hand
	update(t, s, func(tx *Tx) error { return tx.LoseGroupMembers("acme", "g-gamma", []string{"u2"}) })
	var lost map[string]map[string]int64
	update(t, s, func(tx *Tx) (err error) { lost, err = tx.LostMembers("acme", []string{"u2"}); return err })
	if len(lost["u2"]) != 2 || lost["u2"]["g-alpha"] >= lost["u2"]["g-gamma"] {
		t.Fatalf("lost %v", lost)
	}
	if got := order(); !slices.Equal(got["u1"], []string{"g-beta"}) || len(got["u2"]) != 0 {
		t.Fatalf("while lost: %v", got)
	}
	// Put back: alpha is first again for both.
	update(t, s, func(tx *Tx) error {
		if err := tx.SetAppliedGroup("acme", AppliedGroup{ID: "g-alpha", TargetID: "t-new", Name: "g-alpha"}); err != nil {
			return err
		}
		return tx.SetAppliedMembers("acme", "g-alpha", []string{"u1", "u2"}, true)
	})
	// u2 no longer wants gamma: dropped; joining again is last.
	update(t, s, func(tx *Tx) error { return tx.DropLostMembers("acme", [][2]string{{"g-gamma", "u2"}}) })
	update(t, s, func(tx *Tx) error { return tx.SetAppliedMembers("acme", "g-beta", []string{"u2"}, true) })
	update(t, s, func(tx *Tx) error { return tx.SetAppliedMembers("acme", "g-gamma", []string{"u2"}, true) })
	want := map[string][]string{"u1": {"g-alpha", "g-beta"}, "u2": {"g-alpha", "g-beta", "g-gamma"}}
	if got := order(); !slices.Equal(got["u1"], want["u1"]) || !slices.Equal(got["u2"], want["u2"]) {
		t.Fatalf("after putting back: %v, want %v", got, want)
	}
	update(t, s, func(tx *Tx) (err error) { lost, err = tx.LostMembers("acme", nil); return err })
	if len(lost) != 0 {
		t.Fatalf("lost memberships left: %v", lost)
	}
}
