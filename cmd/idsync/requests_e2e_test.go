package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	stdsync "sync"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/sync"
	"github.com/idsync/idsync/targets"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// lookupsOnly is a SCIM client seen as a workspace that can neither list
// nor batch: each create looks its account up, as before indexes.
type lookupsOnly struct{ c *scim.Client }

func (l lookupsOnly) Apply(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	return l.c.Apply(ctx, op)
}
func (l lookupsOnly) Concurrency() int { return l.c.Concurrency() }

// firstSync runs a first sync of n users into ws through target and
// returns the run's result, failing the test unless every user landed once.
type firstSync struct {
	t    testing.TB
	ws   *scimtest.Server
	src  usersSource
	path string
}

func newFirstSync(t testing.TB, ws *scimtest.Server, n int) *firstSync {
	f := &firstSync{t: t, ws: ws, path: t.TempDir() + "/idsync.db"}
	for i := range n {
		f.src = append(f.src, idsync.User{ID: fmt.Sprintf("u%05d", i), UserName: fmt.Sprintf("user%05d@acme.test", i),
			GivenName: "G", FamilyName: "F", Status: idsync.StatusActive})
	}
	return f
}

func (f *firstSync) conn(target targets.Target) *sync.Connection {
	return &sync.Connection{Name: "acme", SourceType: "entra", Source: f.src, Target: target,
		Policy: sync.Policy{Deprovision: sync.DefaultDeprovision}}
}

func (f *firstSync) engine() (*sync.Engine, *state.Store) {
	st, err := state.Open(context.Background(), f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { st.Close() })
	return sync.New(st, nil), st
}

// check fails the test unless the workspace holds each user exactly once
// and the applied state records each with its workspace id.
func (f *firstSync) check(st *state.Store) {
	f.t.Helper()
	byExt := map[string]string{}
	for _, u := range f.ws.Users() {
		if _, dup := byExt[u.ExternalID]; dup {
			f.t.Fatalf("duplicate account for %s", u.ExternalID)
		}
		byExt[u.ExternalID] = u.ID
	}
	var applied map[string]state.AppliedUser
	var pending int
	st.View(context.Background(), func(tx *state.Tx) (err error) {
		if applied, err = tx.AppliedUsers("acme", nil); err != nil {
			return err
		}
		pending, err = tx.OutboxLen("acme")
		return err
	})
	if len(byExt) != len(f.src) || len(applied) != len(f.src) || pending != 0 {
		f.t.Fatalf("workspace %d accounts, applied %d, outbox %d; want %d, %d, 0", len(byExt), len(applied), pending, len(f.src), len(f.src))
	}
	for ext, a := range applied {
		if byExt[ext] != a.TargetID {
			f.t.Fatalf("%s applied as %q, workspace has %q", ext, a.TargetID, byExt[ext])
		}
	}
}

