package oktatest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/idsync/idsync/sources/okta/oktatest"
)

func TestEventHooksVerifyAndDeliver(t *testing.T) {
	org := oktatest.NewServer()
	defer org.Close()
	sample := org.LoadSample()
	got := make(chan []byte, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "hook-secret" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		if ch := r.Header.Get("X-Okta-Verification-Challenge"); r.Method == http.MethodGet && ch != "" {
			json.NewEncoder(w).Encode(map[string]string{"verification": ch})
			return
		}
		b, _ := io.ReadAll(r.Body)
		got <- b
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	call := func(method, path string, body any) (int, map[string]any) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, org.URL+path, rd)
		req.Header.Set("Authorization", "SSWS "+org.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := org.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	create := map[string]any{"name": "idsync", "events": map[string]any{"type": "EVENT_TYPE", "items": []string{"user.lifecycle.suspend"}},
		"channel": map[string]any{"type": "HTTP", "version": "1.0.0", "config": map[string]any{"uri": hook.URL,
			"authScheme": map[string]any{"type": "HEADER", "key": "Authorization", "value": "hook-secret"}}}}
	status, m := call(http.MethodPost, "/api/v1/eventHooks", create)
	if status != http.StatusOK || m["verificationStatus"] != "UNVERIFIED" {
		t.Fatalf("create: %d %v", status, m)
	}
	id := m["id"].(string)
	// Unverified: no deliveries.
	org.Suspend(sample.Users["bob"])
	if status, m := call(http.MethodPost, "/api/v1/eventHooks/"+id+"/lifecycle/verify", nil); status != http.StatusOK || m["verificationStatus"] != "VERIFIED" {
		t.Fatalf("verify: %d %v", status, m)
	}
	org.Suspend(sample.Users["carol"])
	select {
	case b := <-got:
		var d struct {
			Data struct {
				Events []struct {
					EventType string `json:"eventType"`
				} `json:"events"`
			} `json:"data"`
		}
		json.Unmarshal(b, &d)
		if len(d.Data.Events) != 1 || d.Data.Events[0].EventType != "user.lifecycle.suspend" {
			t.Errorf("delivery %s (the suspension before verification must not be in it)", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery")
	}
	if status, _ := call(http.MethodDelete, "/api/v1/eventHooks/"+id, nil); status != http.StatusBadRequest {
		t.Errorf("delete of an active hook: %d, want 400", status)
	}
	call(http.MethodPost, "/api/v1/eventHooks/"+id+"/lifecycle/deactivate", nil)
	if status, _ := call(http.MethodDelete, "/api/v1/eventHooks/"+id, nil); status != http.StatusNoContent {
		t.Errorf("delete: %d", status)
	}
	if len(org.EventHooks()) != 0 {
		t.Errorf("hooks left")
	}
}
