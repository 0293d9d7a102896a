package entratest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/idsync/idsync/sources/entra/entratest"
)

// subscriber is a notification endpoint: it echoes validation tokens
// (unless broken) and hands each delivery's body to got.
func subscriber(t *testing.T, broken bool) (*httptest.Server, chan []byte) {
	t.Helper()
	got := make(chan []byte, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.URL.Query().Get("validationToken"); tok != "" {
			if broken {
				http.Error(w, "no", http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, tok)
			return
		}
		b, _ := io.ReadAll(r.Body)
		got <- b
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func (c *client) send(method, u string, body any) (int, map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, u, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestSubscriptionsCreateValidateNotify(t *testing.T) {
	c := newClient(t)
	c.srv.SetNotifyDelay(20 * time.Millisecond)
	sample := c.srv.LoadSample()
	sub, got := subscriber(t, false)
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	body := map[string]any{"changeType": "updated,deleted", "resource": "users", "notificationUrl": sub.URL + "/n",
		"lifecycleNotificationUrl": sub.URL + "/l", "expirationDateTime": exp, "clientState": "s3cret"}

	bad, _ := subscriber(t, true)
	for name, tc := range map[string]map[string]any{
		"validation fails": {"notificationUrl": bad.URL},
		"over the maximum": {"expirationDateTime": time.Now().Add(entratest.MaxSubscriptionLifetime + time.Hour).UTC().Format(time.RFC3339)},
		"created":          {"changeType": "created"},
	} {
		b := map[string]any{}
		for k, v := range body {
			b[k] = v
		}
		for k, v := range tc {
			b[k] = v
		}
		if status, _ := c.send(http.MethodPost, c.srv.GraphURL+"/subscriptions", b); status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, status)
		}
	}
	if n := len(c.srv.Subscriptions()); n != 0 {
		t.Fatalf("%d subscriptions after refusals", n)
	}

	status, m := c.send(http.MethodPost, c.srv.GraphURL+"/subscriptions", body)
	if status != http.StatusCreated || m["id"] == "" {
		t.Fatalf("create: %d %v", status, m)
	}
	id := m["id"].(string)
	c.srv.DisableUser(sample.Users["dave.diaz@"+entratest.SampleDomain])
	c.srv.AddGroup("Not subscribed", "") // groups: no subscription
	select {
	case b := <-got:
		var coll struct {
			Value []struct {
				SubscriptionID, ClientState, ChangeType, Resource string
			}
		}
		json.Unmarshal(b, &coll)
		if len(coll.Value) != 1 || coll.Value[0].SubscriptionID != id || coll.Value[0].ClientState != "s3cret" || coll.Value[0].ChangeType != "updated" {
			t.Errorf("notification %s", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
	}

	// Renew, read, delete.
	later := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	if status, m := c.send(http.MethodPatch, c.srv.GraphURL+"/subscriptions/"+id, map[string]any{"expirationDateTime": later}); status != http.StatusOK || m["expirationDateTime"] == exp {
		t.Errorf("renew: %d %v", status, m)
	}
	if status, _ := c.send(http.MethodDelete, c.srv.GraphURL+"/subscriptions/"+id, nil); status != http.StatusNoContent {
		t.Errorf("delete: %d", status)
	}
	if status, _ := c.send(http.MethodPatch, c.srv.GraphURL+"/subscriptions/"+id, map[string]any{"expirationDateTime": later}); status != http.StatusNotFound {
		t.Errorf("renew after delete: %d, want 404", status)
	}
}
