package okta_test

import (
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources/okta/oktatest"
)

// Okta deletes only deactivated users, and a deleted user is in no listing,
// so a full read must list deactivated users: absent from it means deleted.
func TestFullReadAbsenceMeansDeleted(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	sample := srv.LoadSample()
	src := open(t, srv, nil)
	bob, carol := sample.Users["bob"], sample.Users["carol"]
	srv.Deactivate(bob)   // deactivated, not deleted
	srv.Deactivate(carol) // Okta's two steps:
	srv.DeleteUser(carol) // deactivate, then delete
	var mentioned []idsync.Change
	_, full, err := src.Pull(t.Context(), "", func(page []idsync.Change) error {
		for _, c := range page {
			if c.Kind == idsync.ChangeUser && (c.User.ID == bob || c.User.ID == carol) || c.Kind == idsync.ChangeUserRemoved {
				mentioned = append(mentioned, c)
			}
		}
		return nil
	})
	if err != nil || !full {
		t.Fatalf("full read: full=%v err=%v", full, err)
	}
	if len(mentioned) != 1 || mentioned[0].Kind != idsync.ChangeUser || mentioned[0].User.ID != bob ||
		mentioned[0].User.Status != idsync.StatusDisabled {
		t.Fatalf("full read mentioned %+v; want bob alone, disabled (deactivated users are listed, deleted ones are not)", mentioned)
	}
	// The sample's erin was DEPROVISIONED from the start: listed too.
	snap := newSnapshot()
	snap.pull(t, src)
	if u, ok := snap.users[sample.Users["erin"]]; !ok || u.Status != idsync.StatusDisabled {
		t.Errorf("erin (DEPROVISIONED) = %+v, %v; want listed, disabled", u, ok)
	}
	if _, ok := snap.users[carol]; ok {
		t.Error("deleted carol listed")
	}
}
