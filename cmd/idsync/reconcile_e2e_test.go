package main

import (
	"maps"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/idsync/idsync/sources/entra/entratest"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// Drift reconcile: the built binary against the emulated tenant and a
// strict workspace. A full read (or sync --reconcile) lists the workspace
// and puts back what was changed there by hand, through the plan.

const (
	alice = "alice.archer@contoso.test"
	bob   = "bob.baker@contoso.test"
	carol = "carol.chen@contoso.test"
	dave  = "dave.diaz@contoso.test"
)

// account is the workspace's account named name (the test fails without one).
func (e *e2e) account(name string) scimtest.User {
	e.t.Helper()
	u, ok := e.ws.UserByName(name)
	if !ok {
		e.t.Fatalf("no workspace account %s", name)
	}
	return u
}

// handEdit changes the workspace as an admin would behind idsync's back:
// carol's role admin → reader, bob disabled, dave deleted, alice's
// displayName changed. It returns the workspace as it is then.
func (e *e2e) handEdit() map[string]string {
	e.t.Helper()
	e.ws.EditUser(e.account(carol).ID, func(raw map[string]any) {
		raw["roles"] = []any{map[string]any{"value": "reader", "primary": true}}
	})
	e.ws.EditUser(e.account(bob).ID, func(raw map[string]any) { raw["active"] = false })
	e.ws.EditUser(e.account(alice).ID, func(raw map[string]any) { raw["displayName"] = "Hand Made" })
	if !e.ws.DeleteUser(e.account(dave).ID) {
		e.t.Fatal("delete dave")
	}
	want := maps.Clone(sampleWorkspace)
	want[carol] = "active=true role=reader"
	want[bob] = "active=false role=reader"
	delete(want, dave)
	if got := e.workspace(); !maps.Equal(got, want) {
		e.t.Fatalf("hand edits: workspace %v", got)
	}
	return want
}

var corrections = []string{
	"~ role", carol, "admin (changed in the workspace)",
	"+ enable", bob, "(disabled in the workspace)",
	"+ create", dave, "(deleted in the workspace)",
	`displayName: "Hand Made" → "Alice Archer" (changed in the workspace)`,
}

func TestReconcileCorrectsHandMadeChanges(t *testing.T) {
	e := newE2E(t, noLimits)
	e.must([]string{"sync"})
	drifted := e.handEdit()

	// An incremental run does not list the workspace: the drift stays.
	e.step("incremental", syncPlain, exitOK, nil, drifted, nil)
	// A dry run lists and shows the corrections, and applies none.
	e.step("dry run", []string{"sync", "--reconcile", "--dry-run", "--detailed-exitcode"}, exitChanges,
		append([]string{"listed 10 workspace accounts: 4 managed changed or deleted by hand, 0 unmanaged"}, corrections...), drifted, nil)
	// --reconcile corrects without a full read of the directory.
	e.step("reconcile", []string{"sync", "--reconcile", "--detailed-exitcode"}, exitChanges, corrections, drifted, sampleWorkspace)
	if u := e.account(alice); u.DisplayName != "Alice Archer" {
		t.Fatalf("alice's displayName after reconcile: %q", u.DisplayName)
	}
	// The corrected workspace is what idsync applied: nothing more to do.
	e.step("reconcile again", []string{"sync", "--reconcile", "--detailed-exitcode"}, exitOK,
		[]string{"listed 11 workspace accounts: 0 managed changed or deleted by hand, 0 unmanaged"}, drifted, sampleWorkspace)

	// Every full read reconciles too.
	drifted = e.handEdit()
	e.step("full", syncFull, exitChanges, corrections, drifted, sampleWorkspace)
	e.step("full again", syncFull, exitOK, nil, drifted, sampleWorkspace)

	r := e.must([]string{"log", "--connection", "contoso"})
	for _, s := range []string{"drift", "deleted in the workspace: corrected by this run's plan", "changed in the workspace"} {
		if !strings.Contains(r.stdout, s) {
			t.Fatalf("log lacks %q:\n%s", s, r.stdout)
		}
	}
}

func TestReconcileReportsUnmanagedAndLeavesThemAlone(t *testing.T) {
	e := newE2E(t, noLimits)
	e.must([]string{"sync"})
	e.ws.AddUser(scimtest.User{UserName: "intruder@contoso.test", Active: true, Roles: []string{"admin"}})
	want := maps.Clone(sampleWorkspace)
	want["intruder@contoso.test"] = "active=true role=admin"

	e.step("full", syncFull, exitOK, []string{"1 unmanaged (intruder@contoso.test; unmanaged: report)",
		"? unmanaged", "intruder@contoso.test", "active, not managed by idsync: left alone (unmanaged: report)"}, want, nil)
	r := e.must([]string{"status"})
	if !strings.Contains(r.stdout, "workspace") || !strings.Contains(r.stdout, "1 unmanaged (intruder@contoso.test; unmanaged: report)") {
		t.Fatalf("status lacks the unmanaged account:\n%s", r.stdout)
	}
	r = e.must([]string{"log", "--user", "intruder@contoso.test"})
	if !strings.Contains(r.stdout, "unmanaged") || !strings.Contains(r.stdout, "left alone (unmanaged: report)") {
		t.Fatalf("log lacks the unmanaged account:\n%s", r.stdout)
	}
	// The plan as JSON names it too.
	r = e.must([]string{"sync", "--reconcile", "--output", "json"})
	if !strings.Contains(r.stdout, `"userName": "intruder@contoso.test"`) || !strings.Contains(r.stdout, `"action": "left alone"`) {
		t.Fatalf("JSON result lacks the unmanaged account:\n%s", r.stdout)
	}
	if got := e.workspace(); !maps.Equal(got, want) {
		t.Fatalf("workspace %v", got)
	}
}

func TestReconcileDisablesUnmanagedWithinSafetyLimits(t *testing.T) {
	e := newE2E(t, "    unmanaged: disable\n    safety: {max_deletes: 2, max_delete_percent: 0}\n")
	// Before the first sync: an account of an in-scope user (adopted by its
	// create, the guides' "import workspace members") and one of nobody's.
	e.ws.AddUser(scimtest.User{UserName: alice, Active: true})
	e.ws.AddUser(scimtest.User{UserName: "old@contoso.test", Active: true})
	want := maps.Clone(sampleWorkspace)
	want["old@contoso.test"] = "active=false role="
	e.step("first sync", syncPlain, exitChanges, []string{"- disable", "old@contoso.test", "(not managed by idsync (unmanaged: disable))",
		"+ create   " + alice}, map[string]string{}, want)
	if r := e.must([]string{"log", "--user", alice}); !strings.Contains(r.stdout, "an in-scope IdP user of that name is created and takes it over") {
		t.Fatalf("log does not say alice's account is adopted:\n%s", r.stdout)
	}

	// Three more: over max_deletes (2), so the plan is held and nothing
	// changes until it is approved.
	for _, n := range []string{"x1", "x2", "x3"} {
		e.ws.AddUser(scimtest.User{UserName: n + "@contoso.test", Active: true})
		want[n+"@contoso.test"] = "active=true role="
	}
	e.step("held", syncFull, exitHeld, []string{"3 deletes and disables exceed safety.max_deletes (2)"}, want, nil)
	e.must([]string{"approve", "contoso"})
	for _, n := range []string{"x1", "x2", "x3"} {
		want[n+"@contoso.test"] = "active=false role="
	}
	if got := e.workspace(); !maps.Equal(got, want) {
		t.Fatalf("after approve: workspace\n got %v\nwant %v", got, want)
	}
	// Disabled unmanaged accounts stay unmanaged, and are left alone now.
	e.step("full again", syncFull, exitOK, []string{"4 unmanaged"}, want, nil)
	if r := e.must([]string{"status"}); !strings.Contains(r.stdout, "applied     11 users") {
		t.Fatalf("unmanaged accounts became managed:\n%s", r.stdout)
	}
}

// A listing that fails half way proves nothing: the run writes nothing to
// the workspace, and the drift is still found by the next listing.
func TestReconcileFailedListingChangesNothing(t *testing.T) {
	tenant := entratest.NewServer()
	t.Cleanup(tenant.Close)
	e := &e2e{t: t, tenant: tenant, sample: tenant.LoadSample(), dir: t.TempDir()}
	// Pages of 3: the listing takes four requests, and the second fails.
	e.ws = scimtest.NewServer(scimtest.Options{Token: demoToken, Preset: "generic", Strict: true, TLS: true, PageSize: 3})
	t.Cleanup(e.ws.Close)
	path, err := writeDemoConfig(e.dir, tenant, e.ws, "")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(b, noLimits...), 0o600); err != nil {
		t.Fatal(err)
	}
	e.config = path
	e.must([]string{"sync"})
	drifted := e.handEdit()

	e.ws.ResetRequests()
	e.ws.OnRequest(func(r scimtest.Request) {
		// Runs before the first page's answer is sent: the second page fails.
		q, _ := url.ParseQuery(r.Query)
		if r.Method == "GET" && r.Path == "/Users" && q.Get("startIndex") == "1" && q.Get("filter") == "" {
			e.ws.Inject(scimtest.Fault{Kind: scimtest.Fault500, Count: 1000, Method: "GET"})
		}
	})
	e.step("failed listing", syncFull, exitOK, []string{"listing the workspace failed, nothing was reconciled"}, drifted, nil)
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		if n := e.ws.CountRequests(m, "/"); n > 0 {
			t.Fatalf("a failed listing led to %d %s requests", n, m)
		}
	}
	if r := e.must([]string{"status"}); !strings.Contains(r.stdout, "listing the workspace failed") {
		t.Fatalf("status does not say the listing failed:\n%s", r.stdout)
	}
	e.ws.OnRequest(nil)
	e.ws.ClearFaults()
	e.step("reconcile", []string{"sync", "--reconcile", "--detailed-exitcode"}, exitChanges, corrections, drifted, sampleWorkspace)
}
