package okta_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources/okta"
	"github.com/idsync/idsync/sources/okta/oktatest"
)

// hostileOrg is an Okta org whose answers' Link headers an attacker (or a
// broken proxy) controls: a reverse proxy in front of the emulator, which
// is the org_url idsync is given.
type hostileOrg struct {
	*oktatest.Server
	URL  string // the proxy's https://127.0.0.1:port
	Host string // its host:port
}

// newHostileOrg starts the emulator with the sample org behind a proxy
// that passes each answer's Link values through rewrite.
func newHostileOrg(t *testing.T, rewrite func(path string, links []string) []string) *hostileOrg {
	t.Helper()
	srv := oktatest.NewServer()
	t.Cleanup(srv.Close)
	srv.LoadSample()
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewTLSServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the emulator's links then name the proxy
		},
		Transport: srv.Client().Transport,
		ModifyResponse: func(resp *http.Response) error {
			if links := rewrite(resp.Request.URL.Path, resp.Header.Values("Link")); links != nil {
				resp.Header["Link"] = links
			}
			return nil
		},
	})
	t.Cleanup(proxy.Close)
	return &hostileOrg{Server: srv, URL: proxy.URL, Host: strings.TrimPrefix(proxy.URL, "https://")}
}

// bystander is another host, otherhost.example.com to the sources the tests
// open (their dialer sends it to loopback): anything it receives is a
// request, and maybe a token, that went where it must not.
type bystander struct {
	addr  string // 127.0.0.1:port
	hits  atomic.Int32
	token atomic.Value // the last Authorization header it saw
}

const otherHost = "otherhost.example.com" // the test certificate is valid for *.example.com

func newBystander(t *testing.T) *bystander {
	b := &bystander{}
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		b.token.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("[]"))
	}))
	t.Cleanup(ts.Close)
	b.addr = strings.TrimPrefix(ts.URL, "https://")
	return b
}

func (b *bystander) check(t *testing.T) {
	t.Helper()
	if n := b.hits.Load(); n > 0 {
		t.Errorf("%s got %d requests (Authorization: %q)", otherHost, n, b.token.Load())
	}
}

// openVia opens a source on orgURL whose connections to otherhost reach b.
func openVia(t *testing.T, srv *oktatest.Server, orgURL string, b *bystander) *okta.Source {
	t.Helper()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == otherHost+":443" {
			addr = b.addr
		}
		return dial(ctx, network, addr)
	}
	return open(t, srv, func(c *okta.Config) { c.OrgURL, c.HTTPClient = orgURL, &http.Client{Transport: tr} })
}

// nextLinkOnUsers replaces the next link of the first users page.
func nextLinkOnUsers(value string) func(string, []string) []string {
	return func(path string, links []string) []string {
		if path != "/api/v1/users" {
			return nil
		}
		out := []string{}
		for _, l := range links {
			if !strings.Contains(l, `rel="next"`) {
				out = append(out, l)
			}
		}
		return append(out, value)
	}
}

func pullErr(t *testing.T, src *okta.Source, cursor string) error {
	t.Helper()
	_, _, err := src.Pull(context.Background(), cursor, func([]idsync.Change) error { return nil })
	return err
}

