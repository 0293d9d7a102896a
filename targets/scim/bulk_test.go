package scim_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// Listing a big workspace for one create would cost more than the two
// lookups it saves: the index stops after the first page. For many
// creates it reads every page, in the largest page the workspace allows.
func TestIndexUsersOnlyWhenItPays(t *testing.T) {
	srv := newServer(t, scimtest.Options{PageSize: 10})
	for i := range 95 {
		srv.AddUser(scimtest.User{UserName: fmt.Sprintf("old%d@example.com", i), ExternalID: fmt.Sprintf("x%d", i), Active: true})
	}
	c := newClient(t, srv, nil)
	ctx := context.Background()
	srv.ResetRequests()
	if x, err := c.IndexUsers(ctx, 1); err != nil || x != nil {
		t.Fatalf("one create: index %v, %v; want none", x, err)
	}
	if n := srv.CountRequests(http.MethodGet, "/Users"); n != 1 {
		t.Fatalf("one create: %d listing pages read, want 1", n)
	}
	srv.ResetRequests()
	x, err := c.IndexUsers(ctx, 50)
	if err != nil || x == nil || x.Len() != 95 {
		t.Fatalf("fifty creates: %v, %v", x, err)
	}
	if n := srv.CountRequests(http.MethodGet, "/Users"); n != 10 {
		t.Fatalf("fifty creates: %d pages read, want 10 (of 10, the workspace's maxResults)", n)
	}
	if a, ok := x.ByUserName("OLD7@example.com"); !ok || a.Account.ExternalID != "x7" {
		t.Fatalf("by userName: %+v %v", a, ok)
	}
}

// Without an index ApplyBatch still adopts what a lookup finds and sends
// the rest in one Bulk request; with Bulk turned off the client asks for
// no batches.
func TestApplyBatch(t *testing.T) {
	srv := newServer(t, scimtest.Options{Bulk: true, BulkMaxOperations: 5})
	invited := srv.AddUser(scimtest.User{UserName: "u1@example.com", Active: false})
	c := newClient(t, srv, nil)
	ctx := context.Background()
	if n := c.BatchSize(ctx); n != 5 {
		t.Fatalf("batch size %d, want the advertised 5", n)
	}
	var ops []idsync.Op
	for i := range 3 {
		ops = append(ops, createOp(account(fmt.Sprintf("u%d", i), fmt.Sprintf("u%d@example.com", i))))
	}
	res := c.ApplyBatch(ctx, ops)
	for i, r := range res {
		if r.Err != nil || r.Applied.TargetID == "" {
			t.Fatalf("op %d: %+v", i, r)
		}
	}
	if res[1].Applied.TargetID != invited.ID {
		t.Fatalf("u1 created anew (%s), not adopted (%s)", res[1].Applied.TargetID, invited.ID)
	}
	if n := srv.CountRequests(http.MethodPost, "/Bulk"); n != 1 || srv.BulkOperations() != 2 {
		t.Fatalf("%d Bulk requests with %d operations, want 1 with 2", n, srv.BulkOperations())
	}
	off := false
	if n := newClient(t, srv, func(c *scim.Config) { c.Bulk = &off }).BatchSize(ctx); n != 0 {
		t.Fatalf("bulk: false still batches %d", n)
	}
	if n := newClient(t, newServer(t, scimtest.Options{}), nil).BatchSize(ctx); n != 0 {
		t.Fatalf("a workspace without Bulk batches %d", n)
	}
}

// A Bulk request the workspace refuses as a whole (a 503) is every op's
// retryable result; an operation refused on its own is that op's result.
func TestApplyBatchStatuses(t *testing.T) {
	srv := newServer(t, scimtest.Options{Bulk: true})
	c := newClient(t, srv, nil)
	ctx := targets.WithIndex(context.Background(), targets.NewIndex())
	ops := []idsync.Op{createOp(account("a", "a@example.com")), createOp(account("b", "b@example.com"))}
	srv.Inject(scimtest.Fault{Kind: scimtest.Fault503, Count: 1, Method: http.MethodPost})
	for i, r := range c.ApplyBatch(ctx, ops) {
		if ok, _ := targets.Retryable(r.Err); !ok {
			t.Fatalf("op %d after a 503 of the request: %v, want retryable", i, r.Err)
		}
	}
	srv.Inject(scimtest.Fault{Kind: scimtest.Fault400, Count: 1, Method: "BULK POST"})
	res := c.ApplyBatch(ctx, ops)
	if ok, _ := targets.Retryable(res[0].Err); res[0].Err == nil || ok {
		t.Fatalf("op 0: %v, want a permanent failure", res[0].Err)
	}
	if res[1].Err != nil || res[1].Applied.TargetID == "" {
		t.Fatalf("op 1: %+v", res[1])
	}
	srv.Inject(scimtest.Fault{Kind: scimtest.Fault429, Count: 1, Method: "BULK POST"})
	if res := c.ApplyBatch(ctx, ops[:1]); !isRetryable(res[0].Err) {
		t.Fatalf("429 inside Bulk: %v, want retryable", res[0].Err)
	}
	srv.SetToken("rotated")
	if res := c.ApplyBatch(ctx, ops[:1]); !errors.Is(res[0].Err, targets.ErrUnauthorized) {
		t.Fatalf("401: %v", res[0].Err)
	}
}

func isRetryable(err error) bool { ok, _ := targets.Retryable(err); return ok }

// An account the index holds but an admin deleted since the listing is
// created again, alone or in a batch.
func TestIndexedAccountDeletedSinceListing(t *testing.T) {
	for _, batch := range []bool{false, true} {
		srv := newServer(t, scimtest.Options{Bulk: true})
		old := srv.AddUser(scimtest.User{UserName: "a@example.com", ExternalID: "a", Active: true})
		c := newClient(t, srv, nil)
		x, err := c.IndexUsers(context.Background(), 10)
		if err != nil || x == nil {
			t.Fatal(err)
		}
		ctx := targets.WithIndex(context.Background(), x)
		apply(t, c, idsync.Op{Kind: idsync.OpDelete, ObjectID: "a", TargetID: old.ID, Account: account("a", "a@example.com")})
		op := createOp(account("a", "a@example.com"))
		var got idsync.Applied
		if batch {
			r := c.ApplyBatch(ctx, []idsync.Op{op})[0]
			got, err = r.Applied, r.Err
		} else {
			got, err = c.Apply(ctx, op)
		}
		if err != nil || got.TargetID == "" || got.TargetID == old.ID || len(srv.Users()) != 1 {
			t.Fatalf("batch=%v: %+v, %v; workspace %+v", batch, got, err, srv.Users())
		}
	}
}
