package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync/sources/entra/entratest"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// `idsync config check` refuses what each workspace's guide says it does
// not take, with the guide's reason, at the key to change.
func TestConfigCheckExplainsPresets(t *testing.T) {
	dir := t.TempDir()
	check := func(t *testing.T, conn string) result {
		t.Helper()
		p := filepath.Join(dir, t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]+".yaml")
		body := "connections:\n  - name: acme\n    source: {type: entra, tenant_id: t, client_id: c, client_secret: s}\n" + conn
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return runBinary(t, "--config", p, "config", "check")
	}
	tests := []struct {
		name, conn string
		want       []string // "" = the config is fine
	}{
		{"whale with role rules", `    roles:
      default: reader
      rules: [{group: "Whale Admins", role: admin}]
    target: {type: scim, url: "https://whale.example.com/scim/v2", token: x, preset: whale}
`, []string{
			`connections[0].roles.default: role "reader": Whale (preset whale) takes no roles over SCIM: its guide maps only "'userName', 'active', 'name.givenName', 'name.familyName' and 'externalId'"`,
			`connections[0].roles.rules[0].role: role "admin": Whale (preset whale) takes no roles over SCIM`,
			"remove roles.default and roles.rules",
		}},
		{"whale with groups", `    groups: {sync: true}
    target: {type: scim, url: "https://whale.example.com/scim/v2", token: x, preset: whale}
`, []string{`connections[0].groups.sync: Whale (preset whale) takes no groups over SCIM`}},
		{"officernd deleting", `    deprovision: {deleted: delete, out_of_scope: delete}
    target: {type: scim, url: "https://x.officernd.com/scim", token: x, preset: officernd}
`, []string{
			`connections[0].deprovision.deleted: OfficeRnD (preset officernd) never deletes people over SCIM: someone deleted from the directory "will not be deleted from Workplace but will be labeled as Former"`,
			`connections[0].deprovision.out_of_scope: OfficeRnD (preset officernd) never deletes people`,
			"write deleted: disable",
		}},
		{"officernd as its guide says", `    deprovision: {deleted: disable}
    groups: {sync: true}
    target: {type: scim, url: "https://x.officernd.com/scim", token: x, preset: officernd}
`, nil},
		{"whistleblower with a role", `    roles: {default: Administrator}
    target: {type: scim, url: "https://x.whistleblowersoftware.com/scim/v2", token: x, preset: whistleblower}
`, []string{`connections[0].roles.default: role "Administrator": Whistleblower Software (preset whistleblower) takes no roles over SCIM: "Permissions cannot be configured during the provisioning process itself"`}},
		{"whimsical with an unknown role and groups", `    roles: {rules: [{app_role: Admin, role: admin}]}
    groups: {sync: true}
    target: {type: scim, url: "https://whimsical.com/public-api/scim-v2/?aadOptscim062020", token: "Bearer x", preset: whimsical}
`, []string{
			`connections[0].roles.rules[0].role: role "admin" is not a Whimsical role (preset whimsical): its guide has "Update user roles (editor / viewer)"; use one of editor, viewer`,
			`connections[0].groups.sync: Whimsical (preset whimsical) takes no groups over SCIM`,
		}},
		{"whimsical as printed by its guide", `    roles: {rules: [{app_role: Editor, role: editor}]}
    target: {type: scim, url: "https://whimsical.com/public-api/scim-v2/?aadOptscim062020", token: "Bearer x", preset: whimsical}
`, nil},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.name, " ", "_"), func(t *testing.T) {
			r := check(t, tt.conn)
			if tt.want == nil {
				if r.code != 0 {
					t.Fatalf("config check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
				}
				return
			}
			if r.code != exitError {
				t.Fatalf("config check: exit %d, want %d\n%s", r.code, exitError, r.stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("config check output lacks %q:\n%s", w, r.stderr)
				}
			}
		})
	}
}

// officeRnD is an emulated tenant with a strict OfficeRnD workspace and a
// connection pushing teams.
type officeRnD struct {
	*e2e
	users  map[string]string // name → IdP id
	groups map[string]string // team name → IdP id
}

