package scim_test

import (
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// A delete re-checks that the recorded workspace id still names this user's
// account; a disable, an update or a role change sent with that id must do
// the same (one GET before a PATCH; PUT reads the account anyway): the
// account may carry another person's externalId by now — handed over by an
// admin, or an app that uses the email as its SCIM id and gave it to the
// new holder of that address. Nothing is written to it; the user's own
// account is found by identity (here there is none).
func TestReviewModifyByRecordedIDTouchesAnotherPersonsAccount(t *testing.T) {
	mine := &idsync.Account{ExternalID: "aaa-111", UserName: "jsmith@x.test", Active: true, Title: "mine"}
	off := *mine
	off.Active = false
	retitled := *mine
	retitled.Title = "renamed"
	for _, tc := range []struct {
		name string
		op   idsync.Op
	}{
		{"disable", idsync.Op{Kind: idsync.OpDisable, ObjectID: "aaa-111", Account: &off, Prev: mine}},
		{"update", idsync.Op{Kind: idsync.OpUpdate, ObjectID: "aaa-111", Account: &retitled, Prev: mine,
			Changes: idsync.DiffAttributes(*mine, retitled)}},
	} {
		for _, put := range []bool{false, true} {
			name := tc.name
			if put {
				name += "/put"
			}
			t.Run(name, func(t *testing.T) {
				srv := newServer(t, scimtest.Options{})
				other := srv.AddUser(scimtest.User{UserName: "jsmith@x.test", ExternalID: "bbb-222", Active: true, Title: "theirs"})
				c := newClient(t, srv, func(cfg *scim.Config) {
					if put {
						cfg.UpdateMethod = "put"
					}
				})
				op := tc.op
				op.TargetID = other.ID // the id idsync recorded for aaa-111
				srv.ResetRequests()
				_, _ = tryApply(c, op, &retrier{}, 3)
				if u := mustUser(t, srv, other.ID); !u.Active || u.Title != "theirs" || u.ExternalID != "bbb-222" {
					t.Fatalf("%s of aaa-111 by its recorded id changed bbb-222's account: %+v", tc.name, u)
				}
			})
		}
	}
}

// A group delete, like a user delete, checks that the recorded id still
// names a group carrying this IdP group's externalId (or none) before
// deleting it: everyone in another IdP group's group would lose what it
// grants.
func TestReviewGroupDeleteByRecordedIDDeletesAnotherGroup(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	theirs := srv.AddGroup(scimtest.Group{DisplayName: "Sales", ExternalID: "g-other"})
	c := newClient(t, srv, nil)
	apply(t, c, idsync.Op{Kind: idsync.OpGroupDelete, ObjectID: "g1", TargetID: theirs.ID,
		PrevGroup: &idsync.GroupAccount{ExternalID: "g1", DisplayName: "Sales"}})
	if len(srv.Groups()) != 1 {
		t.Fatalf("the delete of g1 by its recorded id deleted g-other's group: groups = %+v", srv.Groups())
	}
}
