package scim_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// What each preset sends, asserted against its vendor guide
// (shared/seeds/README.md) from the strict workspace's request log.

// sent is one logged request with its JSON body decoded.
type sent struct {
	method, path, query string
	body                map[string]any
}

func requests(t *testing.T, srv *scimtest.Server) []sent {
	t.Helper()
	var out []sent
	for _, r := range srv.Requests() {
		s := sent{method: r.Method, path: r.Path, query: r.Query}
		if len(r.Body) > 0 {
			if err := json.Unmarshal(r.Body, &s.body); err != nil {
				t.Fatalf("%s %s: body %q: %v", r.Method, r.Path, r.Body, err)
			}
		}
		out = append(out, s)
	}
	return out
}

// writes are the logged requests other than GET.
func writesOf(t *testing.T, srv *scimtest.Server) []sent {
	t.Helper()
	return slices.DeleteFunc(requests(t, srv), func(s sent) bool { return s.method == http.MethodGet })
}

func keys(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}

// patchPaths lists a PATCH body's operations as "op path".
func patchPaths(body map[string]any) []string {
	var out []string
	ops, _ := body["Operations"].([]any)
	for _, o := range ops {
		m, _ := o.(map[string]any)
		out = append(out, str(m["op"])+" "+str(m["path"]))
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// everything changes every profile attribute of a.
func everything(a *idsync.Account) *idsync.Account {
	b := *a
	b.UserName = "Renamed." + a.UserName
	b.Email = "renamed." + a.Email
	b.GivenName, b.FamilyName, b.DisplayName = "G2", "F2", "D2"
	b.EmployeeID, b.Title, b.Department = "E2", "T2", "D2"
	return &b
}

func presetClient(t *testing.T, preset string, edit func(*scim.Config)) (*scimtest.Server, *scim.Client) {
	t.Helper()
	srv := newServer(t, scimtest.Options{Preset: preset, Strict: true})
	c := newClient(t, srv, func(c *scim.Config) {
		c.Preset = preset
		if edit != nil {
			edit(c)
		}
	})
	return srv, c
}

// Whale (000): "Only the attributes 'userName', 'active', 'name.givenName',
// 'name.familyName' and 'externalId' are required"; no roles, no groups;
// "If you delete someone from Entra, they will also be deleted from Whale".
func TestWhaleSendsWhatItsGuideLists(t *testing.T) {
	srv, c := presetClient(t, "whale", nil)
	a := account("u1", "ann@example.com")
	id := apply(t, c, createOp(a)).TargetID
	w := writesOf(t, srv)
	if len(w) != 1 || w[0].method != http.MethodPost {
		t.Fatalf("writes %+v, want one POST", w)
	}
	if got, want := keys(w[0].body), []string{"active", "externalId", "name", "schemas", "userName"}; !slices.Equal(got, want) {
		t.Errorf("POST /Users attributes %v, want %v", got, want)
	}
	if name, _ := w[0].body["name"].(map[string]any); !slices.Equal(keys(name), []string{"familyName", "givenName"}) || w[0].body["externalId"] != "u1" {
		t.Errorf("POST body %v", w[0].body)
	}

	srv.ResetRequests()
	b := everything(a)
	apply(t, c, idsync.Op{Kind: idsync.OpUpdate, ObjectID: "u1", TargetID: id, Account: b, Prev: a, Changes: idsync.DiffAttributes(*a, *b)})
	w = writesOf(t, srv)
	if len(w) != 1 || !slices.Equal(patchPaths(w[0].body), []string{"replace userName", "replace name.givenName", "replace name.familyName"}) {
		t.Errorf("update of every attribute sent %+v", w)
	}

	srv.ResetRequests()
	apply(t, c, idsync.Op{Kind: idsync.OpDelete, ObjectID: "u1", TargetID: id, Prev: b})
	if w = writesOf(t, srv); len(w) != 1 || w[0].method != http.MethodDelete {
		t.Errorf("permanent deletion sent %+v, want one DELETE", w)
	}

	if err := c.ValidRole("reader"); err == nil || !strings.Contains(err.Error(), "takes no roles") {
		t.Errorf("ValidRole(reader) = %v", err)
	}
	if err := c.ValidGroupSync(); err == nil || !strings.Contains(err.Error(), "provisions users only") {
		t.Errorf("ValidGroupSync = %v", err)
	}
	if err := c.ValidDeprovision("delete"); err != nil {
		t.Errorf("ValidDeprovision(delete) = %v", err)
	}
}

// Whimsical (001, 003): lower-case userName and emails; roles editor/viewer,
// none sent without one; given and family name only at creation.
func TestWhimsicalSendsWhatItsGuideSays(t *testing.T) {
	t.Run("create", func(t *testing.T) {
		srv, c := presetClient(t, "whimsical", nil)
		a := account("u1", "Ann.Lee@Example.com")
		a.Role = "editor"
		apply(t, c, createOp(a))
		b := account("u2", "bo@example.com") // no role: the workspace default
		apply(t, c, createOp(b))
		w := writesOf(t, srv)
		if len(w) != 2 {
			t.Fatalf("writes %+v, want two POSTs", w)
		}
		if got, want := keys(w[0].body), []string{"active", "displayName", "emails", "externalId", "name", "roles", "schemas", "userName"}; !slices.Equal(got, want) {
			t.Errorf("POST /Users attributes %v, want %v", got, want)
		}
		if w[0].body["userName"] != "ann.lee@example.com" || !strings.Contains(string(mustJSON(w[0].body["emails"])), `"ann.lee@example.com"`) {
			t.Errorf("userName/emails not lower-case: %v", w[0].body)
		}
		if got := string(mustJSON(w[0].body["roles"])); got != `[{"primary":true,"value":"editor"}]` {
			t.Errorf("roles %s", got)
		}
		if _, ok := w[1].body["roles"]; ok {
			t.Errorf("a user without a role was sent roles: %v", w[1].body)
		}
		for _, r := range requests(t, srv) {
			if r.method == http.MethodGet && !strings.Contains(r.query, "userName") && !strings.Contains(r.query, "externalId") {
				t.Errorf("lookup %s?%s filters on something else than userName or externalId", r.path, r.query)
			}
		}
	})
	for _, method := range []string{"patch", "put"} {
		t.Run("names are the user's after creation ("+method+")", func(t *testing.T) {
			srv, c := presetClient(t, "whimsical", func(c *scim.Config) { c.UpdateMethod = method })
			a := account("u1", "ann@example.com")
			id := apply(t, c, createOp(a)).TargetID
			srv.ResetRequests()
			b := *a
			b.GivenName, b.FamilyName = "Anna", "Lea"
			apply(t, c, idsync.Op{Kind: idsync.OpUpdate, ObjectID: "u1", TargetID: id, Account: &b, Prev: a, Changes: idsync.DiffAttributes(*a, b)})
			if w := writesOf(t, srv); len(w) != 0 {
				t.Errorf("a change of names only sent %+v, want nothing", w)
			}
			c2 := everything(a)
			apply(t, c, idsync.Op{Kind: idsync.OpUpdate, ObjectID: "u1", TargetID: id, Account: c2, Prev: a, Changes: idsync.DiffAttributes(*a, *c2)})
			u := mustUser(t, srv, id)
			if u.GivenName != a.GivenName || u.FamilyName != a.FamilyName || u.DisplayName != "D2" || u.Email != strings.ToLower(c2.Email) {
				t.Errorf("after an update of every attribute: %+v", u)
			}
			if method == "patch" {
				w := writesOf(t, srv)
				if len(w) != 1 || !slices.Equal(patchPaths(w[0].body), []string{"replace userName", "replace emails", "replace displayName"}) {
					t.Errorf("update sent %+v", w)
				}
			}
		})
	}
	t.Run("adoption leaves the names", func(t *testing.T) {
		srv, c := presetClient(t, "whimsical", nil)
		seeded := srv.AddUser(scimtest.User{UserName: "dan@example.com", GivenName: "Daniel", FamilyName: "Old", Active: true})
		a := account("u2", "Dan@Example.com")
		if got := apply(t, c, createOp(a)).TargetID; got != seeded.ID {
			t.Fatalf("adopted %s, want %s", got, seeded.ID)
		}
		for _, w := range writesOf(t, srv) {
			for _, p := range patchPaths(w.body) {
				if strings.Contains(p, "name.") || p == "replace name" {
					t.Errorf("adoption sent %q", p)
				}
			}
		}
		if u := mustUser(t, srv, seeded.ID); u.GivenName != "Daniel" || u.FamilyName != "Old" || u.ExternalID != "u2" {
			t.Errorf("adopted account %+v", u)
		}
	})
	_, c := presetClient(t, "whimsical", nil)
	if err := c.ValidRole("admin"); err == nil || !strings.Contains(err.Error(), "Update user roles (editor / viewer)") {
		t.Errorf("ValidRole(admin) = %v", err)
	}
	if err := c.ValidGroupSync(); err == nil {
		t.Error("Whimsical accepted groups.sync")
	}
	if !c.Traits().AssignedRoleRequired {
		t.Error("Whimsical does not exclude Default Access assignments")
	}
}

// Whistleblower Software (002): disabled when unassigned, removed when
// deleted; "Permissions cannot be configured during the provisioning process".
func TestWhistleblowerSendsNoPermissions(t *testing.T) {
	srv, c := presetClient(t, "whistleblower", nil)
	a := account("u1", "ann@example.com")
	id := apply(t, c, createOp(a)).TargetID
	d := *a
	d.Active = false
	apply(t, c, idsync.Op{Kind: idsync.OpDisable, ObjectID: "u1", TargetID: id, Account: &d, Prev: a})
	apply(t, c, idsync.Op{Kind: idsync.OpDelete, ObjectID: "u1", TargetID: id, Prev: &d})
	w := writesOf(t, srv)
	if len(w) != 3 || w[0].method != http.MethodPost || w[2].method != http.MethodDelete ||
		!slices.Equal(patchPaths(w[1].body), []string{"replace active"}) {
		t.Fatalf("create, disable, delete sent %+v", w)
	}
	if _, ok := w[0].body["roles"]; ok {
		t.Errorf("POST carries roles: %v", w[0].body)
	}
	if err := c.ValidRole("Administrator"); err == nil || !strings.Contains(err.Error(), "Permissions cannot be configured") {
		t.Errorf("ValidRole = %v", err)
	}
}

// OfficeRnD (004): users carry only userName, active, displayName and
// externalId; nobody is deleted ("labeled as Former"); teams carry
// displayName, externalId, an optional description and user members.
func TestOfficeRnDSendsWhatItsGuideKeeps(t *testing.T) {
	srv, c := presetClient(t, "officernd", nil)
	a := account("u1", "ann@example.com")
	id := apply(t, c, createOp(a)).TargetID
	w := writesOf(t, srv)
	if got, want := keys(w[0].body), []string{"active", "displayName", "externalId", "schemas", "userName"}; !slices.Equal(got, want) {
		t.Errorf("POST /Users attributes %v, want %v", got, want)
	}
	srv.ResetRequests()
	b := everything(a)
	apply(t, c, idsync.Op{Kind: idsync.OpUpdate, ObjectID: "u1", TargetID: id, Account: b, Prev: a, Changes: idsync.DiffAttributes(*a, *b)})
	apply(t, c, idsync.Op{Kind: idsync.OpDelete, ObjectID: "u1", TargetID: id, Prev: b})
	w = writesOf(t, srv)
	if len(w) != 2 || !slices.Equal(patchPaths(w[0].body), []string{"replace userName", "replace displayName"}) ||
		w[1].method != http.MethodPatch || !slices.Equal(patchPaths(w[1].body), []string{"replace active"}) {
		t.Errorf("update of every attribute, then delete, sent %+v", w)
	}
	if u := mustUser(t, srv, id); u.Active {
		t.Error("deleted person is still active, want Former (active: false)")
	}

	srv.ResetRequests()
	g := &idsync.GroupAccount{ExternalID: "g1", DisplayName: "Design", Description: "Design team"}
	gid := apply(t, c, idsync.Op{Kind: idsync.OpGroupCreate, ObjectID: "g1", Group: g}).TargetID
	apply(t, c, idsync.Op{Kind: idsync.OpMemberAdd, ObjectID: "g1", TargetID: gid, Group: g, Members: []idsync.Member{{ExternalID: "u1", TargetID: id}}})
	g2 := &idsync.GroupAccount{ExternalID: "g1", DisplayName: "Design", Description: "Designers"}
	apply(t, c, idsync.Op{Kind: idsync.OpGroupUpdate, ObjectID: "g1", TargetID: gid, Group: g2, PrevGroup: g})
	w = writesOf(t, srv)
	if len(w) != 3 {
		t.Fatalf("team writes %+v", w)
	}
	if got, want := keys(w[0].body), []string{"description", "displayName", "externalId", "schemas"}; !slices.Equal(got, want) {
		t.Errorf("POST /Groups attributes %v, want %v", got, want)
	}
	if got := string(mustJSON(w[1].body["Operations"])); got != `[{"op":"add","path":"members","value":[{"value":"`+id+`"}]}]` {
		t.Errorf("member add %s", got)
	}
	if !slices.Equal(patchPaths(w[2].body), []string{"replace displayName", "replace description"}) {
		t.Errorf("team update %v", patchPaths(w[2].body))
	}
	if grp := findGroup(t, srv, gid); grp.Description != "Designers" || !slices.Equal(grp.Members, []string{id}) {
		t.Errorf("team %+v", grp)
	}

	if err := c.ValidDeprovision("delete"); err == nil || !strings.Contains(err.Error(), "labeled as Former") {
		t.Errorf("ValidDeprovision(delete) = %v", err)
	}
	if err := c.ValidDeprovision("disable"); err != nil || c.ValidGroupSync() != nil {
		t.Errorf("disable or groups refused: %v, %v", err, c.ValidGroupSync())
	}
	if tr := c.Traits(); !tr.OrderedMembers || !tr.GroupDescriptions {
		t.Errorf("traits %+v", tr)
	}
}

// Descriptions go only to workspaces that take them.
func TestGenericSendsNoGroupDescription(t *testing.T) {
	srv, c := presetClient(t, "generic", nil)
	apply(t, c, idsync.Op{Kind: idsync.OpGroupCreate, ObjectID: "g1", Group: &idsync.GroupAccount{ExternalID: "g1", DisplayName: "Ops", Description: "x"}})
	if w := writesOf(t, srv); len(w) != 1 || w[0].body["description"] != nil {
		t.Errorf("generic group create sent %+v", w)
	}
}

// Tenant URLs as the guides print them: Entra's ?aadOptscim062020 flag is
// dropped, any other query parameter goes with every request; a token
// pasted with its "Bearer " scheme works.
func TestTenantURLAsPrinted(t *testing.T) {
	srv := newServer(t, scimtest.Options{Preset: "whimsical", Strict: true})
	c := newClient(t, srv, func(c *scim.Config) {
		c.Preset = "whimsical"
		c.URL = srv.URL + "/?aadOptscim062020&tenant=acme"
		c.Token = "Bearer " + token
	})
	a := account("u1", "ann@example.com")
	id := apply(t, c, createOp(a)).TargetID
	b := *a
	b.DisplayName = "Ann L."
	apply(t, c, idsync.Op{Kind: idsync.OpUpdate, ObjectID: "u1", TargetID: id, Account: &b, Prev: a, Changes: idsync.DiffAttributes(*a, b)})
	if err := c.ListUsers(t.Context(), func([]idsync.Applied) error { return nil }); err != nil {
		t.Fatal(err)
	}
	rs := srv.Requests()
	if len(rs) < 4 {
		t.Fatalf("%d requests", len(rs))
	}
	for _, r := range rs {
		if r.Status >= 300 || strings.Contains(r.Query, "aadOptscim062020") || !strings.HasPrefix(r.Query, "tenant=acme") {
			t.Errorf("%s %s?%s: %d", r.Method, r.Path, r.Query, r.Status)
		}
	}
	if notes := c.Notes(); len(notes) != 1 || !strings.Contains(notes[0], "aadOptscim062020") {
		t.Errorf("notes %q", notes)
	}
	if s := c.String(); strings.Contains(s, "?") || strings.Contains(s, token) {
		t.Errorf("String() = %q", s)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