func newOfficeRnD(t *testing.T, include string) *officeRnD {
	t.Helper()
	o := &officeRnD{e2e: &e2e{t: t, tenant: entratest.NewServer(), dir: t.TempDir()}, users: map[string]string{}, groups: map[string]string{}}
	t.Cleanup(o.tenant.Close)
	o.ws = scimtest.NewServer(scimtest.Options{Token: demoToken, Preset: "officernd", Strict: true, TLS: true})
	t.Cleanup(o.ws.Close)
	office := o.tenant.AddGroup("Office", "everyone with a desk")
	for _, team := range []string{"Alpha", "Beta", "Gamma"} {
		o.groups[team] = o.tenant.AddGroup(team, team+" team")
	}
	for i := range 30 {
		name := fmt.Sprintf("p%02d", i)
		upn := name + "@contoso.test"
		o.users[name] = o.tenant.AddUser(entratest.User{UserPrincipalName: upn, Mail: upn, GivenName: "P", Surname: name, DisplayName: "P " + name, AccountEnabled: true})
		o.must(o.tenant.AddMember(office, o.users[name]))
	}
	path, err := writeConfig(o.dir, o.tenant, o.ws, `      scope:
        groups: ["Office"]
    groups: {sync: true, include: `+include+`}
    deprovision: {deleted: disable}
    target:
      type: scim
      preset: officernd
      rate_limit: 0
      concurrency: 8
`)
	if err != nil {
		t.Fatal(err)
	}
	o.config = path
	return o
}

func (o *officeRnD) must(err error) {
	o.t.Helper()
	if err != nil {
		o.t.Fatal(err)
	}
}

func (o *officeRnD) join(user string, teams ...string) {
	o.t.Helper()
	for _, team := range teams {
		o.must(o.tenant.AddMember(o.groups[team], o.users[user]))
	}
}

// teams is each user's teams in the workspace, by name, in the order the
// workspace saw them joined (the first is OfficeRnD's primary team).
func (o *officeRnD) teams() map[string][]string {
	names := map[string]string{}
	for _, g := range o.ws.Groups() {
		names[g.ID] = g.DisplayName
	}
	out := map[string][]string{}
	for _, u := range o.ws.Users() {
		for _, gid := range u.Groups {
			out[strings.TrimSuffix(u.UserName, "@contoso.test")] = append(out[strings.TrimSuffix(u.UserName, "@contoso.test")], names[gid])
		}
	}
	return out
}

// OfficeRnD: "The first synced Azure group will be their Primary team".
// Users who join teams in different orders, over several runs and several
// at once, get as primary the team idsync applied first (in one run:
// groups.include order, not alphabetical), every run records that order,
// and full reads and policy changes leave it as it is.
func TestOfficeRnDPrimaryTeamIsTheFirstSynced(t *testing.T) {
	o := newOfficeRnD(t, `["Gamma", "Beta", "Alpha"]`)
	want := map[string][]string{}
	// Run 1: p00 joins Alpha; p01 Beta; p02…p29 all three at once.
	o.join("p00", "Alpha")
	o.join("p01", "Beta")
	want["p00"], want["p01"] = []string{"Alpha"}, []string{"Beta"}
	for i := 2; i < 30; i++ {
		name := fmt.Sprintf("p%02d", i)
		o.join(name, "Alpha", "Beta", "Gamma")
		want[name] = []string{"Gamma", "Beta", "Alpha"} // groups.include order
	}
	o.must1(o.idsync("sync"))
	// Run 2: p00 then joins Beta, p01 Alpha and Gamma.
	o.join("p00", "Beta")
	o.join("p01", "Alpha", "Gamma")
	want["p00"] = []string{"Alpha", "Beta"}
	want["p01"] = []string{"Beta", "Gamma", "Alpha"}
	o.must1(o.idsync("sync"))
	o.checkTeams(want)

	// A full read and a policy change (include reordered) re-evaluate
	// everyone: nothing is re-applied, nothing recomputed.
	o.ws.ResetRequests()
	o.must1(o.idsync("sync", "--full"))
	b, _ := os.ReadFile(o.config)
	os.WriteFile(o.config, []byte(strings.Replace(string(b), `["Gamma", "Beta", "Alpha"]`, `["Alpha", "Beta", "Gamma"]`, 1)), 0o600)
	o.must1(o.idsync("sync"))
	if n := o.ws.CountRequests("PATCH", "/Groups") + o.ws.CountRequests("POST", "/Groups"); n != 0 {
		t.Errorf("%d team writes after a full read and a policy change, want 0", n)
	}
	o.checkTeams(want)

	// Teams carry the IdP group's id and description.
	for _, g := range o.ws.Groups() {
		if g.Description != g.DisplayName+" team" || g.ExternalID != o.groups[g.DisplayName] {
			t.Errorf("team %+v", g)
		}
	}
}

