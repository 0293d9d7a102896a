package scim_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// Every user op against every preset's strict workspace: a preset that sent
// anything its app rejects would fail here with a 400.
func TestUserLifecycleEveryPreset(t *testing.T) {
	tests := []struct {
		preset       string
		role1, role2 string // "": the preset takes no roles
		names        bool   // the preset sends name.givenName/familyName
		namesUpdated bool   // ... also after creation
		emails       bool   // the preset sends emails
		enterprise   bool   // the preset sends the enterprise extension
		lower        bool
		keepsDeleted bool
	}{
		{preset: "generic", role1: "member", role2: "owner", names: true, namesUpdated: true, emails: true, enterprise: true},
		{preset: "whale", names: true, namesUpdated: true},
		{preset: "whimsical", role1: "viewer", role2: "editor", names: true, emails: true, lower: true},
		{preset: "whistleblower", names: true, namesUpdated: true, emails: true, enterprise: true},
		{preset: "officernd", keepsDeleted: true},
	}
	for _, tt := range tests {
		t.Run(tt.preset, func(t *testing.T) {
			srv := newServer(t, scimtest.Options{Preset: tt.preset, Strict: true})
			c := newClient(t, srv, func(c *scim.Config) { c.Preset = tt.preset })

			a := account("u1", "Alice.Smith@Example.com")
			a.Role = tt.role1
			got := apply(t, c, createOp(a))
			if got.TargetID == "" {
				t.Fatal("create returned no TargetID")
			}
			u := mustUser(t, srv, got.TargetID)
			wantName := a.UserName
			if tt.lower {
				wantName = strings.ToLower(wantName)
			}
			if u.UserName != wantName || u.ExternalID != "u1" || !u.Active {
				t.Fatalf("created user = %+v", u)
			}
			if (u.GivenName == a.GivenName && u.FamilyName == a.FamilyName) != tt.names {
				t.Errorf("name = %q %q, preset sends names: %v", u.GivenName, u.FamilyName, tt.names)
			}
			if (u.Email != "") != tt.emails {
				t.Errorf("email = %q, preset sends emails: %v", u.Email, tt.emails)
			}
			if _, ok := u.Raw[scimtest.SchemaEnterprise]; ok != tt.enterprise {
				t.Errorf("enterprise extension present = %v, want %v", ok, tt.enterprise)
			}
			if a.Role != "" && u.Role() != tt.role1 {
				t.Errorf("role = %q, want %q", u.Role(), tt.role1)
			}

			// Update: a name change and an email change.
			b := *a
			b.FamilyName, b.Email = "Smyth", "alice.smyth@example.com"
			apply(t, c, idsync.Op{Kind: idsync.OpUpdate, ObjectID: "u1", TargetID: got.TargetID, Account: &b, Prev: a,
				Changes: idsync.DiffAttributes(*a, b)})
			u = mustUser(t, srv, got.TargetID)
			if (u.FamilyName == "Smyth") != tt.namesUpdated {
				t.Errorf("after update familyName = %q, preset updates names: %v", u.FamilyName, tt.namesUpdated)
			}
			if tt.emails && u.Email != "alice.smyth@example.com" {
				t.Errorf("after update email = %q", u.Email)
			}

			if tt.role2 != "" {
				r := b
				r.Role = tt.role2
				apply(t, c, idsync.Op{Kind: idsync.OpSetRole, ObjectID: "u1", TargetID: got.TargetID, Account: &r, Prev: &b})
				if u = mustUser(t, srv, got.TargetID); u.Role() != tt.role2 || len(u.Roles) != 1 {
					t.Errorf("after set-role roles = %v, want [%s]", u.Roles, tt.role2)
				}
			}

			d := b
			d.Active = false
			apply(t, c, idsync.Op{Kind: idsync.OpDisable, ObjectID: "u1", TargetID: got.TargetID, Account: &d, Prev: &b})
			if mustUser(t, srv, got.TargetID).Active {
				t.Error("still active after disable")
			}
			apply(t, c, idsync.Op{Kind: idsync.OpEnable, ObjectID: "u1", TargetID: got.TargetID, Account: &b, Prev: &d})
			if !mustUser(t, srv, got.TargetID).Active {
				t.Error("not active after enable")
			}

			del := apply(t, c, idsync.Op{Kind: idsync.OpDelete, ObjectID: "u1", TargetID: got.TargetID, Prev: &b})
			if del.TargetID != "" {
				t.Errorf("delete returned TargetID %q", del.TargetID)
			}
			u, ok := srv.User(got.TargetID)
			switch {
			case tt.keepsDeleted && (!ok || u.Active):
				t.Errorf("officernd delete: user present %v active %v, want kept as former", ok, u.Active)
			case !tt.keepsDeleted && ok:
				t.Error("user still in the workspace after delete")
			}
			// Deleting again (a retry after a crash) succeeds.
			apply(t, c, idsync.Op{Kind: idsync.OpDelete, ObjectID: "u1", TargetID: got.TargetID, Prev: &b})
		})
	}
}

