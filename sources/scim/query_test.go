package scim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func seedPeople(t *testing.T, c *tclient) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, u := range []string{
		`{"userName":"ada@example.com","displayName":"Ada Lovelace","active":true,"title":"Countess",
		  "name":{"givenName":"Ada","familyName":"Lovelace"},
		  "emails":[{"value":"ada@example.com","type":"work","primary":true},{"value":"ada@home.org","type":"home"}],
		  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Engineering","employeeNumber":"1"}}`,
		`{"userName":"grace@example.com","displayName":"Grace Hopper","active":false,
		  "name":{"givenName":"Grace","familyName":"Hopper"},
		  "emails":[{"value":"grace@navy.mil","type":"work"}],
		  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Navy"}}`,
		`{"userName":"Linus@Example.com","displayName":"Linus","active":"True",
		  "emails":[{"value":"linus@example.com","type":"home"}]}`,
	} {
		r := c.must(201, "POST", "/Users", u)
		ids[r.body["userName"].(string)] = r.body["id"].(string)
	}
	return ids
}

func TestFilterOperators(t *testing.T) {
	c := newTClient(t)
	ids := seedPeople(t, c)
	ada, grace, linus := ids["ada@example.com"], ids["grace@example.com"], ids["Linus@Example.com"]
	cases := []struct {
		filter string
		want   []string
	}{
		{`userName eq "ADA@example.com"`, []string{ada}},
		{`USERNAME Eq "linus@example.com"`, []string{linus}},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "grace@example.com"`, []string{grace}},
		{`userName ne "ada@example.com"`, []string{grace, linus}},
		{`displayName co "ace"`, []string{ada, grace}},
		{`displayName sw "g"`, []string{grace}},
		{`displayName ew "HOPPER"`, []string{grace}},
		{`userName gt "b"`, []string{grace, linus}},
		{`userName ge "grace@example.com"`, []string{grace, linus}},
		{`userName lt "b"`, []string{ada}},
		{`userName le "ada@example.com"`, []string{ada}},
		{`title pr`, []string{ada}},
		{`not (title pr)`, []string{grace, linus}},
		{`active eq true`, []string{ada, linus}},
		{`active eq false`, []string{grace}},
		{`active ne true`, []string{grace}},
		{`name.familyName eq "lovelace"`, []string{ada}},
		{`name.givenName pr and active eq true`, []string{ada}},
		{`name.givenName eq "Grace" or userName sw "linus"`, []string{grace, linus}},
		{`emails co "example.com"`, []string{ada, linus}},
		{`emails.value ew ".org"`, []string{ada}},
		{`emails.type eq "work"`, []string{ada, grace}},
		{`emails[type eq "work" and value co "example"]`, []string{ada}},
		{`emails[type eq "home"] and not (emails[type eq "work"])`, []string{linus}},
		{`emails[not (type eq "work")]`, []string{ada, linus}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "navy"`, []string{grace}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr`, []string{ada}},
		{`title eq null`, []string{grace, linus}},
		{`id eq "` + ada + `"`, []string{ada}},
		{`externalId pr`, nil},
		{`meta.created gt "2000-01-01T00:00:00Z"`, []string{ada, grace, linus}},
		{`meta.lastModified lt "2000-01-01T00:00:00+01:00"`, nil},
		{`meta.resourceType eq "User"`, []string{ada, grace, linus}},
		{`displayName eq "Ada \"The Countess\" Lovelace" or displayName eq "Ada Lovelace"`, []string{ada}},
	}
	for _, tc := range cases {
		r := c.must(200, "GET", "/Users?filter="+url.QueryEscape(tc.filter), "")
		var got []string
		for _, res := range r.body["Resources"].([]any) {
			got = append(got, res.(map[string]any)["id"].(string))
		}
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", tc.filter, got, want)
		}
		wantField(t, r.body, "totalResults", len(tc.want))
	}
}

func TestPagingIsStable(t *testing.T) {
	c := newTClient(t)
	var all, teens []string
	for i := range 25 {
		all = append(all, c.user(fmt.Sprintf("user%02d@example.com", i)))
		if i >= 10 && i < 20 {
			teens = append(teens, all[i])
		}
	}
	slices.Sort(teens)
	slices.Sort(all)
	var paged []string
	for start := 1; start <= 25; start += 10 {
		r := c.must(200, "GET", fmt.Sprintf("/Users?startIndex=%d&count=10", start), "")
		wantField(t, r.body, "totalResults", 25)
		wantField(t, r.body, "startIndex", start)
		for _, res := range r.body["Resources"].([]any) {
			paged = append(paged, res.(map[string]any)["id"].(string))
		}
		wantField(t, r.body, "itemsPerPage", len(r.body["Resources"].([]any)))
	}
	if !slices.Equal(paged, all) {
		t.Errorf("pages do not cover the users once each in id order:\n%v\n%v", paged, all)
	}
	r := c.must(200, "GET", "/Users?startIndex=0&count=-5", "")
	wantField(t, r.body, "startIndex", 1)
	wantField(t, r.body, "itemsPerPage", 0)
	wantField(t, r.body, "totalResults", 25)
	r = c.must(200, "GET", "/Users?startIndex=100", "")
	wantField(t, r.body, "itemsPerPage", 0)
	r = c.must(200, "GET", "/Users?filter="+url.QueryEscape(`userName sw "user1"`)+"&startIndex=2&count=3", "")
	wantField(t, r.body, "totalResults", 10)
	wantField(t, r.body, "itemsPerPage", 3)
	wantField(t, r.body, "Resources.0.id", teens[1])
}

func TestProjection(t *testing.T) {
	c := newTClient(t)
	ids := seedPeople(t, c)
	ada := ids["ada@example.com"]
	r := c.must(200, "GET", "/Users/"+ada+"?attributes=userName,name.givenName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "")
	for _, k := range []string{"id", "schemas", "meta", "userName", "name", URNEnterprise} {
		if _, ok := r.body[k]; !ok {
			t.Errorf("%s missing: %s", k, r.raw)
		}
	}
	for _, k := range []string{"displayName", "emails", "active"} {
		if _, ok := r.body[k]; ok {
			t.Errorf("%s returned though not asked for", k)
		}
	}
	if n := r.body["name"].(map[string]any); len(n) != 1 || n["givenName"] != "Ada" {
		t.Errorf("name = %v, want only givenName", n)
	}
	if e := r.body[URNEnterprise].(map[string]any); len(e) != 1 {
		t.Errorf("enterprise = %v, want only department", e)
	}
	r = c.must(200, "GET", "/Users/"+ada+"?excludedAttributes=emails,name.familyName,"+URNEnterprise, "")
	if _, ok := r.body["emails"]; ok {
		t.Error("emails returned though excluded")
	}
	if _, ok := r.body[URNEnterprise]; ok {
		t.Error("extension returned though excluded")
	}
	wantField(t, r.body, "name.givenName", "Ada")
	if _, ok := r.body["name"].(map[string]any)["familyName"]; ok {
		t.Error("name.familyName returned though excluded")
	}
	// The Microsoft collection's attributes=emails[type eq "work"].
	r = c.must(200, "GET", "/Users?attributes="+url.QueryEscape(`emails[type eq "work"]`), "")
	if dig(r.body, "Resources.0.emails.0.value") == nil {
		t.Errorf("emails not returned: %s", r.raw)
	}
	if _, ok := dig(r.body, "Resources.0").(map[string]any)["userName"]; ok {
		t.Error("userName returned though not asked for")
	}
}

func TestDiscovery(t *testing.T) {
	c := newTClient(t)
	r := c.must(200, "GET", "/ServiceProviderConfig", "")
	wantField(t, r.body, "patch.supported", true)
	wantField(t, r.body, "bulk.supported", false)
	wantField(t, r.body, "filter.maxResults", maxCount)
	wantField(t, r.body, "etag.supported", true)
	r = c.must(200, "GET", "/ResourceTypes", "")
	wantField(t, r.body, "Resources.0.endpoint", "/Users")
	wantField(t, r.body, "Resources.0.schemaExtensions.0.schema", URNEnterprise)
	wantField(t, r.body, "Resources.1.endpoint", "/Groups")
	c.must(200, "GET", "/ResourceTypes/Group", "")
	r = c.must(200, "GET", "/Schemas", "")
	wantField(t, r.body, "totalResults", 3)
	wantField(t, r.body, "Resources.0.description", "User Account")
	r = c.must(200, "GET", "/Schemas/"+URNEnterprise, "")
	wantField(t, r.body, "name", "EnterpriseUser")
	r = c.must(200, "GET", "/Schemas/"+URNUser, "")
	wantField(t, r.body, "attributes.0.name", "userName")
	wantField(t, r.body, "attributes.0.uniqueness", "server")
	c.mustErr(404, "", "GET", "/Schemas/urn:nope", "")
	c.mustErr(405, "", "POST", "/Schemas", "{}")
}

func TestLocationWithoutBaseURL(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	mux.Handle("/scim/v2/initech/", http.StripPrefix("/scim/v2/initech", NewHandler(NewMemRepo(), Options{})))
	res, err := srv.Client().Post(srv.URL+"/scim/v2/initech/Users", "application/scim+json", strings.NewReader(`{"userName":"a@b"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	want := srv.URL + "/scim/v2/initech/Users/" + fmt.Sprint(m["id"])
	if loc := res.Header.Get("Location"); loc != want || dig(m, "meta.location") != want {
		t.Errorf("Location %q, meta.location %v, want %q", loc, dig(m, "meta.location"), want)
	}
}

func TestOptionsNowStampsMeta(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := t0
	h := NewHandler(NewMemRepo(), Options{BaseURL: "https://x/scim/v2/c", Now: func() time.Time { return now }})
	do := func(method, path, body string) map[string]any {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		var m map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &m)
		return m
	}
	m := do("POST", "/Users", `{"userName":"t@x"}`)
	now = t0.Add(time.Hour)
	m = do("PUT", "/Users/"+m["id"].(string), `{"userName":"t@x","title":"x"}`)
	wantField(t, m, "meta.created", "2026-01-02T03:04:05Z")
	wantField(t, m, "meta.lastModified", "2026-01-02T04:04:05Z")
}