func (o *officeRnD) must1(r result) {
	o.t.Helper()
	if r.code != exitOK && r.code != exitChanges {
		o.t.Fatalf("idsync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// checkTeams compares the workspace's team order, and the order idsync
// recorded (explain), with want.
func (o *officeRnD) checkTeams(want map[string][]string) {
	o.t.Helper()
	got := o.teams()
	for user, w := range want {
		if !slices.Equal(got[user], w) {
			o.t.Errorf("%s is in %v in the workspace, want %v (first = primary team)", user, got[user], w)
		}
	}
	for _, user := range []string{"p00", "p01", "p02", "p29"} {
		r := o.idsync("explain", "contoso", user+"@contoso.test")
		line := "teams     " + want[user][0] + " (primary)"
		for _, team := range want[user][1:] {
			line += ", " + team
		}
		if !strings.Contains(r.stdout, line+"\n") {
			o.t.Errorf("explain %s lacks %q:\n%s", user, line, r.stdout)
		}
	}
}

// Microsoft's Whimsical tutorial: "Users with the Default Access role are
// excluded from provisioning". With an Entra app scope, a Whimsical
// connection provisions only users assigned with a role; a generic one
// takes Default Access too.
func TestWhimsicalDefaultAccessIsOutOfScope(t *testing.T) {
	for _, preset := range []string{"whimsical", "generic"} {
		t.Run(preset, func(t *testing.T) {
			e := &e2e{t: t, tenant: entratest.NewServer(), dir: t.TempDir()}
			t.Cleanup(e.tenant.Close)
			// The sample app: Whale Users (heidi, mallory directly) with
			// Default Access, Whale Writers (heidi, peggy) Writer, carol Admin.
			e.sample = e.tenant.LoadSample()
			e.ws = scimtest.NewServer(scimtest.Options{Token: demoToken, Preset: preset, Strict: true, TLS: true})
			t.Cleanup(e.ws.Close)
			path, err := writeConfig(e.dir, e.tenant, e.ws, fmt.Sprintf(`      scope: {app_id: %q}
    roles:
      rules: [{app_role: Writer, role: editor}]
    target:
      type: scim
      preset: %s
`, e.sample.AppID, preset))
			if err != nil {
				t.Fatal(err)
			}
			e.config = path
			e.must([]string{"sync"}, exitOK, exitChanges)
			var got []string
			for name := range e.workspace() {
				got = append(got, strings.TrimSuffix(name, "@contoso.test"))
			}
			slices.Sort(got)
			want := []string{"carol.chen", "heidi.hughes", "peggy.park"}
			if preset == "generic" {
				want = []string{"carol.chen", "heidi.hughes", "mallory.moore", "peggy.park"}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("workspace %v, want %v", got, want)
			}
			if preset == "whimsical" {
				r := e.must([]string{"explain", "contoso", "mallory.moore@contoso.test"})
				if !strings.Contains(r.stdout, "only with the Default Access role") {
					t.Errorf("explain mallory:\n%s", r.stdout)
				}
			}
		})
	}
}
