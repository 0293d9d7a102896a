package scim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/internal/hostiletest"
	"github.com/idsync/idsync/internal/httppolicy"
	"github.com/idsync/idsync/targets"
	"github.com/idsync/idsync/targets/scim"
)

// A workspace that is not what it should be: each test points the client
// at an httptest server acting out one attack and checks that the token
// stays home, nothing hangs, memory stays bounded and the server's words
// reach the operator harmless.

// hostileClient is a client for a TLS server (trusted through its
// httptest client), with reads not sleeping.
func hostileClient(t *testing.T, hs *httptest.Server, edit func(*scim.Config)) *scim.Client {
	t.Helper()
	cfg := scim.Config{URL: hs.URL + "/scim/v2", Token: token, RateLimit: scim.Rate(0), HTTPClient: hs.Client(),
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
	if edit != nil {
		edit(&cfg)
	}
	c, err := scim.New(cfg)
	if err != nil {
		t.Fatalf("scim.New: %v", err)
	}
	return c
}

// witness is a plain-http server on the same host that records whether
// anything (and any token) reached it.
func witness(t *testing.T) (*httptest.Server, *atomic.Int32, *atomic.Value) {
	t.Helper()
	var hits atomic.Int32
	var auth atomic.Value
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if a := r.Header.Get("Authorization"); a != "" {
			auth.Store(a)
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"stolen"}`)
	}))
	t.Cleanup(hs.Close)
	return hs, &hits, &auth
}

func TestSCIMTokenNotSentOverHTTPSToHTTPRedirect(t *testing.T) {
	plain, hits, auth := witness(t)
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Same host, plain http: Go would keep Authorization (it strips it
		// only when the host changes).
		http.Redirect(w, r, plain.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(hs.Close)
	c := hostileClient(t, hs, nil)
	_, err := c.Apply(t.Context(), createOp(account("u1", "a@example.com")))
	if err == nil {
		t.Fatal("create through an https → http redirect succeeded")
	}
	if hits.Load() != 0 || auth.Load() != nil {
		t.Fatalf("the http server got %d requests, token %v", hits.Load(), auth.Load())
	}
	if ok, _ := targets.Retryable(err); ok {
		t.Errorf("a refused redirect is retryable: %v", err)
	}
	if !errors.As(err, new(*httppolicy.RedirectError)) || strings.Contains(err.Error(), "filter") {
		t.Errorf("err = %v: want a RedirectError naming origins, without the query", err)
	}
}

func TestSCIMCrossOriginRedirectRefused(t *testing.T) {
	var other atomic.Int32
	elsewhere := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { other.Add(1) }))
	t.Cleanup(elsewhere.Close)
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.RequestURI(), http.StatusPermanentRedirect)
	}))
	t.Cleanup(hs.Close)
	c := hostileClient(t, hs, nil)
	_, err := c.Apply(t.Context(), createOp(account("u1", "a@example.com")))
	if !errors.As(err, new(*httppolicy.RedirectError)) || other.Load() != 0 {
		t.Fatalf("err = %v, other origin hit %d times", err, other.Load())
	}
}

func TestSCIMTricklingBodyTimesOut(t *testing.T) {
	hs := httptest.NewTLSServer(hostiletest.Trickle(t, "application/scim+json", `{"Resources":[`))
	t.Cleanup(hs.Close)
	c := hostileClient(t, hs, func(c *scim.Config) { c.Timeout = 150 * time.Millisecond })
	_, err := c.Apply(t.Context(), createOp(account("u1", "a@example.com")))
	if ok, _ := targets.Retryable(err); !ok || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("err = %v, want a retryable timeout", err)
	}
}

func TestSCIMHugeBodyCapped(t *testing.T) {
	chunk := strings.Repeat(" ", 1<<16)
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"Resources":[`)
		for range (256 << 20) / len(chunk) { // 256 MiB of whitespace, no Content-Length
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
		io.WriteString(w, `]}`)
	}))
	t.Cleanup(hs.Close)
	c := hostileClient(t, hs, nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := c.Apply(t.Context(), createOp(account("u1", "a@example.com")))
	runtime.ReadMemStats(&after)
	if !errors.As(err, new(*httppolicy.BodyTooLargeError)) || !strings.Contains(err.Error(), "32 MiB") {
		t.Fatalf("err = %v, want the 32 MiB cap named", err)
	}
	if ok, _ := targets.Retryable(err); ok {
		t.Error("an oversized answer is retryable: every retry would read it again")
	}
	// Each of the readTries reads up to the cap; the heap holds one at most.
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 160<<20 {
		t.Errorf("heap grew %d MiB", grown>>20)
	}
}

func TestSCIMRetryAfterClamped(t *testing.T) {
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1e9") // 31 years
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	t.Cleanup(hs.Close)
	var waits []time.Duration
	c := hostileClient(t, hs, func(c *scim.Config) {
		c.Sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return ctx.Err() }
	})
	_, err := c.Apply(t.Context(), createOp(account("u1", "a@example.com")))
	ok, after := targets.Retryable(err)
	if !ok || after != httppolicy.MaxWait {
		t.Fatalf("Retryable = %v, %s; want the wait clamped to %s", ok, after, httppolicy.MaxWait)
	}
	for _, w := range waits {
		if w > httppolicy.MaxWait {
			t.Errorf("waited %s in place", w)
		}
	}
	if w := (targets.Backoff{}).Wait(2, after); w > httppolicy.MaxWait {
		t.Errorf("the engine would wait %s", w)
	}
}

