package oktatest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/sources/okta/oktatest"
)

type answer struct {
	status int
	header http.Header
	items  []map[string]any
	body   map[string]any
}

func get(t *testing.T, srv *oktatest.Server, path string, q url.Values) answer {
	t.Helper()
	u := srv.URL + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "SSWS "+srv.Token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(string(raw), "[") {
		_ = json.Unmarshal(raw, &a.items)
	} else {
		_ = json.Unmarshal(raw, &a.body)
	}
	return a
}

func (a answer) next() string {
	for _, l := range a.header.Values("Link") {
		if strings.Contains(l, `rel="next"`) {
			return strings.Trim(strings.SplitN(l, ";", 2)[0], "<>")
		}
	}
	return ""
}

func logins(a answer) []string {
	var out []string
	for _, it := range a.items {
		out = append(out, it["profile"].(map[string]any)["login"].(string))
	}
	return out
}

func TestUsersQueries(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	srv.LoadSample()
	cases := []struct {
		name string
		q    url.Values
		want int
	}{
		{"list omits DEPROVISIONED", nil, 7},
		{"search includes DEPROVISIONED", url.Values{"search": {`status pr`}}, 8},
		{"filter omits DEPROVISIONED", url.Values{"filter": {`lastUpdated gt "2000-01-01T00:00:00.000Z"`}}, 7},
		{"filter asking for DEPROVISIONED", url.Values{"filter": {`status eq "DEPROVISIONED"`}}, 1},
		{"search by status", url.Values{"search": {`status eq "SUSPENDED" or status eq "STAGED"`}}, 2},
		{"search by profile", url.Values{"search": {`profile.department eq "Engineering" and not (status eq "STAGED")`}}, 3},
		{"search sw", url.Values{"search": {`profile.login sw "a"`}}, 1},
		{"search lastUpdated in the future", url.Values{"search": {`lastUpdated ge "2999-01-01T00:00:00Z"`}}, 0},
		{"q find", url.Values{"q": {"gr"}}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := get(t, srv, "/api/v1/users", tc.q)
			if a.status != 200 || len(a.items) != tc.want {
				t.Errorf("status %d, %d users %v, want %d", a.status, len(a.items), logins(a), tc.want)
			}
		})
	}
	t.Run("bad search", func(t *testing.T) {
		a := get(t, srv, "/api/v1/users", url.Values{"search": {`nosuch eq "x"`}})
		if a.status != 400 || a.body["errorCode"] != "E0000031" {
			t.Errorf("status %d body %v", a.status, a.body)
		}
	})
}

func TestUsersPagingAndShape(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	srv.Generate(450, 0)
	seen := map[string]bool{}
	pages := 0
	u := srv.URL + "/api/v1/users?limit=200&search=status+pr"
	for u != "" {
		a := get(t, srv, strings.TrimPrefix(strings.SplitN(u, "?", 2)[0], srv.URL), mustQuery(u))
		pages++
		if links := a.header.Values("Link"); len(links) < 1 || !strings.Contains(links[0], `rel="self"`) {
			t.Fatalf("Link headers = %q, want self then next as separate headers", links)
		}
		for _, it := range a.items {
			id := it["id"].(string)
			if seen[id] {
				t.Fatalf("user %s on two pages", id)
			}
			seen[id] = true
			if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(it["lastUpdated"].(string)) {
				t.Fatalf("lastUpdated %q is not Okta's millisecond form", it["lastUpdated"])
			}
		}
		u = a.next()
	}
	if pages != 3 || len(seen) != 450 {
		t.Errorf("%d pages, %d users; want 3, 450", pages, len(seen))
	}
}

func mustQuery(u string) url.Values {
	p, _ := url.Parse(u)
	return p.Query()
}

func TestSearchLag(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	s := srv.LoadSample()
	srv.SetSearchLag(time.Minute)
	srv.UpdateUser(s.Users["bob"], func(u *oktatest.User) { u.Title = "Lead" })
	q := url.Values{"search": {`profile.title eq "Lead"`}}
	if a := get(t, srv, "/api/v1/users", q); len(a.items) != 0 {
		t.Error("search sees the change before the lag")
	}
	if a := get(t, srv, "/api/v1/users/"+s.Users["bob"], nil); a.body["profile"].(map[string]any)["title"] != "Lead" {
		t.Error("get by id must be consistent")
	}
	srv.Advance(time.Minute)
	if a := get(t, srv, "/api/v1/users", q); len(a.items) != 1 {
		t.Error("search does not see the change after the lag")
	}
}

func TestSystemLogPolling(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	s := srv.LoadSample()
	q := url.Values{"since": {srv.Now().Add(-time.Minute).Format(time.RFC3339)},
		"filter": {`eventType eq "user.lifecycle.delete.completed"`}, "sortOrder": {"ASCENDING"}}
	a := get(t, srv, "/api/v1/logs", q)
	if len(a.items) != 0 || a.next() == "" {
		t.Fatalf("empty poll: %d events, next %q; want 0 and a next link", len(a.items), a.next())
	}
	next := a.next()
	srv.DeleteUser(s.Users["bob"])
	a = get(t, srv, "/api/v1/logs", mustQuery(next))
	if len(a.items) != 1 || a.items[0]["eventType"] != "user.lifecycle.delete.completed" {
		t.Fatalf("events = %v", a.items)
	}
	if tg := a.items[0]["target"].([]any)[0].(map[string]any); tg["id"] != s.Users["bob"] || tg["type"] != "User" {
		t.Errorf("target = %v", tg)
	}
	again := get(t, srv, "/api/v1/logs", mustQuery(a.next()))
	if len(again.items) != 0 || again.next() == "" {
		t.Errorf("poll after the event: %d events, next %q", len(again.items), again.next())
	}
}

func TestRateLimitHeadersAnd429(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	srv.SetRateLimit(oktatest.BucketGroups, 2)
	for i, want := range []int{200, 200, 429} {
		a := get(t, srv, "/api/v1/groups", nil)
		if a.status != want {
			t.Fatalf("request %d: status %d, want %d", i, a.status, want)
		}
		rem, _ := strconv.Atoi(a.header.Get("X-Rate-Limit-Remaining"))
		reset, _ := strconv.ParseInt(a.header.Get("X-Rate-Limit-Reset"), 10, 64)
		if a.header.Get("X-Rate-Limit-Limit") != "2" || rem != max(0, 1-i) || reset <= srv.Now().Unix() {
			t.Errorf("request %d: headers %v", i, a.header)
		}
		if want == 429 && a.body["errorCode"] != "E0000047" {
			t.Errorf("429 body = %v", a.body)
		}
	}
	if a := get(t, srv, "/api/v1/users", nil); a.status != 200 {
		t.Errorf("another bucket: status %d", a.status)
	}
	srv.Advance(time.Minute)
	if a := get(t, srv, "/api/v1/groups", nil); a.status != 200 {
		t.Errorf("after the reset: status %d", a.status)
	}
}

func TestFaultsAndAuth(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	srv.Inject(oktatest.Fault{Path: "/api/v1/users", Status: 503, Times: 1})
	if a := get(t, srv, "/api/v1/users", nil); a.status != 503 {
		t.Errorf("status %d, want the injected 503", a.status)
	}
	if a := get(t, srv, "/api/v1/users", nil); a.status != 200 {
		t.Errorf("status %d after the fault ran out", a.status)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/users", nil)
	req.Header.Set("Authorization", "SSWS nope")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("bad token: status %d", resp.StatusCode)
	}
	if n := srv.Requests(); n != 3 {
		t.Errorf("Requests() = %d, want 3", n)
	}
}