// Each hostile Link value fails the run with an error naming the problem:
// the SDK used to panic on the first (killing the daemon), send the token
// to the other host on the second, and follow the rest.
func TestPullRefusesHostileLinkHeaders(t *testing.T) {
	other := newBystander(t)
	cases := []struct {
		name, link, want string
	}{
		{"malformed URL that panicked the SDK", `<%zz>; rel="next"`,
			`refused the next link of an answer from ORG: it is not a URL (invalid URL escape "%zz")`},
		{"malformed self link", `<%zz>; rel="self"`, "refused the self link of an answer from ORG: it is not a URL"},
		{"userinfo trick that sent the token to another host", `<@OTHER/api/v1/users?after=x>; rel="next"`,
			"refused the next link of an answer from ORG: it is neither an https URL on org_url nor a path starting with /"},
		{"absolute link to another host", `<https://OTHER/api/v1/users?after=x>; rel="next"`,
			"refused the next link of an answer from ORG: it points to OTHER:443, not ORG"},
		{"downgrade to http", `<http://ORG/api/v1/users?after=x>; rel="next"`, "it uses http, not https"},
		{"user and password in the link", `<https://u:pw@ORG/api/v1/users?after=x>; rel="next"`, "it carries a user name (user@host)"},
		{"host glued onto org_url", `<.evil.example/api/v1/users?after=x>; rel="next"`, "nor a path starting with /"},
		{"double slash path", `<https://ORG//OTHER/api/v1/users?after=x>; rel="next"`, "its path starts with //"},
		{"scheme-relative link", `<//OTHER/api/v1/users?after=x>; rel="next"`, "it names a host without a scheme"},
		{"other port on the same host", `<https://ORGHOST:1/api/v1/users?after=x>; rel="next"`, "it points to ORGHOST:1, not ORG"},
		{"no angle brackets", `https://ORG/api/v1/users?after=x; rel="next"`, "malformed Link header from ORG: a link must start with <"},
		{"unterminated", `<https://ORG/api/v1/users?after=x; rel="next"`, "malformed Link header from ORG: a link's < has no closing >"},
		{"malformed query", `</api/v1/users?after=%zz>; rel="next"`, "its query is malformed"},
		{"overlong", `</api/v1/users?after=` + strings.Repeat("a", 9000) + `>; rel="next"`, "it is 9020 bytes long, more than 8192"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var org *hostileOrg
			expand := func(s string) string {
				host, _, _ := strings.Cut(org.Host, ":")
				return strings.NewReplacer("ORGHOST", host, "ORG", org.Host, "OTHER", otherHost).Replace(s)
			}
			org = newHostileOrg(t, func(path string, links []string) []string {
				return nextLinkOnUsers(expand(tc.link))(path, links)
			})
			err := pullErr(t, openVia(t, org.Server, org.URL, other), "")
			other.check(t)
			want := expand(tc.want)
			if err == nil || !strings.HasPrefix(err.Error(), "okta: list users: ") || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, want)
			}
			if strings.Contains(err.Error(), org.Token) || strings.Contains(err.Error(), "pw") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}

// Links on org_url's origin, absolute (as Okta sends them) or as a path,
// are followed: every page is read.
func TestPullFollowsSameOriginLinks(t *testing.T) {
	for _, relative := range []bool{false, true} {
		name := map[bool]string{false: "absolute", true: "path only"}[relative]
		t.Run(name, func(t *testing.T) {
			var org *hostileOrg
			org = newHostileOrg(t, func(path string, links []string) []string {
				if !relative {
					return nil
				}
				out := make([]string, len(links))
				for i, l := range links {
					out[i] = strings.Replace(l, "https://"+org.Host, "", 1)
				}
				return out
			})
			org.Generate(450, 3) // three users pages
			src := open(t, org.Server, func(c *okta.Config) { c.OrgURL = org.URL })
			users := 0
			_, _, err := src.Pull(context.Background(), "", func(page []idsync.Change) error {
				for _, c := range page {
					if c.Kind == idsync.ChangeUser {
						users++
					}
				}
				return nil
			})
			if err != nil || users != 458 {
				t.Fatalf("Pull: %d users, %v; want 458", users, err)
			}
		})
	}
}

