package state

import (
	"testing"

	"github.com/idsync/idsync"
)

// A page written late by an older pull (a second process on the same
// database, say) must not stamp rows back to its generation: the sweep of
// the newer full read that saw them would then remove them.
func TestGenerationsOnlyMoveForward(t *testing.T) {
	// Each case writes the same rows at generation 2, then at 1, then
	// sweeps generation 2; nothing may be removed.
	page := func(alice idsync.User) []idsync.Change {
		return []idsync.Change{
			idsync.UserChange(alice),
			idsync.UserChange(idsync.User{ID: "u2", UserName: "bob"}),
			idsync.UserRemovedChange("u3", idsync.RemovalSoft),
			idsync.GroupChange(idsync.Group{ID: "g1", Name: "Staff"}),
			idsync.MemberAddedChange("g1", "u1", idsync.MemberUser),
			idsync.MemberAddedChange("g1", "u2", idsync.MemberUser),
			idsync.AssignedChange(idsync.Assignment{PrincipalID: "u1", Role: "Admin"}),
		}
	}
	alice := idsync.User{ID: "u1", UserName: "alice", Title: "CEO"}
	for _, tc := range []struct {
		name string
		old  idsync.User // alice as the late, older page has her
	}{
		{"unchanged rows", alice},
		{"changed row", idsync.User{ID: "u1", UserName: "alice", Title: "CTO"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, t.TempDir()+"/idsync.db")
			update(t, s, func(tx *Tx) error {
				return tx.ApplyChanges("acme", 1, append(page(alice), idsync.UserChange(idsync.User{ID: "u3", UserName: "carol"})))
			})
			update(t, s, func(tx *Tx) error { return tx.ApplyChanges("acme", 2, page(alice)) })
			update(t, s, func(tx *Tx) error { return tx.ApplyChanges("acme", 1, page(tc.old)) })
			// The batched and the one-by-one paths both: a single change
			// takes the one-by-one path.
			update(t, s, func(tx *Tx) error {
				for _, c := range page(tc.old) {
					if err := tx.ApplyChanges("acme", 1, []idsync.Change{c}); err != nil {
						return err
					}
				}
				return nil
			})
			for _, table := range []string{"source_users", "source_groups", "source_members", "source_assignments"} {
				var n int
				if err := s.db.QueryRow(`SELECT COUNT(*) FROM ` + table + ` WHERE generation <> 2`).Scan(&n); err != nil || n != 0 {
					t.Errorf("%s: %d rows stamped back to an older generation (%v)", table, n, err)
				}
			}
			update(t, s, func(tx *Tx) error { return tx.Sweep("acme", 2) })
			update(t, s, func(tx *Tx) error {
				us, err := tx.AllUsers("acme")
				for _, u := range us {
					if u.ID != "u3" && u.Removed != "" || u.ID == "u3" && u.Removed != idsync.RemovalSoft {
						t.Errorf("after the sweep of generation 2: %s removed %q", u.ID, u.Removed)
					}
				}
				gs, _ := tx.Groups("acme")
				ug, _ := tx.UserGroups("acme", nil)
				as, _ := tx.Assignments("acme", nil)
				if len(us) != 3 || len(gs) != 1 || len(ug["u1"]) != 1 || len(ug["u2"]) != 1 || len(as["u1"]) != 1 {
					t.Errorf("after the sweep: users %d groups %v memberships %v assignments %v", len(us), gs, ug, as)
				}
				return err
			})
		})
	}
}
