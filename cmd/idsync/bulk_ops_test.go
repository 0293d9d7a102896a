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

// disableAll marks every user of f disabled in the IdP.
func (f *firstSync) disableAll() {
	for i := range f.src {
		f.src[i].Status = idsync.StatusDisabled
	}
}

// activeAccounts counts the workspace's active accounts.
func activeAccounts(ws *scimtest.Server) int {
	n := 0
	for _, u := range ws.Users() {
		if u.Active {
			n++
		}
	}
	return n
}

// A run of 1,000 disables: without Bulk each is a GET (is the recorded
// account still this user's?) and a PATCH; with Bulk (maxOperations 100)
// the run's listing answers the GETs and the PATCHes go 100 to a request:
// at most N/maxOperations + N/pageSize + a few requests. Deletes too.
func TestBulkDisablesAndDeletesRequestCounts(t *testing.T) {
	const n, maxOps, page = 1000, 100, 100
	off := false
	for _, tt := range []struct {
		name string
		bulk bool
		most int
	}{
		{"without bulk", false, 2*n + n/page + 5},
		{"bulk, maxOperations 100", true, n/maxOps + n/page + 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws := scimtest.NewServer(scimtest.Options{Token: "t0ken", Bulk: true, BulkMaxOperations: maxOps, PageSize: page})
			defer ws.Close()
			f := newFirstSync(t, ws, n)
			e, st := f.engine()
			conn := f.conn(newSCIM(t, ws, func(c *scim.Config) {
				if !tt.bulk {
					c.Bulk = &off
				}
			}))
			ctx := context.Background()
			if res, err := e.Run(ctx, conn, sync.Options{}); err != nil || res.Applied != n {
				t.Fatalf("first sync: %v, %+v", err, res)
			}
			f.disableAll()
			ws.ResetRequests()
			res, err := e.Run(ctx, conn, sync.Options{})
			if err != nil || res.Applied != n || res.Failed != 0 {
				t.Fatalf("disables: %v, applied %d, failed %d", err, res.Applied, res.Failed)
			}
			if a := activeAccounts(ws); a != 0 {
				t.Fatalf("%d accounts still active", a)
			}
			got := len(ws.Requests())
			t.Logf("%d disables: %d requests (%d Bulk, %d GET)", n, got, ws.CountRequests(http.MethodPost, "/Bulk"), ws.CountRequests(http.MethodGet, "/"))
			if got > tt.most {
				t.Errorf("%d requests for %d disables, want at most %d", got, n, tt.most)
			}

			// Disabled now means deleted: deletes batch the same way.
			conn.Policy.Deprovision.Disabled = sync.ActionDelete
			ws.ResetRequests()
			res, err = e.Run(ctx, conn, sync.Options{})
			if err != nil || res.Applied != n || res.Failed != 0 || len(ws.Users()) != 0 {
				t.Fatalf("deletes: %v, applied %d, failed %d, %d accounts left", err, res.Applied, res.Failed, len(ws.Users()))
			}
			got = len(ws.Requests())
			t.Logf("%d deletes: %d requests", n, got)
			if got > tt.most {
				t.Errorf("%d requests for %d deletes, want at most %d", got, n, tt.most)
			}
			var left int
			st.View(ctx, func(tx *state.Tx) (err error) { left, err = tx.AppliedCount("acme"); return err })
			if left != 0 {
				t.Errorf("%d users still applied", left)
			}
		})
	}
}

