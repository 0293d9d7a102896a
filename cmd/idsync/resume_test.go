package main

import (
	"context"
	"errors"
	"fmt"
	stdsync "sync"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/sync"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// usersSource answers every pull with the same users, a page of ten at a time.
type usersSource []idsync.User

func (s usersSource) Pull(ctx context.Context, cursor string, emit func([]idsync.Change) error) (string, bool, error) {
	for i := 0; i < len(s); i += 10 {
		var page []idsync.Change
		for _, u := range s[i:min(i+10, len(s))] {
			page = append(page, idsync.UserChange(u))
		}
		if err := emit(page); err != nil {
			return "", false, err
		}
	}
	return "c", true, nil
}

// TestCrashMidApplyWithSCIMClient is the engine's crash-resume test with
// the real SCIM client against scimtest (it lives here because only cmd may
// know both the engine and a concrete target): the run is cut off after K
// of N creates, one of them written by the workspace but never answered; a
// new engine on the same database resumes, and the workspace ends with
// exactly the expected users, no duplicates, an empty outbox.
func TestCrashMidApplyWithSCIMClient(t *testing.T) {
	const n, k = 60, 17
	ws := scimtest.NewServer(scimtest.Options{Token: "t0ken", Preset: "whale", Strict: true})
	defer ws.Close()
	client, err := scim.New(scim.Config{URL: ws.URL, Token: "t0ken", Preset: "whale", RateLimit: scim.Rate(0), Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	var src usersSource
	for i := range n {
		name := fmt.Sprintf("user%02d@acme.test", i)
		src = append(src, idsync.User{ID: fmt.Sprintf("u%02d", i), UserName: name, GivenName: "G", FamilyName: "F", Status: idsync.StatusActive})
	}
	conn := &sync.Connection{Name: "acme", SourceType: "entra", Source: src, Target: client,
		Policy: sync.Policy{Deprovision: sync.DefaultDeprovision}} // Whale takes no roles
	path := t.TempDir() + "/idsync.db"
	engine := func() (*sync.Engine, *state.Store) {
		st, err := state.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return sync.New(st, nil), st
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
				ws.Inject(scimtest.Fault{Kind: scimtest.FaultDropAfter, Count: 1, Method: "POST"})
			}
		}
	})
	e1, st1 := engine()
	res, err := e1.Run(ctx, conn, sync.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run error = %v", err)
	}
	ws.OnRequest(nil)
	st1.Close()
	if res.Applied >= n {
		t.Fatalf("the run was not cut off (applied %d)", res.Applied)
	}

	e2, st2 := engine() // as after a restart
	res2, err := e2.Run(context.Background(), conn, sync.Options{})
	if err != nil || res2.Failed != 0 || len(res2.Plan.Ops) != 0 || res2.Resumed+res.Applied < n {
		t.Fatalf("resume: %v; first run applied %d, resume applied %d (failed %d), new plan %d ops", err, res.Applied, res2.Resumed, res2.Failed, len(res2.Plan.Ops))
	}
	seen := map[string]bool{}
	for _, u := range ws.Users() {
		if seen[u.UserName] {
			t.Fatalf("duplicate account %s", u.UserName)
		}
		seen[u.UserName] = true
		if !u.Active || u.Role() != "" || u.ExternalID == "" {
			t.Fatalf("account %+v", u)
		}
	}
	var applied map[string]state.AppliedUser
	var pending int
	st2.View(context.Background(), func(tx *state.Tx) (err error) {
		if applied, err = tx.AppliedUsers("acme", nil); err != nil {
			return err
		}
		pending, err = tx.OutboxLen("acme")
		return err
	})
	if len(seen) != n || len(applied) != n || pending != 0 {
		t.Fatalf("workspace %d accounts, applied state %d, outbox %d; want %d, %d, 0", len(seen), len(applied), pending, n, n)
	}
	if res, err := e2.Run(context.Background(), conn, sync.Options{Full: true}); err != nil || len(res.Plan.Ops) != 0 {
		t.Fatalf("after resume a full run: %v, %d ops planned", err, len(res.Plan.Ops))
	}
}
