package httppolicy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idsync/idsync/internal/hostiletest"
	"github.com/idsync/idsync/internal/httppolicy"
)

func client(t *testing.T, o httppolicy.Options) *http.Client {
	t.Helper()
	c, err := httppolicy.NewClient(o)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func get(c *http.Client, u string, hdr http.Header) (*http.Response, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// An https server redirecting to plain http on the same host: the token
// must never reach the http server.
func TestRedirectHTTPSToHTTPRefused(t *testing.T) {
	var leaked atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Add(1)
		if r.Header.Get("Authorization") != "" {
			t.Errorf("http server received the token")
		}
	}))
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/next?token=x", http.StatusTemporaryRedirect)
	}))
	defer tlsSrv.Close()
	c := client(t, httppolicy.Options{Origins: []string{tlsSrv.URL}, Base: tlsSrv.Client().Transport})
	_, _, err := get(c, tlsSrv.URL+"/scim/v2/Users", http.Header{"Authorization": {"Bearer secret-token"}})
	var re *httppolicy.RedirectError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want a RedirectError", err)
	}
	if leaked.Load() != 0 {
		t.Fatalf("the http server was contacted %d times", leaked.Load())
	}
	msg := httppolicy.Clean(err).Error()
	if strings.Contains(msg, "token=x") || !strings.Contains(msg, "http://127.0.0.1") {
		t.Errorf("message %q: want the origins, without the query", msg)
	}
	if !httppolicy.IsPermanent(err) {
		t.Error("a refused redirect should be permanent")
	}
}

// A redirect to another port of the same host (another service) is
// refused, while one within the origin is followed.
func TestRedirectCrossOriginRefusedSameOriginFollowed(t *testing.T) {
	var other atomic.Int32
	otherSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { other.Add(1) }))
	defer otherSrv.Close()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, otherSrv.URL+"/x", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/there", http.StatusFound)
		case "/there":
			fmt.Fprint(w, "ok")
		}
	}))
	defer srv.Close()
	c := client(t, httppolicy.Options{Origins: []string{srv.URL, otherSrv.URL}, Base: srv.Client().Transport})
	if _, _, err := get(c, srv.URL+"/away", nil); !errors.As(err, new(*httppolicy.RedirectError)) {
		t.Errorf("cross-origin redirect: err = %v, want a RedirectError", err)
	}
	if other.Load() != 0 {
		t.Error("the other origin was contacted")
	}
	if _, b, err := get(c, srv.URL+"/here", nil); err != nil || string(b) != "ok" {
		t.Errorf("same-origin redirect: %q, %v", b, err)
	}
}

// A request to an origin not configured is refused before any connection.
func TestRequestToUnconfiguredOriginRefused(t *testing.T) {
	var hit atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.Add(1) }))
	defer srv.Close()
	c := client(t, httppolicy.Options{Origins: []string{"https://example.invalid"}})
	_, _, err := get(c, srv.URL+"/?q=secret", nil)
	if !errors.As(err, new(*httppolicy.OriginError)) || hit.Load() != 0 {
		t.Fatalf("err = %v, hits %d", err, hit.Load())
	}
}

// A server that sends headers and then trickles its body forever ends
// with the whole-request timeout, not a hang.
func TestTricklingBodyTimesOut(t *testing.T) {
	srv := httptest.NewServer(hostiletest.Trickle(t, "application/json", `{"value":[`))
	defer srv.Close()
	c := client(t, httppolicy.Options{Origins: []string{srv.URL}, Timeout: 200 * time.Millisecond})
	resp, _, err := get(c, srv.URL, nil)
	if resp == nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("headers did not come: %v", err)
	}
	var te *httppolicy.TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) || !te.Body {
		t.Fatalf("err = %v, want a body TimeoutError", err)
	}
}

// A server that never answers ends with the timeout too.
func TestSilentServerTimesOut(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(stop)
	c := client(t, httppolicy.Options{Origins: []string{srv.URL}, Timeout: 100 * time.Millisecond})
	_, _, err := get(c, srv.URL, nil)
	if !errors.As(err, new(*httppolicy.TimeoutError)) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a TimeoutError", err)
	}
}

// A huge body is cut at its cap with an error naming it, whether the
// server announces its length or streams it, and the heap does not grow
// with it.
func TestHugeBodyCapped(t *testing.T) {
	const size = 256 << 20
	chunk := strings.Repeat("x", 1<<16)
	for _, announce := range []bool{true, false} {
		t.Run(fmt.Sprintf("content-length %v", announce), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if announce {
					w.Header().Set("Content-Length", fmt.Sprint(size))
				}
				for sent := 0; sent < size; sent += len(chunk) {
					if _, err := io.WriteString(w, chunk); err != nil {
						return
					}
				}
			}))
			defer srv.Close()
			c := client(t, httppolicy.Options{Origins: []string{srv.URL}, MaxBody: 1 << 20})
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, b, err := get(c, srv.URL, nil)
			var be *httppolicy.BodyTooLargeError
			if !errors.As(err, &be) || !strings.Contains(err.Error(), "1 MiB") {
				t.Fatalf("err = %v, want a BodyTooLargeError naming 1 MiB", err)
			}
			if len(b) > 1<<20 {
				t.Errorf("read %d bytes past the cap", len(b))
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 64<<20 {
				t.Errorf("heap grew by %d MiB reading a capped body", grown>>20)
			}
		})
	}
}

// An error answer has the small cap.
func TestErrorBodyCap(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, strings.Repeat("e", 100<<10))
	}))
	defer srv.Close()
	c := client(t, httppolicy.Options{Origins: []string{srv.URL}})
	_, _, err := get(c, srv.URL, nil)
	if !errors.As(err, new(*httppolicy.BodyTooLargeError)) || !strings.Contains(err.Error(), "64 KiB") {
		t.Fatalf("err = %v, want the 64 KiB error-body cap", err)
	}
}

