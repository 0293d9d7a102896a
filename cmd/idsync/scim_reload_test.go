package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idsync/idsync/config"
	pushscim "github.com/idsync/idsync/sources/scim"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/sync"
)

// TestListenerReloadRemovesAConnectionMidRequest: a reload removes push
// connection a while a write to it is in flight. The write finishes (it
// was authenticated), later requests get 401, nothing triggers a run of
// the gone connection, and when a reload brings a back, it serves what
// was written, the in-flight write included.
func TestListenerReloadRemovesAConnectionMidRequest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := state.Open(ctx, t.TempDir()+"/idsync.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	withA := func() *app {
		cfg := pushscim.DefaultConfig()
		cfg.MaxConcurrent, cfg.QueueWait = 1, 0 // a 503 shows the write holds the slot
		src, _ := pushscim.Open(cfg)
		return &app{cfg: &config.Config{}, store: st, log: slog.New(slog.DiscardHandler),
			byName: map[string]*sync.Connection{"a": {Name: "a", SourceType: "scim", Source: src}}}
	}
	var cur atomic.Pointer[app]
	cur.Store(withA())
	var triggers atomic.Int64
	mux := http.NewServeMux()
	mountSCIM(ctx, mux, cur.Load(), daemonHTTP{app: cur.Load, trigger: func(conn, _ string) bool {
		_, ok := cur.Load().byName[conn]
		if ok {
			triggers.Add(1)
		}
		return ok
	}})
	addr := serveTest(t, mux)
	secret, hash, _ := newToken()
	st.Update(ctx, func(tx *state.Tx) error { return tx.CreateToken(&state.Token{Connection: "a", Name: "t", Hash: hash}) })
	call := func(method, path string, body io.Reader) (int, map[string]any) {
		req, _ := http.NewRequest(method, "http://"+addr+"/scim/v2/a"+path, body)
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() { code, _ := call("POST", "/Users", pr); done <- code }()
	pw.Write([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],`))
	waitFor(t, "the write in flight", func() bool {
		code, _ := call("GET", "/Users", nil)
		return code == http.StatusServiceUnavailable
	})
	cur.Store(&app{cfg: &config.Config{}, store: st, log: slog.New(slog.DiscardHandler), byName: map[string]*sync.Connection{}})
	pw.Write([]byte(`"userName":"inflight@a.test"}`))
	pw.Close()
	if code := <-done; code != http.StatusCreated {
		t.Fatalf("the write in flight: %d", code)
	}
	if n := triggers.Load(); n != 0 {
		t.Errorf("%d runs triggered for a removed connection", n)
	}
	if code, _ := call("GET", "/Users", nil); code != http.StatusUnauthorized {
		t.Fatalf("the removed connection: %d", code)
	}
	cur.Store(withA())
	code, list := call("GET", `/Users?filter=userName%20eq%20%22inflight@a.test%22`, nil)
	if code != http.StatusOK || list["totalResults"] != float64(1) {
		t.Fatalf("back after the reload: %d %v", code, list)
	}
	if code, _ := call("POST", "/Users", strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"INFLIGHT@a.test"}`)); code != http.StatusConflict {
		t.Fatalf("the userName written while removed, again: %d, want 409", code)
	}
}
