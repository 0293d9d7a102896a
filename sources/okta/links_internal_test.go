package okta

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestParseLinks(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []link
		err  string
	}{
		{`<https://o/x?a=1>; rel="next"`, []link{{"https://o/x?a=1", []string{"next"}}}, ""},
		{`<a>; rel=self, <b>; title="x, y; z"; rel="NEXT last"`, []link{{"a", []string{"self"}}, {"b", []string{"next", "last"}}}, ""},
		{`<a>; rel="next"; rel="self"`, []link{{"a", []string{"next"}}}, ""},
		{`<a>`, []link{{"a", nil}}, ""},
		{` , <a>;rel="next" ,`, []link{{"a", []string{"next"}}}, ""},
		{`<a>; rel="ne\"xt"`, []link{{"a", []string{`ne"xt`}}}, ""},
		{``, nil, ""},
		{`a; rel="next"`, nil, "must start with <"},
		{`<a; rel="next"`, nil, "no closing >"},
		{`<a> rel="next"`, nil, "expected ; or ,"},
		{`<a>; rel="next`, nil, "unterminated quoted"},
	} {
		got, err := parseLinks(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseLinks(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseLinks(%q) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
}

func TestCanonicalLinks(t *testing.T) {
	g, err := newLinkGuard(nil, "https://org.okta.com")
	if err != nil {
		t.Fatal(err)
	}
	got, err := g.canonicalLinks([]string{
		`<https://ORG.okta.com:443/api/v1/users?limit=200&after=00u1>; rel="self next"`,
		`</api/v1/logs?since=2026-01-01T00%3A00%3A00.000Z>; rel="next", <https://elsewhere/x>; rel="help"`,
	})
	want := []string{
		`</api/v1/users?after=00u1&limit=200>; rel="self"`,
		`</api/v1/users?after=00u1&limit=200>; rel="next"`,
		`</api/v1/logs?since=2026-01-01T00%3A00%3A00.000Z>; rel="next"`,
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("canonicalLinks = %q, %v\nwant %q", got, err, want)
	}
}

// sdkNextURL is what okta-sdk-golang v2.20.0 requests for a Link header
// value (newResponse, then Response.Next and RequestExecutor.NewRequest),
// copied so the fuzz target checks what the SDK will do with what linkGuard
// lets through. ok is false where the SDK would skip the value.
func sdkNextURL(orgURL, link string, reqURL *url.URL) (string, bool) {
	split := strings.Split(link, ";")
	if len(split) < 2 {
		return "", false
	}
	rawLink := strings.TrimRight(strings.TrimLeft(split[0], "<"), ">")
	rawURL, err := url.Parse(rawLink)
	if err != nil {
		panic("the SDK would dereference a nil *url.URL for " + link)
	}
	rawURL.Scheme = ""
	rawURL.Host = ""
	q := reqURL.Query()
	for k, v := range rawURL.Query() {
		q.Set(k, v[0])
	}
	rawURL.RawQuery = q.Encode()
	return orgURL + rawURL.String(), true
}

// FuzzLinkHeader feeds arbitrary Link header values (and stored links) to
// linkGuard: nothing panics, and every link it lets through, as the SDK
// will read it, requests a URL on org_url's origin without a user name,
// and reads back to itself. Seeds in testdata/fuzz/FuzzLinkHeader.
func FuzzLinkHeader(f *testing.F) {
	f.Add(`<https://org.okta.com/api/v1/users?after=00u1&limit=200>; rel="next"`)
	f.Add(`<%zz>; rel="next"`)
	f.Add(`<@otherhost/api/v1/users?after=x>; rel="next"`)
	const orgURL = "https://org.okta.com:8443"
	g, err := newLinkGuard(nil, orgURL)
	if err != nil {
		f.Fatal(err)
	}
	reqURL, _ := url.Parse(orgURL + "/api/v1/users?limit=200&search=status+pr")
	f.Fuzz(func(t *testing.T, h string) {
		_, _ = parseLinks(h)
		out, err := g.canonicalLinks([]string{h})
		if err != nil {
			if out != nil {
				t.Fatalf("links %q with error %v", out, err)
			}
		}
		for _, l := range out {
			next, ok := sdkNextURL(orgURL, l, reqURL)
			if !ok {
				t.Fatalf("canonical link %q is skipped by the SDK", l)
			}
			checkOnOrigin(t, g, h, next)
		}
		if again, err := g.canonicalLinks(out); err != nil || !reflect.DeepEqual(again, out) && len(out) > 0 {
			t.Fatalf("canonical links %q read back as %q, %v", out, again, err)
		}
		// The same checks guard the stored System Log link.
		if ref, err := g.checkStored(h, "/api/v1/logs"); err == nil {
			checkOnOrigin(t, g, h, orgURL+ref)
		}
	})
}

func checkOnOrigin(t *testing.T, g *linkGuard, in, target string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatalf("%q let through: the request for it fails: %v", in, err)
	}
	if req.URL.User != nil || originOf(req.URL) != g.org {
		t.Fatalf("%q let through: the request goes to %s (user %v), not %s", in, req.URL.Host, req.URL.User, g.org.hostport)
	}
}
