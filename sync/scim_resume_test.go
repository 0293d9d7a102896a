package sync

import (
	"context"
	"errors"
	"fmt"
	stdsync "sync"
	"testing"

	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// TestCrashMidApplyWithSCIMClient repeats the crash-resume test with the
// real SCIM client against scimtest: the run is cut off after K of N
// creates (one of them written by the workspace but never answered), a new
// engine resumes, and the workspace ends with exactly the expected users.
func TestCrashMidApplyWithSCIMClient(t *testing.T) {
	const n, k = 60, 17
	ws := scimtest.NewServer(scimtest.Options{Token: "t0ken", Preset: "whale", Strict: true})
	defer ws.Close()
	client, err := scim.New(scim.Config{URL: ws.URL, Token: "t0ken", Preset: "whale", RateLimit: scim.Rate(0), Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Policy{DefaultRole: "reader"})
	h.conn.Target = client
	for i := range n {
		h.src.user(fmt.Sprintf("u%02d", i), fmt.Sprintf("user%02d", i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu stdsync.Mutex
	posts := 0
	ws.OnRequest(func(r scimtest.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Fault == string(scimtest.FaultDropAfter):
			cancel() // the crash comes right after a write whose answer was lost
		case r.Method == "POST" && r.Status == 201:
			if posts++; posts == k {
				// The next create is stored but its answer is lost, as in a crash between write and record.
				ws.Inject(scimtest.Fault{Kind: scimtest.FaultDropAfter, Count: 1, Method: "POST"})
			}
		}
	})
	res, err := h.engine.Run(ctx, h.conn, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run error = %v", err)
	}
	ws.OnRequest(nil)
	dropped := 0
	for _, r := range ws.Requests() {
		if r.Fault == string(scimtest.FaultDropAfter) {
			dropped++
		}
	}
	if dropped != 1 {
		t.Fatalf("%d creates were written without an answer, want 1", dropped)
	}
	if res.Applied >= n {
		t.Fatalf("the run was not cut off (applied %d)", res.Applied)
	}

	h.open() // a new engine on the same file
	res2 := h.run(Options{})
	if res2.Resumed+res.Applied+res2.Failed < n || res2.Failed != 0 || len(res2.Plan.Ops) != 0 {
		t.Fatalf("first run applied %d; resume applied %d (failed %d), new plan %q", res.Applied, res2.Resumed, res2.Failed, ops(res2.Plan))
	}
	users := ws.Users()
	seen := map[string]bool{}
	for _, u := range users {
		if seen[u.UserName] {
			t.Fatalf("duplicate account %s", u.UserName)
		}
		seen[u.UserName] = true
		if !u.Active || u.Role() != "reader" {
			t.Fatalf("account %+v", u)
		}
	}
	if len(users) != n || len(h.applied()) != n {
		t.Fatalf("workspace holds %d accounts, applied state %d; want %d", len(users), len(h.applied()), n)
	}
	var pending int
	h.store.View(context.Background(), func(tx *state.Tx) (err error) { pending, err = tx.OutboxLen("acme"); return err })
	if pending != 0 {
		t.Fatalf("outbox holds %d ops", pending)
	}
	// And a later run plans nothing: applied state and workspace agree.
	if res := h.run(Options{Full: true}); len(res.Plan.Ops) != 0 {
		t.Fatalf("after resume a full run plans %q", ops(res.Plan))
	}
}
