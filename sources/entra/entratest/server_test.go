package entratest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/idsync/idsync/sources/entra/entratest"
)

type client struct {
	t     *testing.T
	srv   *entratest.Server
	http  *http.Client
	token string
}

func newClient(t *testing.T) *client {
	t.Helper()
	srv := entratest.NewServer()
	t.Cleanup(srv.Close)
	c := &client{t: t, srv: srv, http: srv.Client()}
	status, body := c.tokenRequest(srv.ClientSecret)
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, body)
	}
	c.token = body["access_token"].(string)
	return c
}

func (c *client) tokenRequest(secret string) (int, map[string]any) {
	c.t.Helper()
	resp, err := c.http.PostForm(c.srv.AuthorityURL+c.srv.TenantID+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {c.srv.ClientID}, "client_secret": {secret},
		"scope": {c.srv.URL + "/.default"},
	})
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

type page struct {
	Next   string           `json:"@odata.nextLink"`
	Delta  string           `json:"@odata.deltaLink"`
	Value  []map[string]any `json:"value"`
	Error  *graphErr        `json:"error"`
	status int
	header http.Header
}

type graphErr struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (c *client) get(link string) page {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, link, nil)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var p page
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		c.t.Fatalf("GET %s: %v", link, err)
	}
	p.status, p.header = resp.StatusCode, resp.Header
	return p
}

func TestAuthority(t *testing.T) {
	c := newClient(t)
	t.Run("wrong secret is invalid_client", func(t *testing.T) {
		status, body := c.tokenRequest("nope")
		if status != http.StatusUnauthorized || body["error"] != "invalid_client" ||
			!strings.HasPrefix(body["error_description"].(string), "AADSTS7000215") {
			t.Errorf("%d %v", status, body)
		}
	})
	t.Run("graph without token", func(t *testing.T) {
		anon := &client{t: t, srv: c.srv, http: c.http}
		p := anon.get(c.srv.GraphURL + "/users/delta()")
		if p.status != http.StatusUnauthorized || p.Error == nil || p.Error.Code != "InvalidAuthenticationToken" {
			t.Errorf("%d %+v", p.status, p.Error)
		}
	})
}

func TestUsersDelta(t *testing.T) {
	c := newClient(t)
	c.srv.Generate(450, 0)

	t.Run("default properties lack accountEnabled", func(t *testing.T) {
		p := c.get(c.srv.GraphURL + "/users/delta()")
		if _, ok := p.Value[0]["accountEnabled"]; ok {
			t.Errorf("accountEnabled without $select: %v", p.Value[0])
		}
		if _, ok := p.Value[0]["userPrincipalName"]; !ok {
			t.Errorf("no userPrincipalName: %v", p.Value[0])
		}
	})

	var delta string
	t.Run("pages of 200 with nextLink then deltaLink, $select kept", func(t *testing.T) {
		link := c.srv.GraphURL + "/users/delta()?$select=id,accountEnabled"
		var sizes []int
		for link != "" {
			p := c.get(link)
			sizes = append(sizes, len(p.Value))
			if _, ok := p.Value[0]["accountEnabled"]; !ok || len(p.Value[0]) != 2 {
				t.Errorf("page %d: entry %v, want id and accountEnabled", len(sizes), p.Value[0])
			}
			if p.Next != "" && (p.Delta != "" || strings.Contains(p.Next, "select")) {
				t.Errorf("page %d: next %q delta %q", len(sizes), p.Next, p.Delta)
			}
			link, delta = p.Next, p.Delta
		}
		if len(sizes) != 3 || sizes[0] != 200 || sizes[2] != 50 || delta == "" {
			t.Errorf("pages %v, deltaLink %q", sizes, delta)
		}
	})
	t.Run("changes since the deltaLink", func(t *testing.T) {
		id, _ := c.srv.UserID("user000007@contoso.test")
		gone, _ := c.srv.UserID("user000008@contoso.test")
		binned, _ := c.srv.UserID("user000009@contoso.test")
		c.srv.DisableUser(id)
		c.srv.HardDeleteUser(gone)
		c.srv.SoftDeleteUser(binned)
		p := c.get(delta)
		if len(p.Value) != 3 || p.Delta == "" {
			t.Fatalf("%+v", p)
		}
		want := map[string]string{id: "", gone: "deleted", binned: "changed"}
		for _, v := range p.Value {
			reason := ""
			if r, ok := v["@removed"].(map[string]any); ok {
				reason = r["reason"].(string)
			} else if v["accountEnabled"] != false {
				t.Errorf("disabled user: %v", v)
			}
			if want[v["id"].(string)] != reason {
				t.Errorf("%v: reason %q", v, reason)
			}
		}
		delta = p.Delta
	})
	t.Run("latest token", func(t *testing.T) {
		p := c.get(c.srv.GraphURL + "/users/delta()?$deltatoken=latest")
		if len(p.Value) != 0 || p.Delta == "" {
			t.Fatalf("%+v", p)
		}
		c.srv.AddUser(entratest.User{UserPrincipalName: "new@contoso.test"})
		if q := c.get(p.Delta); len(q.Value) != 1 || q.Value[0]["userPrincipalName"] != "new@contoso.test" {
			t.Errorf("%+v", q.Value)
		}
	})
	t.Run("expired token is 410 with Location", func(t *testing.T) {
		c.srv.ExpireDeltaTokens()
		p := c.get(delta)
		if p.status != http.StatusGone || p.Error == nil || p.Error.Code != "syncStateNotFound" ||
			!strings.HasSuffix(p.header.Get("Location"), "/users/delta()") {
			t.Errorf("%d %+v %v", p.status, p.Error, p.header)
		}
	})
	t.Run("page fault", func(t *testing.T) {
		c.srv.FailPage("users/delta", 2, http.StatusInternalServerError)
		p := c.get(c.srv.GraphURL + "/users/delta()")
		if q := c.get(p.Next); q.status != http.StatusInternalServerError || q.Error == nil {
			t.Errorf("%d %+v", q.status, q.Error)
		}
		if q := c.get(p.Next); q.status != http.StatusOK {
			t.Errorf("fault not one-shot: %d", q.status)
		}
	})
	t.Run("throttle", func(t *testing.T) {
		c.srv.Throttle("users", 1, 0)
		p := c.get(c.srv.GraphURL + "/users/delta()")
		if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") != "0" || p.Error.Code != "TooManyRequests" {
			t.Errorf("%d %v %+v", p.status, p.header, p.Error)
		}
	})
}

