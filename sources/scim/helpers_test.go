package scim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	stdsync "sync"
	"testing"
)

// tclient drives a handler over a real loopback HTTP server.
type tclient struct {
	t    testing.TB
	srv  *httptest.Server
	repo *MemRepo

	mu      stdsync.Mutex
	changes []string // "User/<id>" per OnChange call
}

func newTClient(t testing.TB) *tclient {
	t.Helper()
	c := &tclient{t: t, repo: NewMemRepo()}
	mux := http.NewServeMux()
	c.srv = httptest.NewServer(mux)
	t.Cleanup(c.srv.Close)
	h := NewHandler(c.repo, Options{
		BaseURL: c.srv.URL + "/scim/v2/acme",
		OnChange: func(k Kind, id string) {
			c.mu.Lock()
			c.changes = append(c.changes, string(k)+"/"+id)
			c.mu.Unlock()
		},
	})
	mux.Handle("/scim/v2/acme/", http.StripPrefix("/scim/v2/acme", h))
	return c
}

func (c *tclient) changeCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.changes)
}

type tresp struct {
	status int
	body   map[string]any
	raw    string
	header http.Header
}

// do sends a request to the connection's root; headers come as "K: V".
func (c *tclient) do(method, path, body string, headers ...string) tresp {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.srv.URL+"/scim/v2/acme"+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/scim+json")
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res, err := c.srv.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := tresp{status: res.StatusCode, raw: string(b), header: res.Header}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &r.body); err != nil {
			c.t.Fatalf("%s %s: answer is not a JSON object: %v\n%s", method, path, err, b)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
			c.t.Errorf("%s %s: Content-Type %q", method, path, ct)
		}
	}
	return r
}

// must sends a request and fails the test unless the status is want.
func (c *tclient) must(want int, method, path, body string, headers ...string) tresp {
	c.t.Helper()
	r := c.do(method, path, body, headers...)
	if r.status != want {
		c.t.Fatalf("%s %s: status %d, want %d\n%s", method, path, r.status, want, r.raw)
	}
	return r
}

// mustErr checks an RFC 7644 error answer.
func (c *tclient) mustErr(status int, scimType, method, path, body string, headers ...string) tresp {
	c.t.Helper()
	r := c.must(status, method, path, body, headers...)
	if got, _ := r.body["scimType"].(string); got != scimType {
		c.t.Errorf("%s %s: scimType %q, want %q (%s)", method, path, got, scimType, r.raw)
	}
	if s, _ := r.body["status"].(string); s != itoa(status) {
		c.t.Errorf("%s %s: body status %q", method, path, s)
	}
	if d, _ := r.body["detail"].(string); d == "" {
		c.t.Errorf("%s %s: no detail", method, path)
	}
	return r
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// user creates a user and returns its id.
func (c *tclient) user(userName string) string {
	c.t.Helper()
	r := c.must(201, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":`+jsonStr(userName)+`,"active":true}`)
	return r.body["id"].(string)
}

func (c *tclient) group(name string) string {
	c.t.Helper()
	r := c.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":`+jsonStr(name)+`}`)
	return r.body["id"].(string)
}

func jsonStr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// fixture reads testdata/name with the example ids replaced.
func fixture(t testing.TB, name string, ids ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(ids); i += 2 {
		s = strings.ReplaceAll(s, ids[i], ids[i+1])
	}
	return s
}

// path digs into a decoded JSON value: "emails.0.value".
func dig(v any, path string) any {
	var parts []string
	if rest, ok := strings.CutPrefix(path, URNEnterprise+"."); ok { // the URN has dots
		parts = append([]string{URNEnterprise}, strings.Split(rest, ".")...)
	} else {
		parts = strings.Split(path, ".")
	}
	for _, p := range parts {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i := 0
			for _, ch := range p {
				i = i*10 + int(ch-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func wantField(t testing.TB, obj map[string]any, path string, want any) {
	t.Helper()
	if got := dig(obj, path); !equalJSON(got, want) {
		t.Errorf("%s = %#v, want %#v", path, got, want)
	}
}
