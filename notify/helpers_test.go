package notify

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	stdsync "sync"
	"testing"
	"time"

	"github.com/idsync/idsync/sources/entra"
	"github.com/idsync/idsync/sources/entra/entratest"
	"github.com/idsync/idsync/state"
)

// clock is a settable clock for renewals.
type clock struct {
	mu stdsync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// triggers records what the service asked for.
type triggers struct {
	mu      stdsync.Mutex
	reasons []string
	ch      chan string
}

func (t *triggers) trigger(conn, reason string) bool {
	t.mu.Lock()
	t.reasons = append(t.reasons, reason)
	t.mu.Unlock()
	select {
	case t.ch <- reason:
	default:
	}
	return true
}

// wait returns the next trigger's reason, failing the test after a while.
func (t *triggers) wait(tb testing.TB, what string) string {
	tb.Helper()
	select {
	case r := <-t.ch:
		return r
	case <-time.After(20 * time.Second):
		tb.Fatalf("no trigger: %s", what)
		return ""
	}
}

type graphRig struct {
	tenant *entratest.Server
	store  *state.Store
	svc    *Service
	srv    *httptest.Server
	trig   *triggers
	clock  *clock
	ctx    context.Context
	path   string // the state file
}

// newGraphRig is a Service for connection "acme" on a real entratest
// tenant, a temp-file state and a loopback HTTP server.
func newGraphRig(t *testing.T) *graphRig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tenant := entratest.NewServer()
	tenant.LoadSample()
	src, err := entra.Open(ctx, entra.Config{TenantID: tenant.TenantID, ClientID: tenant.ClientID, ClientSecret: tenant.ClientSecret,
		GraphURL: tenant.GraphURL, AuthorityURL: tenant.AuthorityURL, CAFile: tenant.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "idsync.db")
	store, err := state.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	r := &graphRig{tenant: tenant, store: store, trig: &triggers{ch: make(chan string, 64)},
		clock: &clock{t: time.Now()}, ctx: ctx, path: path}
	var conns []Conn
	r.svc = New(store, r.trig.trigger, func() (any, []Conn) { return 1, conns }, nil)
	r.svc.Now = r.clock.Now
	r.svc.CheckEvery = time.Hour // tests call Reconcile themselves
	r.srv = httptest.NewServer(r.svc)
	conns = []Conn{{Name: "acme", Graph: src, NotificationURL: r.srv.URL + "/notify/acme/graph",
		LifecycleURL: r.srv.URL + "/notify/acme/graph/lifecycle"}}
	t.Cleanup(func() {
		cancel()
		r.svc.Wait()
		r.srv.Close()
		tenant.Close()
		store.Close()
	})
	return r
}

func (r *graphRig) subs(t *testing.T) []state.NotifySubscription {
	t.Helper()
	var out []state.NotifySubscription
	if err := r.store.View(r.ctx, func(tx *state.Tx) error {
		var err error
		out, err = tx.NotifySubscriptions("acme")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// eventually polls f until it holds, failing after a deadline.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
