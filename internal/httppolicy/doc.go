// Package httppolicy is the one HTTP client policy of every outbound
// client idsync has: the Entra source (Graph and its azidentity token
// requests), the Okta source, the SCIM target and the webhook target. A
// backend builds its transport with NewTransport (or its client with
// NewClient) and gets, whatever it talks to:
//
//   - requests only to the origins (scheme, host and port) it was configured
//     for, and redirects only within the origin they started on: credentials
//     (Authorization, Okta's SSWS header, a signed body) never reach another
//     host, port or scheme, and https is never downgraded to http;
//   - connect, TLS-handshake, response-header and whole-response timeouts,
//     the last covering the body too, so a server trickling bytes cannot hold
//     a run;
//   - a cap on every response body, one for answers (2xx) and a small one
//     for errors, enforced while the body is read, whoever reads it (the
//     Graph and Okta SDKs read bodies themselves);
//   - Retry-After rewritten to at most MaxWait, so no layer above (SDK retry
//     handlers, azcore, idsync's own retriers) sleeps longer than that.
//
// Text a server supplies (SCIM detail, Graph and Okta error messages) goes
// through Text before it is put into an error, and errors that may carry
// URLs or server text through Clean: control characters and terminal
// escapes are removed, length is bounded, and URLs lose their userinfo and
// query.
//
// Nothing here imports another idsync package, so every backend can use it.
package httppolicy

import "time"

// Defaults of Options.
const (
	DefaultTimeout        = 5 * time.Minute // whole request, body included
	DefaultHeaderTimeout  = 2 * time.Minute // time to the answer's headers
	DefaultConnectTimeout = 30 * time.Second
	DefaultTLSTimeout     = 15 * time.Second
	DefaultMaxBody        = 64 << 20 // a 2xx answer: a Graph or Okta page, a SCIM list
	DefaultMaxErrorBody   = 64 << 10 // any other answer: an error document
)

// MaxWait bounds every wait derived from a server's headers (Retry-After,
// Okta's X-Rate-Limit-Reset and the Date skew). Five minutes is longer than
// any documented throttling window of the services idsync talks to (Okta's
// rate-limit windows are one minute; Graph and SCIM workspaces ask for
// seconds to a few minutes), and short enough that a broken or hostile
// server cannot park a run: it fails or retries on its next schedule
// instead of sleeping for the years a header can name.
const MaxWait = 5 * time.Minute

// MaxText is how many bytes of a server-supplied message Text keeps.
const MaxText = 512

// maxErrorText is how many bytes of an error message Clean keeps: room for
// idsync's own advice plus a MaxText server message.
const maxErrorText = 2048

// maxRedirects is how many same-origin redirects one request may follow.
const maxRedirects = 10
