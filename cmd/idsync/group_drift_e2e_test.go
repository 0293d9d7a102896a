package main

import (
	"net/url"
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

// A group listing cut off part way proves nothing about the groups it did
// not reach: with pages of one team, the second page of the workspace's
// teams failing (Gamma, on it, unseen), a reconcile re-creates no team, puts no member back and
// removes none, says why in the plan and the status, and corrects users
// (listed in full) as usual. The next reconcile, with the listing whole,
// corrects the teams.
func TestOfficeRnDTeamDriftPartialGroupListingChangesNoTeam(t *testing.T) {
	o := newOfficeRnD(t, `["Gamma", "Beta", "Alpha"]`)
	o.join("p00", "Alpha")
	o.join("p01", "Alpha", "Beta", "Gamma")
	o.must1(o.idsync("sync"))
	p00 := o.account("p00@contoso.test").ID
	o.ws.EditGroup(o.team("Beta").ID, func(raw map[string]any) {
		raw["members"] = []any{map[string]any{"value": p00}}
	})
	if !o.ws.DeleteGroup(o.team("Alpha").ID) {
		t.Fatal("delete Alpha")
	}
	o.ws.EditUser(o.account("p02@contoso.test").ID, func(raw map[string]any) { raw["active"] = false })
	before := o.ws.Groups()

	o.ws.SetPageSize(1)
	o.ws.ResetRequests()
	o.ws.OnRequest(func(r scimtest.Request) {
		// Runs once the first page of teams is served: every later GET
		// fails, so Gamma, on the second page, is never seen.
		q, _ := url.ParseQuery(r.Query)
		if r.Method == "GET" && r.Path == "/Groups" && q.Get("startIndex") == "1" && q.Get("filter") == "" {
			o.ws.Inject(scimtest.Fault{Kind: scimtest.Fault500, Count: 1000, Method: "GET"})
		}
	})
	r := o.idsync("sync", "--reconcile")
	o.ws.OnRequest(nil)
	o.ws.ClearFaults()
	if !strings.Contains(r.stdout, "listing the workspace's groups failed, no group was reconciled") {
		t.Fatalf("the plan does not say the group listing failed (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := o.ws.CountRequests("GET", "/Groups"); n < 2 {
		t.Fatalf("the group listing stopped after %d requests: the fault never cut it part way", n)
	}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		if n := o.ws.CountRequests(m, "/Groups"); n > 0 {
			t.Errorf("a partial group listing led to %d %s requests on teams", n, m)
		}
	}
	if after := o.ws.Groups(); !slices.EqualFunc(before, after, func(a, b scimtest.Group) bool {
		return a.ID == b.ID && a.DisplayName == b.DisplayName && slices.Equal(a.Members, b.Members)
	}) {
		t.Errorf("teams changed after a partial listing:\nbefore %+v\nafter  %+v", before, after)
	}
	if s := o.idsync("status").stdout; !strings.Contains(s, "groups failed") {
		t.Errorf("status does not say the group listing failed:\n%s", s)
	}

	o.ws.SetPageSize(0)
	o.must1(o.idsync("sync", "--reconcile"))
	if got := o.memberNames(o.team("Alpha")); !slices.Equal(got, []string{"p00", "p01"}) {
		t.Errorf("re-created Alpha holds %v, want p00 and p01", got)
	}
	if got := o.memberNames(o.team("Beta")); !slices.Equal(got, []string{"p01"}) {
		t.Errorf("Beta holds %v, want p01 back and p00 out", got)
	}
	if n := len(o.ws.Groups()); n != 3 {
		t.Errorf("%d teams after the corrections, want 3", n)
	}
}
