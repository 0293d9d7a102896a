package scim_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// A storm of 429s: every wait is the workspace's Retry-After, and each op
// lands exactly once.
func TestRetryAfterStormConverges(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	c := newClient(t, srv, nil)
	srv.Inject(scimtest.Fault{Kind: scimtest.Fault429, Count: 6, RetryAfter: 3 * time.Second})
	r := &retrier{}
	got, err := tryApply(c, createOp(account("u1", "a@example.com")), r, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.waits) == 0 {
		t.Fatal("no retries: the faults were not hit")
	}
	for _, w := range r.waits {
		if w != 3*time.Second {
			t.Errorf("waited %s, want Retry-After 3s", w)
		}
	}
	if users := srv.Users(); len(users) != 1 || users[0].ID != got.TargetID {
		t.Errorf("users = %+v", users)
	}
}

// Concurrent ops under a 429 rate of 40% and 503 bursts all converge with
// no duplicates.
func TestConcurrentOpsUnderFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault scimtest.Fault
	}{
		{"429 fraction with Retry-After", scimtest.Fault{Kind: scimtest.Fault429, P: 0.4, RetryAfter: time.Second}},
		{"503 burst", scimtest.Fault{Kind: scimtest.Fault503, Count: 25}},
		{"500 fraction", scimtest.Fault{Kind: scimtest.Fault500, P: 0.3}},
		{"dropped connections", scimtest.Fault{Kind: scimtest.FaultDrop, P: 0.3}},
		{"writes lost after they happened", scimtest.Fault{Kind: scimtest.FaultDropAfter, P: 0.3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, scimtest.Options{})
			c := newClient(t, srv, func(c *scim.Config) { c.Concurrency = 8 })
			srv.Inject(tt.fault)
			const n = 40
			var wg stdsync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					a := account(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d@example.com", i))
					_, err := tryApply(c, createOp(a), &retrier{}, 30)
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if got := len(srv.Users()); got != n {
				t.Errorf("workspace holds %d users, want %d", got, n)
			}
			faulted := 0
			for _, r := range srv.Requests() {
				if r.Fault != "" {
					faulted++
				}
			}
			if faulted == 0 {
				t.Error("no request was faulted")
			}
		})
	}
}

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name      string
		fault     scimtest.Fault
		retryable bool
		after     time.Duration
	}{
		// On the POST: a failed read (the lookups before it) is retried in
		// place (readTries), so the write is where Apply itself answers.
		{"429 with Retry-After", scimtest.Fault{Kind: scimtest.Fault429, Count: 1, RetryAfter: 7 * time.Second, Method: "POST"}, true, 7 * time.Second},
		{"503 without Retry-After", scimtest.Fault{Kind: scimtest.Fault503, Count: 1, Method: "POST"}, true, 0},
		{"500", scimtest.Fault{Kind: scimtest.Fault500, Count: 1, Method: "POST"}, true, 0},
		{"dropped connection", scimtest.Fault{Kind: scimtest.FaultDrop, Count: 1, Method: "POST"}, true, 0},
		{"timeout", scimtest.Fault{Kind: scimtest.FaultLatency, Count: 1, Latency: 2 * time.Second, Method: "POST"}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, scimtest.Options{})
			c := newClient(t, srv, func(c *scim.Config) {
				if tt.fault.Kind == scimtest.FaultLatency {
					c.Timeout = 100 * time.Millisecond // only here: a loaded machine may be that slow
				}
			})
			srv.Inject(tt.fault)
			_, err := c.Apply(t.Context(), createOp(account("u1", "a@example.com")))
			ok, after := targets.Retryable(err)
			if ok != tt.retryable || after != tt.after {
				t.Fatalf("Retryable(%v) = %v, %s; want %v, %s", err, ok, after, tt.retryable, tt.after)
			}
			if !strings.Contains(err.Error(), `scim: create user "a@example.com"`) {
				t.Errorf("error %q does not name the op's user", err)
			}
		})
	}
	t.Run("400 is permanent and carries the detail", func(t *testing.T) {
		srv := newServer(t, scimtest.Options{})
		c := newClient(t, srv, nil)
		_, err := c.Apply(t.Context(), createOp(&idsync.Account{ExternalID: "u9", Active: true}))
		if ok, _ := targets.Retryable(err); ok || err == nil {
			t.Fatalf("err = %v, want permanent", err)
		}
		if !strings.Contains(err.Error(), "userName is required") {
			t.Errorf("error %q lacks the SCIM detail", err)
		}
	})
	t.Run("Retry-After as HTTP date", func(t *testing.T) {
		at := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
		hs := newRawServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", at)
			w.WriteHeader(http.StatusTooManyRequests)
		})
		c, err := scim.New(scim.Config{URL: hs, Token: token,
			Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Apply(t.Context(), createOp(account("u1", "a@example.com")))
		ok, after := targets.Retryable(err)
		if !ok || after < 80*time.Second || after > 91*time.Second {
			t.Errorf("Retryable = %v, %s; want about 90s", ok, after)
		}
	})
}