func TestSCIMErrorDetailWithANSIEscapesSanitised(t *testing.T) {
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/scim+json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{
			"schemas":  []string{"urn:ietf:params:scim:api:messages:2.0:Error"},
			"scimType": "invalid\x1b[2J",
			"detail":   "\x1b[31mred\x1b[0m \x1b]0;owned\x07title\r\nFAKE: token accepted\u202e" + strings.Repeat("A", 5000),
		})
	}))
	t.Cleanup(hs.Close)
	c := hostileClient(t, hs, nil)
	_, err := c.Apply(t.Context(), createOp(account("u1", "a@example.com")))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\x1b\x07\r\n\u202e") {
		t.Errorf("error carries control characters: %q", msg)
	}
	if !strings.Contains(msg, "red title FAKE: token accepted") || len(msg) > 1024 {
		t.Errorf("error %q (%d bytes): want the detail, plain and cut", msg, len(msg))
	}
}

// A 2xx create whose answer has no id must not be recorded: a later delete
// would go to DELETE /Users/.
func TestSCIMCreateWithoutIDFailsTheOp(t *testing.T) {
	var deletes atomic.Int32
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/scim+json")
		switch r.Method {
		case http.MethodGet:
			io.WriteString(w, `{"totalResults":0,"Resources":[]}`)
		case http.MethodPost:
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a@example.com"}`)
		case http.MethodDelete:
			deletes.Add(1)
		}
	}))
	t.Cleanup(hs.Close)
	c := hostileClient(t, hs, nil)
	got, err := tryApply(c, createOp(account("u1", "a@example.com")), &retrier{}, 3)
	if err == nil || got.TargetID != "" {
		t.Fatalf("create without id: applied %+v, err %v; want a failed op", got, err)
	}
	if ok, _ := targets.Retryable(err); ok || !strings.Contains(err.Error(), "without an id") {
		t.Errorf("err = %v, want a permanent error saying the id is missing", err)
	}
}

