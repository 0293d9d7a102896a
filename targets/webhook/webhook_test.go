package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets"
	"github.com/idsync/idsync/targets/webhook"
)

const secret = "0123456789abcdef-hook-secret"

// receiver is a webhook endpoint the way the README tells people to write
// one: verify the raw body, drop repeats by event id.
type receiver struct {
	mu        stdsync.Mutex
	fail      int // answer the next fail deliveries with status
	status    int
	after     string
	seen      map[string]bool
	events    []webhook.Event
	delivered int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := webhook.Verify([]byte(secret), r.Header.Get(webhook.SignatureHeader), body, 0); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.delivered++
	if rc.fail > 0 {
		rc.fail--
		if rc.after != "" {
			w.Header().Set("Retry-After", rc.after)
		}
		w.WriteHeader(rc.status)
		return
	}
	var e webhook.Event
	if err := json.Unmarshal(body, &e); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !rc.seen[e.ID] {
		rc.seen[e.ID] = true
		rc.events = append(rc.events, e)
	}
	w.WriteHeader(http.StatusNoContent)
}

func newReceiver(t *testing.T) (*receiver, *webhook.Target) {
	t.Helper()
	rc := &receiver{seen: map[string]bool{}}
	hs := httptest.NewServer(rc)
	t.Cleanup(hs.Close)
	tg, err := webhook.New(webhook.Config{URL: hs.URL + "/hooks/idsync", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return rc, tg
}

func deliver(t *testing.T, tg *webhook.Target, op idsync.Op) (idsync.Applied, []time.Duration, error) {
	t.Helper()
	var waits []time.Duration
	var got idsync.Applied
	b := targets.Backoff{Attempts: 6, Sleep: func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}}
	err := b.Retry(t.Context(), func() error {
		var err error
		got, err = tg.Apply(t.Context(), op)
		return err
	})
	return got, waits, err
}

func TestEveryOpKindIsDelivered(t *testing.T) {
	rc, tg := newReceiver(t)
	a := &idsync.Account{ExternalID: "u1", UserName: "ann@example.com", Active: true, Role: "admin"}
	g := &idsync.GroupAccount{ExternalID: "g1", DisplayName: "Ops", Members: []string{"u1", "u2"}}
	ops := []struct {
		op   idsync.Op
		want string
	}{
		{idsync.Op{Kind: idsync.OpCreate, Account: a}, "user.created"},
		{idsync.Op{Kind: idsync.OpUpdate, Account: a, Prev: a, Changes: []idsync.FieldChange{{Field: "title", Old: "a", New: "b"}}}, "user.updated"},
		{idsync.Op{Kind: idsync.OpSetRole, Account: a, Prev: a}, "user.role_changed"},
		{idsync.Op{Kind: idsync.OpDisable, Account: a}, "user.disabled"},
		{idsync.Op{Kind: idsync.OpEnable, Account: a}, "user.enabled"},
		{idsync.Op{Kind: idsync.OpDelete, Prev: a}, "user.deleted"},
		{idsync.Op{Kind: idsync.OpGroupCreate, Group: g}, "group.created"},
		{idsync.Op{Kind: idsync.OpGroupUpdate, Group: g, PrevGroup: g}, "group.updated"},
		{idsync.Op{Kind: idsync.OpMemberAdd, Group: g, Members: []idsync.Member{{ExternalID: "u2"}}}, "group.member_added"},
		{idsync.Op{Kind: idsync.OpMemberRemove, Group: g, Members: []idsync.Member{{ExternalID: "u2"}}}, "group.member_removed"},
		{idsync.Op{Kind: idsync.OpGroupDelete, PrevGroup: g}, "group.deleted"},
	}
	for i, tt := range ops {
		t.Run(tt.want, func(t *testing.T) {
			tt.op.ID = "op-" + strconv.Itoa(i)
			tt.op.Connection = "globex"
			tt.op.ObjectID = "obj-" + strconv.Itoa(i)
			got, _, err := deliver(t, tg, tt.op)
			if err != nil {
				t.Fatal(err)
			}
			e := rc.events[len(rc.events)-1]
			if e.Type != tt.want || e.ID != tt.op.ID || e.Connection != "globex" || e.ObjectID != tt.op.ObjectID || e.Occurred.IsZero() {
				t.Errorf("event = %+v", e)
			}
			deleted := strings.HasSuffix(tt.want, ".deleted")
			if deleted != (got.TargetID == "") {
				t.Errorf("TargetID = %q after %s", got.TargetID, tt.want)
			}
			if strings.HasPrefix(tt.want, "group.member") && (len(e.Members) != 1 || e.Group.Members != nil) {
				t.Errorf("member event members %v, group members %v", e.Members, e.Group.Members)
			}
		})
	}
}

// 503s and 429s are retried until delivered; the receiver sees the same
// event id on every delivery and keeps the event once.
func TestRetriesDeliverAtLeastOnce(t *testing.T) {
	tests := []struct {
		name, after string
		status      int
		wantWait    time.Duration
	}{
		{"503 burst", "", http.StatusServiceUnavailable, 0},
		{"429 with Retry-After", "4", http.StatusTooManyRequests, 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, tg := newReceiver(t)
			rc.fail, rc.status, rc.after = 3, tt.status, tt.after
			op := idsync.Op{ID: "op-42", Kind: idsync.OpCreate, Account: &idsync.Account{ExternalID: "u1", UserName: "bo@example.com", Active: true}}
			_, waits, err := deliver(t, tg, op)
			if err != nil {
				t.Fatal(err)
			}
			// The engine crashed before recording success: the op is applied again.
			if _, _, err := deliver(t, tg, op); err != nil {
				t.Fatal(err)
			}
			if rc.delivered != 5 || len(rc.events) != 1 || rc.events[0].ID != "op-42" {
				t.Errorf("delivered %d times, kept %d events: want 5 deliveries, 1 event", rc.delivered, len(rc.events))
			}
			if len(waits) != 3 || (tt.wantWait > 0 && waits[0] != tt.wantWait) {
				t.Errorf("waits = %v", waits)
			}
		})
	}
}