func TestRoleValues(t *testing.T) {
	tests := []struct {
		preset, role string
		ok           bool
	}{
		{"whale", "writer", false},
		{"whale", "", true},
		{"whistleblower", "administrator", false},
		{"whimsical", "editor", true},
		{"whimsical", "admin", false},
		{"whimsical", "", true},
		{"generic", "anything", true},
		{"officernd", "admin", false},
		{"officernd", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.preset+"/"+tt.role, func(t *testing.T) {
			srv := newServer(t, scimtest.Options{Preset: tt.preset, Strict: true})
			c := newClient(t, srv, func(c *scim.Config) { c.Preset = tt.preset })
			if err := c.ValidRole(tt.role); (err == nil) != tt.ok {
				t.Fatalf("ValidRole(%q) = %v, want ok %v", tt.role, err, tt.ok)
			}
			a := account("u1", "bob@example.com")
			a.Role = tt.role
			_, err := tryApply(c, createOp(a), &retrier{}, 3)
			if (err == nil) != tt.ok {
				t.Fatalf("create with role %q: %v, want ok %v", tt.role, err, tt.ok)
			}
			if !tt.ok {
				if !strings.Contains(err.Error(), "preset "+tt.preset) {
					t.Errorf("error %q does not name the preset's role values", err)
				}
				if n := len(srv.Requests()); n != 0 {
					t.Errorf("%d requests sent for an invalid role, want 0", n)
				}
			}
		})
	}
}

// A role the preset does not know never blocks taking access away.
func TestInvalidRoleDoesNotBlockDisable(t *testing.T) {
	srv := newServer(t, scimtest.Options{Preset: "whimsical", Strict: true})
	c := newClient(t, srv, func(c *scim.Config) { c.Preset = "whimsical" })
	a := account("u1", "jo@example.com")
	a.Role = "editor"
	id := apply(t, c, createOp(a)).TargetID
	b := *a
	b.Role, b.Active = "superuser", false
	apply(t, c, idsync.Op{Kind: idsync.OpDisable, TargetID: id, Account: &b, Prev: a})
	if u := mustUser(t, srv, id); u.Active || u.Role() != "editor" {
		t.Errorf("after disable: active %v role %q", u.Active, u.Role())
	}
}

// Whimsical: no role means the workspace default on create, and an admin's
// choice is kept when idsync has no role to give.
func TestWhimsicalEmptyRoleKeepsWorkspaceDefault(t *testing.T) {
	srv := newServer(t, scimtest.Options{Preset: "whimsical", Strict: true})
	c := newClient(t, srv, func(c *scim.Config) { c.Preset = "whimsical" })
	got := apply(t, c, createOp(account("u1", "carol@example.com")))
	if r := mustUser(t, srv, got.TargetID).Role(); r != "viewer" {
		t.Errorf("role after create without role = %q, want workspace default viewer", r)
	}
	seeded := srv.AddUser(scimtest.User{UserName: "dan@example.com", Active: true, Roles: []string{"editor"}})
	a := account("u2", "Dan@Example.com")
	apply(t, c, createOp(a))
	apply(t, c, idsync.Op{Kind: idsync.OpSetRole, ObjectID: "u2", TargetID: seeded.ID, Account: a, Prev: a})
	if r := mustUser(t, srv, seeded.ID).Role(); r != "editor" {
		t.Errorf("role of adopted user = %q, want editor kept", r)
	}
}

