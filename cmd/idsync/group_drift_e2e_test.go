package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync/targets/scim/scimtest"
)

// team is the workspace team named name (the test fails without one).
func (o *officeRnD) team(name string) scimtest.Group {
	o.t.Helper()
	for _, g := range o.ws.Groups() {
		if g.DisplayName == name {
			return g
		}
	}
	o.t.Fatalf("no workspace team %q", name)
	return scimtest.Group{}
}

// memberNames is the userNames (without the domain) of team's members, sorted.
func (o *officeRnD) memberNames(team scimtest.Group) []string {
	var out []string
	for _, id := range team.Members {
		u, _ := o.ws.User(id)
		out = append(out, strings.TrimSuffix(u.UserName, "@contoso.test"))
	}
	slices.Sort(out)
	return out
}

// Drift reconcile of OfficeRnD teams: a member removed by hand is put
// back, a team deleted by hand is created again with its members, a team
// renamed by hand gets its name back, all through the plan of `sync
// --reconcile`; a team made by hand is reported and left alone. The order
// idsync recorded each person's teams in (the first is the primary team)
// is the same after the re-create as before.
func TestOfficeRnDTeamDriftIsCorrected(t *testing.T) {
	o := newOfficeRnD(t, `["Gamma", "Beta", "Alpha"]`)
	o.join("p00", "Alpha")
	o.join("p01", "Alpha", "Beta", "Gamma")
	o.must1(o.idsync("sync"))
	o.join("p00", "Beta")
	o.must1(o.idsync("sync"))
	order := map[string][]string{"p00": {"Alpha", "Beta"}, "p01": {"Gamma", "Beta", "Alpha"}}
	explained := func() {
		t.Helper()
		for _, user := range []string{"p00", "p01"} {
			r := o.idsync("explain", "contoso", user+"@contoso.test")
			line := "teams     " + order[user][0] + " (primary), " + strings.Join(order[user][1:], ", ")
			if !strings.Contains(r.stdout, line+"\n") {
				t.Errorf("explain %s lacks %q:\n%s", user, line, r.stdout)
			}
		}
	}
	if got := o.teams(); !slices.Equal(got["p00"], order["p00"]) || !slices.Equal(got["p01"], order["p01"]) {
		t.Fatalf("teams in the workspace %v, want %v", got, order)
	}
	explained()

	// By hand in the workspace: p01 leaves Beta, Alpha (p00's primary team)
	// is deleted, Gamma renamed and p03 put in it, and a team of nobody's
	// made.
	p00 := o.account("p00@contoso.test").ID // not inside EditGroup: it holds the server's lock
	o.ws.EditGroup(o.team("Beta").ID, func(raw map[string]any) {
		raw["members"] = []any{map[string]any{"value": p00}}
	})
	if !o.ws.DeleteGroup(o.team("Alpha").ID) {
		t.Fatal("delete Alpha")
	}
	p03 := o.account("p03@contoso.test").ID // in no team in the IdP
	o.ws.EditGroup(o.team("Gamma").ID, func(raw map[string]any) {
		raw["displayName"] = "Gamma (renamed by hand)"
		raw["members"] = append(raw["members"].([]any), map[string]any{"value": p03})
	})
	hand := o.ws.AddGroup(scimtest.Group{DisplayName: "Hand Made", Members: []string{o.account("p02@contoso.test").ID}})

	// An incremental run does not list the workspace: nothing changes.
	o.ws.ResetRequests()
	o.must1(o.idsync("sync"))
	if n := o.ws.CountRequests("POST", "/Groups") + o.ws.CountRequests("PATCH", "/Groups"); n != 0 {
		t.Fatalf("an incremental run wrote %d times to teams", n)
	}

	r := o.idsync("sync", "--reconcile")
	o.must1(r)
	for _, s := range []string{"listed 3 groups: 3 managed changed or deleted by hand, 1 unmanaged (left alone)",
		"(deleted in the workspace)", "(changed in the workspace)", "members changed in the workspace",
		"? unmanaged", "Hand Made", "group of 1, not managed by idsync: left alone"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("the reconcile's plan lacks %q:\n%s", s, r.stdout)
		}
	}
	if got := o.memberNames(o.team("Alpha")); !slices.Equal(got, []string{"p00", "p01"}) {
		t.Errorf("re-created Alpha holds %v, want p00 and p01", got)
	}
	if got := o.memberNames(o.team("Beta")); !slices.Equal(got, []string{"p00", "p01"}) {
		t.Errorf("Beta holds %v, want p01 back", got)
	}
	gamma := o.team("Gamma")
	if got := o.memberNames(gamma); !slices.Equal(got, []string{"p01"}) || gamma.Description != "Gamma team" { // p03 removed
		t.Errorf("Gamma: %+v holding %v", gamma, got)
	}
	if a := o.team("Alpha"); a.ExternalID != o.groups["Alpha"] || a.Description != "Alpha team" {
		t.Errorf("re-created Alpha: %+v", a)
	}
	if got := o.memberNames(o.team("Hand Made")); !slices.Equal(got, []string{"p02"}) || o.team("Hand Made").ID != hand.ID {
		t.Errorf("the hand-made team was touched: %v", got)
	}
	// The recorded team order is what it was: Alpha stays p00's first.
	explained()

	// Corrected: a full read finds nothing more to do, and leaves the
	// hand-made team alone again.
	o.ws.ResetRequests()
	r = o.idsync("sync", "--full", "--detailed-exitcode")
	if r.code != exitOK || !strings.Contains(r.stdout, "listed 4 groups: 0 managed changed or deleted by hand, 1 unmanaged") {
		t.Fatalf("full read after the corrections: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		if n := o.ws.CountRequests(m, "/"); n > 0 {
			t.Errorf("%d %s requests after convergence", n, m)
		}
	}
	if r := o.idsync("log", "--connection", "contoso"); !strings.Contains(r.stdout, "group deleted in the workspace: corrected by this run's plan") ||
		!strings.Contains(r.stdout, "group not managed by idsync; left alone") {
		t.Errorf("log lacks the group drift:\n%s", r.stdout)
	}
}
