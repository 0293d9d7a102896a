package okta_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idsync/idsync/internal/hostiletest"
	"github.com/idsync/idsync/internal/httppolicy"
	"github.com/idsync/idsync/sources/okta"
)

// An "Okta org" that is not: each test points the source at an httptest
// server acting out one attack.

const hostileToken = "00hostile-test-token-never-leaves"

func hostileSource(t *testing.T, hs *httptest.Server, edit func(*okta.Config)) *okta.Source {
	t.Helper()
	cfg := okta.Config{OrgURL: hs.URL, Token: hostileToken, HTTPClient: hs.Client(),
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
	if edit != nil {
		edit(&cfg)
	}
	src, err := okta.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return src
}

// https → http on the same host: Go keeps Authorization (SSWS ...) when
// only the scheme or port changes.
func TestOktaSSWSTokenNotSentOverHTTPSToHTTPRedirect(t *testing.T) {
	var hits atomic.Int32
	var leaked atomic.Value
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if a := r.Header.Get("Authorization"); a != "" {
			leaked.Store(a)
		}
		io.WriteString(w, "[]")
	}))
	t.Cleanup(plain.Close)
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+r.URL.RequestURI(), http.StatusFound)
	}))
	t.Cleanup(hs.Close)
	err := pullErr(t, hostileSource(t, hs, nil), "")
	if err == nil {
		t.Fatal("pull through an https → http redirect succeeded")
	}
	if hits.Load() != 0 || leaked.Load() != nil {
		t.Fatalf("the http server got %d requests, Authorization %v", hits.Load(), leaked.Load())
	}
	if !errors.As(err, new(*httppolicy.RedirectError)) || strings.Contains(err.Error(), hostileToken) {
		t.Errorf("err = %v, want a RedirectError without the token", err)
	}
}

func TestOktaCrossOriginRedirectRefused(t *testing.T) {
	var hits atomic.Int32
	elsewhere := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(elsewhere.Close)
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(hs.Close)
	err := pullErr(t, hostileSource(t, hs, nil), "")
	if !errors.As(err, new(*httppolicy.RedirectError)) || hits.Load() != 0 {
		t.Fatalf("err = %v, other origin hit %d times", err, hits.Load())
	}
}

// X-Rate-Limit-Reset far in the future and a Date decades off: every
// wait the pacer takes is at most httppolicy.MaxWait, and the clamp is
// logged.
func TestOktaRateLimitResetFarFutureClamped(t *testing.T) {
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", "Thu, 01 Jan 1970 00:00:00 GMT")
		w.Header().Set("X-Rate-Limit-Limit", "600")
		w.Header().Set("X-Rate-Limit-Remaining", "0")
		w.Header().Set("X-Rate-Limit-Reset", "9223372036") // the year 2262
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`)
	}))
	t.Cleanup(hs.Close)
	var logged bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	var waits []time.Duration
	src := hostileSource(t, hs, func(c *okta.Config) {
		c.Sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return ctx.Err() }
	})
	err := pullErr(t, src, "")
	if err == nil || !strings.Contains(err.Error(), "rate limited") {
		t.Fatalf("err = %v, want still rate limited", err)
	}
	if len(waits) == 0 {
		t.Fatal("the pacer never waited")
	}
	longest := time.Duration(0)
	for _, w := range waits {
		longest = max(longest, w)
	}
	if longest != httppolicy.MaxWait {
		t.Errorf("longest wait %s, want it clamped to %s (waits %v)", longest, httppolicy.MaxWait, waits)
	}
	for _, want := range []string{"header=X-Rate-Limit-Reset", "Date header"} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logged.String())
		}
	}
}

// Okta's error summary with terminal escapes reaches the error plain.
func TestOktaErrorSummaryWithANSIEscapesSanitised(t *testing.T) {
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"errorCode":"E0000001\u001b[8m","errorSummary":"\u001b[31mApi validation failed\u001b[0m\u001b]0;pwned\u0007\r\nfake line"}`)
	}))
	t.Cleanup(hs.Close)
	err := pullErr(t, hostileSource(t, hs, nil), "")
	if err == nil {
		t.Fatal("no error")
	}
	if msg := err.Error(); strings.ContainsAny(msg, "\x1b\x07\r\n") || !strings.Contains(msg, "Api validation failed fake line") {
		t.Errorf("error %q: want Okta's words without escapes", msg)
	}
}

// A page that trickles forever ends with the timeout.
func TestOktaTricklingPageTimesOut(t *testing.T) {
	hs := httptest.NewTLSServer(hostiletest.Trickle(t, "application/json", "["))
	t.Cleanup(hs.Close)
	err := pullErr(t, hostileSource(t, hs, func(c *okta.Config) {
		c.HTTPClient = &http.Client{Transport: hs.Client().Transport, Timeout: 150 * time.Millisecond}
	}), "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a timeout", err)
	}
}
