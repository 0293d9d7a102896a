package main

import (
	"os"
	"strings"
	stdsync "sync"
	"syscall"
	"testing"

	"github.com/idsync/idsync/sources/entra/entratest"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// TestKilledMidBulkDuplicatesNothing: SIGKILL idsync right after the
// workspace carried out a Bulk request whose answer idsync never read (the
// accounts exist, idsync has no record of them), then run it again: the
// resumed run lists the workspace, adopts those accounts by externalId,
// and no one has two.
func TestKilledMidBulkDuplicatesNothing(t *testing.T) {
	const users = 500
	e, _ := newBulkE2E(t, users)
	killAfterLostBulk(t, e, 3)
	mid := len(e.ws.Users())
	e.must([]string{"sync"})
	got := e.workspace() // fails on duplicates
	// One generated user in 50 is disabled in Entra and gets no account.
	if enabled := users - users/50; len(got) != enabled {
		t.Fatalf("after resume: %d accounts, want %d; %d were there at the kill", len(got), enabled, mid)
	}
	if st := e.must([]string{"status", "--output", "json"}); !strings.Contains(st.stdout, `"ops_pending": 0`) {
		t.Fatalf("outbox not empty:\n%s", st.stdout)
	}
	t.Logf("killed after a lost Bulk answer with %d of %d accounts created", mid, users-users/50)
}

// newBulkE2E is a generated tenant of n users in ten groups, all in scope
// through Whale Users, and a strict Bulk workspace (50 ops a request);
// idsync sends one request at a time and has no safety limits.
func newBulkE2E(t *testing.T, n int) (*e2e, string) {
	e := newE2E(t, noLimits)
	e.ws.Close()
	e.ws = scimtest.NewServer(scimtest.Options{Token: demoToken, Preset: "generic", Strict: true, TLS: true, Bulk: true, BulkMaxOperations: 50})
	t.Cleanup(e.ws.Close)
	e.tenant.Close()
	e.tenant = entratest.NewServer()
	t.Cleanup(e.tenant.Close)
	e.tenant.Generate(n, 10)
	scope := e.tenant.AddGroup("Whale Users", "everyone")
	e.tenant.AddGroup("Whale Admins", "")
	e.tenant.AddGroup("Whale Writers", "")
	for g := range 10 {
		id, _ := e.tenant.GroupID(fmtGroup(g))
		e.tenant.AddMember(scope, id)
	}
	path, err := writeDemoConfig(e.dir, e.tenant, e.ws, "      rate_limit: 0\n      concurrency: 1\n")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	os.WriteFile(path, append(b, noLimits...), 0o600)
	e.config = path
	return e, scope
}

// killAfterLostBulk runs `idsync sync` and SIGKILLs it right after the
// workspace carried out its nth Bulk request, whose answer is lost: the
// kill comes while idsync waits to retry it (a backoff of a quarter second
// at least).
func killAfterLostBulk(t *testing.T, e *e2e, nth int) {
	t.Helper()
	cmd := execIdsync(e.config, "sync")
	var mu stdsync.Mutex
	bulks := 0
	lost := make(chan struct{}, 1)
	e.ws.OnRequest(func(r scimtest.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Fault == string(scimtest.FaultDropAfter):
			lost <- struct{}{}
		case r.Path == "/Bulk":
			if bulks++; bulks == nth {
				e.ws.Inject(scimtest.Fault{Kind: scimtest.FaultDropAfter, Count: 1, Method: "POST"})
			}
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-lost:
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
	case err := <-done:
		t.Fatalf("idsync finished before the kill (%v)", err)
	}
	e.ws.OnRequest(nil)
}

// TestKilledMidBulkDisablesHandsNothingOver: nine of ten groups leave the scope,
// so their people's accounts are disabled in Bulk; idsync is SIGKILLed
// after a Bulk answer is lost, and before it runs again an admin hands one
// of the accounts still to be disabled to someone else (another externalId
// and userName). The resumed run disables everyone who left, except that
// account, which keeps its new owner and stays active.
func TestKilledMidBulkDisablesHandsNothingOver(t *testing.T) {
	const users = 500
	e, scope := newBulkE2E(t, users)
	e.must([]string{"sync"})
	left := map[string]bool{} // Entra ids of the people in a group that left the scope
	for g := range 9 {
		id, _ := e.tenant.GroupID(fmtGroup(g))
		for _, m := range e.tenant.Members(id) {
			left[m] = true
		}
		if err := e.tenant.RemoveMember(scope, id); err != nil {
			t.Fatal(err)
		}
	}
	stays, _ := e.tenant.GroupID(fmtGroup(9))
	for _, m := range e.tenant.Members(stays) {
		delete(left, m) // still in scope through the last group
	}

	killAfterLostBulk(t, e, 3)

	handed := ""
	for _, u := range e.ws.Users() {
		if u.Active && left[u.ExternalID] {
			handed = u.ID
			e.ws.EditUser(u.ID, func(raw map[string]any) {
				raw["externalId"] = "someone-else"
				raw["userName"] = "someone.else@contoso.test"
			})
			break
		}
	}
	if handed == "" {
		t.Fatal("every account to disable was disabled before the kill; the test needs one left")
	}
	e.must([]string{"sync"})

	for _, u := range e.ws.Users() {
		switch {
		case u.ID == handed:
			if !u.Active || u.ExternalID != "someone-else" {
				t.Errorf("the account handed to someone else: active=%v externalId=%q, want active and kept", u.Active, u.ExternalID)
			}
		case left[u.ExternalID] && u.Active:
			t.Errorf("%s left the scope and is still active", u.UserName)
		case !left[u.ExternalID] && !u.Active:
			t.Errorf("%s is in scope and was disabled", u.UserName)
		}
	}
	if st := e.must([]string{"status", "--output", "json"}); !strings.Contains(st.stdout, `"ops_pending": 0`) {
		t.Fatalf("outbox not empty:\n%s", st.stdout)
	}
}