// The same for every other place an id comes from: a lookup, a listing,
// a PATCH or PUT answering the resource, a created group.
func TestSCIMAnswersWithoutIDFail(t *testing.T) {
	user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a@example.com","externalId":"u1"}`
	list := `{"totalResults":1,"Resources":[` + user + `]}`
	cases := []struct {
		name   string
		answer func(r *http.Request) (int, string)
		run    func(c *scim.Client) error
	}{
		{"lookup lists an account without id", func(r *http.Request) (int, string) { return 200, list },
			func(c *scim.Client) error {
				_, err := c.Apply(t.Context(), createOp(account("u1", "a@example.com")))
				return err
			}},
		{"listing has an account without id", func(r *http.Request) (int, string) { return 200, list },
			func(c *scim.Client) error {
				return c.ListUsers(t.Context(), func([]idsync.Applied) error { return nil })
			}},
		{"PATCH answers the user without id", func(r *http.Request) (int, string) {
			if r.Method == http.MethodPatch || r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/42") {
				return 200, user // the GET that checks the account before the disable
			}
			return 200, `{"totalResults":0,"Resources":[]}`
		}, func(c *scim.Client) error {
			a := account("u1", "a@example.com")
			_, err := c.Apply(t.Context(), idsync.Op{Kind: idsync.OpDisable, ObjectID: "u1", TargetID: "42", Account: a})
			return err
		}},
		{"group created without id", func(r *http.Request) (int, string) {
			if r.Method == http.MethodPost {
				return 201, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales"}`
			}
			return 200, `{"totalResults":0,"Resources":[]}`
		}, func(c *scim.Client) error {
			_, err := c.Apply(t.Context(), idsync.Op{Kind: idsync.OpGroupCreate, ObjectID: "g1", Group: &idsync.GroupAccount{ExternalID: "g1", DisplayName: "Sales"}})
			return err
		}},
		{"id of only spaces", func(r *http.Request) (int, string) {
			if r.Method == http.MethodPost {
				return 201, `{"id":"   ","userName":"a@example.com"}`
			}
			return 200, `{"totalResults":0,"Resources":[]}`
		}, func(c *scim.Client) error {
			_, err := c.Apply(t.Context(), createOp(account("u1", "a@example.com")))
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				status, body := tc.answer(r)
				w.Header().Set("Content-Type", "application/scim+json")
				w.WriteHeader(status)
				io.WriteString(w, body)
			}))
			t.Cleanup(hs.Close)
			err := tc.run(hostileClient(t, hs, nil))
			if err == nil || !strings.Contains(err.Error(), "without an id") {
				t.Fatalf("err = %v, want the missing id named", err)
			}
		})
	}
}

// A numeric id (not SCIM, but seen) is used as its digits, not as
// "1.2345678e+07".
func TestSCIMNumericIDKeptAsDigits(t *testing.T) {
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"id":12345678,"userName":"a@example.com"}`)
			return
		}
		fmt.Fprint(w, `{"totalResults":0,"Resources":[]}`)
	}))
	t.Cleanup(hs.Close)
	got, err := hostileClient(t, hs, nil).Apply(t.Context(), createOp(account("u1", "a@example.com")))
	if err != nil || got.TargetID != "12345678" {
		t.Fatalf("TargetID %q, err %v", got.TargetID, err)
	}
}

// A workspace that takes a Bulk request and then trickles its answer for
// ever: the request ends at the timeout and every op of the batch is a
// retryable failure (the workspace may have applied some: a retry adopts
// or repeats them), none is taken as applied.
func TestSCIMTricklingBulkAnswerTimesOut(t *testing.T) {
	trickle := hostiletest.Trickle(t, "application/scim+json", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkResponse"],"Operations":[`)
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/ServiceProviderConfig"):
			w.Header().Set("Content-Type", "application/scim+json")
			io.WriteString(w, `{"bulk":{"supported":true,"maxOperations":10,"maxPayloadSize":1048576},"patch":{"supported":true},"filter":{"supported":true,"maxResults":100}}`)
		case strings.HasSuffix(r.URL.Path, "/Bulk"):
			trickle(w, r)
		default:
			http.Error(w, "not here", http.StatusNotFound)
		}
	}))
	t.Cleanup(hs.Close)
	c := hostileClient(t, hs, func(c *scim.Config) { c.Timeout = 150 * time.Millisecond })
	ctx := targets.WithIndex(t.Context(), targets.NewIndex())
	if n := c.BatchSize(ctx); n != 10 {
		t.Fatalf("batch size %d, want the advertised 10", n)
	}
	ops := []idsync.Op{createOp(account("u1", "a@example.com")), createOp(account("u2", "b@example.com"))}
	for i, r := range c.ApplyBatch(ctx, ops) {
		if ok, _ := targets.Retryable(r.Err); !ok || !strings.Contains(r.Err.Error(), "timeout") || r.Applied.TargetID != "" {
			t.Fatalf("op %d: %+v (err %v), want a retryable timeout and nothing applied", i, r, r.Err)
		}
	}
}
