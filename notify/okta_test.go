package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/idsync/idsync/sources/okta"
	"github.com/idsync/idsync/sources/okta/oktatest"
	"github.com/idsync/idsync/state"
)

type oktaRig struct {
	org   *oktatest.Server
	svc   *Service
	srv   *httptest.Server
	trig  *triggers
	ctx   context.Context
	store *state.Store
	path  string // the state file
}

func newOktaRig(t *testing.T) *oktaRig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	org := oktatest.NewServer()
	org.LoadSample()
	src, err := okta.Open(ctx, okta.Config{OrgURL: org.URL, Token: org.Token, CAFile: org.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "idsync.db")
	store, err := state.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	r := &oktaRig{org: org, trig: &triggers{ch: make(chan string, 64)}, ctx: ctx, store: store, path: path}
	var conns []Conn
	r.svc = New(store, r.trig.trigger, func() (any, []Conn) { return 1, conns }, nil)
	r.srv = httptest.NewServer(r.svc)
	conns = []Conn{{Name: "globex", Okta: true, Hooks: src, HookURL: r.srv.URL + "/notify/globex/okta"}}
	r.svc.Start(ctx)
	t.Cleanup(func() {
		cancel()
		r.svc.Wait()
		r.srv.Close()
		org.Close()
		store.Close()
	})
	return r
}

func TestOktaRegisterVerifiesAndDelivers(t *testing.T) {
	r := newOktaRig(t)
	id, err := r.svc.RegisterOkta(r.ctx, "globex")
	if err != nil {
		t.Fatal(err)
	}
	hooks := r.org.EventHooks()
	if len(hooks) != 1 || hooks[0].ID != id || hooks[0].VerificationStatus != "VERIFIED" || hooks[0].AuthKey != "Authorization" {
		t.Fatalf("hooks %+v", hooks)
	}
	if c := r.svc.Counts()["globex"]; c.Validations != 1 {
		t.Errorf("verification challenges answered: %d", c.Validations)
	}
	var stored []state.NotifySubscription
	r.store.View(r.ctx, func(tx *state.Tx) error { stored, _ = tx.NotifySubscriptions("globex"); return nil })
	if len(stored) != 1 || stored[0].Status != StatusVerified || stored[0].SecretHash == hooks[0].AuthValue {
		t.Fatalf("state %+v", stored)
	}
	// A change in Okta is delivered and triggers a pull.
	r.org.CreateUser(oktatest.User{Login: "new.hire@globex.test", FirstName: "New", LastName: "Hire"})
	if got := r.trig.wait(t, "event hook delivery"); got != "okta event hook" {
		t.Errorf("reason %q", got)
	}
	eventually(t, "delivery answered", func() bool { ok, _ := r.org.HookDeliveries(); return ok > 0 })
	if _, failed := r.org.HookDeliveries(); failed != 0 {
		t.Errorf("%d deliveries failed", failed)
	}
	// notify off deactivates and deletes the hook.
	if _, err := r.svc.Off(r.ctx, "globex"); err != nil {
		t.Fatal(err)
	}
	if n := len(r.org.EventHooks()); n != 0 {
		t.Errorf("%d hooks left", n)
	}
}

func TestOktaWrongSecretIgnored(t *testing.T) {
	r := newOktaRig(t)
	if _, err := r.svc.RegisterOkta(r.ctx, "globex"); err != nil {
		t.Fatal(err)
	}
	secret := r.org.EventHooks()[0].AuthValue
	body, _ := json.Marshal(map[string]any{"data": map[string]any{"events": []any{map[string]any{"eventType": "user.lifecycle.create"}}}})
	send := func(auth, challenge, method string) int {
		req, _ := http.NewRequest(method, r.srv.URL+"/notify/globex/okta", bytes.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if challenge != "" {
			req.Header.Set("X-Okta-Verification-Challenge", challenge)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, auth := range []string{"", secret + "x", "Bearer " + secret, secret[:len(secret)-1]} {
		if code := send(auth, "", http.MethodPost); code != http.StatusUnauthorized {
			t.Errorf("delivery with a wrong secret: %d, want 401", code)
		}
		if code := send(auth, "c", http.MethodGet); code != http.StatusUnauthorized {
			t.Errorf("verification with a wrong secret: %d, want 401", code)
		}
	}
	if c := r.svc.Counts()["globex"]; c.Rejected != 8 || c.Triggers != 0 {
		t.Errorf("counts %+v: want 8 rejected, no trigger", c)
	}
	if code := send(secret, "", http.MethodPost); code != http.StatusNoContent {
		t.Errorf("genuine delivery: %d, want 204", code)
	}
	r.trig.wait(t, "genuine delivery")
}
