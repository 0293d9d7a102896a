package scim

import (
	"strings"
)

// Tenant URLs and tokens are taken as the vendors' guides print them, so an
// operator can paste what the workspace's settings page shows.

// entraFlag is the query flag the Whale and Whimsical guides append to the
// tenant URL ("https://whimsical.com/public-api/scim-v2/?aadOptscim062020"):
// it tells Entra's own provisioning service to behave per RFC 7644 and
// means nothing to the workspace or to idsync.
const entraFlag = "aadOptscim062020"

// tenantQuery splits a tenant URL's raw query into what every request must
// carry (other parameters, as written) and whether Entra's flag was there.
func tenantQuery(raw string) (keep string, dropped bool) {
	var parts []string
	for _, p := range strings.Split(raw, "&") {
		key, _, _ := strings.Cut(p, "=")
		switch {
		case p == "":
		case strings.EqualFold(key, entraFlag):
			dropped = true
		default:
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "&"), dropped
}

// bearerToken accepts a token pasted with its scheme, as Whistleblower
// Software's settings show it ("Copy the Authorization Header value. This is
// your Bearer token"): the client adds "Bearer " itself.
func bearerToken(tok string) string {
	const scheme = "bearer "
	if len(tok) > len(scheme) && strings.EqualFold(tok[:len(scheme)], scheme) {
		return strings.TrimSpace(tok[len(scheme):])
	}
	return tok
}

// endpoint is the URL of path (with its own query, if any) under the
// tenant URL, carrying the tenant URL's query parameters.
func (c *Client) endpoint(path string) string {
	if c.query == "" {
		return c.base + path
	}
	p, q, ok := strings.Cut(path, "?")
	if !ok || q == "" {
		return c.base + p + "?" + c.query
	}
	return c.base + p + "?" + c.query + "&" + q
}

// Notes are things about the target's configuration worth a debug line
// when it is opened (an ignored tenant URL flag).
func (c *Client) Notes() []string { return c.notes }
