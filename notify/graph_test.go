package notify

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/sources/entra/entratest"
)

func TestGraphValidationHandshake(t *testing.T) {
	r := newGraphRig(t)
	for _, path := range []string{"/notify/acme/graph", "/notify/acme/graph/lifecycle"} {
		tok := "Validation: Testing client application reachability <&> " + path
		resp, err := http.Post(r.srv.URL+path+"?validationToken="+url.QueryEscape(tok), "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != tok || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("%s: %d %q %q, want 200 text/plain echo", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	resp, err := http.Post(r.srv.URL+"/notify/nobody/graph?validationToken=x", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown connection: %d, want 404", resp.StatusCode)
	}
}

func TestGraphSubscriptionsCreatedValidatedAndStoredHashed(t *testing.T) {
	r := newGraphRig(t)
	if err := r.svc.Reconcile(r.ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	got := r.tenant.Subscriptions()
	if len(got) != 2 {
		t.Fatalf("tenant has %d subscriptions, want users and groups", len(got))
	}
	stored := r.subs(t)
	if len(stored) != 2 {
		t.Fatalf("state has %d subscriptions", len(stored))
	}
	for i, sub := range got {
		if sub.ChangeType != "updated,deleted" || sub.LifecycleURL == "" || sub.ClientState == "" {
			t.Errorf("subscription %+v", sub)
		}
		if exp := time.Until(sub.Expires); exp <= 0 || exp > entratest.MaxSubscriptionLifetime {
			t.Errorf("expiry in %s: outside Graph's maximum", exp)
		}
		for _, s := range stored {
			if s.SecretHash == sub.ClientState || strings.Contains(s.SecretHash, sub.ClientState) {
				t.Errorf("the clientState is stored as is")
			}
		}
		if i > 0 && sub.ClientState == got[0].ClientState {
			t.Errorf("two subscriptions share a clientState")
		}
	}
	// Idempotent: nothing new while both are fresh.
	if err := r.svc.Reconcile(r.ctx, "acme", true); err != nil {
		t.Fatal(err)
	}
	if n := len(r.tenant.Subscriptions()); n != 2 {
		t.Errorf("after a second reconcile: %d subscriptions", n)
	}
}

func TestGraphNotificationTriggersAPull(t *testing.T) {
	r := newGraphRig(t)
	r.svc.Start(r.ctx)
	if err := r.svc.Reconcile(r.ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	id, _ := r.tenant.UserID("alice.archer@" + entratest.SampleDomain)
	if err := r.tenant.UpdateUser(id, func(u *entratest.User) { u.JobTitle = "CTO" }); err != nil {
		t.Fatal(err)
	}
	if got := r.trig.wait(t, "after a user changed"); got != "graph change notification" {
		t.Errorf("reason %q", got)
	}
	c := r.svc.Counts()["acme"]
	if c.Accepted == 0 || c.Rejected != 0 {
		t.Errorf("counts %+v", c)
	}
}

func postJSON(t *testing.T, u string, v any) int {
	t.Helper()
	b, _ := json.Marshal(v)
	resp, err := http.Post(u, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestGraphForgedClientStateIgnored(t *testing.T) {
	r := newGraphRig(t)
	r.svc.Start(r.ctx)
	if err := r.svc.Reconcile(r.ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	sub := r.tenant.Subscriptions()[0]
	forged := func(id, state string) map[string]any {
		return map[string]any{"value": []any{map[string]any{"subscriptionId": id, "clientState": state,
			"changeType": "updated", "resource": "Users/x"}}}
	}
	for _, body := range []map[string]any{
		forged(sub.ID, sub.ClientState+"x"), // wrong clientState
		forged(sub.ID, ""),                  // none
		forged("00000000-0000-0000-0000-000000000000", sub.ClientState), // another subscription's id
	} {
		if code := postJSON(t, r.srv.URL+"/notify/acme/graph", body); code != http.StatusAccepted {
			t.Errorf("answered %d, want 202 (always, at once)", code)
		}
	}
	eventually(t, "three rejections counted", func() bool { return r.svc.Counts()["acme"].Rejected == 3 })
	// The genuine one afterwards is the only trigger.
	if code := postJSON(t, r.srv.URL+"/notify/acme/graph", forged(sub.ID, sub.ClientState)); code != http.StatusAccepted {
		t.Fatalf("answered %d", code)
	}
	r.trig.wait(t, "the genuine notification")
	r.trig.mu.Lock()
	n := len(r.trig.reasons)
	r.trig.mu.Unlock()
	if n != 1 {
		t.Errorf("%d triggers, want 1 (forged ones ignored)", n)
	}
}

func TestGraphRenewalBeforeExpiry(t *testing.T) {
	r := newGraphRig(t)
	if err := r.svc.Reconcile(r.ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	before := r.tenant.Subscriptions()
	// Not due yet: nothing renewed.
	r.clock.Add(r.svc.Lifetime - r.svc.RenewBefore - time.Hour)
	if err := r.svc.Reconcile(r.ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	for i, s := range r.tenant.Subscriptions() {
		if !s.Expires.Equal(before[i].Expires) {
			t.Fatalf("renewed %s before it was due", s.ID)
		}
	}
	// Due: renewed (PATCH), same ids, later expiry, still before the old one ran out.
	r.clock.Add(2 * time.Hour)
	if err := r.svc.Reconcile(r.ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	after := r.tenant.Subscriptions()
	for i, s := range after {
		if s.ID != before[i].ID || !s.Expires.After(before[i].Expires) {
			t.Errorf("subscription %s: expiry %s → %s, want renewed in place", s.ID, before[i].Expires, s.Expires)
		}
	}
	for _, s := range r.subs(t) {
		if s.RenewedAt.IsZero() {
			t.Errorf("state: %s not marked renewed", s.ID)
		}
	}
}

func TestGraphLifecycleEvents(t *testing.T) {
	r := newGraphRig(t)
	r.svc.Start(r.ctx)
	if err := r.svc.Reconcile(r.ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	subs := r.tenant.Subscriptions()

	t.Run("subscriptionRemoved recreates", func(t *testing.T) {
		gone := subs[0]
		if err := r.tenant.SendLifecycle(gone.ID, "subscriptionRemoved"); err != nil {
			t.Fatal(err)
		}
		if got := r.trig.wait(t, "subscriptionRemoved"); got != "graph lifecycle: subscriptionRemoved" {
			t.Errorf("reason %q", got)
		}
		eventually(t, "a new subscription on "+gone.Resource, func() bool {
			for _, s := range r.tenant.Subscriptions() {
				if s.Resource == gone.Resource && s.ID != gone.ID {
					return true
				}
			}
			return false
		})
		for _, s := range r.subs(t) {
			if s.ID == gone.ID {
				t.Errorf("state still has the removed subscription")
			}
		}
	})
	t.Run("reauthorizationRequired renews", func(t *testing.T) {
		sub := r.tenant.Subscriptions()[0]
		r.clock.Add(time.Hour) // the renewal asks for a later expiry
		if err := r.tenant.SendLifecycle(sub.ID, "reauthorizationRequired"); err != nil {
			t.Fatal(err)
		}
		r.trig.wait(t, "reauthorizationRequired")
		eventually(t, "renewed", func() bool {
			for _, s := range r.tenant.Subscriptions() {
				if s.ID == sub.ID && s.Expires.After(sub.Expires) {
					return true
				}
			}
			return false
		})
	})
	t.Run("missed pulls", func(t *testing.T) {
		sub := r.tenant.Subscriptions()[0]
		if err := r.tenant.SendLifecycle(sub.ID, "missed"); err != nil {
			t.Fatal(err)
		}
		if got := r.trig.wait(t, "missed"); got != "graph lifecycle: missed" {
			t.Errorf("reason %q", got)
		}
	})
	t.Run("lost without notice is recreated on verify", func(t *testing.T) {
		sub := r.tenant.Subscriptions()[0]
		r.tenant.RemoveSubscription(sub.ID)
		if err := r.svc.Reconcile(r.ctx, "acme", true); err != nil {
			t.Fatal(err)
		}
		if n := len(r.tenant.Subscriptions()); n != 2 {
			t.Errorf("%d subscriptions, want 2", n)
		}
	})
}

func TestGraphNotifyOffDeletes(t *testing.T) {
	r := newGraphRig(t)
	if err := r.svc.Reconcile(r.ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	done, err := r.svc.Off(r.ctx, "acme")
	if err != nil || len(done) != 2 {
		t.Fatalf("off: %v, %d deleted", err, len(done))
	}
	if n := len(r.tenant.Subscriptions()); n != 0 {
		t.Errorf("tenant still has %d subscriptions", n)
	}
	if err := r.svc.Reconcile(r.ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	if n := len(r.tenant.Subscriptions()); n != 0 {
		t.Errorf("off, yet %d subscriptions were created", n)
	}
	if err := r.svc.On(r.ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if err := r.svc.Reconcile(r.ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	if n := len(r.tenant.Subscriptions()); n != 2 {
		t.Errorf("on again: %d subscriptions", n)
	}
}

// A changed notify.public_url: the subscriptions delivering to the old URL
// are deleted and new ones made for the new URL.
func TestGraphPublicURLChangeResubscribes(t *testing.T) {
	r := newGraphRig(t)
	if err := r.svc.Reconcile(r.ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	old := r.tenant.Subscriptions()
	// The same server under another path prefix (as a proxy would map it).
	mux := http.NewServeMux()
	mux.Handle("/v2/", http.StripPrefix("/v2", r.svc))
	srv2 := httptest.NewServer(mux)
	defer srv2.Close()
	r.svc.mu.Lock()
	cs := r.svc.conns["acme"]
	r.svc.mu.Unlock()
	cs.NotificationURL, cs.LifecycleURL = srv2.URL+"/v2/notify/acme/graph", srv2.URL+"/v2/notify/acme/graph/lifecycle"
	if err := r.svc.Reconcile(r.ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	now := r.tenant.Subscriptions()
	if len(now) != 2 {
		t.Fatalf("%d subscriptions", len(now))
	}
	for _, s := range now {
		if s.NotificationURL != cs.NotificationURL {
			t.Errorf("subscription %s delivers to %s", s.ID, s.NotificationURL)
		}
		for _, o := range old {
			if o.ID == s.ID {
				t.Errorf("old subscription %s kept", s.ID)
			}
		}
	}
}