// The System Log link idsync keeps in its cursor is checked like a Link
// header before it is followed: an edited state database must not send the
// token elsewhere.
func TestPullRefusesHostileStoredSystemLogLink(t *testing.T) {
	other := newBystander(t)
	srv := oktatest.NewServer()
	defer srv.Close()
	srv.LoadSample()
	snap := newSnapshot()
	src := open(t, srv, nil)
	snap.pull(t, src) // full
	snap.pull(t, src) // incremental: leaves a System Log link in the cursor
	var cur map[string]any
	if err := json.Unmarshal([]byte(snap.cursor), &cur); err != nil {
		t.Fatal(err)
	}
	good, _ := cur["log"].(string)
	if !strings.HasPrefix(good, "/api/v1/logs?") {
		t.Fatalf("cursor's log link = %q, want a /api/v1/logs path", good)
	}
	host := strings.TrimPrefix(srv.URL, "https://")
	for _, tc := range []struct{ name, link, want string }{
		{"userinfo trick", "@" + otherHost + "/api/v1/logs?after=x", "it is neither an https URL on org_url nor a path starting with /"},
		{"another host", "https://" + otherHost + "/api/v1/logs?after=x", "it points to " + otherHost + ":443, not " + host},
		{"another endpoint", "/api/v1/users?limit=200", "it is not a /api/v1/logs link"},
		{"malformed", "/api/v1/logs?after=%zz", "its query is malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur["log"] = tc.link
			b, _ := json.Marshal(cur)
			err := pullErr(t, openVia(t, srv, srv.URL, other), string(b))
			other.check(t)
			want := "okta: system log: refused the stored System Log link: " + tc.want
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, want)
			}
		})
	}
	t.Run("the link Okta gave is followed", func(t *testing.T) {
		cur["log"] = good
		b, _ := json.Marshal(cur)
		if err := pullErr(t, open(t, srv, nil), string(b)); err != nil {
			t.Fatal(err)
		}
	})
}

// A redirect is a request like any other: off org_url's origin it is not
// sent. Go keeps the Authorization header on a redirect to the same host
// name, so an https → http one used to send the token in clear.
func TestPullRefusesRedirectOffOrigin(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	var plainHits atomic.Int32
	var plainToken atomic.Value
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plainHits.Add(1)
		plainToken.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("[]"))
	}))
	defer plain.Close()
	other := newBystander(t)
	for _, tc := range []struct{ name, location, want string }{
		{"to http on the same host", plain.URL + "/api/v1/users", "to " + plain.URL + ": idsync follows redirects only within the origin"},
		{"to another host", "https://" + otherHost + "/api/v1/users", "to https://" + otherHost + ":443: idsync follows redirects only within the origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			org := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, tc.location, http.StatusFound)
			}))
			defer org.Close()
			err := pullErr(t, openVia(t, srv, org.URL, other), "")
			if n := plainHits.Load(); n > 0 {
				t.Errorf("the plain http listener got %d requests (Authorization: %q)", n, plainToken.Load())
			}
			other.check(t)
			// The client's redirect policy (internal/httppolicy) refuses it
			// before the request would reach the link guard.
			if err == nil || !strings.HasPrefix(err.Error(), "okta: list users: ") || !strings.Contains(err.Error(), "refused a redirect from https://") ||
				!strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant a refused redirect %q", err, tc.want)
			}
		})
	}
}

// Whatever panics during a pull (the SDK on input it does not expect, or
// the engine's emit) fails that pull with an error; it used to stop the
// daemon. The panic's value is not quoted unless the runtime made it.
func TestPullRecoversFromAPanic(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	srv.LoadSample()
	src := open(t, srv, nil)
	for _, tc := range []struct {
		name string
		emit func([]idsync.Change) error
		want string
	}{
		{"runtime error", func(page []idsync.Change) error { _ = page[len(page)+1]; return nil },
			"okta: pull stopped by an internal error (runtime error: index out of range"},
		{"panic with a value", func([]idsync.Change) error { panic("token=s3cret") },
			"okta: pull stopped by an internal error (a panic with a string); this is a bug"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := src.Pull(context.Background(), "", tc.emit)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("err = %v, want it to start %q", err, tc.want)
			}
		})
	}
}