// Each operation of a Bulk request of changes counts on its own: a 429 is
// retried for that op alone, a 400 fails that user alone (planned again
// next run), and a 404 (deleted by hand since the listing) goes down the
// single path, which has nothing left to disable.
func TestBulkDisablesPerOperationStatuses(t *testing.T) {
	const n = 40
	ws := scimtest.NewServer(scimtest.Options{Token: "t0ken", Bulk: true, BulkMaxOperations: 10})
	defer ws.Close()
	f := newFirstSync(t, ws, n)
	e, st := f.engine()
	e.Backoff = targets.Backoff{Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}
	conn := f.conn(newSCIM(t, ws, nil))
	ctx := context.Background()
	if res, err := e.Run(ctx, conn, sync.Options{}); err != nil || res.Applied != n {
		t.Fatalf("first sync: %v, %+v", err, res)
	}
	f.disableAll()
	gone, _ := ws.UserByName("user00007@acme.test")
	var once stdsync.Once
	ws.OnRequest(func(r scimtest.Request) {
		if r.Path == "/Bulk" {
			once.Do(func() { ws.DeleteUser(gone.ID) }) // after the listing, before its PATCH
		}
	})
	ws.Inject(scimtest.Fault{Kind: scimtest.Fault429, Count: 3, Method: "BULK PATCH"})
	ws.Inject(scimtest.Fault{Kind: scimtest.Fault400, Count: 1, Method: "BULK PATCH"})
	ws.ResetRequests()
	res, err := e.Run(ctx, conn, sync.Options{})
	ws.OnRequest(nil)
	if err != nil || res.Applied != n-1 || res.Failed != 1 {
		t.Fatalf("disables: %v, applied %d, failed %d", err, res.Applied, res.Failed)
	}
	if a := activeAccounts(ws); a != 1 {
		t.Fatalf("%d accounts active, want the one whose operation failed", a)
	}
	if ws.BulkOperations() < n-1+3 {
		t.Errorf("%d Bulk operations: the 429s were not retried", ws.BulkOperations())
	}
	res, err = e.Run(ctx, conn, sync.Options{})
	if err != nil || res.Applied != 1 || res.Failed != 0 || activeAccounts(ws) != 0 {
		t.Fatalf("second run: %v, applied %d, failed %d, %d active", err, res.Applied, res.Failed, activeAccounts(ws))
	}
	var pending int
	st.View(ctx, func(tx *state.Tx) (err error) { pending, err = tx.OutboxLen("acme"); return err })
	if pending != 0 {
		t.Fatalf("outbox holds %d ops", pending)
	}
}

// An account idsync recorded for a user but that an admin handed to
// someone else (it now carries another externalId) is not written to by a
// batched change, as by a single one: the user's own account is looked up
// by identity and, there being none, there is nothing to disable. The same
// outcome with and without Bulk.
func TestBulkChangeRefusesAnAccountNowAnothers(t *testing.T) {
	off := false
	for _, bulk := range []bool{true, false} {
		t.Run(fmt.Sprintf("bulk=%v", bulk), func(t *testing.T) {
			ws := scimtest.NewServer(scimtest.Options{Token: "t0ken", Bulk: true, BulkMaxOperations: 10})
			defer ws.Close()
			f := newFirstSync(t, ws, 20)
			e, _ := f.engine()
			conn := f.conn(newSCIM(t, ws, func(c *scim.Config) {
				if !bulk {
					c.Bulk = &off
				}
			}))
			ctx := context.Background()
			if res, err := e.Run(ctx, conn, sync.Options{}); err != nil || res.Applied != 20 {
				t.Fatalf("first sync: %v, %+v", err, res)
			}
			taken, _ := ws.UserByName("user00003@acme.test")
			ws.EditUser(taken.ID, func(raw map[string]any) {
				raw["externalId"] = "someone-else"
				raw["userName"] = "someone.else@acme.test"
			})
			f.disableAll()
			ws.ResetRequests()
			// Changes read as changes (no full read): a drift listing
			// would see the handover first and forget the account (see
			// TestDeleteSkipsARecordedIDNowAnotherPersonsWithoutExternalID);
			// here the op itself must refuse it.
			conn.Source = deltaSource{f}
			res, err := e.Run(ctx, conn, sync.Options{})
			if err != nil || res.Applied != 20 || res.Failed != 0 {
				t.Fatalf("disables: %v, applied %d, failed %d", err, res.Applied, res.Failed)
			}
			if u, _ := ws.User(taken.ID); !u.Active || u.ExternalID != "someone-else" {
				t.Fatalf("the account now another's was written to: %+v", u)
			}
			if a := activeAccounts(ws); a != 1 {
				t.Fatalf("%d accounts active, want only the one now another's", a)
			}
			for _, r := range ws.Requests() {
				if r.Method == http.MethodPatch && r.Path == "/Users/"+taken.ID {
					t.Fatalf("PATCH sent to the account now another's")
				}
			}
			if bulk && ws.CountRequests(http.MethodPost, "/Bulk") == 0 {
				t.Fatalf("no Bulk request")
			}
		})
	}
}

