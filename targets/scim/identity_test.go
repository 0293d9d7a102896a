package scim_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// writes counts the requests that change the workspace.
func writes(srv *scimtest.Server) int {
	return srv.CountRequests(http.MethodPost, "/") + srv.CountRequests(http.MethodPatch, "/") +
		srv.CountRequests(http.MethodPut, "/") + srv.CountRequests(http.MethodDelete, "/")
}

// wantConflict checks err is a permanent identity conflict naming both
// identities and the workspace account.
func wantConflict(t *testing.T, err error, parts ...string) {
	t.Helper()
	if !errors.Is(err, targets.ErrIdentityConflict) {
		t.Fatalf("error = %v, want an identity conflict", err)
	}
	if retry, _ := targets.Retryable(err); retry {
		t.Fatalf("an identity conflict is retryable: %v", err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not name %q", err, p)
		}
	}
}

// A create never adopts an account that carries another IdP user's
// externalId, found by userName either before the POST or after a 409.
func TestCreateRefusesAnotherPersonsAccount(t *testing.T) {
	t.Run("found by userName", func(t *testing.T) {
		srv := newServer(t, scimtest.Options{})
		other := srv.AddUser(scimtest.User{UserName: "jsmith@x.test", ExternalID: "aaa-111", Active: false})
		c := newClient(t, srv, nil)
		srv.ResetRequests()
		_, err := tryApply(c, createOp(account("bbb-222", "JSmith@x.test")), &retrier{}, 5)
		wantConflict(t, err, `userName "JSmith@x.test"`, "workspace user "+other.ID, `externalId "aaa-111"`, `for "bbb-222"`,
			"rename or remove one of them in the workspace")
		if n := writes(srv); n != 0 {
			t.Errorf("%d writes to the workspace, want none", n)
		}
		if u := mustUser(t, srv, other.ID); u.ExternalID != "aaa-111" || u.Active {
			t.Errorf("the other person's account changed: %+v", u)
		}
	})
	t.Run("409 on POST", func(t *testing.T) {
		srv := newServer(t, scimtest.Options{})
		raced := false
		hc := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodPost && !raced {
				raced = true
				srv.AddUser(scimtest.User{UserName: "erin@example.com", ExternalID: "aaa-111", Active: false})
			}
			return http.DefaultTransport.RoundTrip(r)
		})}
		c := newClient(t, srv, func(c *scim.Config) { c.HTTPClient = hc })
		_, err := tryApply(c, createOp(account("bbb-222", "erin@example.com")), &retrier{}, 5)
		wantConflict(t, err, `"aaa-111"`, `"bbb-222"`)
		if users := srv.Users(); len(users) != 1 || users[0].ExternalID != "aaa-111" || users[0].Active {
			t.Errorf("users = %+v, want the raced account untouched", users)
		}
	})
	t.Run("an account with our externalId wins over a free userName", func(t *testing.T) {
		srv := newServer(t, scimtest.Options{})
		mine := srv.AddUser(scimtest.User{UserName: "kim@old.example.com", ExternalID: "u1", Active: true})
		c := newClient(t, srv, nil)
		got := apply(t, c, createOp(account("u1", "kim@example.com")))
		if got.TargetID != mine.ID || len(srv.Users()) != 1 || mustUser(t, srv, mine.ID).UserName != "kim@example.com" {
			t.Fatalf("got %+v, users %+v", got, srv.Users())
		}
	})
}

