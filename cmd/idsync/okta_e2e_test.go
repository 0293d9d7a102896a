package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/sources/okta/oktatest"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// oktaE2E is an emulated Okta org, an emulated workspace and a config
// pointing idsync at both (connection "globex").
type oktaE2E struct {
	*e2e
	org    *oktatest.Server
	sample oktatest.Sample
}

// oktaScopeGroups scopes the connection to the sample's Whale Users group,
// with Whale Admins members as admins.
const oktaScopeGroups = `      scope: {groups: ["Whale Users"]}
    roles:
      default: reader
      rules:
        - {group: "Whale Admins", role: admin}
`

// oktaScopeApp scopes the connection to the app in %s, roles from the app
// user profile.
const oktaScopeApp = `      scope: {app_id: %q}
    roles:
      default: reader
      rules:
        - {app_role: admin, role: admin}
        - {app_role: writer, role: writer}
`

// newOktaE2E starts an org (with the sample directory unless bare) and a
// generic SCIM workspace (the sample's Whale roles: Whale itself takes none). scope is the source's scope block followed by the roles
// block (oktaScopeGroups, oktaScopeApp); extra is appended to the
// connection block.
func newOktaE2E(t *testing.T, bare bool, scope func(oktatest.Sample) string, extra string) *oktaE2E {
	t.Helper()
	e := &oktaE2E{e2e: &e2e{t: t, dir: t.TempDir()}, org: oktatest.NewServer()}
	t.Cleanup(e.org.Close)
	if !bare {
		e.sample = e.org.LoadSample()
	}
	e.ws = scimtest.NewServer(scimtest.Options{Token: demoToken, Preset: "generic", Strict: true, TLS: true})
	t.Cleanup(e.ws.Close)
	e.writeConfig(e.org.Token, scope(e.sample)+extra)
	return e
}

