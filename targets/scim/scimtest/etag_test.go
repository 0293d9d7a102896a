package scimtest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/idsync/idsync/targets/scim/scimtest"
)

// callIf is call with an If-Match header.
func callIf(t *testing.T, srv *scimtest.Server, method, path, ifMatch, body string) int {
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
	req.Header.Set("If-Match", ifMatch)
	r, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return r.StatusCode
}

func meta(r resp) string {
	m, _ := r.body["meta"].(map[string]any)
	v, _ := m["version"].(string)
	return v
}

// Every write bumps a resource's version; it is served as ETag and
// meta.version, and a write with a stale If-Match is refused with 412.
func TestETagsAndIfMatch(t *testing.T) {
	srv := newSrv(t, scimtest.Options{})
	r := call(t, srv, "POST", "/Users", `{"userName":"a@example.com","title":"one"}`)
	id := r.body["id"].(string)
	v1 := r.header.Get("ETag")
	if r.status != 201 || v1 == "" || v1 != meta(r) {
		t.Fatalf("create: ETag %q, meta.version %q", v1, meta(r))
	}
	if g := call(t, srv, "GET", "/Users/"+id, ""); g.header.Get("ETag") != v1 {
		t.Fatalf("GET ETag %q, want %q", g.header.Get("ETag"), v1)
	}
	patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"two"}]}`
	if s := callIf(t, srv, "PATCH", "/Users/"+id, v1, patch); s != 200 {
		t.Fatalf("PATCH with the current If-Match: %d", s)
	}
	g := call(t, srv, "GET", "/Users/"+id, "")
	v2 := g.header.Get("ETag")
	if v2 == v1 || v2 != meta(g) {
		t.Fatalf("after a write: ETag %q (was %q), meta.version %q", v2, v1, meta(g))
	}
	put := `{"userName":"a@example.com","title":"three"}`
	for _, method := range []string{"PUT", "PATCH", "DELETE"} {
		body := put
		if method == "PATCH" {
			body = patch
		} else if method == "DELETE" {
			body = ""
		}
		if s := callIf(t, srv, method, "/Users/"+id, v1, body); s != http.StatusPreconditionFailed {
			t.Errorf("%s with a stale If-Match: %d, want 412", method, s)
		}
	}
	if u, _ := srv.User(id); u.Title != "two" {
		t.Fatalf("a refused write changed the user: title %q", u.Title)
	}
	if s := callIf(t, srv, "PUT", "/Users/"+id, "*", put); s != 200 {
		t.Errorf("PUT with If-Match *: %d", s)
	}
	srv.EditUser(id, func(raw map[string]any) { raw["title"] = "admin" })
	if g := call(t, srv, "GET", "/Users/"+id, ""); g.header.Get("ETag") == v2 || g.body["title"] != "admin" {
		t.Errorf("EditUser did not bump the version: %q", g.header.Get("ETag"))
	}
}

func TestNoETags(t *testing.T) {
	srv := newSrv(t, scimtest.Options{NoETags: true})
	r := call(t, srv, "POST", "/Users", `{"userName":"a@example.com"}`)
	if r.header.Get("ETag") != "" || meta(r) != "" {
		t.Fatalf("NoETags: ETag %q, meta.version %q", r.header.Get("ETag"), meta(r))
	}
	if s := callIf(t, srv, "PUT", "/Users/"+r.body["id"].(string), `W/"nope"`, `{"userName":"a@example.com"}`); s != 200 {
		t.Fatalf("NoETags: If-Match not ignored: %d", s)
	}
}
