package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/config"
	pushscim "github.com/idsync/idsync/sources/scim"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/sync"
)

// listenerFixture is the daemon's listener with one push connection "a"
// configured by cfg, over a real state database, served on loopback.
type listenerFixture struct {
	t     *testing.T
	addr  string
	store *state.Store
	token string
	log   *lockedBuffer
}

func newListenerFixture(t *testing.T, cfg pushscim.Config) *listenerFixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := state.Open(ctx, t.TempDir()+"/idsync.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &listenerFixture{t: t, store: st, log: &lockedBuffer{}}
	src, err := pushscim.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := &app{cfg: &config.Config{HTTP: config.HTTP{Listen: "127.0.0.1:0"}}, store: st, log: slog.New(slog.NewTextHandler(f.log, nil)),
		byName: map[string]*sync.Connection{"a": {Name: "a", SourceType: "scim", Source: src}}}
	mux := http.NewServeMux()
	mountSCIM(ctx, mux, a, daemonHTTP{app: func() *app { return a }, trigger: func(string, string) bool { return true }})
	f.addr = serveTest(t, mux)
	secret, hash, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Update(ctx, func(tx *state.Tx) error {
		return tx.CreateToken(&state.Token{Connection: "a", Name: "t", Hash: hash})
	}); err != nil {
		t.Fatal(err)
	}
	f.token = secret
	return f
}

func (f *listenerFixture) do(method, path, token string, body io.Reader) *http.Response {
	f.t.Helper()
	req, _ := http.NewRequest(method, "http://"+f.addr+"/scim/v2/a"+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestListenerPerTokenRateLimit(t *testing.T) {
	cfg := pushscim.DefaultConfig()
	cfg.RateLimit = 0.001 // a burst of 1, the next one in 1000s
	f := newListenerFixture(t, cfg)
	if r := f.do("GET", "/Users", f.token, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("first: %d", r.StatusCode)
	}
	r := f.do("GET", "/Users", f.token, nil)
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("second: %d %v", r.StatusCode, r.Header)
	}
}

func TestListenerFailedAuthLimitPerAddress(t *testing.T) {
	f := newListenerFixture(t, pushscim.DefaultConfig())
	for i := range authFailBurst {
		if r := f.do("GET", "/Users", "wrong", nil); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, r.StatusCode)
		}
	}
	// The address is out of attempts: another wrong token waits, unlogged.
	r := f.do("GET", "/Users", "wrong", nil)
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("after %d failures: %d", authFailBurst, r.StatusCode)
	}
	// The right token is still served: behind a proxy (or a NAT, or the
	// IdP's shared egress) every client has the same address, and anyone's
	// garbage must not lock the IdP out of its own connection.
	if r := f.do("GET", "/Users", f.token, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("the right token from an address out of attempts: %d, want 200", r.StatusCode)
	}
	if log := f.log.String(); strings.Contains(log, "wrong") || strings.Count(log, "unknown token") != authFailBurst {
		t.Errorf("log:\n%s", log)
	}
}

func TestListenerBodyLimit(t *testing.T) {
	cfg := pushscim.DefaultConfig()
	cfg.MaxBody = 1024
	f := newListenerFixture(t, cfg)
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a@b.test","displayName":"` + strings.Repeat("x", 2000) + `"}`
	if r := f.do("POST", "/Users", f.token, strings.NewReader(body)); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 KiB body over a 1 KiB limit: %d", r.StatusCode)
	}
	var n int
	f.store.View(context.Background(), func(tx *state.Tx) error { st, err := tx.PushStats("a"); n = st.Users; return err })
	if n != 0 {
		t.Fatalf("%d users written", n)
	}
}

// TestListenerConcurrencyLimit: with max_concurrent 1 and no queue wait, a
// request that holds the only slot (its body still coming) makes the next
// one 503 with Retry-After.
func TestListenerConcurrencyLimit(t *testing.T) {
	cfg := pushscim.DefaultConfig()
	cfg.MaxConcurrent, cfg.QueueWait = 1, 0
	f := newListenerFixture(t, cfg)
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		req, _ := http.NewRequest("POST", "http://"+f.addr+"/scim/v2/a/Users", pr)
		req.Header.Set("Authorization", "Bearer "+f.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	pw.Write([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],`))
	var got *http.Response
	waitFor(t, "a 503 while the slot is held", func() bool {
		got = f.do("GET", "/Users", f.token, nil)
		return got.StatusCode == http.StatusServiceUnavailable
	})
	if got.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	pw.Write([]byte(`"userName":"slow@a.test"}`))
	pw.Close()
	if code := <-done; code != http.StatusCreated {
		t.Fatalf("the slow request: %d", code)
	}
	if r := f.do("GET", "/Users", f.token, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("after the slot is free: %d", r.StatusCode)
	}
}

func TestListenerExpiredToken(t *testing.T) {
	f := newListenerFixture(t, pushscim.DefaultConfig())
	secret, hash, _ := newToken()
	f.store.Update(context.Background(), func(tx *state.Tx) error {
		return tx.CreateToken(&state.Token{Connection: "a", Name: "old", Hash: hash, Expires: time.Now().Add(-time.Minute)})
	})
	tokensChanged.Add(1)
	if r := f.do("GET", "/Users", secret, nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("expired: %d", r.StatusCode)
	}
	if !strings.Contains(f.log.String(), "expired token old") {
		t.Errorf("log:\n%s", f.log.String())
	}
}
