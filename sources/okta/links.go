package okta

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// The SDK follows pagination by gluing a Link header's URL, scheme and host
// stripped, onto org_url ("https://org" + "@otherhost/x" is
// https://org@otherhost/x, another host, token attached), and panics on a
// URL it cannot parse (<%zz>). So no Link reaches it unchecked: linkGuard,
// the RoundTripper between the SDK and the pacer, parses every Link header
// itself, refuses the answer when a next or self link is malformed or not
// on org_url's origin, and hands the SDK only canonical same-origin
// relative links. It also refuses to send any request off that origin
// (a redirect, or anything the checks above missed): the token never leaves.

// maxLinkLen bounds one link: Okta's are a path and an opaque cursor.
const maxLinkLen = 8 << 10

// origin is a URL's scheme and host:port, lower-cased, with the default
// port made explicit.
type origin struct{ scheme, hostport string }

func originOf(u *url.URL) origin {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return origin{strings.ToLower(u.Scheme), net.JoinHostPort(host, port)}
}

// linkError is a Link header or a stored link refused: it fails the run.
type linkError struct{ msg string }

func (e *linkError) Error() string { return e.msg }

func linkErrorf(format string, args ...any) error {
	return &linkError{msg: fmt.Sprintf(format, args...)}
}

// linkGuard wraps the pacer; see above.
type linkGuard struct {
	next   http.RoundTripper
	orgURL string // https://host[:port], as the SDK prefixes it
	org    origin
}

func newLinkGuard(next http.RoundTripper, orgURL string) (*linkGuard, error) {
	u, err := url.Parse(orgURL)
	if err != nil {
		return nil, fmt.Errorf("org_url: %w", err)
	}
	return &linkGuard{next: next, orgURL: orgURL, org: originOf(u)}, nil
}

func (g *linkGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := g.onOrigin(req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, linkErrorf("refused to send a request off org_url: %v", err)
	}
	resp, err := g.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	links, err := g.canonicalLinks(resp.Header.Values("Link"))
	if err != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		return nil, err
	}
	if links == nil {
		resp.Header.Del("Link")
	} else {
		resp.Header["Link"] = links
	}
	if raw, _ := req.Context().Value(rawBody{}).(bool); raw && resp.StatusCode/100 == 2 {
		// The caller decodes this answer itself (users): the SDK, seeing
		// no JSON, hands the bytes over instead of scanning them once more.
		resp.Header.Set("Content-Type", "application/octet-stream")
	}
	return resp, nil
}

// rawBody, set to true in a request's context, marks an answer idsync
// decodes itself from the SDK's Response.Body.
type rawBody struct{}

// onOrigin says why u is not on org_url's origin, or nil.
func (g *linkGuard) onOrigin(u *url.URL) error {
	if u.User != nil {
		return fmt.Errorf("it carries a user name (user@host)")
	}
	o := originOf(u)
	if o.scheme != g.org.scheme {
		return fmt.Errorf("it uses %s, not %s", clip(o.scheme), g.org.scheme)
	}
	if o.hostport != g.org.hostport {
		return fmt.Errorf("it points to %s, not %s", clip(o.hostport), g.org.hostport)
	}
	return nil
}

// canonicalLinks checks every next and self link of an answer's Link
// headers and rewrites them as `</path?query>; rel="next"`, one per header,
// which the SDK's parser reads as meant. Other relations are dropped: the
// SDK uses none.
func (g *linkGuard) canonicalLinks(headers []string) ([]string, error) {
	var out []string
	for _, h := range headers {
		links, err := parseLinks(h)
		if err != nil {
			return nil, linkErrorf("malformed Link header from %s: %v", g.org.hostport, err)
		}
		for _, l := range links {
			for _, rel := range l.rels {
				if rel != "next" && rel != "self" {
					continue
				}
				ref, err := g.relative(l.uri)
				if err != nil {
					return nil, linkErrorf("refused the %s link of an answer from %s: %v", rel, g.org.hostport, err)
				}
				out = append(out, "<"+ref+`>; rel="`+rel+`"`)
			}
		}
	}
	return out, nil
}

