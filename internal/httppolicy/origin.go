package httppolicy

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Origin is u's scheme, host and port, the default port spelled out
// ("https://graph.microsoft.com:443"): two URLs with the same Origin may
// share credentials, any others may not.
func Origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// OriginOf is Origin of a URL string; "" when it does not parse or has no
// host.
func OriginOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return Origin(u)
}

// RedirectError is a redirect refused because it leaves the origin the
// request started on.
type RedirectError struct {
	From, To string // origins, without path, query or userinfo
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("refused a redirect from %s to %s: idsync follows redirects only within the origin it was configured for, "+
		"so that credentials never reach another scheme, host or port; configure the URL the service now answers on", e.From, e.To)
}

// OriginError is a request to an origin the client was not configured for
// (a pagination link, a redirect followed by an SDK, a stored link).
type OriginError struct {
	To      string   // the origin asked for
	Allowed []string // the configured ones
}

func (e *OriginError) Error() string {
	return fmt.Sprintf("refused a request to %s: this connection talks only to %s", e.To, strings.Join(e.Allowed, " and "))
}

// IsPermanent reports whether err comes from this policy's refusals that
// every retry would meet again: a refused redirect or origin, a body over
// its cap.
func IsPermanent(err error) bool {
	var re *RedirectError
	var oe *OriginError
	var be *BodyTooLargeError
	return errors.As(err, &re) || errors.As(err, &oe) || errors.As(err, &be)
}

// CheckRedirect is the http.Client redirect policy: follow a redirect only
// to the origin of the first request (same scheme, host and port), at most
// maxRedirects times. Go itself strips Authorization only when the host
// changes, so an https → http redirect on the same host, or one to another
// port, would otherwise carry the token in clear or to another service.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) == 0 {
		return nil
	}
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	from, to := Origin(via[0].URL), Origin(req.URL)
	if from != to {
		return &RedirectError{From: from, To: to}
	}
	return nil
}

// noRedirects answers a 3xx as it is: for requests whose body is signed for
// one receiver (the webhook), not even a same-origin redirect is followed.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
