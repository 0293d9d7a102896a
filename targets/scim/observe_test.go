package scim_test

import (
	"context"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// listed is the workspace's account with target id tid, as ListUsers reads it.
func listed(t *testing.T, c *scim.Client, tid string) idsync.Account {
	t.Helper()
	var out *idsync.Account
	if err := c.ListUsers(context.Background(), func(page []idsync.Applied) error {
		for _, a := range page {
			if a.TargetID == tid {
				out = a.Account
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if out == nil {
		t.Fatalf("account %s not listed", tid)
	}
	return *out
}

// Drift is judged in what each preset owns: an account as idsync left it
// is never drifted (Whimsical lower-cases userName), and hand changes to
// what the person owns (Whimsical's names) or the app does not take
// (OfficeRnD keeps userName and displayName) are not drift.
func TestObservedFollowsThePreset(t *testing.T) {
	want := idsync.Account{ExternalID: "u1", UserName: "Alice.Archer@Contoso.test", Email: "Alice.Archer@Contoso.test",
		GivenName: "Alice", FamilyName: "Archer", DisplayName: "Alice Archer", Title: "Engineer", Active: true}
	for _, tc := range []struct {
		preset, role string
		edit         func(raw map[string]any)
		drift        func(a *idsync.Account) // what the edit makes Observed report
	}{
		{"whimsical", "editor", func(raw map[string]any) {
			raw["name"] = map[string]any{"givenName": "Al", "familyName": "A."} // the user's own
			raw["roles"] = []any{map[string]any{"value": "viewer", "primary": true}}
			raw["active"] = false
			raw["displayName"] = "Hand Made"
		}, func(a *idsync.Account) { a.Role, a.Active, a.DisplayName = "viewer", false, "Hand Made" }},
		{"officernd", "", func(raw map[string]any) {
			raw["name"] = map[string]any{"givenName": "Al"} // not taken by the app
			raw["title"] = "Boss"
			raw["displayName"] = "Hand Made"
		}, func(a *idsync.Account) { a.DisplayName = "Hand Made" }},
		{"whale", "", func(raw map[string]any) {
			raw["name"] = map[string]any{"givenName": "Al", "familyName": "Archer"}
			raw["displayName"] = "not taken"
		}, func(a *idsync.Account) { a.GivenName = "Al" }},
		{"generic", "reader", func(raw map[string]any) {
			raw["title"] = "Boss"
			raw["userName"] = "ALICE.ARCHER@contoso.test" // userName is not case-exact
		}, func(a *idsync.Account) { a.Title = "Boss" }},
	} {
		t.Run(tc.preset, func(t *testing.T) {
			srv := newServer(t, scimtest.Options{Preset: tc.preset, Strict: true})
			c := newClient(t, srv, func(cfg *scim.Config) { cfg.Preset = tc.preset })
			acct := want
			acct.Role = tc.role
			got := apply(t, c, idsync.Op{Kind: idsync.OpCreate, ObjectID: "u1", Account: &acct})
			if o := c.Observed(acct, listed(t, c, got.TargetID)); o != acct {
				t.Fatalf("untouched account observed as drifted:\n got %+v\nwant %+v", o, acct)
			}
			srv.EditUser(got.TargetID, tc.edit)
			exp := acct
			tc.drift(&exp)
			if o := c.Observed(acct, listed(t, c, got.TargetID)); o != exp {
				t.Fatalf("after hand edits:\n got %+v\nwant %+v", o, exp)
			}
		})
	}
}
