package scim_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

const token = "s3cret-token-value"

func newServer(t testing.TB, opts scimtest.Options) *scimtest.Server {
	t.Helper()
	if opts.Token == "" {
		opts.Token = token
	}
	srv := scimtest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

// newClient builds a client for srv; edit adjusts the config.
func newClient(t testing.TB, srv *scimtest.Server, edit func(*scim.Config)) *scim.Client {
	t.Helper()
	// Reads retried in place do not sleep in tests (the engine's waits are
	// the retrier's, recorded, below).
	cfg := scim.Config{URL: srv.URL, Token: token, RateLimit: scim.Rate(0),
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

// retrier retries like the engine does, but records the waits instead of
// sleeping them.
type retrier struct {
	waits []time.Duration
}

func (r *retrier) backoff(attempts int) targets.Backoff {
	return targets.Backoff{Attempts: attempts, Sleep: func(ctx context.Context, d time.Duration) error {
		r.waits = append(r.waits, d)
		return ctx.Err()
	}}
}

// apply runs op through the engine's retry loop (fast sleeps) and fails
// the test on error.
func apply(t testing.TB, c *scim.Client, op idsync.Op) idsync.Applied {
	t.Helper()
	got, err := tryApply(c, op, &retrier{}, 10)
	if err != nil {
		t.Fatalf("apply %s %s: %v", op.Kind, op.Name(), err)
	}
	return got
}

func tryApply(c *scim.Client, op idsync.Op, r *retrier, attempts int) (idsync.Applied, error) {
	var got idsync.Applied
	err := r.backoff(attempts).Retry(context.Background(), func() error {
		var err error
		got, err = c.Apply(context.Background(), op)
		return err
	})
	return got, err
}

func account(ext, userName string) *idsync.Account {
	return &idsync.Account{
		ExternalID: ext, UserName: userName, Email: userName,
		GivenName: "Given " + ext, FamilyName: "Family " + ext, DisplayName: "Display " + ext,
		EmployeeID: "E-" + ext, Title: "Engineer", Department: "R&D", Active: true,
	}
}

func createOp(a *idsync.Account) idsync.Op {
	return idsync.Op{ID: "op-" + a.ExternalID, Connection: "acme", Kind: idsync.OpCreate, ObjectID: a.ExternalID, Account: a}
}

func mustUser(t *testing.T, srv *scimtest.Server, id string) scimtest.User {
	t.Helper()
	u, ok := srv.User(id)
	if !ok {
		t.Fatalf("workspace has no user %s", id)
	}
	return u
}

// roundTrip lets a test act on a request before it reaches the server.
type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// newRawServer serves h on loopback and returns its URL.
func newRawServer(t testing.TB, h http.HandlerFunc) string {
	t.Helper()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs.URL
}