// A body exactly at its cap is read whole.
func TestBodyAtCapRead(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("y", 4096))
	}))
	defer srv.Close()
	c := client(t, httppolicy.Options{Origins: []string{srv.URL}, MaxBody: 4096})
	if _, b, err := get(c, srv.URL, nil); err != nil || len(b) != 4096 {
		t.Fatalf("read %d bytes, %v", len(b), err)
	}
}

// Retry-After: 1e9 (seconds: 31 years) reaches the layers above as at most
// MaxWait; a date form too; a negative or unreadable one not at all.
func TestRetryAfterClampedInTransport(t *testing.T) {
	cases := map[string]string{
		"1e9":                           fmt.Sprint(int(httppolicy.MaxWait.Seconds())),
		"99999999999999999999999":       fmt.Sprint(int(httppolicy.MaxWait.Seconds())),
		"Fri, 31 Dec 9999 23:59:59 GMT": fmt.Sprint(int(httppolicy.MaxWait.Seconds())),
		"2":                             "2",
		"1.5":                           "2",
		"-5":                            "0",
		"soon":                          "",
		"NaN":                           "",
		"Thu, 01 Jan 1970 00:00:00 GMT": "0",
	}
	for in, want := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", in)
			w.WriteHeader(http.StatusTooManyRequests)
		}))
		c := client(t, httppolicy.Options{Origins: []string{srv.URL}})
		resp, _, err := get(c, srv.URL, nil)
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Retry-After"); got != want {
			t.Errorf("Retry-After %q reached the caller as %q, want %q", in, got, want)
		}
	}
}

func TestClampWait(t *testing.T) {
	var logged bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	if d := httppolicy.ClampWait("test", "https://x:443", "Retry-After", 292*365*24*time.Hour); d != httppolicy.MaxWait {
		t.Errorf("292 years clamped to %s", d)
	}
	if d := httppolicy.ClampWait("test", "https://x:443", "Retry-After", -time.Hour); d != 0 {
		t.Errorf("negative wait became %s", d)
	}
	if d := httppolicy.ClampWait("test", "https://x:443", "Retry-After", 3*time.Second); d != 3*time.Second {
		t.Errorf("3s became %s", d)
	}
	if n := strings.Count(logged.String(), "waiting the maximum"); n != 1 || !strings.Contains(logged.String(), "asked=2557920h0m0s") {
		t.Errorf("want one warning for the clamped wait, got %q", logged.String())
	}
}

// Server text with ANSI escapes, control characters and bidi overrides
// comes out as plain, bounded text.
func TestTextStripsEscapes(t *testing.T) {
	cases := map[string]string{
		"\x1b[31mred\x1b[0m alert":                         "red alert",
		"title\x1b]0;pwned\x07 set":                        "title set",
		"bell\x07 back\bspace":                             "bell backspace",
		"line\r\nbreak\ttab":                               "line break tab",
		"c1 \u009b31m csi":                                 "c1 31m csi",
		"trojan \u202egnp.exe":                             "trojan gnp.exe",
		"bad \xff utf8":                                    "bad \ufffd utf8",
		"   spaced    out   ":                              "spaced out",
		"esc at end \x1b":                                  "esc at end",
		"\x1b[38;5;196mcolour\x1b[m":                       "colour",
		"keep unicode: Zoë ✓":                              "keep unicode: Zoë ✓",
		"osc8 \x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\": "osc8 link",
	}
	for in, want := range cases {
		if got := httppolicy.Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
	long := httppolicy.Text(strings.Repeat("é", 1000))
	if len(long) > httppolicy.MaxText || !strings.HasSuffix(long, "…") {
		t.Errorf("long text: %d bytes, suffix %q", len(long), long[len(long)-3:])
	}
}

// URLs in errors lose userinfo and query; the chain is kept.
func TestCleanRedactsURLs(t *testing.T) {
	inner := &url.Error{Op: "Get", URL: "https://user:pass@graph.example/v1.0/users/delta?$deltatoken=abc#frag", Err: context.DeadlineExceeded}
	err := httppolicy.Clean(fmt.Errorf("entra: users: %w", inner))
	msg := err.Error()
	for _, bad := range []string{"user:", "pass", "deltatoken", "abc", "frag"} {
		if strings.Contains(msg, bad) {
			t.Errorf("%q still contains %q", msg, bad)
		}
	}
	if !strings.Contains(msg, "https://graph.example/v1.0/users/delta") {
		t.Errorf("%q lost the URL's path", msg)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, new(*url.Error)) {
		t.Error("Clean broke the error chain")
	}
	if plain := errors.New("nothing to clean"); httppolicy.Clean(plain) != plain {
		t.Error("an error needing no change was wrapped")
	}
	if httppolicy.Clean(nil) != nil {
		t.Error("Clean(nil) != nil")
	}
	if got := httppolicy.RedactURLs(`Get "ht!tp://u:p@h/x?y": bad`); strings.Contains(got, "u:p") {
		t.Errorf("unparsable URL kept userinfo: %q", got)
	}
}

func TestOrigin(t *testing.T) {
	cases := map[string]string{
		"https://Graph.Microsoft.com/v1.0": "https://graph.microsoft.com:443",
		"https://h:443/":                   "https://h:443",
		"http://h/":                        "http://h:80",
		"http://[::1]:8080/x":              "http://[::1]:8080",
		"https://u:p@h:8443/?q":            "https://h:8443",
	}
	for in, want := range cases {
		if got := httppolicy.OriginOf(in); got != want {
			t.Errorf("OriginOf(%q) = %q, want %q", in, got, want)
		}
	}
}
