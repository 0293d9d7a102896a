package scim_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

func applyMerged(t *testing.T, c *scim.Client, ops []idsync.Op) idsync.Applied {
	t.Helper()
	got, err := c.ApplyMerged(context.Background(), ops)
	if err != nil {
		t.Fatalf("ApplyMerged: %v", err)
	}
	return got
}

// One user's update, role and enable go out as one request: one PATCH with
// every operation, or one GET + one PUT.
func TestMergedOpsAreOneRequest(t *testing.T) {
	for _, method := range []string{"patch", "put"} {
		t.Run(method, func(t *testing.T) {
			srv := newServer(t, scimtest.Options{})
			c := newClient(t, srv, func(c *scim.Config) { c.UpdateMethod = method })
			prev := account("u1", "nia@example.com")
			prev.Role, prev.Active = "member", false
			id := apply(t, c, createOp(prev)).TargetID
			srv.ResetRequests()
			got := applyMerged(t, c, changeOps(id, prev))
			if got.TargetID != id {
				t.Fatalf("TargetID %q, want %q", got.TargetID, id)
			}
			if u := mustUser(t, srv, id); u.Title != "Director" || u.Role() != "admin" || !u.Active || u.GivenName != prev.GivenName {
				t.Fatalf("after merged ops: %+v", u)
			}
			if n := writes(srv); n != 1 {
				t.Errorf("%d writes for one user's changes, want 1", n)
			}
			if method == "put" {
				if n := srv.CountRequests(http.MethodGet, "/Users/"); n != 1 {
					t.Errorf("%d GETs, want 1", n)
				}
			}
		})
	}
	t.Run("refuses ops of two users", func(t *testing.T) {
		srv := newServer(t, scimtest.Options{})
		c := newClient(t, srv, nil)
		a, b := changeOps("1", account("u1", "a@example.com")), changeOps("2", account("u2", "b@example.com"))
		if _, err := c.ApplyMerged(context.Background(), []idsync.Op{a[0], b[1]}); err == nil || len(srv.Requests()) != 0 {
			t.Fatalf("merged ops of two users: %v, %d requests", err, len(srv.Requests()))
		}
	})
}

// A role the preset refuses fails the merged request before anything is
// sent, permanently: the engine then applies the ops one at a time.
func TestMergedInvalidRoleIsPermanent(t *testing.T) {
	srv := newServer(t, scimtest.Options{Preset: "whimsical", Strict: true})
	c := newClient(t, srv, func(c *scim.Config) { c.Preset = "whimsical" })
	prev := account("u1", "rae@example.com")
	prev.Role = "viewer"
	id := apply(t, c, createOp(prev)).TargetID
	ops := changeOps(id, prev) // role "admin" is not a Whimsical role either
	bad := *ops[1].Account
	bad.Role = "owner"
	ops[1].Account = &bad
	srv.ResetRequests()
	_, err := c.ApplyMerged(context.Background(), ops)
	if retry, _ := targets.Retryable(err); err == nil || retry || len(srv.Requests()) != 0 {
		t.Fatalf("error = %v (retryable %v), %d requests", err, retry, len(srv.Requests()))
	}
}