// The first sync into a workspace that already has people creates no
// duplicates: existing accounts are found by userName (any case) or
// externalId and brought up to date.
func TestCreateAdoptsExistingAccounts(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	byName := srv.AddUser(scimtest.User{UserName: "ALICE@example.com", GivenName: "Al", Active: false})
	byExt := srv.AddUser(scimtest.User{UserName: "robert@old.example.com", ExternalID: "u2", Active: true})
	same := srv.AddUser(scimtest.User{UserName: "carol@example.com", ExternalID: "u3", Active: true})
	c := newClient(t, srv, nil)

	tests := []struct {
		name   string
		acct   *idsync.Account
		wantID string
	}{
		{"by userName, other case", account("u1", "alice@example.com"), byName.ID},
		{"by externalId, renamed", account("u2", "bob@example.com"), byExt.ID},
		{"already up to date", &idsync.Account{ExternalID: "u3", UserName: "carol@example.com", Active: true}, same.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ResetRequests()
			got := apply(t, c, createOp(tt.acct))
			if got.TargetID != tt.wantID {
				t.Fatalf("TargetID = %q, want adopted %q", got.TargetID, tt.wantID)
			}
			if n := srv.CountRequests(http.MethodPost, "/Users"); n != 0 {
				t.Errorf("%d POSTs, want none", n)
			}
			u := mustUser(t, srv, got.TargetID)
			if u.UserName != tt.acct.UserName || u.ExternalID != tt.acct.ExternalID || u.GivenName != tt.acct.GivenName || !u.Active {
				t.Errorf("adopted user = %+v, want it updated to %+v", u, *tt.acct)
			}
		})
	}
	t.Run("up to date account gets no PATCH", func(t *testing.T) {
		srv.ResetRequests()
		apply(t, c, createOp(&idsync.Account{ExternalID: "u3", UserName: "carol@example.com", Active: true}))
		if n := srv.CountRequests(http.MethodPatch, "/Users"); n != 0 {
			t.Errorf("%d PATCHes for an up-to-date account", n)
		}
	})
	if n := len(srv.Users()); n != 3 {
		t.Errorf("workspace holds %d users, want 3 (no duplicates)", n)
	}
}

