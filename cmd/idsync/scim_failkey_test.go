package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/idsync/idsync/config"
	pushscim "github.com/idsync/idsync/sources/scim"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/sync"
)

// TestFailedAuthLimitCoversAnIPv6Prefix: one IPv6 client holds a /64 (2^64
// addresses): the failed-authentication budget is per /64, or every
// request from a fresh address gets a fresh budget (and its own log
// lines). The requests are handed to the listener with the addresses a
// loopback test cannot dial from.
func TestFailedAuthLimitCoversAnIPv6Prefix(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := state.Open(ctx, t.TempDir()+"/idsync.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	src, _ := pushscim.Open(pushscim.DefaultConfig())
	a := &app{cfg: &config.Config{}, store: st, log: slog.New(slog.DiscardHandler),
		byName: map[string]*sync.Connection{"a": {Name: "a", SourceType: "scim", Source: src}}}
	mux := http.NewServeMux()
	mountSCIM(ctx, mux, a, daemonHTTP{app: func() *app { return a }, trigger: func(string, string) bool { return true }})
	do := func(remote string) int {
		req := httptest.NewRequest("GET", "/scim/v2/a/Users", nil)
		req.RemoteAddr = remote
		req.Header.Set("Authorization", "Bearer wrong")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w.Code
	}
	for i := range authFailBurst {
		if code := do(fmt.Sprintf("[2001:db8:1:2::%x]:4000", i+1)); code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, code)
		}
	}
	if code := do("[2001:db8:1:2:ffff::1]:4000"); code != http.StatusTooManyRequests {
		t.Fatalf("another address of the same /64 after %d failures: %d, want 429", authFailBurst, code)
	}
	if code := do("[2001:db8:1:3::1]:4000"); code != http.StatusUnauthorized {
		t.Fatalf("another /64: %d, want 401", code)
	}
	if code := do("192.0.2.7:4000"); code != http.StatusUnauthorized {
		t.Fatalf("an IPv4 address: %d, want 401", code)
	}
}