func newSCIM(t *testing.T, ws *scimtest.Server, edit func(*scim.Config)) *scim.Client {
	cfg := scim.Config{URL: ws.URL, Token: "t0ken", RateLimit: scim.Rate(0), Concurrency: 4}
	if edit != nil {
		edit(&cfg)
	}
	c, err := scim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The first sync of 1,000 users: with per-user lookups a create costs
// three requests; listing the workspace once makes it one POST (≤ N +
// N/100 requests in all); SCIM Bulk with maxOperations 100 makes it ≤ N/50
// + N/100. The workspace counts every request.
func TestFirstSyncRequestCounts(t *testing.T) {
	const n = 1000
	off := false
	tests := []struct {
		name   string
		opts   scimtest.Options
		target func(*scim.Client) targets.Target
		edit   func(*scim.Config)
		most   int
		least  int
	}{
		{name: "lookups per create (workspace cannot list)", target: func(c *scim.Client) targets.Target { return lookupsOnly{c} }, least: 3 * n},
		{name: "list then create", most: n + n/100},
		{name: "bulk offered but turned off", opts: scimtest.Options{Bulk: true, BulkMaxOperations: 100}, edit: func(c *scim.Config) { c.Bulk = &off }, most: n + n/100},
		{name: "bulk, maxOperations 100", opts: scimtest.Options{Bulk: true, BulkMaxOperations: 100}, most: n/50 + n/100},
		{name: "bulk, maxPayloadSize 16 KiB", opts: scimtest.Options{Bulk: true, BulkMaxOperations: 1000, BulkMaxPayload: 16 << 10}, most: n/50 + n/100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Token = "t0ken"
			ws := scimtest.NewServer(tt.opts)
			defer ws.Close()
			c := newSCIM(t, ws, tt.edit)
			var target targets.Target = c
			if tt.target != nil {
				target = tt.target(c)
			}
			f := newFirstSync(t, ws, n)
			e, st := f.engine()
			res, err := e.Run(context.Background(), f.conn(target), sync.Options{})
			if err != nil || res.Applied != n || res.Failed != 0 {
				t.Fatalf("run: %v, applied %d, failed %d", err, res.Applied, res.Failed)
			}
			f.check(st)
			got := len(ws.Requests())
			t.Logf("%d users: %d requests (%d in Bulk requests carrying %d operations)", n, got, ws.CountRequests(http.MethodPost, "/Bulk"), ws.BulkOperations())
			if tt.most > 0 && got > tt.most {
				t.Errorf("%d requests, want at most %d", got, tt.most)
			}
			if got < tt.least {
				t.Errorf("%d requests, want at least %d", got, tt.least)
			}
			if tt.opts.BulkMaxPayload > 0 {
				for _, r := range ws.Requests() {
					if r.Path == "/Bulk" && len(r.Body) > tt.opts.BulkMaxPayload {
						t.Fatalf("a Bulk request of %d bytes, over maxPayloadSize %d", len(r.Body), tt.opts.BulkMaxPayload)
					}
				}
			}
		})
	}
}

// Indexed creates follow the adoption rules: an account with the user's
// userName and no externalId is adopted, one carrying another externalId
// is a conflict of that user alone. With and without Bulk.
func TestIndexedCreatesAdoptByTheRules(t *testing.T) {
	for _, bulk := range []bool{false, true} {
		t.Run(fmt.Sprintf("bulk=%v", bulk), func(t *testing.T) {
			ws := scimtest.NewServer(scimtest.Options{Token: "t0ken", Bulk: bulk})
			defer ws.Close()
			f := newFirstSync(t, ws, 20)
			invited := ws.AddUser(scimtest.User{UserName: "USER00003@acme.test", Active: false})
			other := ws.AddUser(scimtest.User{UserName: "user00007@acme.test", ExternalID: "someone-else", Active: true})
			e, st := f.engine()
			res, err := e.Run(context.Background(), f.conn(newSCIM(t, ws, nil)), sync.Options{})
			if err != nil || res.Applied != 19 || res.Failed != 1 {
				t.Fatalf("run: %v, applied %d, failed %d", err, res.Applied, res.Failed)
			}
			if u, _ := ws.User(invited.ID); u.ExternalID != "u00003" || !u.Active {
				t.Errorf("invited account not adopted: %+v", u)
			}
			if u, _ := ws.User(other.ID); u.ExternalID != "someone-else" {
				t.Errorf("another person's account was taken: %+v", u)
			}
			// 18 created, the invited one adopted, the other person's kept.
			if n := len(ws.Users()); n != 20 {
				t.Errorf("workspace holds %d accounts, want 20", n)
			}
			var events []state.Event
			st.View(context.Background(), func(tx *state.Tx) (err error) {
				events, err = tx.Events(state.Filter{Connection: "acme"})
				return err
			})
			failed := 0
			for _, ev := range events {
				if ev.Result == "failed" {
					failed++
					if ev.ObjectID != "u00007" {
						t.Errorf("failed event for %s: %s", ev.ObjectID, ev.Detail)
					}
				}
			}
			if failed != 1 {
				t.Errorf("%d failed events, want 1", failed)
			}
		})
	}
}

