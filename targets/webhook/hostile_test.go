package webhook_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/internal/hostiletest"
	"github.com/idsync/idsync/internal/httppolicy"
	"github.com/idsync/idsync/targets"
	"github.com/idsync/idsync/targets/webhook"
)

// A receiver that is not what it should be.

func hostileTarget(t *testing.T, hs *httptest.Server, timeout time.Duration) *webhook.Target {
	t.Helper()
	tg, err := webhook.New(webhook.Config{URL: hs.URL + "/hook?token=url-secret", Secret: secret, Timeout: timeout, HTTPClient: hs.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// A redirect, even to plain http on the same host, is reported, never
// followed: the signed event goes only where the operator configured.
func TestWebhookRedirectToHTTPNotFollowed(t *testing.T) {
	var hits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(plain.Close)
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/hook", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(hs.Close)
	_, err := hostileTarget(t, hs, 0).Apply(t.Context(), idsync.Op{ID: "x", Kind: idsync.OpDelete})
	if err == nil || hits.Load() != 0 {
		t.Fatalf("err = %v, http server hit %d times", err, hits.Load())
	}
	if strings.Contains(err.Error(), "url-secret") {
		t.Errorf("error shows the URL's query: %v", err)
	}
}

// An answer that trickles forever is a retryable timeout, not a hang and
// not a delivery.
func TestWebhookTricklingAnswerTimesOut(t *testing.T) {
	hs := httptest.NewTLSServer(hostiletest.Trickle(t, "", `{"targetId":`))
	t.Cleanup(hs.Close)
	_, err := hostileTarget(t, hs, 150*time.Millisecond).Apply(t.Context(), idsync.Op{ID: "x", Kind: idsync.OpCreate, ObjectID: "u1", Account: &idsync.Account{UserName: "a"}})
	if ok, _ := targets.Retryable(err); !ok || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("err = %v, want a retryable timeout", err)
	}
}

// A huge answer fails naming the cap.
func TestWebhookHugeAnswerCapped(t *testing.T) {
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		chunk := strings.Repeat(" ", 1<<16)
		for range 64 << 20 / len(chunk) {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(hs.Close)
	_, err := hostileTarget(t, hs, 0).Apply(t.Context(), idsync.Op{ID: "x", Kind: idsync.OpDelete})
	if !errors.As(err, new(*httppolicy.BodyTooLargeError)) || !strings.Contains(err.Error(), "1 MiB") {
		t.Fatalf("err = %v, want the 1 MiB cap named", err)
	}
}

// The receiver's words in an error answer come out without escapes.
func TestWebhookErrorBodyWithANSIEscapesSanitised(t *testing.T) {
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "\x1b[31mrejected\x1b[0m\x1b]0;pwned\x07\r\nFAKE: delivered")
	}))
	t.Cleanup(hs.Close)
	_, err := hostileTarget(t, hs, 0).Apply(t.Context(), idsync.Op{ID: "x", Kind: idsync.OpDelete})
	if err == nil || strings.ContainsAny(err.Error(), "\x1b\x07\r\n") || !strings.Contains(err.Error(), "rejected FAKE: delivered") {
		t.Fatalf("err = %q", err)
	}
}
