package scim_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

func TestGroupLifecycle(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	c := newClient(t, srv, func(c *scim.Config) { c.MemberBatch = 2 })
	var members []idsync.Member
	for i := range 5 {
		a := account(fmt.Sprintf("u%d", i), fmt.Sprintf("u%d@example.com", i))
		id := apply(t, c, createOp(a)).TargetID
		m := idsync.Member{ExternalID: a.ExternalID, TargetID: id}
		if i == 4 {
			m.TargetID = "" // found by externalId
		}
		members = append(members, m)
	}
	g := &idsync.GroupAccount{ExternalID: "g1", DisplayName: "Engineering"}

	srv.ResetRequests()
	got := apply(t, c, idsync.Op{Kind: idsync.OpGroupCreate, ObjectID: "g1", Group: g, Members: members})
	if n := srv.CountRequests(http.MethodPatch, "/Groups/"); n != 3 {
		t.Errorf("%d member PATCHes for 5 members in batches of 2, want 3", n)
	}
	grp := findGroup(t, srv, got.TargetID)
	if grp.DisplayName != "Engineering" || grp.ExternalID != "g1" || len(grp.Members) != 5 {
		t.Fatalf("group = %+v", grp)
	}

	// Creating again (retry after a crash) adopts the group, adds nothing twice.
	again := apply(t, c, idsync.Op{Kind: idsync.OpGroupCreate, ObjectID: "g1", Group: g, Members: members})
	if again.TargetID != got.TargetID || len(srv.Groups()) != 1 || len(findGroup(t, srv, got.TargetID).Members) != 5 {
		t.Fatalf("second create: %+v, groups %+v", again, srv.Groups())
	}

	apply(t, c, idsync.Op{Kind: idsync.OpMemberRemove, TargetID: got.TargetID, Group: g, Members: members[:3]})
	if m := findGroup(t, srv, got.TargetID).Members; !slices.Equal(m, []string{members[3].TargetID, mustByExt(t, srv, "u4")}) {
		t.Errorf("members after removing 3 = %v", m)
	}
	// Removing members that are gone already is done.
	apply(t, c, idsync.Op{Kind: idsync.OpMemberRemove, TargetID: got.TargetID, Group: g, Members: []idsync.Member{{ExternalID: "nobody"}}})
	apply(t, c, idsync.Op{Kind: idsync.OpMemberAdd, Group: g, Members: members[:1]}) // group found by externalId
	if m := findGroup(t, srv, got.TargetID).Members; len(m) != 3 {
		t.Errorf("members after add = %v", m)
	}

	renamed := &idsync.GroupAccount{ExternalID: "g1", DisplayName: "Platform"}
	apply(t, c, idsync.Op{Kind: idsync.OpGroupUpdate, TargetID: got.TargetID, Group: renamed, PrevGroup: g})
	if n := findGroup(t, srv, got.TargetID).DisplayName; n != "Platform" {
		t.Errorf("after rename displayName = %q", n)
	}

	apply(t, c, idsync.Op{Kind: idsync.OpGroupDelete, TargetID: got.TargetID, PrevGroup: renamed})
	apply(t, c, idsync.Op{Kind: idsync.OpGroupDelete, TargetID: got.TargetID, PrevGroup: renamed})
	if len(srv.Groups()) != 0 {
		t.Errorf("groups after delete: %+v", srv.Groups())
	}
}

func TestGroupCreateFromMemberList(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	c := newClient(t, srv, nil)
	for _, ext := range []string{"u1", "u2"} {
		apply(t, c, createOp(account(ext, ext+"@example.com")))
	}
	g := &idsync.GroupAccount{ExternalID: "g1", DisplayName: "Sales", Members: []string{"u1", "u2"}}
	id := apply(t, c, idsync.Op{Kind: idsync.OpGroupCreate, ObjectID: "g1", Group: g}).TargetID
	if m := findGroup(t, srv, id).Members; len(m) != 2 {
		t.Errorf("members = %v, want u1 and u2", m)
	}
}

func TestMemberAddUnknownUserFails(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	c := newClient(t, srv, nil)
	g := &idsync.GroupAccount{ExternalID: "g1", DisplayName: "Sales"}
	id := apply(t, c, idsync.Op{Kind: idsync.OpGroupCreate, ObjectID: "g1", Group: g}).TargetID
	_, err := c.Apply(t.Context(), idsync.Op{Kind: idsync.OpMemberAdd, TargetID: id, Group: g, Members: []idsync.Member{{ExternalID: "ghost"}}})
	if err == nil {
		t.Fatal("adding a user the workspace lacks succeeded")
	}
}

// OfficeRnD teams: the first group a member joins is the primary team.
func TestOfficeRnDPrimaryTeam(t *testing.T) {
	srv := newServer(t, scimtest.Options{Preset: "officernd", Strict: true})
	c := newClient(t, srv, func(c *scim.Config) { c.Preset = "officernd" })
	a := account("u1", "kim@example.com")
	uid := apply(t, c, createOp(a)).TargetID
	var gids []string
	for _, name := range []string{"Design", "Ops"} {
		g := &idsync.GroupAccount{ExternalID: name, DisplayName: name}
		gids = append(gids, apply(t, c, idsync.Op{Kind: idsync.OpGroupCreate, ObjectID: name, Group: g,
			Members: []idsync.Member{{ExternalID: "u1", TargetID: uid}}}).TargetID)
	}
	if got := mustUser(t, srv, uid).Groups; !slices.Equal(got, gids) {
		t.Errorf("teams = %v, want %v (Design primary)", got, gids)
	}
}

func findGroup(t *testing.T, srv *scimtest.Server, id string) scimtest.Group {
	t.Helper()
	for _, g := range srv.Groups() {
		if g.ID == id {
			return g
		}
	}
	t.Fatalf("no group %s", id)
	return scimtest.Group{}
}

func mustByExt(t *testing.T, srv *scimtest.Server, ext string) string {
	t.Helper()
	for _, u := range srv.Users() {
		if u.ExternalID == ext {
			return u.ID
		}
	}
	t.Fatalf("no user with externalId %s", ext)
	return ""
}