func TestGroupsDelta(t *testing.T) {
	c := newClient(t)
	s := c.srv.LoadSample()
	c.srv.MaxMemberLinks = 3
	link := c.srv.GraphURL + "/groups/delta()?$select=displayName,members"
	seen := map[string][]string{}
	var delta string
	for link != "" {
		p := c.get(link)
		links := 0
		for _, g := range p.Value {
			id := g["id"].(string)
			if _, ok := g["displayName"]; ok != (seen[id] == nil) {
				t.Errorf("displayName on an instance that is first=%v: %v", seen[id] == nil, g)
			}
			if seen[id] == nil {
				seen[id] = []string{}
			}
			ms, _ := g["members@delta"].([]any)
			for _, m := range ms {
				seen[id] = append(seen[id], m.(map[string]any)["id"].(string))
			}
			links += len(ms)
		}
		if links > 3 {
			t.Errorf("page with %d member links, limit 3", links)
		}
		link, delta = p.Next, p.Delta
	}
	if len(seen[s.Groups["Engineering"]]) != 6 || len(seen) != len(s.Groups) {
		t.Errorf("Engineering members %v, groups %d", seen[s.Groups["Engineering"]], len(seen))
	}
	c.srv.RemoveMember(s.Groups["Whale Admins"], s.Users["carol.chen@contoso.test"])
	p := c.get(delta)
	if len(p.Value) != 1 {
		t.Fatalf("%v", p.Value)
	}
	g := p.Value[0]
	m := g["members@delta"].([]any)[0].(map[string]any)
	if _, ok := g["displayName"]; ok || m["@removed"] == nil || m["@odata.type"] != "#microsoft.graph.user" {
		t.Errorf("membership-only change: %v", g)
	}
}

func TestAppRoleAssignments(t *testing.T) {
	c := newClient(t)
	s := c.srv.LoadSample()
	sp := c.get(c.srv.GraphURL + "/servicePrincipals(appId='" + s.AppID + "')")
	if sp.status != http.StatusOK {
		t.Fatalf("%d %+v", sp.status, sp.Error)
	}
	p := c.get(c.srv.GraphURL + "/servicePrincipals(appId='" + s.AppID + "')/appRoleAssignedTo?$top=2")
	if len(p.Value) != 2 || p.Next == "" {
		t.Fatalf("%+v", p)
	}
	q := c.get(p.Next)
	if len(q.Value) != 1 || q.Next != "" || q.Value[0]["principalType"] != "User" {
		t.Errorf("%+v", q)
	}
	if nf := c.get(c.srv.GraphURL + "/servicePrincipals(appId='00000000-0000-0000-0000-000000000001')"); nf.status != http.StatusNotFound ||
		nf.Error.Code != "Request_ResourceNotFound" {
		t.Errorf("%d %+v", nf.status, nf.Error)
	}
}
