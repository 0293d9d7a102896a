package main

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idsync/idsync/sources/entra/entratest"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// noLimits turns the safety limits off so a test sees every op applied.
const noLimits = "    safety: {max_deletes: 0, max_delete_percent: 0}\n"

var sampleWorkspace = map[string]string{
	"alice.archer@contoso.test":  "active=true role=reader",
	"bob.baker@contoso.test":     "active=true role=reader",
	"carol.chen@contoso.test":    "active=true role=admin",
	"dave.diaz@contoso.test":     "active=true role=reader",
	"erin.evans@contoso.test":    "active=true role=reader",
	"frank.fischer@contoso.test": "active=true role=reader",
	"grace.garcia@contoso.test":  "active=true role=reader",
	"heidi.hughes@contoso.test":  "active=true role=writer",
	"mallory.moore@contoso.test": "active=true role=admin",
	"oscar.olsen@contoso.test":   "active=true role=reader",
	"peggy.park@contoso.test":    "active=true role=writer",
}

func TestEntraInitialAndEveryIncrementalChange(t *testing.T) {
	e := newE2E(t, noLimits)
	r := e.must([]string{"sync", "--detailed-exitcode"}, exitChanges)
	if !strings.Contains(r.stdout, "contoso (entra) — 11 to create") {
		t.Fatalf("initial plan:\n%s", r.stdout)
	}
	if got := e.workspace(); !maps.Equal(got, sampleWorkspace) {
		t.Fatalf("workspace after the initial sync:\n%v", got)
	}
	if r := e.must([]string{"sync", "--detailed-exitcode"}); !strings.Contains(r.stdout, "0 to create, 0 to update, 0 role changes") {
		t.Fatalf("a second sync with no changes planned:\n%s", r.stdout)
	}

	steps := []struct {
		name   string
		change func() error
		plan   []string // lines the plan must hold
		want   map[string]string
	}{
		{"hire", func() error {
			id := e.tenant.AddUser(entratest.User{UserPrincipalName: "quinn.quade@contoso.test", GivenName: "Quinn", Surname: "Quade", AccountEnabled: true})
			return e.tenant.AddMember(e.sample.Groups["Sales"], id)
		}, []string{"+ create   quinn.quade@contoso.test"}, map[string]string{"quinn.quade@contoso.test": "active=true role=reader"}},
		{"rename", func() error {
			return e.tenant.UpdateUser(e.user("bob.baker"), func(u *entratest.User) { u.Surname = "Bakker" })
		}, []string{`~ update   bob.baker@contoso.test`, `name.familyName: "Baker" → "Bakker"`}, nil},
		{"promote via group", func() error { return e.tenant.AddMember(e.sample.Groups["Whale Admins"], e.user("bob.baker")) },
			[]string{"~ role     bob.baker@contoso.test", "reader → admin"}, map[string]string{"bob.baker@contoso.test": "active=true role=admin"}},
		{"demote", func() error { return e.tenant.RemoveMember(e.sample.Groups["Whale Admins"], e.user("bob.baker")) },
			[]string{"admin → reader"}, map[string]string{"bob.baker@contoso.test": "active=true role=reader"}},
		{"disable", func() error { return e.tenant.DisableUser(e.user("dave.diaz")) },
			[]string{"- disable  dave.diaz@contoso.test", "(account disabled in Entra)"}, map[string]string{"dave.diaz@contoso.test": "active=false role=reader"}},
		{"re-enable", func() error { return e.tenant.EnableUser(e.user("dave.diaz")) },
			[]string{"+ enable   dave.diaz@contoso.test"}, map[string]string{"dave.diaz@contoso.test": "active=true role=reader"}},
		{"soft delete", func() error { return e.tenant.SoftDeleteUser(e.user("erin.evans")) },
			[]string{"- disable  erin.evans@contoso.test", "(in the Entra recycle bin)"}, map[string]string{"erin.evans@contoso.test": "active=false role=reader"}},
		{"restore", func() error { return e.tenant.RestoreUser(e.user("erin.evans")) },
			[]string{"+ enable   erin.evans@contoso.test"}, map[string]string{"erin.evans@contoso.test": "active=true role=reader"}},
		{"leave scope", func() error { return e.tenant.RemoveMember(e.sample.Groups["Sales"], e.user("grace.garcia")) },
			[]string{"- disable  grace.garcia@contoso.test", "(out of scope: not a member of Whale Users)"}, map[string]string{"grace.garcia@contoso.test": "active=false role=reader"}},
		{"nested group joins scope", func() error { return e.tenant.AddMember(e.sample.Groups["Whale Users"], e.sample.Groups["Finance"]) },
			[]string{"+ create   judy.jones@contoso.test"}, map[string]string{"judy.jones@contoso.test": "active=true role=reader"}},
		{"hard delete", func() error { return e.tenant.HardDeleteUser(e.user("oscar.olsen")) },
			[]string{"- delete   oscar.olsen@contoso.test", "(deleted in Entra)"}, map[string]string{"oscar.olsen@contoso.test": ""}},
	}
	want := maps.Clone(sampleWorkspace)
	for _, s := range steps {
		if err := s.change(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		r := e.must([]string{"sync", "--detailed-exitcode"}, exitChanges)
		for _, line := range s.plan {
			if !strings.Contains(r.stdout, line) {
				t.Fatalf("%s: plan lacks %q:\n%s", s.name, line, r.stdout)
			}
		}
		for k, v := range s.want {
			if v == "" {
				delete(want, k)
			} else {
				want[k] = v
			}
		}
		if got := e.workspace(); !maps.Equal(got, want) {
			t.Fatalf("%s: workspace\n got %v\nwant %v", s.name, got, want)
		}
	}
	// The provisioning log has the story.
	r = e.must([]string{"log", "--user", "dave.diaz@contoso.test"})
	for _, kind := range []string{"create", "disable", "enable"} {
		if !strings.Contains(r.stdout, kind) {
			t.Fatalf("log for dave lacks %s:\n%s", kind, r.stdout)
		}
	}
}

func TestEntraDryRunChangesNothingThenRealRunAppliesIt(t *testing.T) {
	e := newE2E(t, noLimits)
	e.must([]string{"sync"})
	e.tenant.DisableUser(e.user("dave.diaz"))
	e.tenant.AddMember(e.sample.Groups["Whale Writers"], e.user("alice.archer"))
	before := e.workspace()
	db, _ := os.ReadFile(filepath.Join(e.dir, "idsync.db"))
	writes := func() int {
		return e.ws.CountRequests("POST", "") + e.ws.CountRequests("PATCH", "") + e.ws.CountRequests("PUT", "") + e.ws.CountRequests("DELETE", "")
	}
	w0 := writes()

	first := e.must([]string{"sync", "--dry-run", "--detailed-exitcode"}, exitChanges)
	second := e.must([]string{"sync", "--dry-run"})
	if first.stdout != second.stdout {
		t.Fatalf("two dry runs differ:\n%s\n---\n%s", first.stdout, second.stdout)
	}
	if writes() != w0 || !maps.Equal(e.workspace(), before) {
		t.Fatal("a dry run wrote to the workspace")
	}
	if st := e.must([]string{"status", "--output", "json"}); !strings.Contains(st.stdout, `"ops_pending": 0`) {
		t.Fatalf("status after dry runs:\n%s", st.stdout)
	}
	_ = db
	real := e.must([]string{"sync"})
	plan := func(s string) string { return s[:strings.Index(s, "\n  applied")] }
	if plan(real.stdout) != strings.TrimSuffix(first.stdout, "\n") {
		t.Fatalf("the real run's plan differs from the dry run's:\n%s\n---\n%s", real.stdout, first.stdout)
	}
	if r := e.must([]string{"sync", "--dry-run", "--detailed-exitcode"}); !strings.Contains(r.stdout, "0 to create") {
		t.Fatalf("after applying, a dry run still plans:\n%s", r.stdout)
	}
}

func TestEntraTokenExpiryFullResyncNoSpuriousDeletes(t *testing.T) {
	e := newE2E(t, "")
	e.must([]string{"sync"})
	e.tenant.ExpireDeltaTokens()
	r := e.must([]string{"sync", "--output", "json", "--detailed-exitcode"})
	if !strings.Contains(r.stdout, `"full": true`) || !strings.Contains(r.stdout, `"ops": []`) {
		t.Fatalf("after token expiry:\n%s", r.stdout)
	}
	if !maps.Equal(e.workspace(), sampleWorkspace) {
		t.Fatal("the workspace changed after a full resync of an unchanged tenant")
	}
}

func TestEntraPageFailureAppliesNothingThenConverges(t *testing.T) {
	e := newE2E(t, noLimits)
	e.tenant.MaxPageSize = 4
	e.tenant.FailPage("users/delta", 3, 500)
	r := e.idsync("sync")
	if r.code != exitError || !strings.Contains(r.stderr, "contoso") {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	if n := len(e.ws.Users()); n != 0 {
		t.Fatalf("a failed full read applied %d accounts", n)
	}
	e.must([]string{"sync"})
	if !maps.Equal(e.workspace(), sampleWorkspace) {
		t.Fatalf("did not converge: %v", e.workspace())
	}
}

func TestEntraAndWorkspaceThrottlingConverges(t *testing.T) {
	e := newE2E(t, noLimits)
	e.tenant.Throttle("", 3, time.Second)
	e.ws.Inject(scimtest.Fault{Kind: scimtest.Fault429, Count: 4, RetryAfter: time.Second})
	e.ws.Inject(scimtest.Fault{Kind: scimtest.Fault503, Count: 2})
	e.must([]string{"sync"})
	if !maps.Equal(e.workspace(), sampleWorkspace) {
		t.Fatalf("did not converge: %v", e.workspace())
	}
}

func TestEntraWrongSecretOneClearError(t *testing.T) {
	e := newE2E(t, "")
	if err := os.WriteFile(filepath.Join(e.dir, "graph-secret"), []byte("wrong"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.idsync("sync")
	if r.code != exitError {
		t.Fatalf("exit %d", r.code)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "contoso") || strings.Contains(r.stderr, "wrong") {
		t.Fatalf("want one error line naming the connection (and not the secret), got:\n%s", r.stderr)
	}
	t.Logf("error: %s", lines[0])
}

func TestWorkspaceTokenRejectedOneClearError(t *testing.T) {
	e := newE2E(t, "")
	e.ws.SetToken("rotated")
	r := e.idsync("sync")
	if r.code != exitError || !strings.Contains(r.stderr, "contoso") || !strings.Contains(r.stderr, "token") {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	if n := e.ws.CountRequests("", ""); n > 8 {
		t.Fatalf("%d requests after the workspace rejected the token", n)
	}
}

// generatedE2E is a tenant of users generated users in 20 groups, all in
// scope, and the demo config without safety limits or a rate limit.
func generatedE2E(t *testing.T, users int) *e2e {
	t.Helper()
	e := newE2E(t, noLimits)
	e.tenant.Close()
	e.tenant = entratest.NewServer()
	t.Cleanup(e.tenant.Close)
	e.tenant.Generate(users, 20)
	scope := e.tenant.AddGroup("Whale Users", "everyone")
	// The demo config's role rules name these: a rule group that matches nothing is a run error.
	e.tenant.AddGroup("Whale Admins", "")
	e.tenant.AddGroup("Whale Writers", "")
	for g := range 20 {
		id, _ := e.tenant.GroupID(fmtGroup(g))
		e.tenant.AddMember(scope, id)
	}
	path, err := writeDemoConfig(e.dir, e.tenant, e.ws, "      rate_limit: 0\n")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	os.WriteFile(path, append(b, noLimits...), 0o600)
	return e
}

// TestEntraKilledMidApplyResumes: SIGKILL idsync while it applies a few
// thousand creates to a slow workspace, then run it again.
func TestEntraKilledMidApplyResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("applies a few thousand users")
	}
	const users = 2000
	e := generatedE2E(t, users)

	e.ws.SetLatency(3 * time.Millisecond)
	cmd := execIdsync(e.config, "sync")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for len(e.ws.Users()) < users/5 {
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	mid := len(e.ws.Users())
	if mid >= users {
		t.Fatalf("the run finished before the kill (%d users)", mid)
	}
	e.ws.SetLatency(0)
	e.must([]string{"sync"})
	got := e.workspace() // fails on duplicates
	want := 0
	for _, u := range e.ws.Users() {
		if u.Active {
			want++
		}
	}
	// One generated user in 50 is disabled in Entra and gets no account.
	if enabled := users - users/50; len(got) != enabled || want != enabled {
		t.Fatalf("after resume: %d accounts (%d active), want %d; %d were there at the kill", len(got), want, enabled, mid)
	}
	if st := e.must([]string{"status", "--output", "json"}); !strings.Contains(st.stdout, `"ops_pending": 0`) {
		t.Fatalf("outbox not empty:\n%s", st.stdout)
	}
	t.Logf("killed with %d of %d accounts created; resumed to %d", mid, users, len(got))
}