// A run cut off right after a Bulk request of disables whose answer was
// lost (the workspace disabled the accounts, idsync never heard) leaves
// them in the outbox; a new engine lists the workspace again, checks each
// account is still the user's and sends the disables again: every account
// ends disabled, nothing fails, the outbox empties.
func TestCrashMidBulkDisablesResumes(t *testing.T) {
	const n = 250
	ws := scimtest.NewServer(scimtest.Options{Token: "t0ken", Bulk: true, BulkMaxOperations: 50})
	defer ws.Close()
	f := newFirstSync(t, ws, n)
	e0, st0 := f.engine()
	if res, err := e0.Run(context.Background(), f.conn(newSCIM(t, ws, nil)), sync.Options{}); err != nil || res.Applied != n {
		t.Fatalf("first sync: %v, %+v", err, res)
	}
	st0.Close()
	f.disableAll()
	ctx, cancel := context.WithCancel(context.Background())
	var mu stdsync.Mutex
	bulks := 0
	ws.OnRequest(func(r scimtest.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Fault == string(scimtest.FaultDropAfter):
			cancel()
		case r.Path == "/Bulk":
			if bulks++; bulks == 2 {
				ws.Inject(scimtest.Fault{Kind: scimtest.FaultDropAfter, Count: 1, Method: http.MethodPost})
			}
		}
	})
	e1, st1 := f.engine()
	res, err := e1.Run(ctx, f.conn(newSCIM(t, ws, func(c *scim.Config) { c.Concurrency = 1 })), sync.Options{})
	ws.OnRequest(nil)
	if !errors.Is(err, context.Canceled) || res.Applied >= n {
		t.Fatalf("run: %v, applied %d", err, res.Applied)
	}
	st1.Close()
	e2, st2 := f.engine()
	res2, err := e2.Run(context.Background(), f.conn(newSCIM(t, ws, nil)), sync.Options{})
	if err != nil || res2.Failed != 0 || len(res2.Plan.Ops) != 0 || res.Applied+res2.Resumed != n {
		t.Fatalf("resume: %v; applied %d then %d (failed %d), new plan %d ops", err, res.Applied, res2.Resumed, res2.Failed, len(res2.Plan.Ops))
	}
	if a := activeAccounts(ws); a != 0 || len(ws.Users()) != n {
		t.Fatalf("%d of %d accounts active after resume", a, len(ws.Users()))
	}
	var pending int
	st2.View(context.Background(), func(tx *state.Tx) (err error) { pending, err = tx.OutboxLen("acme"); return err })
	if pending != 0 {
		t.Fatalf("outbox holds %d ops", pending)
	}
}

// deltaSource is usersSource read as changes since a cursor: never a full
// read, so runs do not list the workspace for drift.
type deltaSource struct{ *firstSync }

func (s deltaSource) Pull(ctx context.Context, cursor string, emit func([]idsync.Change) error) (string, bool, error) {
	next, _, err := s.src.Pull(ctx, cursor, emit)
	return next, false, err
}

// A few changes in a big workspace: listing it would cost more than the
// reads it saves, so there is no index, and the changes go alone (each
// with its read) rather than in Bulk requests unchecked.
func TestBulkChangesWithoutAListingGoAlone(t *testing.T) {
	ws := scimtest.NewServer(scimtest.Options{Token: "t0ken", Bulk: true, BulkMaxOperations: 100, PageSize: 10})
	defer ws.Close()
	for i := range 500 {
		ws.AddUser(scimtest.User{UserName: fmt.Sprintf("other%d@acme.test", i), ExternalID: fmt.Sprintf("x%d", i), Active: true})
	}
	f := newFirstSync(t, ws, 4)
	e, _ := f.engine()
	conn := f.conn(newSCIM(t, ws, nil))
	conn.Source = deltaSource{f}
	ctx := context.Background()
	if res, err := e.Run(ctx, conn, sync.Options{}); err != nil || res.Applied != 4 {
		t.Fatalf("first sync: %v, %+v", err, res)
	}
	f.disableAll()
	ws.ResetRequests()
	res, err := e.Run(ctx, conn, sync.Options{})
	if err != nil || res.Applied != 4 || res.Failed != 0 || res.Reconcile != nil {
		t.Fatalf("disables: %v, applied %d, failed %d, reconcile %+v", err, res.Applied, res.Failed, res.Reconcile)
	}
	if a := activeAccounts(ws); a != 500 {
		t.Fatalf("%d accounts active, want the 500 others", a)
	}
	if n, gets := ws.CountRequests(http.MethodPost, "/Bulk"), ws.CountRequests(http.MethodGet, "/Users/"); n != 0 || gets != 4 {
		t.Fatalf("%d Bulk requests and %d reads, want 0 and one read per disable", n, gets)
	}
}
