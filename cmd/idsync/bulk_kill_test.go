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
	e := newE2E(t, noLimits)
	e.ws.Close()
	e.ws = scimtest.NewServer(scimtest.Options{Token: demoToken, Preset: "generic", Strict: true, TLS: true, Bulk: true, BulkMaxOperations: 50})
	t.Cleanup(e.ws.Close)
	e.tenant.Close()
	e.tenant = entratest.NewServer()
	t.Cleanup(e.tenant.Close)
	e.tenant.Generate(users, 10)
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
			if bulks++; bulks == 3 {
				e.ws.Inject(scimtest.Fault{Kind: scimtest.FaultDropAfter, Count: 1, Method: "POST"})
			}
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// The kill comes while idsync waits to retry the request whose answer
	// was lost (a backoff of a quarter second at least).
	select {
	case <-lost:
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
	case err := <-done:
		t.Fatalf("idsync finished before the kill (%v)", err)
	}
	e.ws.OnRequest(nil)
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