// relative turns a link into the path and query the SDK appends to org_url,
// refusing anything that would not land on org_url's origin.
func (g *linkGuard) relative(raw string) (string, error) {
	if len(raw) > maxLinkLen {
		return "", fmt.Errorf("it is %d bytes long, more than %d", len(raw), maxLinkLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("it is not a URL (%s)", clip(unwrapURLError(err)))
	}
	switch {
	case u.User != nil:
		return "", fmt.Errorf("it carries a user name (user@host)")
	case u.Scheme == "" && u.Host != "":
		return "", fmt.Errorf("it names a host without a scheme (//host/...)")
	case u.Scheme != "":
		if err := g.onOrigin(u); err != nil {
			return "", err
		}
	}
	if u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		// "@otherhost/x" or ".evil.example/x" glued onto the org URL
		// would name another host.
		return "", fmt.Errorf("it is neither an https URL on org_url nor a path starting with /")
	}
	if strings.HasPrefix(u.Path, "//") {
		// As a relative link, "//x/..." names host x.
		return "", fmt.Errorf("its path starts with //")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", fmt.Errorf("its query is malformed (%s)", clip(err.Error()))
	}
	ref := u.EscapedPath()
	if len(q) > 0 {
		ref += "?" + q.Encode()
	}
	if len(ref) > maxLinkLen {
		// (escaping can make it longer than it came)
		return "", fmt.Errorf("it is %d bytes long escaped, more than %d", len(ref), maxLinkLen)
	}
	// Whatever the checks above let through, what the SDK will request
	// must be on the origin.
	final, err := url.Parse(g.orgURL + ref)
	if err != nil {
		return "", fmt.Errorf("it does not make a URL on org_url (%s)", clip(unwrapURLError(err)))
	}
	if err := g.onOrigin(final); err != nil {
		return "", err
	}
	return ref, nil
}

// checkStored checks a link idsync kept from an earlier answer (the System
// Log cursor) before it is followed: the database may have been edited, or
// written by an idsync without these checks. It returns the link to
// follow: the canonical form of the one checked.
func (g *linkGuard) checkStored(link, path string) (string, error) {
	ref, err := g.relative(link)
	if err != nil {
		return "", err
	}
	if p, _, _ := strings.Cut(ref, "?"); p != path {
		return "", fmt.Errorf("it is not a %s link", path)
	}
	return ref, nil
}

func unwrapURLError(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return err.Error()
}

// clip keeps server-supplied text short and printable in a message.
func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// link is one link-value of a Link header (RFC 8288).
type link struct {
	uri  string
	rels []string // lower-cased relation types
}

// parseLinks parses a Link header value: `<uri>; rel="next", <uri>; ...`.
// Parameters other than rel are skipped; a link without rel has no rels.
func parseLinks(h string) ([]link, error) {
	var out []link
	s := h
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return out, nil
		}
		if s[0] != '<' {
			return nil, fmt.Errorf("a link must start with <")
		}
		end := strings.IndexByte(s, '>')
		if end < 0 {
			return nil, fmt.Errorf("a link's < has no closing >")
		}
		l := link{uri: s[1:end]}
		s = s[end+1:]
		for {
			s = strings.TrimLeft(s, " \t")
			if s == "" || s[0] == ',' {
				break
			}
			if s[0] != ';' {
				return nil, fmt.Errorf("expected ; or , after a link")
			}
			s = strings.TrimLeft(s[1:], " \t")
			i := strings.IndexAny(s, "=;, \t")
			if i < 0 {
				i = len(s)
			}
			name := strings.ToLower(s[:i])
			s = strings.TrimLeft(s[i:], " \t")
			var value string
			if s != "" && s[0] == '=' {
				var err error
				if value, s, err = paramValue(strings.TrimLeft(s[1:], " \t")); err != nil {
					return nil, err
				}
			}
			if name == "rel" && l.rels == nil {
				// A link's first rel counts (RFC 8288 §3.3).
				l.rels = strings.Fields(strings.ToLower(value))
				if l.rels == nil {
					l.rels = []string{}
				}
			}
		}
		out = append(out, l)
	}
}

// paramValue reads a token or a quoted-string and returns the rest.
func paramValue(s string) (value, rest string, err error) {
	if s == "" || s[0] != '"' {
		i := strings.IndexAny(s, ";, \t")
		if i < 0 {
			i = len(s)
		}
		return s[:i], s[i:], nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 == len(s) {
				return "", "", fmt.Errorf("unterminated quoted parameter")
			}
			i++
			b.WriteByte(s[i])
		case '"':
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", fmt.Errorf("unterminated quoted parameter")
}
