package scim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/internal/httppolicy"
	"github.com/idsync/idsync/targets"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// A Bulk response whose create answers carry no bulkId (RFC 7644 §3.7.3
// requires it for POST) and come in another order than the requests must
// not hand one person's new account to another: position is no proof of
// which POST an answer is for.
func TestBulkCreateAnswersWithoutBulkIDAreNotMatchedByPosition(t *testing.T) {
	url := newRawServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/scim+json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/ServiceProviderConfig"):
			w.Write([]byte(`{"bulk":{"supported":true,"maxOperations":10,"maxPayloadSize":1048576}}`))
		case strings.HasSuffix(r.URL.Path, "/Bulk"):
			var req struct {
				Operations []struct {
					Data map[string]any `json:"data"`
				} `json:"Operations"`
			}
			json.NewDecoder(r.Body).Decode(&req)
			var out []map[string]any
			for i := len(req.Operations) - 1; i >= 0; i-- { // reversed, no bulkId
				d := req.Operations[i].Data
				id := "id-" + d["externalId"].(string)
				out = append(out, map[string]any{"method": "POST", "status": "201", "location": "/Users/" + id,
					"response": map[string]any{"id": id, "userName": d["userName"], "externalId": d["externalId"]}})
			}
			json.NewEncoder(w).Encode(map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkResponse"}, "Operations": out})
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
	c, err := scim.New(scim.Config{URL: url, Token: "t0ken", RateLimit: scim.Rate(0)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := targets.WithIndex(context.Background(), targets.NewIndex())
	ops := []idsync.Op{createOp(account("alice", "alice@example.com")), createOp(account("bob", "bob@example.com"))}
	for i, r := range c.ApplyBatch(ctx, ops) {
		if want := "id-" + ops[i].ObjectID; r.Err == nil && r.Applied.TargetID != want {
			t.Errorf("%s recorded as workspace account %s, want %s (or no result)", ops[i].ObjectID, r.Applied.TargetID, want)
		}
	}
}

// A create's answer (Bulk or single) whose resource carries another
// externalId than the one sent is someone else's account: it is not
// recorded for the user.
func TestCreateAnswerForAnotherExternalIDIsNotRecorded(t *testing.T) {
	url := newRawServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/scim+json")
		carol := map[string]any{"id": "id-carol", "userName": "carol@example.com", "externalId": "carol", "active": true}
		switch {
		case strings.HasSuffix(r.URL.Path, "/ServiceProviderConfig"):
			w.Write([]byte(`{"bulk":{"supported":true,"maxOperations":10,"maxPayloadSize":1048576}}`))
		case strings.HasSuffix(r.URL.Path, "/Bulk"):
			var req struct {
				Operations []struct {
					BulkID string `json:"bulkId"`
				} `json:"Operations"`
			}
			json.NewDecoder(r.Body).Decode(&req)
			var out []map[string]any
			for _, op := range req.Operations {
				out = append(out, map[string]any{"bulkId": op.BulkID, "method": "POST", "status": "201", "location": "/Users/id-carol", "response": carol})
			}
			json.NewEncoder(w).Encode(map[string]any{"Operations": out})
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(carol)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
	c, err := scim.New(scim.Config{URL: url, Token: "t0ken", RateLimit: scim.Rate(0)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := targets.WithIndex(context.Background(), targets.NewIndex())
	ops := []idsync.Op{createOp(account("alice", "alice@example.com")), createOp(account("bob", "bob@example.com"))}
	for i, r := range c.ApplyBatch(ctx, ops) {
		if r.Err == nil {
			t.Errorf("bulk: %s recorded as carol's account %s", ops[i].ObjectID, r.Applied.TargetID)
		}
	}
	if got, err := c.Apply(ctx, ops[0]); err == nil {
		t.Errorf("single: alice recorded as carol's account %s", got.TargetID)
	}
}

// A workspace that lowers its Bulk limits (or turns Bulk off) while the
// daemon runs answers the whole Bulk request 413 (or 501): the client
// reads /ServiceProviderConfig again and the ops go through on their
// retry, instead of failing every run until the daemon restarts.
func TestBulkLimitsChangedWhileRunning(t *testing.T) {
	var maxOps atomic.Int32
	maxOps.Store(10)
	url := newRawServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/scim+json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/ServiceProviderConfig"):
			fmt.Fprintf(w, `{"bulk":{"supported":true,"maxOperations":%d,"maxPayloadSize":1048576}}`, maxOps.Load())
		case strings.HasSuffix(r.URL.Path, "/Bulk"):
			var req struct {
				Operations []struct {
					BulkID string         `json:"bulkId"`
					Data   map[string]any `json:"data"`
				} `json:"Operations"`
			}
			json.NewDecoder(r.Body).Decode(&req)
			if len(req.Operations) > int(maxOps.Load()) {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"413","scimType":"tooMany"}`))
				return
			}
			var out []map[string]any
			for _, op := range req.Operations {
				out = append(out, map[string]any{"bulkId": op.BulkID, "method": "POST", "status": "201",
					"response": map[string]any{"id": "id-" + op.Data["externalId"].(string), "externalId": op.Data["externalId"]}})
			}
			json.NewEncoder(w).Encode(map[string]any{"Operations": out})
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
	c, err := scim.New(scim.Config{URL: url, Token: "t0ken", RateLimit: scim.Rate(0)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := targets.WithIndex(context.Background(), targets.NewIndex())
	batch := func(prefix string) []idsync.Op {
		var ops []idsync.Op
		for i := range 6 {
			id := fmt.Sprintf("%s%d", prefix, i)
			ops = append(ops, createOp(account(id, id+"@example.com")))
		}
		return ops
	}
	for _, r := range c.ApplyBatch(ctx, batch("a")) {
		if r.Err != nil {
			t.Fatalf("first batch: %v", r.Err)
		}
	}
	maxOps.Store(3)
	ops := batch("b")
	for try := 0; len(ops) > 0 && try < 3; try++ { // as the engine's retries
		var again []idsync.Op
		for i, r := range c.ApplyBatch(ctx, ops) {
			switch {
			case isRetryable(r.Err):
				again = append(again, ops[i])
			case r.Err != nil:
				t.Fatalf("%s after the limit changed: %v", ops[i].ObjectID, r.Err)
			}
		}
		ops = again
	}
	if len(ops) > 0 {
		t.Fatalf("%d ops still failing after the workspace lowered maxOperations", len(ops))
	}
	if n := c.BatchSize(ctx); n != 3 {
		t.Fatalf("batch size %d, want the new 3", n)
	}
}

// A delete or disable resumed after a lost answer (no drift listing in
// between) of an id the workspace has reused since for a hand-made account
// (no externalId, another userName) must not reach that account, in a
// Bulk request or alone.
func TestResumedDeleteOfAReusedIDWithoutExternalID(t *testing.T) {
	for _, kind := range []idsync.OpKind{idsync.OpDelete, idsync.OpDisable} {
		for _, batch := range []bool{true, false} {
			srv := newServer(t, scimtest.Options{Bulk: true})
			carol := srv.AddUser(scimtest.User{UserName: "carol@example.com", Active: true})
			other := srv.AddUser(scimtest.User{UserName: "b@example.com", ExternalID: "b", Active: true})
			c := newClient(t, srv, nil)
			x, err := c.IndexUsers(context.Background(), 10)
			if err != nil || x == nil {
				t.Fatal(err)
			}
			ctx := targets.WithIndex(context.Background(), x)
			prev := account("a", "a@example.com")
			off := *prev
			off.Active = false
			op := idsync.Op{Kind: kind, ObjectID: "a", TargetID: carol.ID, Prev: prev}
			if kind == idsync.OpDisable {
				op.Account = &off
			}
			ops := []idsync.Op{op, {Kind: idsync.OpDelete, ObjectID: "b", TargetID: other.ID, Prev: account("b", "b@example.com")}}
			if batch {
				for i, r := range c.ApplyBatch(ctx, ops) {
					if r.Err != nil {
						t.Fatalf("%s batch op %d: %v", kind, i, r.Err)
					}
				}
			} else if _, err := c.Apply(ctx, op); err != nil {
				t.Fatalf("%s: %v", kind, err)
			}
			if u, ok := srv.User(carol.ID); !ok || !u.Active {
				t.Fatalf("%s batch=%v: carol's account (a reused id) was deleted or disabled: %v %+v", kind, batch, ok, u)
			}
		}
	}
}

// A Bulk response with far more answers than operations sent is refused
// before it is decoded (a body of "{}," decodes to tens of times its size),
// as a list page is.
func TestBulkResponseWithTooManyAnswersRefused(t *testing.T) {
	url := newRawServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/scim+json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/ServiceProviderConfig"):
			w.Write([]byte(`{"bulk":{"supported":true,"maxOperations":10,"maxPayloadSize":1048576}}`))
		case strings.HasSuffix(r.URL.Path, "/Bulk"):
			w.Write([]byte(`{"Operations":[{}` + strings.Repeat(`,{}`, 100000) + `]}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
	c, err := scim.New(scim.Config{URL: url, Token: "t0ken", RateLimit: scim.Rate(0)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := targets.WithIndex(context.Background(), targets.NewIndex())
	ops := []idsync.Op{createOp(account("alice", "alice@example.com")), createOp(account("bob", "bob@example.com"))}
	for i, r := range c.ApplyBatch(ctx, ops) {
		var tooMany *httppolicy.TooManyElementsError
		if !errors.As(r.Err, &tooMany) {
			t.Errorf("op %d: %v, want the answer refused for its size", i, r.Err)
		}
	}
}

// Team names are reused: where the workspace cannot filter groups by
// externalId, a create of a managed group (one a partial listing missed,
// say) whose name a hand-made team shares takes the group carrying its
// externalId, not whichever of the two the workspace lists first.
func TestGroupCreatePrefersTheGroupCarryingItsExternalID(t *testing.T) {
	url := newRawServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/scim+json")
		f := r.URL.Query().Get("filter")
		switch {
		case r.Method == http.MethodGet && strings.HasPrefix(f, "externalId"):
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"status":"400","scimType":"invalidFilter"}`))
		case r.Method == http.MethodGet && strings.HasPrefix(f, "displayName"):
			w.Write([]byte(`{"totalResults":2,"Resources":[` +
				`{"id":"hand-made","displayName":"Sales"},` +
				`{"id":"managed","displayName":"Sales","externalId":"g1"}]}`))
		case r.Method == http.MethodPatch:
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
	c, err := scim.New(scim.Config{URL: url, Token: "t0ken", RateLimit: scim.Rate(0)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Apply(context.Background(), idsync.Op{Kind: idsync.OpGroupCreate, ObjectID: "g1", Group: &idsync.GroupAccount{ExternalID: "g1", DisplayName: "Sales"}})
	if err != nil || got.TargetID != "managed" {
		t.Fatalf("group create took %q (%v), want the group carrying its externalId", got.TargetID, err)
	}
}
