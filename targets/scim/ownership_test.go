package scim_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets"
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

// recorded is an engine's applied state as targets.OwnerOf answers it:
// workspace id → IdP id, users and groups apart.
func recorded(users, groups map[string]string) context.Context {
	return targets.WithOwner(context.Background(), func(_ context.Context, kind targets.Kind, id string) (string, error) {
		if kind == targets.Group {
			return groups[id], nil
		}
		return users[id], nil
	})
}

// On a workspace that does not keep externalId, only idsync's own record
// tells that an account found by userName (a group by displayName) is
// another person's: a create asks targets.OwnerOf and refuses it, like an
// externalId clash, before writing anything.
func TestCreateRefusesAnAccountRecordedForAnotherObject(t *testing.T) {
	for _, tc := range []struct {
		name string
		ext  string // the workspace object's externalId
	}{
		{"no externalId", ""},
		{"our externalId", "bbb-222"}, // handed over earlier, still recorded for aaa-111
	} {
		t.Run("user/"+tc.name, func(t *testing.T) {
			srv := newServer(t, scimtest.Options{})
			theirs := srv.AddUser(scimtest.User{UserName: "jsmith@x.test", ExternalID: tc.ext, Active: false, Title: "theirs"})
			c := newClient(t, srv, nil)
			srv.ResetRequests()
			ctx := recorded(map[string]string{theirs.ID: "aaa-111"}, nil)
			_, err := c.Apply(ctx, createOp(account("bbb-222", "jsmith@x.test")))
			wantConflict(t, err, "workspace user "+theirs.ID, `IdP user "aaa-111"`, `for "bbb-222"`)
			if n := writes(srv); n != 0 {
				t.Errorf("%d writes to the workspace, want none", n)
			}
			if u := mustUser(t, srv, theirs.ID); u.Active || u.Title != "theirs" || u.ExternalID != tc.ext {
				t.Errorf("the account recorded for aaa-111 changed: %+v", u)
			}
			// The same account recorded for this very user is adopted.
			got, err := c.Apply(recorded(map[string]string{theirs.ID: "bbb-222"}, nil), createOp(account("bbb-222", "jsmith@x.test")))
			if err != nil || got.TargetID != theirs.ID {
				t.Fatalf("adopting the account recorded for bbb-222: %+v, %v", got, err)
			}
		})
		t.Run("group/"+tc.name, func(t *testing.T) {
			srv := newServer(t, scimtest.Options{})
			theirs := srv.AddGroup(scimtest.Group{DisplayName: "Sales", ExternalID: strings.Replace(tc.ext, "bbb-222", "g2", 1)})
			c := newClient(t, srv, nil)
			srv.ResetRequests()
			ctx := recorded(nil, map[string]string{theirs.ID: "g1"})
			_, err := c.Apply(ctx, idsync.Op{Kind: idsync.OpGroupCreate, ObjectID: "g2", Group: &idsync.GroupAccount{ExternalID: "g2", DisplayName: "Sales"}})
			wantConflict(t, err, "workspace group "+theirs.ID, `IdP group "g1"`, `for "g2"`)
			if n := writes(srv); n != 0 {
				t.Errorf("%d writes to the workspace, want none", n)
			}
		})
	}
	t.Run("a modify without a recorded id does not find it either", func(t *testing.T) {
		srv := newServer(t, scimtest.Options{})
		theirs := srv.AddUser(scimtest.User{UserName: "jsmith@x.test", Active: true, Title: "theirs"})
		c := newClient(t, srv, nil)
		ctx := recorded(map[string]string{theirs.ID: "aaa-111"}, nil)
		mine := account("bbb-222", "jsmith@x.test")
		off := *mine
		off.Active = false
		if _, err := c.Apply(ctx, idsync.Op{Kind: idsync.OpDisable, ObjectID: "bbb-222", Account: &off, Prev: mine}); err != nil {
			t.Fatalf("disable of a user with no account of its own: %v", err)
		}
		if u := mustUser(t, srv, theirs.ID); !u.Active {
			t.Fatalf("the account recorded for aaa-111 was disabled for bbb-222: %+v", u)
		}
	})
}

// Member changes and renames by a recorded group id check the group first,
// like a delete: another IdP group's group is never changed.
func TestGroupWritesByRecordedIDCheckTheGroup(t *testing.T) {
	for _, kind := range []idsync.OpKind{idsync.OpMemberAdd, idsync.OpMemberRemove, idsync.OpGroupUpdate} {
		t.Run(string(kind), func(t *testing.T) {
			srv := newServer(t, scimtest.Options{})
			member := srv.AddUser(scimtest.User{UserName: "amy@x.test", ExternalID: "u1", Active: true})
			theirs := srv.AddGroup(scimtest.Group{DisplayName: "Sales", ExternalID: "g-other", Members: []string{member.ID}})
			mine := srv.AddGroup(scimtest.Group{DisplayName: "Sales EU", ExternalID: "g1"})
			c := newClient(t, srv, nil)
			op := idsync.Op{Kind: kind, ObjectID: "g1", TargetID: theirs.ID, // recorded for g1, handed over since
				Group: &idsync.GroupAccount{ExternalID: "g1", DisplayName: "Sales Europe"}}
			if kind != idsync.OpGroupUpdate {
				op.Members = []idsync.Member{{ExternalID: "u1", TargetID: member.ID}}
			}
			got := apply(t, c, op)
			if got.TargetID != mine.ID {
				t.Errorf("applied to %q, want g1's own group %s (found by externalId)", got.TargetID, mine.ID)
			}
			for _, g := range srv.Groups() {
				if g.ID == theirs.ID && (g.DisplayName != "Sales" || len(g.Members) != 1) {
					t.Fatalf("%s of g1 by its recorded id changed g-other's group: %+v", kind, g)
				}
			}
		})
	}
}

// What checking a recorded id costs: PATCH mode reads the account once
// before writing (one GET + one PATCH per modify, merged or not); PUT mode
// checks the GET it does anyway (one GET + one PUT).
func TestModifyByRecordedIDCost(t *testing.T) {
	for _, method := range []string{"patch", "put"} {
		t.Run(method, func(t *testing.T) {
			srv := newServer(t, scimtest.Options{})
			c := newClient(t, srv, func(c *scim.Config) { c.UpdateMethod = method })
			prev := account("u1", "nia@example.com")
			id := apply(t, c, createOp(prev)).TargetID
			off := *prev
			off.Active = false
			srv.ResetRequests()
			apply(t, c, idsync.Op{Kind: idsync.OpDisable, ObjectID: "u1", TargetID: id, Account: &off, Prev: prev})
			if gets, n := srv.CountRequests(http.MethodGet, "/Users/"), len(srv.Requests()); gets != 1 || n != 2 {
				t.Errorf("%d requests (%d GETs) for a disable by recorded id, want 2 (1 GET)", n, gets)
			}
			if mustUser(t, srv, id).Active {
				t.Error("not disabled")
			}
		})
	}
}
