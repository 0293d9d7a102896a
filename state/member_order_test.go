package state

import (
	"slices"
	"testing"
)

// Each user's memberships come back in the order they were first applied
// (OfficeRnD's primary team is the first), not by group id; applying one
// again keeps its place, leaving and rejoining puts it last, and the order
// survives reopening the database.
func TestMemberOrderIsFirstApplied(t *testing.T) {
	path := t.TempDir() + "/idsync.db"
	s := open(t, path)
	steps := []struct {
		group string
		users []string
		add   bool
	}{
		{"g-zeta", []string{"u1"}, true},
		{"g-alpha", []string{"u2"}, true},
		{"g-alpha", []string{"u1"}, true},
		{"g-zeta", []string{"u2", "u3"}, true},
		{"g-zeta", []string{"u1"}, true}, // again: keeps its place
		{"g-mu", []string{"u3"}, true},
		{"g-alpha", []string{"u2"}, false}, // u2 leaves alpha…
		{"g-alpha", []string{"u2"}, true},  // …and rejoins: last
	}
	for _, st := range steps {
		update(t, s, func(tx *Tx) error { return tx.SetAppliedMembers("acme", st.group, st.users, st.add) })
	}
	update(t, s, func(tx *Tx) error { return tx.SetAppliedMembers("globex", "g-alpha", []string{"u1"}, true) })
	want := map[string][]string{"u1": {"g-zeta", "g-alpha"}, "u2": {"g-zeta", "g-alpha"}, "u3": {"g-zeta", "g-mu"}}
	check := func(s *Store) {
		t.Helper()
		update(t, s, func(tx *Tx) error {
			all, err := tx.MemberOrder("acme", nil)
			if err != nil {
				return err
			}
			some, err := tx.MemberOrder("acme", []string{"u3"})
			if err != nil {
				return err
			}
			for u, w := range want {
				if !slices.Equal(all[u], w) {
					t.Errorf("%s: %v, want %v", u, all[u], w)
				}
			}
			if len(some) != 1 || !slices.Equal(some["u3"], want["u3"]) {
				t.Errorf("u3 alone: %v", some)
			}
			return nil
		})
	}
	check(s)
	s.Close()
	check(open(t, path))
}