// Inside a Bulk response each operation counts on its own: a 429 is
// retried for that op alone, a 400 fails that user alone (recorded, planned
// again next run), a 409 (the account appeared after the listing) goes down
// the adopt path.
func TestBulkPerOperationStatuses(t *testing.T) {
	ws := scimtest.NewServer(scimtest.Options{Token: "t0ken", Bulk: true, BulkMaxOperations: 10})
	defer ws.Close()
	f := newFirstSync(t, ws, 40)
	// The account of user 5 is invited by hand right after idsync listed
	// the workspace: its Bulk POST gets 409.
	var once stdsync.Once
	var invited scimtest.User
	ws.OnRequest(func(r scimtest.Request) {
		if r.Method == http.MethodGet && r.Path == "/Users" && r.Query != "" {
			once.Do(func() { invited = ws.AddUser(scimtest.User{UserName: "user00005@acme.test", Active: false}) })
		}
	})
	ws.Inject(scimtest.Fault{Kind: scimtest.Fault429, Count: 3, Method: "BULK POST"})
	ws.Inject(scimtest.Fault{Kind: scimtest.Fault400, Count: 1, Method: "BULK POST"})
	e, st := f.engine()
	e.Backoff = targets.Backoff{Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}
	conn := f.conn(newSCIM(t, ws, nil))
	res, err := e.Run(context.Background(), conn, sync.Options{})
	if err != nil || res.Applied != 39 || res.Failed != 1 {
		t.Fatalf("run: %v, applied %d, failed %d", err, res.Applied, res.Failed)
	}
	if u, _ := ws.User(invited.ID); invited.ID == "" || u.ExternalID != "u00005" || !u.Active {
		t.Fatalf("the account created after the listing was not adopted: %+v", u)
	}
	if ws.BulkOperations() < 40+3 {
		t.Errorf("%d Bulk operations: the 429s were not retried", ws.BulkOperations())
	}
	ws.OnRequest(nil)
	// The user whose op failed is planned again and lands.
	res, err = e.Run(context.Background(), conn, sync.Options{})
	if err != nil || res.Applied != 1 || res.Failed != 0 {
		t.Fatalf("second run: %v, applied %d, failed %d", err, res.Applied, res.Failed)
	}
	f.check(st)
}

// A run cut off right after a Bulk request whose answer was lost (the
// workspace created the accounts, idsync never heard) leaves the creates in
// the outbox; a new engine on the same database lists the workspace again,
// adopts what the lost request created, and nothing is duplicated.
func TestCrashMidBulkDuplicatesNothing(t *testing.T) {
	const n = 250
	ws := scimtest.NewServer(scimtest.Options{Token: "t0ken", Bulk: true, BulkMaxOperations: 100})
	defer ws.Close()
	f := newFirstSync(t, ws, n)
	ctx, cancel := context.WithCancel(context.Background())
	bulks := 0
	var mu stdsync.Mutex
	ws.OnRequest(func(r scimtest.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Fault == string(scimtest.FaultDropAfter):
			cancel()
		case r.Path == "/Bulk":
			if bulks++; bulks == 1 {
				ws.Inject(scimtest.Fault{Kind: scimtest.FaultDropAfter, Count: 1, Method: http.MethodPost})
			}
		}
	})
	e1, st1 := f.engine()
	res, err := e1.Run(ctx, f.conn(newSCIM(t, ws, func(c *scim.Config) { c.Concurrency = 1 })), sync.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run error = %v", err)
	}
	ws.OnRequest(nil)
	st1.Close()
	if res.Applied >= n || len(ws.Users()) <= res.Applied {
		t.Fatalf("the run was not cut off after a lost Bulk answer: applied %d, workspace %d", res.Applied, len(ws.Users()))
	}
	e2, st2 := f.engine()
	res2, err := e2.Run(context.Background(), f.conn(newSCIM(t, ws, nil)), sync.Options{})
	if err != nil || res2.Failed != 0 || len(res2.Plan.Ops) != 0 || res.Applied+res2.Resumed != n {
		t.Fatalf("resume: %v; applied %d then %d (failed %d), new plan %d ops", err, res.Applied, res2.Resumed, res2.Failed, len(res2.Plan.Ops))
	}
	f.check(st2)
}