func TestDeliveryErrors(t *testing.T) {
	t.Run("wrong secret is unauthorized, once", func(t *testing.T) {
		rc, _ := newReceiver(t)
		hs := httptest.NewServer(rc)
		defer hs.Close()
		tg, err := webhook.New(webhook.Config{URL: hs.URL, Secret: "another-secret-0123456789"})
		if err != nil {
			t.Fatal(err)
		}
		_, waits, err := deliver(t, tg, idsync.Op{ID: "x", Kind: idsync.OpDelete})
		if !errors.Is(err, targets.ErrUnauthorized) || len(waits) != 0 {
			t.Fatalf("err = %v after %d retries", err, len(waits))
		}
		if !strings.Contains(err.Error(), "target.secret") || strings.Contains(err.Error(), "another-secret") {
			t.Errorf("error %q", err)
		}
	})
	t.Run("400 is permanent", func(t *testing.T) {
		rc, tg := newReceiver(t)
		rc.fail, rc.status = 1, http.StatusBadRequest
		_, waits, err := deliver(t, tg, idsync.Op{ID: "x", Kind: idsync.OpDelete})
		if ok, _ := targets.Retryable(err); ok || err == nil || len(waits) != 0 {
			t.Fatalf("err = %v, waits %v", err, waits)
		}
	})
	t.Run("timeout is retryable", func(t *testing.T) {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body) // so the server notices the client hanging up
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		}))
		defer hs.Close()
		tg, _ := webhook.New(webhook.Config{URL: hs.URL, Secret: secret, Timeout: 50 * time.Millisecond})
		_, err := tg.Apply(t.Context(), idsync.Op{ID: "x", Kind: idsync.OpDelete})
		if ok, _ := targets.Retryable(err); !ok {
			t.Fatalf("err = %v, want retryable", err)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  webhook.Config
		want string
	}{
		{"no url", webhook.Config{Secret: secret}, "url: required"},
		{"plain http", webhook.Config{URL: "http://hooks.example.com/x", Secret: secret}, "url: must be https"},
		{"no secret", webhook.Config{URL: "https://hooks.example.com/x"}, "secret: required"},
		{"short secret", webhook.Config{URL: "https://hooks.example.com/x", Secret: "short"}, "secret: must be at least 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := webhook.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "short\"") || strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"op-1","type":"user.created"}`)
	now := time.Now()
	good := webhook.Sign([]byte(secret), now, body)
	tests := []struct {
		name   string
		header string
		body   []byte
		want   error
	}{
		{"valid", good, body, nil},
		{"tampered body", good, []byte(`{"id":"op-1","type":"user.deleted"}`), webhook.ErrSignatureMismatch},
		{"wrong secret", webhook.Sign([]byte("other-secret-value"), now, body), body, webhook.ErrSignatureMismatch},
		{"replayed after 10 minutes", webhook.Sign([]byte(secret), now.Add(-10*time.Minute), body), body, webhook.ErrTimestampOutOfRange},
		{"timestamp from the future", webhook.Sign([]byte(secret), now.Add(10*time.Minute), body), body, webhook.ErrTimestampOutOfRange},
		{"timestamp changed", "t=" + strconv.FormatInt(now.Unix()+1, 10) + "," + strings.Split(good, ",")[1], body, webhook.ErrSignatureMismatch},
		{"missing", "", body, webhook.ErrNoSignature},
		{"malformed", "v1=abc", body, webhook.ErrNoSignature},
		{"rotated secret: one of two v1 matches", good + ",v1=" + strings.Repeat("0", 64), body, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.Verify([]byte(secret), tt.header, tt.body, 5*time.Minute)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

// A receiver whose secret variable is unset calls Verify with an empty
// secret: anyone can sign with that, so a forged request used to pass.
func TestVerifyEmptySecretRefusesForgedSignature(t *testing.T) {
	body := []byte(`{"id":"op-1","type":"user.deleted"}`)
	forged := webhook.Sign(nil, time.Now(), body)
	for _, empty := range [][]byte{nil, {}} {
		if err := webhook.Verify(empty, forged, body, 0); !errors.Is(err, webhook.ErrNoSecret) {
			t.Fatalf("Verify(%q) = %v, want ErrNoSecret", empty, err)
		}
	}
}

// The README tells receivers without Go to check signatures with openssl;
// this runs exactly that recipe.
func TestSignatureMatchesOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	body := []byte(`{"id":"op-1","type":"user.created","user":{"userName":"a@example.com"}}`)
	header := webhook.Sign([]byte(secret), time.Unix(1700000000, 0), body)
	ts := strings.TrimPrefix(strings.Split(header, ",")[0], "t=")
	cmd := exec.Command("openssl", "dgst", "-sha256", "-hmac", secret)
	cmd.Stdin = strings.NewReader(ts + "." + string(body))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(out))
	if want := "v1=" + fields[len(fields)-1]; !strings.HasSuffix(header, want) {
		t.Errorf("header %q, openssl says %q", header, want)
	}
}