// writeConfig (re)writes the config with the Okta API token token.
func (e *oktaE2E) writeConfig(token, block string) {
	e.t.Helper()
	oktaToken := filepath.Join(e.dir, "okta-token")
	wsToken := filepath.Join(e.dir, "workspace-token")
	if err := os.WriteFile(oktaToken, []byte(token+"\n"), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(wsToken, []byte(demoToken+"\n"), 0o600); err != nil {
		e.t.Fatal(err)
	}
	cfg := fmt.Sprintf(`state: %q
log: {level: error}
connections:
  - name: globex
    target:
      type: scim
      url: %q
      token_file: %q
      preset: generic
      ca_file: %q
      rate_limit: 0
    source:
      type: okta
      org_url: %q
      token_file: %q
      ca_file: %q
      role_attribute: role
%s`, filepath.Join(e.dir, "idsync.db"), e.ws.URL, wsToken, e.ws.CAFile, e.org.URL, oktaToken, e.org.CAFile, block)
	e.config = filepath.Join(e.dir, "idsync.yaml")
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func (e *oktaE2E) uid(first string) string {
	id, ok := e.sample.Users[first]
	if !ok {
		e.t.Fatalf("no sample user %s", first)
	}
	return id
}

// oktaStep is one change in the org and what the next sync must make of it.
type oktaStep struct {
	name   string
	change func()
	none   bool              // the sync plans nothing (else it plans changes)
	plan   []string          // lines the plan must hold
	want   map[string]string // workspace entries that change; "" = gone
}

// runSteps applies each step's change, syncs, and checks the plan and the
// whole workspace against want (updated in place).
func (e *oktaE2E) runSteps(want map[string]string, steps []oktaStep) {
	e.t.Helper()
	for _, s := range steps {
		s.change()
		code := exitChanges
		if s.none {
			code = exitOK
		}
		r := e.idsync("sync", "--detailed-exitcode")
		if r.code != code {
			e.t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", s.name, r.code, code, r.stdout, r.stderr)
		}
		for _, line := range s.plan {
			if !strings.Contains(r.stdout, line) {
				e.t.Fatalf("%s: plan lacks %q:\n%s", s.name, line, r.stdout)
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
			e.t.Fatalf("%s: workspace\n got %v\nwant %v\nplan:\n%s", s.name, got, want, r.stdout)
		}
	}
}

// The config sets no deprovision block: the defaults apply (disabled and
// out of scope → disable, deleted → delete).
//
// The sample org scoped to Whale Users: alice (also in Whale Admins), bob,
// carol (PASSWORD_EXPIRED) and grace (LOCKED_OUT) are enabled; dave
// (SUSPENDED) and erin (DEPROVISIONED) get no account; frank (STAGED) and
// heidi are not members.
var oktaGroupWorkspace = map[string]string{
	"alice@globex.test": "active=true role=admin",
	"bob@globex.test":   "active=true role=reader",
	"carol@globex.test": "active=true role=reader",
	"grace@globex.test": "active=true role=reader",
}

func TestOktaGroupScopeInitialAndEveryIncrementalChange(t *testing.T) {
	e := newOktaE2E(t, false, func(oktatest.Sample) string { return oktaScopeGroups }, noLimits)
	r := e.must([]string{"sync", "--detailed-exitcode"}, exitChanges)
	if !strings.Contains(r.stdout, "globex (okta) — 4 to create") {
		t.Fatalf("initial plan:\n%s", r.stdout)
	}
	if got := e.workspace(); !maps.Equal(got, oktaGroupWorkspace) {
		t.Fatalf("workspace after the initial sync:\n%v", got)
	}
	if r := e.must([]string{"sync", "--detailed-exitcode"}); !strings.Contains(r.stdout, "0 to create, 0 to update, 0 role changes") {
		t.Fatalf("a second sync with no changes planned:\n%s", r.stdout)
	}

	users, admins := e.sample.Groups["Whale Users"], e.sample.Groups["Whale Admins"]
	var quinn string
	want := maps.Clone(oktaGroupWorkspace)
	e.runSteps(want, []oktaStep{
		{name: "profile update", change: func() { e.org.UpdateUser(e.uid("bob"), func(u *oktatest.User) { u.LastName = "Bakker" }) },
			plan: []string{"~ update   bob@globex.test", `name.familyName: "Baker" → "Bakker"`}},
		{name: "suspend", change: func() { e.org.Suspend(e.uid("bob")) },
			plan: []string{"- disable  bob@globex.test", "(account disabled in Okta)"}, want: map[string]string{"bob@globex.test": "active=false role=reader"}},
		{name: "unsuspend", change: func() { e.org.Unsuspend(e.uid("bob")) },
			plan: []string{"+ enable   bob@globex.test"}, want: map[string]string{"bob@globex.test": "active=true role=reader"}},
		{name: "deactivate", change: func() { e.org.Deactivate(e.uid("carol")) },
			plan: []string{"- disable  carol@globex.test", "(account disabled in Okta)"}, want: map[string]string{"carol@globex.test": "active=false role=reader"}},
		{name: "hard delete after deactivation", change: func() { e.org.DeleteUser(e.uid("carol")) },
			plan: []string{"- delete   carol@globex.test", "(deleted in Okta)"}, want: map[string]string{"carol@globex.test": ""}},
		{name: "hard delete of an active user (deactivate+delete in one run)", change: func() { e.org.DeleteUser(e.uid("grace")) },
			plan: []string{"- delete   grace@globex.test", "(deleted in Okta)"}, want: map[string]string{"grace@globex.test": ""}},
		{name: "group add", change: func() { e.org.AddMember(users, e.uid("heidi")) },
			plan: []string{"+ create   heidi@globex.test"}, want: map[string]string{"heidi@globex.test": "active=true role=reader"}},
		{name: "promote via group", change: func() { e.org.AddMember(admins, e.uid("heidi")) },
			plan: []string{"~ role     heidi@globex.test", "reader → admin"}, want: map[string]string{"heidi@globex.test": "active=true role=admin"}},
		{name: "demote via group", change: func() { e.org.RemoveMember(admins, e.uid("heidi")) },
			plan: []string{"~ role     heidi@globex.test", "admin → reader"}, want: map[string]string{"heidi@globex.test": "active=true role=reader"}},
		{name: "group remove", change: func() { e.org.RemoveMember(users, e.uid("bob")) },
			plan: []string{"- disable  bob@globex.test", "(out of scope: not a member of Whale Users)"}, want: map[string]string{"bob@globex.test": "active=false role=reader"}},
		{name: "staged member gets no account", change: func() { e.org.AddMember(users, e.uid("frank")) }, none: true,
			plan: []string{"0 to create, 0 to update"}},
		{name: "staged member activated", change: func() { e.org.Activate(e.uid("frank")) },
			plan: []string{"+ create   frank@globex.test"}, want: map[string]string{"frank@globex.test": "active=true role=reader"}},
	})
	// A role-rule group deleted in the IdP is a run error, not a silent
	// downgrade of its members; once the rule is removed from the config,
	// the next sync applies that to everyone.
	e.org.DeleteGroup(admins)
	if r := e.idsync("sync"); r.code != exitError || !strings.Contains(r.stderr, `roles.rules[0].group: no group named "Whale Admins"`) {
		t.Fatalf("rule group deleted: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if got := e.workspace(); !maps.Equal(got, want) {
		t.Fatalf("a failed run changed the workspace:\n got %v\nwant %v", got, want)
	}
	e.editConfig("        - {group: \"Whale Admins\", role: admin}\n", "")
	e.runSteps(want, []oktaStep{
		{name: "rule removed", change: func() {},
			plan: []string{"~ role     alice@globex.test", "admin → reader"}, want: map[string]string{"alice@globex.test": "active=true role=reader"}},
		{name: "new hire", change: func() {
			quinn = e.org.CreateUser(oktatest.User{Login: "quinn@globex.test", FirstName: "Quinn", LastName: "Quade"}).ID
			e.org.AddMember(users, quinn)
		}, plan: []string{"+ create   quinn@globex.test"}, want: map[string]string{"quinn@globex.test": "active=true role=reader"}},
	})
	r = e.must([]string{"log", "--user", "bob@globex.test"})
	for _, kind := range []string{"create", "update", "disable", "enable"} {
		if !strings.Contains(r.stdout, kind) {
			t.Fatalf("log for bob lacks %s:\n%s", kind, r.stdout)
		}
	}
}

// The sample app "Whale": Whale Users assigned with role reader, alice
// directly with role admin.
var oktaAppWorkspace = oktaGroupWorkspace

func TestOktaAppScopeAssignmentsAndRoles(t *testing.T) {
	e := newOktaE2E(t, false, func(s oktatest.Sample) string { return fmt.Sprintf(oktaScopeApp, s.AppID) }, noLimits)
	r := e.must([]string{"sync", "--detailed-exitcode"}, exitChanges)
	if !strings.Contains(r.stdout, "globex (okta) — 4 to create") {
		t.Fatalf("initial plan:\n%s", r.stdout)
	}
	if got := e.workspace(); !maps.Equal(got, oktaAppWorkspace) {
		t.Fatalf("workspace after the initial sync:\n%v", got)
	}
	e.must([]string{"sync", "--detailed-exitcode"})

	app, users := e.sample.AppID, e.sample.Groups["Whale Users"]
	unassigned := "(out of scope: not assigned to app " + app + ")"
	e.runSteps(maps.Clone(oktaAppWorkspace), []oktaStep{
		{name: "assign with role", change: func() { e.org.AssignUser(app, e.uid("heidi"), "writer") },
			plan: []string{"+ create   heidi@globex.test"}, want: map[string]string{"heidi@globex.test": "active=true role=writer"}},
		{name: "role change via app profile", change: func() { e.org.AssignUser(app, e.uid("heidi"), "admin") },
			plan: []string{"~ role     heidi@globex.test", "writer → admin"}, want: map[string]string{"heidi@globex.test": "active=true role=admin"}},
		{name: "role change via group assignment profile", change: func() { e.org.AssignGroup(app, users, "writer") },
			plan: []string{"~ role     bob@globex.test", "reader → writer", "~ role     carol@globex.test", "~ role     grace@globex.test"},
			want: map[string]string{"bob@globex.test": "active=true role=writer", "carol@globex.test": "active=true role=writer", "grace@globex.test": "active=true role=writer"}},
		{name: "unassign", change: func() { e.org.UnassignUser(app, e.uid("heidi")) },
			plan: []string{"- disable  heidi@globex.test", unassigned}, want: map[string]string{"heidi@globex.test": "active=false role=admin"}},
		{name: "assigned again through a group", change: func() { e.org.AddMember(users, e.uid("heidi")) },
			plan: []string{"+ enable   heidi@globex.test"}, want: map[string]string{"heidi@globex.test": "active=true role=writer"}},
		{name: "leaving the assigned group", change: func() { e.org.RemoveMember(users, e.uid("bob")) },
			plan: []string{"- disable  bob@globex.test", unassigned}, want: map[string]string{"bob@globex.test": "active=false role=writer"}},
		{name: "group unassigned", change: func() { e.org.UnassignGroup(app, users) },
			plan: []string{"- disable  carol@globex.test", "- disable  grace@globex.test", "- disable  heidi@globex.test", unassigned},
			want: map[string]string{"carol@globex.test": "active=false role=writer", "grace@globex.test": "active=false role=writer", "heidi@globex.test": "active=false role=writer"}},
		{name: "hard delete of an assigned user", change: func() { e.org.DeleteUser(e.uid("alice")) },
			plan: []string{"- delete   alice@globex.test", "(deleted in Okta)"}, want: map[string]string{"alice@globex.test": ""}},
	})
}

// TestOktaAppUserProfileRoleWins: Okta gives each app user one profile —
// a direct assignment's overrides the groups', and among assigned groups the
// one with the highest priority wins — and DESIGN.md says app_role rules
// match "the Okta app user profile value". idsync must take the role Okta
// shows on /apps/{id}/users/{uid}, not every role of every assignment that
// reaches the user.
func TestOktaAppUserProfileRoleWins(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(e *oktaE2E)
	}{
		{"direct assignment overrides the group's", func(e *oktaE2E) {
			e.org.AssignUser(e.sample.AppID, e.uid("carol"), "reader")
		}},
		{"the higher-priority group's role wins", func(e *oktaE2E) {
			// Whale Users (reader→writer) was assigned first: it has priority.
			leads := e.org.CreateGroup("Whale Leads", "")
			e.org.AssignGroup(e.sample.AppID, leads.ID, "admin")
			e.org.AddMember(leads.ID, e.uid("carol"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newOktaE2E(t, false, func(s oktatest.Sample) string { return fmt.Sprintf(oktaScopeApp, s.AppID) }, noLimits)
			e.org.AssignGroup(e.sample.AppID, e.sample.Groups["Whale Users"], "writer")
			e.must([]string{"sync"})
			tc.change(e)
			e.must([]string{"sync"})
			okta := oktaAppUserRole(t, e.org, e.sample.AppID, e.uid("carol"))
			if got := e.workspace()["carol@globex.test"]; got != "active=true role="+okta {
				x := e.idsync("explain", "globex", "carol@globex.test")
				t.Fatalf("carol: workspace %q, Okta's app user profile role %q\n%s", got, okta, x.stdout)
			}
		})
	}
}

// oktaAppUserRole reads the role attribute of uid's app user profile.
func oktaAppUserRole(t *testing.T, org *oktatest.Server, app, uid string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, org.URL+"/api/v1/apps/"+app+"/users/"+uid, nil)
	req.Header.Set("Authorization", "SSWS "+org.Token)
	resp, err := org.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var au struct {
		Scope   string         `json:"scope"`
		Profile map[string]any `json:"profile"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&au); err != nil {
		t.Fatalf("app user %s: %v", uid, err)
	}
	role, _ := au.Profile[org.RoleAttribute].(string)
	return role
}

// TestOktaSearchLagStillPickedUp: user search is eventually consistent; a
// change that search shows only after a while is still read by a later run
// (the watermark overlap), a membership seen before its user is searchable
// turns into an account once the user is, and a user deleted meanwhile is
// not brought back by the stale index.
func TestOktaSearchLagStillPickedUp(t *testing.T) {
	e := newOktaE2E(t, false, func(oktatest.Sample) string { return oktaScopeGroups }, noLimits)
	e.must([]string{"sync"})

	e.org.SetSearchLag(90 * time.Second) // within the default 2m overlap
	e.org.UpdateUser(e.uid("bob"), func(u *oktatest.User) { u.LastName = "Bakker" })
	e.org.Suspend(e.uid("grace"))
	quinn := e.org.CreateUser(oktatest.User{Login: "quinn@globex.test", FirstName: "Quinn", LastName: "Quade"}).ID
	e.org.AddMember(e.sample.Groups["Whale Users"], quinn)
	e.org.DeleteUser(e.uid("carol")) // known from the System Log at once

	// Runs before search catches up see nothing of the user changes but
	// the delete, and do not bring the deleted user back.
	for i, advance := range []time.Duration{0, 45 * time.Second} {
		e.org.Advance(advance)
		want, code := "0 to create, 0 to update, 0 role changes, 0 to disable, 0 to delete", exitOK
		if i == 0 {
			want, code = "0 to create, 0 to update, 0 role changes, 0 to disable, 1 to delete", exitChanges
		}
		r := e.must([]string{"sync", "--detailed-exitcode"}, code)
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("run %d, before search caught up, planned:\n%s", i, r.stdout)
		}
	}
	e.org.Advance(50 * time.Second)
	r := e.must([]string{"sync", "--detailed-exitcode"}, exitChanges)
	for _, line := range []string{"~ update   bob@globex.test", "- disable  grace@globex.test", "+ create   quinn@globex.test"} {
		if !strings.Contains(r.stdout, line) {
			t.Fatalf("once searchable, the plan lacks %q:\n%s", line, r.stdout)
		}
	}
	want := maps.Clone(oktaGroupWorkspace)
	delete(want, "carol@globex.test")
	want["grace@globex.test"] = "active=false role=reader"
	want["quinn@globex.test"] = "active=true role=reader"
	if got := e.workspace(); !maps.Equal(got, want) {
		t.Fatalf("workspace\n got %v\nwant %v", got, want)
	}
	if u, _ := e.ws.UserByName("bob@globex.test"); u.FamilyName != "Bakker" {
		t.Fatalf("bob's family name is %q", u.FamilyName)
	}
	e.must([]string{"sync", "--detailed-exitcode"}, exitOK)
}

// TestOktaSearchLagBeyondDefaultOverlap: an org whose search index lags
// more than the default 2m overlap is covered by raising source.lag, even
// with a run every minute in between.
func TestOktaSearchLagBeyondDefaultOverlap(t *testing.T) {
	e := newOktaE2E(t, false, func(oktatest.Sample) string { return "      lag: 5m\n" + oktaScopeGroups }, noLimits)
	e.must([]string{"sync"})
	e.org.SetSearchLag(3 * time.Minute)
	e.org.UpdateUser(e.uid("bob"), func(u *oktatest.User) { u.LastName = "Bakker" })
	for range 3 {
		e.must([]string{"sync", "--detailed-exitcode"}, exitOK)
		e.org.Advance(time.Minute + time.Second)
	}
	r := e.must([]string{"sync", "--detailed-exitcode"}, exitChanges)
	if !strings.Contains(r.stdout, "~ update   bob@globex.test") {
		t.Fatalf("after the index caught up:\n%s", r.stdout)
	}
}

func TestOktaDryRunChangesNothingThenRealRunAppliesIt(t *testing.T) {
	e := newOktaE2E(t, false, func(oktatest.Sample) string { return oktaScopeGroups }, noLimits)
	e.must([]string{"sync"})
	e.org.Suspend(e.uid("bob"))
	e.org.AddMember(e.sample.Groups["Whale Users"], e.uid("heidi"))
	e.org.AddMember(e.sample.Groups["Whale Admins"], e.uid("carol"))
	e.org.DeleteUser(e.uid("grace"))

	// status is the raw `status --output json` and its cursor time.
	status := func() (string, time.Time) {
		t.Helper()
		r := e.must([]string{"status", "--output", "json"})
		var st struct {
			Connections []struct {
				CursorAt time.Time `json:"cursor_at"`
			} `json:"connections"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || len(st.Connections) != 1 || st.Connections[0].CursorAt.IsZero() {
			t.Fatalf("status: %v\n%s", err, r.stdout)
		}
		return r.stdout, st.Connections[0].CursorAt
	}
	writes := func() int {
		return e.ws.CountRequests("POST", "") + e.ws.CountRequests("PATCH", "") + e.ws.CountRequests("PUT", "") + e.ws.CountRequests("DELETE", "")
	}
	before, w0 := e.workspace(), writes()
	st0, cur0 := status()

	first := e.must([]string{"sync", "--dry-run", "--detailed-exitcode"}, exitChanges)
	second := e.must([]string{"sync", "--dry-run"})
	if first.stdout != second.stdout {
		t.Fatalf("two dry runs differ:\n%s\n---\n%s", first.stdout, second.stdout)
	}
	for _, line := range []string{"- disable  bob@globex.test", "+ create   heidi@globex.test", "~ role     carol@globex.test", "- delete   grace@globex.test"} {
		if !strings.Contains(first.stdout, line) {
			t.Fatalf("dry-run plan lacks %q:\n%s", line, first.stdout)
		}
	}
	if w := writes(); w != w0 {
		t.Fatalf("dry runs made %d workspace writes", w-w0)
	}
	if !maps.Equal(e.workspace(), before) {
		t.Fatal("a dry run changed the workspace")
	}
	if st, _ := status(); st != st0 {
		t.Fatalf("status (cursor, last run, pending ops) changed across dry runs:\n%s\n---\n%s", st0, st)
	}
	real := e.must([]string{"sync"})
	plan := func(s string) string { return s[:strings.Index(s, "\n  applied")] }
	if !strings.Contains(real.stdout, "\n  applied") || plan(real.stdout) != strings.TrimSuffix(first.stdout, "\n") {
		t.Fatalf("the real run's plan differs from the dry run's:\n%s\n---\n%s", real.stdout, first.stdout)
	}
	if st, cur := status(); !cur.After(cur0) {
		t.Fatalf("the real run did not advance the cursor:\n%s", st)
	}
	if r := e.must([]string{"sync", "--dry-run", "--detailed-exitcode"}); !strings.Contains(r.stdout, "0 to create") {
		t.Fatalf("after applying, a dry run still plans:\n%s", r.stdout)
	}
}

// TestOktaRateLimitPressure: with small rate-limit buckets in a short
// window idsync waits for the window to reset before it eats into the
// headroom it leaves for the org's other clients, and when those clients
// have spent the bucket (429) it waits for X-Rate-Limit-Reset and succeeds.
func TestOktaRateLimitPressure(t *testing.T) {
	const (
		users, groups = 100, 20
		limit         = 10
		budget        = limit - limit*20/100 // default rate_headroom: 20%
	)
	// Every group named by a role rule: idsync reads the members only of
	// groups the policy names, and here they are what fills the buckets.
	e := newOktaE2E(t, true, func(oktatest.Sample) string {
		rules := "    roles:\n      default: reader\n      rules:\n"
		for i := range groups {
			rules += fmt.Sprintf("        - {group: \"Bench Group %d\", role: reader}\n", i)
		}
		return rules
	}, noLimits)
	e.org.Generate(users, groups)
	e.org.SetRateLimit(oktatest.BucketAll, limit)
	e.org.SetRateWindow(time.Second)

	t.Run("paced below the headroom", func(t *testing.T) {
		r := e.must([]string{"sync", "--output", "json"})
		var out struct {
			Results []struct {
				Counts  map[string]int `json:"counts"`
				Applied int            `json:"applied"`
				Error   string         `json:"error"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Results) != 1 {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if res := out.Results[0]; res.Counts["create"] != users || res.Applied != users || res.Error != "" {
			t.Fatalf("initial sync under pressure: %+v", res)
		}
		if n := len(e.ws.Users()); n != users {
			t.Fatalf("%d accounts, want %d", n, users)
		}
		// One member read per group: more than one window's budget, so
		// idsync had to wait; no more requests than reads, so no 429.
		if n := e.org.Requests(oktatest.BucketGroupMore); n != groups {
			t.Fatalf("%d requests to %s for %d groups (a 429 was retried?)", n, oktatest.BucketGroupMore, groups)
		}
		for _, b := range []string{oktatest.BucketUsers, oktatest.BucketGroups, oktatest.BucketGroupMore} {
			if p := e.org.PeakInWindow(b); p > budget {
				t.Fatalf("%s: %d requests in one window, budget %d (limit %d minus 20%% headroom)", b, p, budget, limit)
			}
		}
		t.Logf("peak per window: members %d, users %d, groups %d (budget %d)", e.org.PeakInWindow(oktatest.BucketGroupMore),
			e.org.PeakInWindow(oktatest.BucketUsers), e.org.PeakInWindow(oktatest.BucketGroups), budget)
	})

	t.Run("429 waits for reset", func(t *testing.T) {
		// Long enough that the window is still spent when the new process
		// makes its first request.
		e.org.SetRateWindow(4 * time.Second)
		e.org.ResetRequests()
		e.org.ConsumeRateLimit(oktatest.BucketUsers, limit)
		r := e.must([]string{"sync", "--detailed-exitcode"}, exitOK)
		if !strings.Contains(r.stdout, "0 to create") {
			t.Fatalf("after the 429:\n%s", r.stdout)
		}
		// The search that was answered 429, then one retry after Reset: an
		// early retry would have been answered 429 again.
		switch n := e.org.Requests(oktatest.BucketUsers); {
		case n == 1:
			t.Fatalf("no 429: idsync's first request came after the spent window ended")
		case n != 2:
			t.Fatalf("%d requests to %s, want the 429 and one retry after reset", n, oktatest.BucketUsers)
		}
	})
	t.Run("still throttled after the retries: one clear error", func(t *testing.T) {
		// Other clients spend the whole users bucket window after window.
		e.org.SetRateWindow(time.Second)
		e.org.SetRateLimit(oktatest.BucketUsers, 0)
		defer e.org.SetRateLimit(oktatest.BucketUsers, limit)
		e.org.ResetRequests()
		r := e.idsync("sync")
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != exitError || len(lines) != 1 || !strings.Contains(lines[0], "globex") || !strings.Contains(lines[0], "rate limit") {
			t.Fatalf("exit %d; want one error line naming the connection and the rate limit:\n%s", r.code, r.stderr)
		}
		if n := e.org.Requests(oktatest.BucketUsers); n > 5 {
			t.Fatalf("%d requests to a throttled bucket", n)
		}
		t.Logf("error: %s", lines[0])
	})
}

func TestOktaBadTokenOneClearError(t *testing.T) {
	e := newOktaE2E(t, false, func(oktatest.Sample) string { return oktaScopeGroups }, "")
	const wrong = "00wrongTokenWrongTokenWrongTokenWrong42"
	e.writeConfig(wrong, oktaScopeGroups)
	for _, args := range [][]string{{"sync"}, {"sync", "--dry-run"}, {"sync", "--output", "json"}} {
		e.org.ResetRequests()
		r := e.idsync(args...)
		if n := e.org.Requests(); n != 1 {
			t.Fatalf("%v: %d requests; a rejected token is not worth retrying", args, n)
		}
		if r.code != exitError {
			t.Fatalf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "globex") || !strings.Contains(lines[0], "token") {
			t.Fatalf("%v: want one error line naming the connection and the token setting, got:\n%s", args, r.stderr)
		}
		for _, secret := range []string{wrong, e.org.Token} {
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Fatalf("%v: output contains a token:\n%s%s", args, r.stdout, r.stderr)
			}
		}
		if len(args) == 1 {
			t.Logf("error: %s", lines[0])
		}
	}
	if n := len(e.ws.Users()); n != 0 {
		t.Fatalf("%d accounts created with a rejected source token", n)
	}
}
