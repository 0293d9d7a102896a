package main

import (
	"context"
	"fmt"
	"net/http"
	stdsync "sync"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sync"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// The run's listing (taken for drift before planning) is as old as the
// run by its last phase: after a create phase, an account an admin handed
// to someone else in the meantime must not be deleted by a Bulk DELETE
// checked against that listing. Its owner is read again first.
func TestBulkDeleteAfterCreatesDoesNotTrustTheRunsOldListing(t *testing.T) {
	ws := scimtest.NewServer(scimtest.Options{Token: "t0ken", Bulk: true, BulkMaxOperations: 10})
	defer ws.Close()
	f := newFirstSync(t, ws, 20)
	e, _ := f.engine()
	conn := f.conn(newSCIM(t, ws, nil))
	ctx := context.Background()
	if res, err := e.Run(ctx, conn, sync.Options{}); err != nil || res.Applied != 20 {
		t.Fatalf("first sync: %v, %+v", err, res)
	}
	// Ten users leave (deleted), five join (created first, in phase 0).
	conn.Policy.Deprovision.Disabled = sync.ActionDelete
	for i := range 10 {
		f.src[i].Status = idsync.StatusDisabled
	}
	for i := range 5 {
		f.src = append(f.src, idsync.User{ID: fmt.Sprintf("n%d", i), UserName: fmt.Sprintf("new%d@acme.test", i),
			GivenName: "G", FamilyName: "F", Status: idsync.StatusActive})
	}
	conn = f.conn(conn.Target)
	conn.Policy.Deprovision.Disabled = sync.ActionDelete
	taken, _ := ws.UserByName("user00003@acme.test")
	var once stdsync.Once
	ws.OnRequest(func(r scimtest.Request) {
		if r.Method == http.MethodPost && r.Path == "/Bulk" {
			// After the listing, during the creates: an admin gives the
			// account to someone else.
			once.Do(func() {
				ws.EditUser(taken.ID, func(raw map[string]any) {
					raw["externalId"] = "someone-else"
					raw["userName"] = "someone.else@acme.test"
				})
			})
		}
	})
	res, err := e.Run(ctx, conn, sync.Options{})
	ws.OnRequest(nil)
	if err != nil || res.Failed != 0 {
		t.Fatalf("run: %v, %+v", err, res)
	}
	if u, ok := ws.User(taken.ID); !ok || u.ExternalID != "someone-else" {
		t.Fatalf("the account handed to someone else during the run was deleted (%v, %+v)", ok, u)
	}
	if n := len(ws.Users()); n != 20-10+5+1 {
		t.Fatalf("%d accounts left, want 16", n)
	}
}

// A workspace that reuses ids (or an admin who clears the externalId and
// gives the account to someone else) shows the recorded id as an account
// with no externalId and another userName: a delete must not reach it,
// in a Bulk request or alone (a resumed delete after a lost answer is
// this case when the id was reused since).
func TestDeleteSkipsARecordedIDNowAnotherPersonsWithoutExternalID(t *testing.T) {
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
			conn.Policy.Deprovision.Disabled = sync.ActionDelete
			ctx := context.Background()
			if res, err := e.Run(ctx, conn, sync.Options{}); err != nil || res.Applied != 20 {
				t.Fatalf("first sync: %v, %+v", err, res)
			}
			reused, _ := ws.UserByName("user00003@acme.test")
			ws.EditUser(reused.ID, func(raw map[string]any) {
				delete(raw, "externalId")
				raw["userName"] = "carol@acme.test"
			})
			for i := range 10 {
				f.src[i].Status = idsync.StatusDisabled
			}
			res, err := e.Run(ctx, conn, sync.Options{})
			if err != nil || res.Failed != 0 {
				t.Fatalf("deletes: %v, %+v", err, res)
			}
			if u, ok := ws.User(reused.ID); !ok || u.UserName != "carol@acme.test" {
				t.Fatalf("carol's account (the reused id) was deleted")
			}
			if n := len(ws.Users()); n != 11 {
				t.Fatalf("%d accounts left, want the 10 in scope and carol's", n)
			}
		})
	}
}