// Ops that find their account by name (no TargetID) skip an account that
// belongs to another IdP user; a delete re-checks the recorded id first.
func TestOpsNeverTouchAnotherPersonsAccount(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	other := srv.AddUser(scimtest.User{UserName: "jsmith@x.test", ExternalID: "bbb-222", Active: true, Title: "theirs"})
	c := newClient(t, srv, nil)
	mine := &idsync.Account{ExternalID: "aaa-111", UserName: "jsmith@x.test", Active: true}

	srv.ResetRequests()
	apply(t, c, idsync.Op{Kind: idsync.OpDelete, ObjectID: "aaa-111", Prev: mine})
	off := *mine
	off.Active = false
	apply(t, c, idsync.Op{Kind: idsync.OpDisable, ObjectID: "aaa-111", Account: &off, Prev: mine})
	// The recorded id now names the other person's account (handed over by
	// an admin): the delete finds none of ours and deletes nothing.
	apply(t, c, idsync.Op{Kind: idsync.OpDelete, ObjectID: "aaa-111", TargetID: other.ID, Prev: mine})
	if n := writes(srv); n != 0 {
		t.Errorf("%d writes to the workspace, want none", n)
	}
	if u := mustUser(t, srv, other.ID); !u.Active || u.ExternalID != "bbb-222" {
		t.Fatalf("the other person's account changed: %+v", u)
	}
	// An update of ours finds no account and re-creates it: a conflict, not a takeover.
	upd := *mine
	upd.Title = "mine"
	_, err := tryApply(c, idsync.Op{Kind: idsync.OpUpdate, ObjectID: "aaa-111", Account: &upd, Prev: mine,
		Changes: idsync.DiffAttributes(*mine, upd)}, &retrier{}, 5)
	wantConflict(t, err, `"aaa-111"`, `"bbb-222"`)
	if u := mustUser(t, srv, other.ID); u.Title != "theirs" {
		t.Fatalf("the other person's account changed: %+v", u)
	}
}

func TestGroupAdoptionByIdentity(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	theirs := srv.AddGroup(scimtest.Group{DisplayName: "Sales", ExternalID: "g-other"})
	free := srv.AddGroup(scimtest.Group{DisplayName: "Support"})
	c := newClient(t, srv, nil)

	_, err := tryApply(c, idsync.Op{Kind: idsync.OpGroupCreate, ObjectID: "g1", Group: &idsync.GroupAccount{ExternalID: "g1", DisplayName: "sales"}},
		&retrier{}, 5)
	wantConflict(t, err, `displayName "sales"`, "workspace group "+theirs.ID, `"g-other"`, `"g1"`)
	got := apply(t, c, idsync.Op{Kind: idsync.OpGroupCreate, ObjectID: "g2", Group: &idsync.GroupAccount{ExternalID: "g2", DisplayName: "Support"}})
	if got.TargetID != free.ID || findGroup(t, srv, free.ID).ExternalID != "g2" {
		t.Fatalf("a group without externalId was not adopted: %+v %+v", got, srv.Groups())
	}
	// Member ops of a group that was never created name the conflict too.
	_, err = tryApply(c, idsync.Op{Kind: idsync.OpMemberAdd, ObjectID: "g1", Group: &idsync.GroupAccount{ExternalID: "g1", DisplayName: "Sales"},
		Members: []idsync.Member{{ExternalID: "u1"}}}, &retrier{}, 5)
	wantConflict(t, err, `"g-other"`, `"g1"`)
	// A delete by name (no TargetID) leaves another IdP group's group alone.
	apply(t, c, idsync.Op{Kind: idsync.OpGroupDelete, ObjectID: "g1", PrevGroup: &idsync.GroupAccount{ExternalID: "g1", DisplayName: "Sales"}})
	if len(srv.Groups()) != 2 || findGroup(t, srv, theirs.ID).ExternalID != "g-other" {
		t.Fatalf("groups = %+v", srv.Groups())
	}
}

// A workspace that refuses externalId filters (400) still adopts by
// userName, with the same rule.
func TestExternalIDFilterRefused(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	seeded := srv.AddUser(scimtest.User{UserName: "lee@example.com", Active: true})
	hc := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		if strings.Contains(r.URL.RawQuery, "externalId") {
			return &http.Response{StatusCode: http.StatusBadRequest, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	c := newClient(t, srv, func(c *scim.Config) { c.HTTPClient = hc })
	if got := apply(t, c, createOp(account("u1", "lee@example.com"))); got.TargetID != seeded.ID {
		t.Fatalf("got %+v", got)
	}
	srv.AddUser(scimtest.User{UserName: "max@example.com", ExternalID: "other", Active: true})
	_, err := c.Apply(context.Background(), createOp(account("u2", "max@example.com")))
	wantConflict(t, err, `"other"`, `"u2"`)
}
