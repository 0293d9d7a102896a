package scimtest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/targets/scim/scimtest"
)

const tok = "tok"

type resp struct {
	status int
	header http.Header
	body   map[string]any
}

// call sends a raw SCIM request, the way an IdP's provisioning service does.
func call(t *testing.T, srv *scimtest.Server, method, path, body string) resp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/scim+json")
	r, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer r.Body.Close()
	data, _ := io.ReadAll(r.Body)
	out := resp{status: r.StatusCode, header: r.Header}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &out.body); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, path, data, err)
		}
	}
	return out
}

func newSrv(t *testing.T, opts scimtest.Options) *scimtest.Server {
	t.Helper()
	opts.Token = tok
	srv := scimtest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

func TestAuth(t *testing.T) {
	srv := newSrv(t, scimtest.Options{})
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/Users", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d with a wrong token", r.StatusCode)
	}
}

func TestCreateConflictAndFilters(t *testing.T) {
	srv := newSrv(t, scimtest.Options{})
	r := call(t, srv, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Alice@Example.com","externalId":"e1",
		"emails":[{"value":"alice@example.com","type":"work","primary":true}],"displayName":"Alice"}`)
	if r.status != 201 || r.header.Get("Location") == "" || r.body["active"] != true {
		t.Fatalf("create: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "POST", "/Users", `{"userName":"alice@example.COM"}`); r.status != 409 || r.body["scimType"] != "uniqueness" {
		t.Fatalf("duplicate userName: %d %v", r.status, r.body)
	}
	tests := []struct {
		filter string
		want   int
	}{
		{`userName eq "alice@example.com"`, 1},
		{`userName eq "ALICE@EXAMPLE.COM"`, 1},
		{`externalId eq "e1"`, 1},
		{`externalId eq "E1"`, 0},
		{`displayName eq "alice"`, 1},
		{`emails eq "alice@example.com"`, 1},
		{`emails[type eq "work"].value eq "alice@example.com"`, 1},
		{`userName eq "alice@example.com" and externalId eq "e1"`, 1},
		{`userName eq "alice@example.com" and externalId eq "e2"`, 0},
		{`userName eq "bob@example.com"`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			r := call(t, srv, "GET", "/Users?filter="+url.QueryEscape(tt.filter), "")
			if r.status != 200 || int(r.body["totalResults"].(float64)) != tt.want {
				t.Fatalf("%d %v", r.status, r.body)
			}
		})
	}
	if r := call(t, srv, "GET", "/Users?filter="+url.QueryEscape(`userName zz "x"`), ""); r.status != 400 || r.body["scimType"] != "invalidFilter" {
		t.Errorf("bad filter: %d %v", r.status, r.body)
	}
}

func TestPaging(t *testing.T) {
	srv := newSrv(t, scimtest.Options{PageSize: 10})
	for i := range 25 {
		srv.AddUser(scimtest.User{UserName: "u" + string(rune('a'+i)), Active: true})
	}
	r := call(t, srv, "GET", "/Users?startIndex=21&count=50", "")
	if r.body["totalResults"].(float64) != 25 || r.body["itemsPerPage"].(float64) != 5 || r.body["startIndex"].(float64) != 21 {
		t.Fatalf("page: %v", r.body)
	}
	r = call(t, srv, "GET", "/Users?count=100", "")
	if r.body["itemsPerPage"].(float64) != 10 {
		t.Errorf("count above the page size: %v items", r.body["itemsPerPage"])
	}
}

// PATCH in the forms RFC 7644, Entra and Okta send.
func TestPatchForms(t *testing.T) {
	tests := []struct {
		name  string
		patch string
		check func(u scimtest.User) bool
	}{
		{"RFC replace with path", `[{"op":"replace","path":"name.familyName","value":"Smyth"}]`,
			func(u scimtest.User) bool { return u.FamilyName == "Smyth" && u.GivenName == "Al" }},
		{"Entra capitalised ops and string booleans", `[{"op":"Replace","path":"active","value":"False"}]`,
			func(u scimtest.User) bool { return !u.Active }},
		{"Entra emails value filter on a user without that email", `[{"op":"Add","path":"emails[type eq \"home\"].value","value":"al@home.test"}]`,
			func(u scimtest.User) bool { return len(u.Raw["emails"].([]any)) == 2 }},
		{"Entra enterprise attribute path", `[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Ops"}]`,
			func(u scimtest.User) bool {
				return u.Raw[scimtest.SchemaEnterprise].(map[string]any)["department"] == "Ops"
			}},
		{"Okta path-less replace", `[{"op":"replace","value":{"active":false,"name":{"givenName":"Alan"}}}]`,
			func(u scimtest.User) bool { return !u.Active && u.GivenName == "Alan" && u.FamilyName == "Smith" }},
		{"path-less with dotted keys", `[{"op":"replace","value":{"name.givenName":"Alfie","displayName":"Alfie S"}}]`,
			func(u scimtest.User) bool { return u.GivenName == "Alfie" && u.DisplayName == "Alfie S" }},
		{"remove", `[{"op":"remove","path":"title"}]`,
			func(u scimtest.User) bool { return u.Title == "" }},
		{"roles replace", `[{"op":"replace","path":"roles","value":[{"value":"admin","primary":true}]}]`,
			func(u scimtest.User) bool { return u.Role() == "admin" && len(u.Roles) == 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSrv(t, scimtest.Options{})
			u := srv.AddUser(scimtest.User{UserName: "al@example.com", GivenName: "Al", FamilyName: "Smith", Email: "al@example.com", Title: "Eng", Active: true, Roles: []string{"member"}})
			r := call(t, srv, "PATCH", "/Users/"+u.ID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":`+tt.patch+`}`)
			if r.status != 200 {
				t.Fatalf("PATCH: %d %v", r.status, r.body)
			}
			got, _ := srv.User(u.ID)
			if !tt.check(got) {
				t.Errorf("after PATCH: %+v", got)
			}
		})
	}
}