// Someone creates the account between idsync's lookup and its POST: the 409
// means "find it, adopt it, update it".
func TestCreateConflictAdopts(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	raced := false
	hc := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPost && !raced {
			raced = true
			srv.AddUser(scimtest.User{UserName: "erin@example.com", Active: false})
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	c := newClient(t, srv, func(c *scim.Config) { c.HTTPClient = hc })
	got := apply(t, c, createOp(account("u5", "erin@example.com")))
	users := srv.Users()
	if len(users) != 1 || users[0].ID != got.TargetID {
		t.Fatalf("users = %+v, want the raced one adopted", users)
	}
	if u := users[0]; u.ExternalID != "u5" || !u.Active || u.FamilyName != "Family u5" {
		t.Errorf("adopted user not updated: %+v", u)
	}
	var statuses []int
	for _, r := range srv.Requests() {
		statuses = append(statuses, r.Status)
	}
	if !slices.Contains(statuses, http.StatusConflict) {
		t.Errorf("statuses %v: the race did not produce a 409", statuses)
	}
}

// Ops without a TargetID (the engine lost it, or never had it) find the
// user by userName / externalId.
func TestOpsWithoutTargetID(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	c := newClient(t, srv, nil)
	a := account("u1", "frank@example.com")
	id := apply(t, c, createOp(a)).TargetID
	b := *a
	b.Title = "Boss"
	got := apply(t, c, idsync.Op{Kind: idsync.OpUpdate, ObjectID: "u1", Account: &b, Prev: a, Changes: idsync.DiffAttributes(*a, b)})
	if got.TargetID != id || mustUser(t, srv, id).Title != "Boss" {
		t.Fatalf("update without TargetID: got %q, title %q", got.TargetID, mustUser(t, srv, id).Title)
	}
	apply(t, c, idsync.Op{Kind: idsync.OpDelete, ObjectID: "u1", Prev: &b})
	if len(srv.Users()) != 0 {
		t.Fatal("delete without TargetID left the user")
	}
	apply(t, c, idsync.Op{Kind: idsync.OpDelete, ObjectID: "u1", Prev: &b}) // already gone
}

// A rename without a TargetID finds the account by its previous userName
// instead of creating a second one.
func TestRenameWithoutTargetIDFindsPreviousName(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	seeded := srv.AddUser(scimtest.User{UserName: "old@example.com", Active: true}) // no externalId
	c := newClient(t, srv, nil)
	prev := &idsync.Account{ExternalID: "u1", UserName: "old@example.com", Active: true}
	next := &idsync.Account{ExternalID: "u1", UserName: "new@example.com", Active: true}
	got := apply(t, c, idsync.Op{Kind: idsync.OpUpdate, ObjectID: "u1", Account: next, Prev: prev, Changes: idsync.DiffAttributes(*prev, *next)})
	if got.TargetID != seeded.ID || len(srv.Users()) != 1 || mustUser(t, srv, seeded.ID).UserName != "new@example.com" {
		t.Fatalf("got %+v, users %+v", got, srv.Users())
	}
}

// An account deleted in the workspace behind idsync's back comes back on
// the next update; disabling it is already done.
func TestUserDeletedOutOfBand(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	c := newClient(t, srv, nil)
	a := account("u1", "gina@example.com")
	id := apply(t, c, createOp(a)).TargetID
	c2 := newClient(t, srv, nil)
	apply(t, c2, idsync.Op{Kind: idsync.OpDelete, TargetID: id, Prev: a})

	got := apply(t, c, idsync.Op{Kind: idsync.OpDisable, ObjectID: "u1", TargetID: id, Account: a, Prev: a})
	if got.TargetID != "" || len(srv.Users()) != 0 {
		t.Fatalf("disable of a vanished user: %+v, users %d", got, len(srv.Users()))
	}
	got = apply(t, c, idsync.Op{Kind: idsync.OpUpdate, ObjectID: "u1", TargetID: id, Account: a, Prev: a,
		Changes: []idsync.FieldChange{{Field: idsync.AttrTitle}}})
	if got.TargetID == "" || got.TargetID == id {
		t.Fatalf("update of a vanished user returned TargetID %q, want a new account", got.TargetID)
	}
	if u := mustUser(t, srv, got.TargetID); u.UserName != a.UserName || u.ExternalID != "u1" {
		t.Errorf("re-created user = %+v", u)
	}
}

func TestUpdateMethodPut(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	c := newClient(t, srv, func(c *scim.Config) { c.UpdateMethod = "put" })
	a := account("u1", "hal@example.com")
	a.Role = "member"
	id := apply(t, c, createOp(a)).TargetID
	b := *a
	b.GivenName, b.Department = "Harold", ""
	apply(t, c, idsync.Op{Kind: idsync.OpUpdate, TargetID: id, Account: &b, Prev: a, Changes: idsync.DiffAttributes(*a, b)})
	d := b
	d.Active = false
	apply(t, c, idsync.Op{Kind: idsync.OpDisable, TargetID: id, Account: &d, Prev: &b})
	u := mustUser(t, srv, id)
	ent, _ := u.Raw[scimtest.SchemaEnterprise].(map[string]any)
	if u.GivenName != "Harold" || u.Active || u.Role() != "member" || ent["department"] != nil || ent["employeeNumber"] != "E-u1" || u.Title != "Engineer" {
		t.Errorf("after PUT updates: %+v", u)
	}
	if n := srv.CountRequests(http.MethodPatch, "/"); n != 0 {
		t.Errorf("%d PATCH requests with update_method put", n)
	}
	if n := srv.CountRequests(http.MethodPut, "/Users/"); n != 2 {
		t.Errorf("%d PUT requests, want 2", n)
	}
}

func TestRoleAttributeSchemaPath(t *testing.T) {
	const dept = scimtest.SchemaEnterprise + ":department"
	srv := newServer(t, scimtest.Options{})
	c := newClient(t, srv, func(c *scim.Config) { c.RoleAttribute = dept })
	a := account("u1", "ivy@example.com")
	a.Role = "Finance"
	id := apply(t, c, createOp(a)).TargetID
	ent := func() map[string]any {
		m, _ := mustUser(t, srv, id).Raw[scimtest.SchemaEnterprise].(map[string]any)
		return m
	}
	if got := ent()["department"]; got != "Finance" {
		t.Fatalf("department = %v, want the role Finance", got)
	}
	if _, ok := mustUser(t, srv, id).Raw["roles"]; ok {
		t.Error("roles sent although role_attribute is a schema path")
	}
	b := *a
	b.Role = "Sales"
	apply(t, c, idsync.Op{Kind: idsync.OpSetRole, TargetID: id, Account: &b, Prev: a})
	if got := ent()["department"]; got != "Sales" {
		t.Errorf("department after set-role = %v", got)
	}
	var listed []idsync.Applied
	if err := c.ListUsers(t.Context(), func(p []idsync.Applied) error { listed = append(listed, p...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].Account.Role != "Sales" {
		t.Errorf("listed %+v, want role Sales read back from the schema path", listed)
	}
}

func TestListUsersPages(t *testing.T) {
	srv := newServer(t, scimtest.Options{PageSize: 40})
	for i := range 95 {
		srv.AddUser(scimtest.User{UserName: "user" + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + "@example.com",
			ExternalID: "ext", GivenName: "G", Active: i%2 == 0, Roles: []string{"member"}})
	}
	c := newClient(t, srv, nil)
	var pages, total int
	seen := map[string]bool{}
	err := c.ListUsers(t.Context(), func(p []idsync.Applied) error {
		pages++
		for _, a := range p {
			total++
			seen[a.TargetID] = true
			if a.Account == nil || a.Account.UserName == "" || a.Account.Role != "member" || a.Account.GivenName != "G" {
				t.Fatalf("listed %+v", a)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total != 95 || len(seen) != 95 || pages != 3 {
		t.Errorf("listed %d users (%d distinct) in %d pages, want 95 in 3", total, len(seen), pages)
	}
}
