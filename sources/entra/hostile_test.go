package entra_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/internal/hostiletest"
	"github.com/idsync/idsync/internal/httppolicy"
	"github.com/idsync/idsync/sources/entra"
)

// A "Graph" (or authority) that is not: the emulator signs in, an
// httptest server acting out one attack answers as graph_url (or as
// authority_url). Both are trusted through one ca_file, as a corporate CA
// would be.

// trustBoth writes a ca_file holding the emulator's CA and hs's
// certificate.
func trustBoth(t *testing.T, emulatorCA string, hs *httptest.Server) string {
	t.Helper()
	ca, err := os.ReadFile(emulatorCA)
	if err != nil {
		t.Fatal(err)
	}
	ca = append(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw})...)
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// hostileGraph is a config whose graph_url is a TLS server running h.
func hostileGraph(t *testing.T, h http.HandlerFunc) entra.Config {
	t.Helper()
	hs := httptest.NewTLSServer(h)
	t.Cleanup(hs.Close)
	cfg := config(newServer(t))
	cfg.GraphURL = hs.URL + "/v1.0"
	cfg.CAFile = trustBoth(t, cfg.CAFile, hs)
	return cfg
}

func pullWithin(t *testing.T, cfg entra.Config) error {
	t.Helper()
	src := open(t, cfg)
	// Not a duration assertion: only a guard so that a regression hangs
	// this test instead of the whole suite.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, _, err := src.Pull(ctx, "", func([]idsync.Change) error { return nil })
	if ctx.Err() != nil {
		t.Fatalf("pull hung until the guard ended it: %v", err)
	}
	return err
}

// The client secret travels in the token request's body: an authority
// redirecting it to plain http on the same host must not get it sent.
func TestEntraClientSecretNotSentOverHTTPSToHTTPRedirect(t *testing.T) {
	var hits atomic.Int32
	var leaked atomic.Value
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		leaked.Store(string(b) + r.Header.Get("Authorization"))
	}))
	t.Cleanup(plain.Close)
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect) // 307 resends the body
	}))
	t.Cleanup(hs.Close)
	cfg := config(newServer(t))
	cfg.AuthorityURL = hs.URL + "/"
	cfg.CAFile = trustBoth(t, cfg.CAFile, hs)
	err := pullWithin(t, cfg)
	if err == nil {
		t.Fatal("pull signed in through an https → http redirect")
	}
	if hits.Load() != 0 {
		t.Fatalf("the http server got %d requests: %v", hits.Load(), leaked.Load())
	}
	if strings.Contains(err.Error(), cfg.ClientSecret) {
		t.Errorf("error shows the secret: %v", err)
	}
}

// Graph redirecting to plain http: the bearer token stays home.
func TestEntraGraphTokenNotSentOverHTTPSToHTTPRedirect(t *testing.T) {
	var hits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(plain.Close)
	cfg := hostileGraph(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+r.URL.RequestURI(), http.StatusFound)
	})
	err := pullWithin(t, cfg)
	if !errors.As(err, new(*httppolicy.RedirectError)) || hits.Load() != 0 {
		t.Fatalf("err = %v, http server hit %d times", err, hits.Load())
	}
	if strings.Contains(err.Error(), "$select") || strings.Contains(err.Error(), "deltatoken") {
		t.Errorf("error carries a query: %v", err)
	}
}

// A nextLink to another origin is neither followed nor stored.
func TestEntraNextLinkToOtherOriginRefused(t *testing.T) {
	var hits atomic.Int32
	elsewhere := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(elsewhere.Close)
	for _, link := range []string{
		elsewhere.URL + "/v1.0/users/delta?$skiptoken=x",
		"http://" + strings.TrimPrefix(elsewhere.URL, "https://") + "/v1.0/users/delta",
		"GRAPH/../beta/users/delta?$skiptoken=x",
		"https://user:pass@GRAPHHOST/v1.0/users/delta",
		"SAME", // the page it is on: a loop
	} {
		t.Run(link, func(t *testing.T) {
			var cfg entra.Config
			cfg = hostileGraph(t, func(w http.ResponseWriter, r *http.Request) {
				if link == "SAME" {
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprintf(w, `{"value":[],"@odata.nextLink":%q}`, "https://"+r.Host+"/v1.0/directory/deletedItems/microsoft.graph.user?page=2")
					return
				}
				l := strings.ReplaceAll(link, "GRAPHHOST", r.Host)
				l = strings.ReplaceAll(l, "GRAPH", "https://"+r.Host+"/v1.0")
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"value":[],"@odata.nextLink":%q}`, l)
			})
			err := pullWithin(t, cfg)
			if err == nil || !strings.Contains(err.Error(), "not followed") || hits.Load() != 0 {
				t.Fatalf("err = %v, other origin hit %d times", err, hits.Load())
			}
			if strings.Contains(err.Error(), "skiptoken") || strings.Contains(err.Error(), "pass") {
				t.Errorf("error carries the link's query or userinfo: %v", err)
			}
		})
	}
}

// A page that trickles forever ends with the timeout instead of holding
// the pull (and, under the daemon, every later run) for good.
func TestEntraTricklingPageTimesOut(t *testing.T) {
	cfg := hostileGraph(t, hostiletest.Trickle(t, "application/json", `{"value":[`))
	cfg.Timeout = 300 * time.Millisecond
	err := pullWithin(t, cfg)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the timeout", err)
	}
}

// A 256 MiB page fails naming the cap; the heap does not take it in.
func TestEntraHugePageCapped(t *testing.T) {
	chunk := strings.Repeat(" ", 1<<16)
	cfg := hostileGraph(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"value":[`)
		for range (256 << 20) / len(chunk) {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
		io.WriteString(w, `]}`)
	})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := pullWithin(t, cfg)
	runtime.ReadMemStats(&after)
	if !errors.As(err, new(*httppolicy.BodyTooLargeError)) || !strings.Contains(err.Error(), "64 MiB") {
		t.Fatalf("err = %v, want the 64 MiB cap named", err)
	}
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 200<<20 {
		t.Errorf("heap grew %d MiB", grown>>20)
	}
}

// Retry-After: 1e9 (31 years) is clamped and logged; the retry handler's
// total-wait bound then fails the request instead of sleeping.
func TestEntraRetryAfterClamped(t *testing.T) {
	var hits atomic.Int32
	cfg := hostileGraph(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Retry-After", "1e9")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":{"code":"TooManyRequests","message":"slow down"}}`)
	})
	var logged bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	err := pullWithin(t, cfg)
	if err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("err = %v, want the 429", err)
	}
	if !strings.Contains(logged.String(), "header=Retry-After") || !strings.Contains(logged.String(), "max=5m0s") {
		t.Errorf("clamp not logged:\n%s", logged.String())
	}
}

// Graph's error code and message with terminal escapes reach the error
// plain.
func TestEntraErrorMessageWithANSIEscapesSanitised(t *testing.T) {
	cfg := hostileGraph(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"code":"Bad\u001b[8mRequest","message":"\u001b[31mInvalid\u001b[0m filter\u001b]0;pwned\u0007\r\nFAKE LINE"}}`)
	})
	err := pullWithin(t, cfg)
	if err == nil {
		t.Fatal("no error")
	}
	if msg := err.Error(); strings.ContainsAny(msg, "\x1b\x07\r\n") || !strings.Contains(msg, "Invalid filter FAKE LINE") {
		t.Errorf("error %q: want Graph's words without escapes", msg)
	}
}