func TestGroupMemberPatchForms(t *testing.T) {
	srv := newSrv(t, scimtest.Options{})
	var ids []string
	for _, n := range []string{"a", "b", "c", "d"} {
		ids = append(ids, srv.AddUser(scimtest.User{UserName: n, Active: true}).ID)
	}
	r := call(t, srv, "POST", "/Groups", `{"displayName":"Team","members":[{"value":"`+ids[0]+`"}]}`)
	gid := r.body["id"].(string)
	if r := call(t, srv, "POST", "/Groups", `{"displayName":"team"}`); r.status != 409 {
		t.Errorf("duplicate group name: %d", r.status)
	}
	steps := []struct {
		name, ops string
		want      []string
	}{
		{"add list", `[{"op":"add","path":"members","value":[{"value":"` + ids[1] + `"},{"value":"` + ids[2] + `"},{"value":"` + ids[0] + `"}]}]`, ids[:3]},
		{"remove by value filter", `[{"op":"remove","path":"members[value eq \"` + ids[1] + `\"]"}]`, []string{ids[0], ids[2]}},
		{"Entra remove with value list", `[{"op":"Remove","path":"members","value":[{"value":"` + ids[0] + `"}]}]`, []string{ids[2]}},
		{"Okta replace members", `[{"op":"replace","path":"members","value":[{"value":"` + ids[3] + `"}]}]`, []string{ids[3]}},
		{"rename", `[{"op":"replace","value":{"id":"` + gid + `","displayName":"Renamed"}}]`, []string{ids[3]}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := call(t, srv, "PATCH", "/Groups/"+gid, `{"Operations":`+s.ops+`}`)
			if r.status != 200 {
				t.Fatalf("%d %v", r.status, r.body)
			}
			g := srv.Groups()[0]
			if strings.Join(g.Members, ",") != strings.Join(s.want, ",") {
				t.Errorf("members = %v, want %v", g.Members, s.want)
			}
		})
	}
	if g := srv.Groups()[0]; g.DisplayName != "Renamed" {
		t.Errorf("displayName = %q", g.DisplayName)
	}
}