// A rejected token fails at once with one clear error: no retries, no
// token in the message.
func TestTokenRejected(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	srv.SetToken("rotated")
	c := newClient(t, srv, nil)
	r := &retrier{}
	_, err := tryApply(c, createOp(account("u1", "a@example.com")), r, 5)
	if !errors.Is(err, targets.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if len(r.waits) != 0 || len(srv.Requests()) != 1 {
		t.Errorf("%d retries, %d requests: a rejected token must not be retried", len(r.waits), len(srv.Requests()))
	}
	if !strings.Contains(err.Error(), "target.token") || strings.Contains(err.Error(), token) {
		t.Errorf("error %q: must point at target.token and never contain the token", err)
	}
}

func TestRateLimitSpacesRequests(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	c := newClient(t, srv, func(c *scim.Config) { c.RateLimit = scim.Rate(50) })
	for i := range 6 {
		apply(t, c, createOp(account(fmt.Sprint(i), fmt.Sprintf("u%d@example.com", i))))
	}
	reqs := srv.Requests()
	// With burst 1, n requests span at least (n-1)/50 s. A lower bound on the
	// server's own timestamps: a slow machine can only make it wider.
	span := reqs[len(reqs)-1].Time.Sub(reqs[0].Time)
	if floor := time.Duration(len(reqs)-1) * 20 * time.Millisecond * 8 / 10; span < floor {
		t.Fatalf("%d requests within %s at rate_limit 50, want at least %s", len(reqs), span, floor)
	}
}

func TestCancelledContextIsNotRetryable(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	srv.SetLatency(time.Second)
	c := newClient(t, srv, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Apply(ctx, createOp(account("u1", "a@example.com")))
	if ok, _ := targets.Retryable(err); ok || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's error, not retryable", err)
	}
}

// Reads are retried where they fail, writes are not: a create whose
// lookups are throttled twice still lands in one Apply, while a throttled
// POST is the engine's to retry (and sent once).
func TestReadsRetriedInPlaceWritesNot(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	c := newClient(t, srv, nil)
	srv.Inject(scimtest.Fault{Kind: scimtest.Fault429, Count: 2, RetryAfter: time.Second, Method: "GET"})
	if _, err := c.Apply(t.Context(), createOp(account("u1", "a@example.com"))); err != nil {
		t.Fatalf("create with two throttled reads: %v", err)
	}
	srv.Inject(scimtest.Fault{Kind: scimtest.Fault429, Count: 1, RetryAfter: time.Second, Method: "POST"})
	before := len(srv.Requests())
	_, err := c.Apply(t.Context(), createOp(account("u2", "b@example.com")))
	if ok, _ := targets.Retryable(err); !ok {
		t.Fatalf("throttled POST: err = %v, want retryable", err)
	}
	posts := 0
	for _, r := range srv.Requests()[before:] {
		if r.Method == http.MethodPost {
			posts++
		}
	}
	if posts != 1 {
		t.Errorf("the POST was sent %d times in one Apply, want 1", posts)
	}
}
