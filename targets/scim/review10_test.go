package scim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets"
	"github.com/idsync/idsync/targets/scim"
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