func TestStrictPresets(t *testing.T) {
	tests := []struct {
		preset, body string
		status       int
	}{
		{"whale", `{"userName":"a","externalId":"x","active":true,"name":{"givenName":"A","familyName":"B"}}`, 201},
		{"whale", `{"userName":"a","name":{"givenName":"A"}}`, 400}, // no externalId
		{"whale", `{"userName":"a","externalId":"x","roles":[{"value":"writer","primary":true}]}`, 400},
		{"whale", `{"userName":"a","externalId":"x","emails":[{"value":"a@x"}]}`, 400},
		{"whale", `{"userName":"a","externalId":"x","displayName":"A"}`, 400},
		{"whale", `{"userName":"a","externalId":"x","title":"x"}`, 400},
		{"whimsical", `{"userName":"a@x.test","emails":[{"value":"a@x.test"}],"roles":[{"value":"editor"}]}`, 201},
		{"whimsical", `{"userName":"A@x.test"}`, 400},
		{"whimsical", `{"userName":"a@x.test","emails":[{"value":"A@x.test"}]}`, 400},
		{"whimsical", `{"userName":"a@x.test","roles":[{"value":"admin"}]}`, 400},
		{"whistleblower", `{"userName":"a","title":"x","name":{"givenName":"A"}}`, 201},
		{"whistleblower", `{"userName":"a","roles":[{"value":"Administrator"}]}`, 400},
		{"officernd", `{"userName":"a@x","externalId":"x","active":true,"displayName":"A B"}`, 201},
		{"officernd", `{"userName":"a@x","externalId":"x","name":{"givenName":"A"}}`, 400},
		{"officernd", `{"userName":"a@x","externalId":"x","emails":[{"value":"a@x"}]}`, 400},
		{"officernd", `{"userName":"a@x","externalId":"x","roles":[{"value":"member"}]}`, 400},
		{"generic", `{"userName":"a","title":"x","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"d"}}`, 201},
	}
	for _, tt := range tests {
		t.Run(tt.preset+" "+tt.body, func(t *testing.T) {
			srv := newSrv(t, scimtest.Options{Preset: tt.preset, Strict: true})
			if r := call(t, srv, "POST", "/Users", tt.body); r.status != tt.status {
				t.Fatalf("status %d, want %d: %v", r.status, tt.status, r.body)
			}
		})
	}
	t.Run("whale PATCH of an unsupported attribute", func(t *testing.T) {
		srv := newSrv(t, scimtest.Options{Preset: "whale", Strict: true})
		u := srv.AddUser(scimtest.User{UserName: "a", Active: true})
		r := call(t, srv, "PATCH", "/Users/"+u.ID, `{"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"a@x"}]}`)
		if r.status != 400 {
			t.Fatalf("status %d", r.status)
		}
	})
	t.Run("whimsical names belong to the user after creation", func(t *testing.T) {
		srv := newSrv(t, scimtest.Options{Preset: "whimsical", Strict: true})
		r := call(t, srv, "POST", "/Users", `{"userName":"a@x.test","name":{"givenName":"A","familyName":"B"}}`)
		if r.status != 201 {
			t.Fatalf("create: %d %v", r.status, r.body)
		}
		id := r.body["id"].(string)
		for _, ops := range []string{
			`[{"op":"replace","path":"name.givenName","value":"Z"}]`,
			`[{"op":"replace","path":"name","value":{"familyName":"Z"}}]`,
			`[{"op":"replace","value":{"name":{"givenName":"Z"}}}]`,
			`[{"op":"remove","path":"name.familyName"}]`,
		} {
			if r := call(t, srv, "PATCH", "/Users/"+id, `{"Operations":`+ops+`}`); r.status != 400 {
				t.Errorf("PATCH %s: %d, want 400", ops, r.status)
			}
		}
		if r := call(t, srv, "PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"displayName","value":"Z"}]}`); r.status != 200 {
			t.Errorf("PATCH displayName: %d %v", r.status, r.body)
		}
		if r := call(t, srv, "PUT", "/Users/"+id, `{"userName":"a@x.test","name":{"givenName":"A","familyName":"Z"}}`); r.status != 400 {
			t.Errorf("PUT with a changed familyName: %d, want 400", r.status)
		}
		if r := call(t, srv, "PUT", "/Users/"+id, `{"userName":"a@x.test","active":false,"name":{"givenName":"A","familyName":"B"}}`); r.status != 200 {
			t.Errorf("PUT with the names unchanged: %d %v", r.status, r.body)
		}
	})
	t.Run("whimsical filters only on what Microsoft's tutorial lists", func(t *testing.T) {
		srv := newSrv(t, scimtest.Options{Preset: "whimsical", Strict: true})
		for f, want := range map[string]int{
			`userName eq "a@x.test"`: 200, `externalId eq "1"`: 200, `active eq true`: 200, `displayName eq "A"`: 200,
			`emails.value eq "a@x.test"`: 400, `name.givenName eq "A"`: 400, `userName eq "a" or title eq "b"`: 400,
		} {
			if r := call(t, srv, "GET", "/Users?filter="+url.QueryEscape(f), ""); r.status != want {
				t.Errorf("filter %s: %d, want %d", f, r.status, want)
			}
		}
	})
	t.Run("apps without groups have no /Groups", func(t *testing.T) {
		for _, p := range []string{"whale", "whimsical", "whistleblower"} {
			srv := newSrv(t, scimtest.Options{Preset: p, Strict: true})
			if r := call(t, srv, "POST", "/Groups", `{"displayName":"Sales","externalId":"g"}`); r.status != 404 {
				t.Errorf("%s: POST /Groups %d, want 404", p, r.status)
			}
		}
	})
	t.Run("officernd teams", func(t *testing.T) {
		srv := newSrv(t, scimtest.Options{Preset: "officernd", Strict: true})
		u := srv.AddUser(scimtest.User{UserName: "a@x", ExternalID: "x", Active: true})
		g := srv.AddGroup(scimtest.Group{DisplayName: "Ops", ExternalID: "g0"})
		for body, want := range map[string]int{
			`{"displayName":"Sales","externalId":"g1","description":"d","members":[{"value":"` + u.ID + `"}]}`: 201,
			`{"displayName":"Legal","externalId":"g2","members":[{"value":"` + g.ID + `","type":"Group"}]}`:    400,
			`{"displayName":"Legal","externalId":"g3","members":[{"value":"` + g.ID + `"}]}`:                   400,
			`{"displayName":"Legal","externalId":"g4","owner":"x"}`:                                            400,
			`{"displayName":"Legal"}`: 400,
		} {
			if r := call(t, srv, "POST", "/Groups", body); r.status != want {
				t.Errorf("POST /Groups %s: %d, want %d (%v)", body, r.status, want, r.body)
			}
		}
		r := call(t, srv, "PATCH", "/Groups/"+g.ID, `{"Operations":[{"op":"add","path":"members","value":[{"value":"`+g.ID+`"}]}]}`)
		if r.status != 400 {
			t.Errorf("PATCH adding a group as a member: %d, want 400", r.status)
		}
	})
	t.Run("officernd never deletes people", func(t *testing.T) {
		srv := newSrv(t, scimtest.Options{Preset: "officernd", Strict: true})
		u := srv.AddUser(scimtest.User{UserName: "a", Active: true})
		if r := call(t, srv, "DELETE", "/Users/"+u.ID, ""); r.status != 405 {
			t.Fatalf("status %d", r.status)
		}
	})
}

func TestOnRequest(t *testing.T) {
	srv := newSrv(t, scimtest.Options{})
	var got []scimtest.Request
	srv.OnRequest(func(r scimtest.Request) { got = append(got, r) })
	call(t, srv, "POST", "/Users", `{"userName":"x"}`)
	if len(got) != 1 || got[0].Method != "POST" || got[0].Status != 201 || got[0].Path != "/Users" {
		t.Fatalf("hook saw %+v", got)
	}
}

func TestFaults(t *testing.T) {
	srv := newSrv(t, scimtest.Options{})
	srv.Inject(scimtest.Fault{Kind: scimtest.Fault429, Count: 2, RetryAfter: 1500 * time.Millisecond, Method: "GET"})
	for i := range 2 {
		r := call(t, srv, "GET", "/Users", "")
		if r.status != 429 || r.header.Get("Retry-After") != "2" {
			t.Fatalf("request %d: %d Retry-After %q", i, r.status, r.header.Get("Retry-After"))
		}
	}
	if r := call(t, srv, "GET", "/Users", ""); r.status != 200 {
		t.Fatalf("after the faults: %d", r.status)
	}
	srv.Inject(scimtest.Fault{Kind: scimtest.FaultDropAfter, Count: 1})
	req, _ := http.NewRequest("POST", srv.URL+"/Users", strings.NewReader(`{"userName":"x"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	if _, err := srv.Client().Do(req); err == nil {
		t.Fatal("drop-after answered")
	}
	if len(srv.Users()) != 1 {
		t.Error("drop-after did not perform the write")
	}
	log := srv.Requests()
	if last := log[len(log)-1]; last.Fault != "drop-after" || last.Status != 201 {
		t.Errorf("log entry %+v", last)
	}
}
