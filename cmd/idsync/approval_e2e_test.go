package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"strings"
	"testing"
	"time"
)

// editConfig replaces old (which must be there) with new in the config file.
func (e *e2e) editConfig(old, new string) {
	e.t.Helper()
	b, err := os.ReadFile(e.config)
	if err != nil {
		e.t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		e.t.Fatalf("config has no %q:\n%s", old, b)
	}
	if err := os.WriteFile(e.config, bytes.Replace(b, []byte(old), []byte(new), 1), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// heldSync runs a sync that must hold its plan and returns the plan's id
// from the JSON result.
func (e *e2e) heldSync() string {
	e.t.Helper()
	r := e.must([]string{"sync", "--output", "json"})
	var out struct {
		Results []struct {
			Held   string `json:"held"`
			PlanID string `json:"plan_id"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Results) != 1 {
		e.t.Fatalf("sync json (%v):\n%s", err, r.stdout)
	}
	if res := out.Results[0]; res.Held == "" || len(res.PlanID) != 12 {
		e.t.Fatalf("sync was not held with a plan id: %+v\n%s", res, r.stdout)
	}
	return out.Results[0].PlanID
}

// statusPlanID returns the held plan's id as `status --output json` shows it.
func (e *e2e) statusPlanID() string {
	e.t.Helper()
	r := e.must([]string{"status", "--output", "json"})
	var out struct {
		Connections []struct {
			Held *struct {
				PlanID string `json:"plan_id"`
			} `json:"held"`
		} `json:"connections"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Connections) != 1 {
		e.t.Fatalf("status json (%v):\n%s", err, r.stdout)
	}
	if out.Connections[0].Held == nil {
		return ""
	}
	return out.Connections[0].Held.PlanID
}

func TestApproveBoundToTheReviewedPlanE2E(t *testing.T) {
	t.Run("users restored in Entra after the hold are neither deleted nor disabled", func(t *testing.T) {
		e := newE2E(t, "")
		e.editConfig("soft_deleted: disable", "soft_deleted: delete")
		e.must([]string{"sync"})
		restored := []string{"dave.diaz", "erin.evans", "oscar.olsen"}
		for _, n := range restored {
			if err := e.tenant.SoftDeleteUser(e.user(n)); err != nil {
				t.Fatal(err)
			}
		}
		id := e.heldSync() // 3 of 11 deletes: over the default 10%
		if got := e.statusPlanID(); got != id {
			t.Fatalf("status shows plan %q, sync held %q", got, id)
		}
		if st := e.must([]string{"status"}); !strings.Contains(st.stdout, "plan "+id) || !strings.Contains(st.stdout, "--plan "+id) {
			t.Fatalf("status text lacks the plan id %s:\n%s", id, st.stdout)
		}
		for _, n := range restored {
			if err := e.tenant.RestoreUser(e.user(n)); err != nil {
				t.Fatal(err)
			}
		}
		e.must([]string{"approve", "contoso"})
		if got := e.workspace(); !maps.Equal(got, sampleWorkspace) {
			t.Fatalf("workspace after approving a plan whose users were restored:\n%v", got)
		}
		if got := e.statusPlanID(); got != "" {
			t.Fatalf("plan %s still held after the approval", got)
		}
	})

	t.Run("--plan with a changed held plan refuses", func(t *testing.T) {
		e := newE2E(t, "")
		e.must([]string{"sync"})
		for _, n := range []string{"dave.diaz", "erin.evans", "oscar.olsen"} {
			e.tenant.DisableUser(e.user(n))
		}
		first := e.heldSync()
		r := e.must([]string{"sync"}) // nothing changed: the same plan, the same id
		if !strings.Contains(r.stdout, "idsync approve contoso --plan "+first) {
			t.Fatalf("the held plan's output lacks the approve command with its id %s:\n%s", first, r.stdout)
		}
		e.tenant.DisableUser(e.user("grace.garcia"))
		second := e.heldSync()
		if second == first {
			t.Fatalf("a plan with one more disable kept the id %s", first)
		}
		r = e.idsync("approve", "contoso", "--plan", first)
		if r.code != exitError || !strings.Contains(r.stderr, first) || !strings.Contains(r.stderr, second) {
			t.Fatalf("approve --plan of a replaced plan: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if got := e.workspace(); !maps.Equal(got, sampleWorkspace) {
			t.Fatalf("a refused approval changed the workspace:\n%v", got)
		}
		e.must([]string{"approve", "contoso", "--plan", second})
		for _, n := range []string{"dave.diaz", "erin.evans", "oscar.olsen", "grace.garcia"} {
			if got := e.workspace()[n+"@contoso.test"]; !strings.HasPrefix(got, "active=false") {
				t.Fatalf("%s after the approval: %q", n, got)
			}
		}
	})

	t.Run("a disable that appeared after the hold is held again, exit 3", func(t *testing.T) {
		e := newE2E(t, "")
		e.must([]string{"sync"})
		for _, n := range []string{"dave.diaz", "erin.evans", "oscar.olsen"} {
			e.tenant.DisableUser(e.user(n))
		}
		first := e.heldSync()
		e.tenant.DisableUser(e.user("grace.garcia")) // no sync: only approve sees it
		r := e.idsync("approve", "contoso")
		if r.code != exitHeld || !strings.Contains(r.stdout, "grace.garcia@contoso.test") || !strings.Contains(r.stdout, "since plan "+first+" was approved") {
			t.Fatalf("approve with a new disable: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if got := e.workspace(); !maps.Equal(got, sampleWorkspace) {
			t.Fatalf("a held approval changed the workspace:\n%v", got)
		}
		second := e.statusPlanID()
		if second == "" || second == first {
			t.Fatalf("held plan after the refused approval: %q (first %q)", second, first)
		}
		e.must([]string{"approve", "contoso", "--plan", second})
	})
}

func TestPolicyChangesReachExistingUsersE2E(t *testing.T) {
	t.Run("adding a role rule changes the matching users' roles on the next plain sync", func(t *testing.T) {
		e := newE2E(t, "")
		e.must([]string{"sync"})
		e.editConfig(`        - {group: "Whale Writers", role: writer}`+"\n",
			`        - {group: "Whale Writers", role: writer}`+"\n"+`        - {group: "Sales", role: writer}`+"\n")
		r := e.must([]string{"sync"})
		if !strings.Contains(r.stdout, "4 role changes") {
			t.Fatalf("plan after adding a rule for Sales:\n%s", r.stdout)
		}
		want := maps.Clone(sampleWorkspace)
		for _, n := range []string{"erin.evans", "frank.fischer", "grace.garcia", "oscar.olsen"} {
			want[n+"@contoso.test"] = "active=true role=writer"
		}
		if got := e.workspace(); !maps.Equal(got, want) {
			t.Fatalf("workspace:\n%v\nwant:\n%v", got, want)
		}
		if r := e.must([]string{"sync", "--detailed-exitcode"}); r.code != exitOK {
			t.Fatalf("the sync after: exit %d\n%s", r.code, r.stdout)
		}
	})

	t.Run("changing deprovision.out_of_scope applies to users already out of scope", func(t *testing.T) {
		e := newE2E(t, "")
		e.must([]string{"sync"})
		if err := e.tenant.RemoveMember(e.sample.Groups["Sales"], e.user("grace.garcia")); err != nil {
			t.Fatal(err)
		}
		e.must([]string{"sync"})
		if got := e.workspace()["grace.garcia@contoso.test"]; got != "active=false role=reader" {
			t.Fatalf("grace after leaving the scope: %q", got)
		}
		e.editConfig("out_of_scope: disable", "out_of_scope: delete")
		e.must([]string{"sync"})
		if got, ok := e.workspace()["grace.garcia@contoso.test"]; ok {
			t.Fatalf("grace after out_of_scope: delete: still there (%q)", got)
		}
	})

	t.Run("widening the scope creates the newly included users", func(t *testing.T) {
		e := newE2E(t, "")
		e.must([]string{"sync"})
		e.editConfig(`groups: ["Whale Users"]`, `groups: ["Whale Users", "Finance"]`)
		e.must([]string{"sync"})
		if got := e.workspace()["judy.jones@contoso.test"]; got != "active=true role=reader" {
			t.Fatalf("judy (Finance) after widening the scope: %q", got)
		}
	})
}

func TestApprovePrompt(t *testing.T) {
	r := syncResult{Connection: "acme", Source: "entra", Held: "too many", PlanID: "0123456789ab"}
	for _, tc := range []struct {
		name, in string
		yes      bool
	}{
		{"y is yes", "y\n", true},
		{"YES is yes", "YES\n", true},
		{"yes with spaces is yes", " yes \n", true},
		{"empty line is no", "\n", false},
		{"end of input is no", "", false},
		{"n is no", "n\n", false},
		{"yep is no", "yep\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			got, err := ask(&out, strings.NewReader(tc.in), r, time.Now())
			if err != nil || got != tc.yes {
				t.Fatalf("ask(%q) = %v, %v; want %v", tc.in, got, err, tc.yes)
			}
			if !strings.Contains(out.String(), "plan 0123456789ab") || !strings.HasSuffix(out.String(), "Apply this plan? [y/N] ") {
				t.Fatalf("prompt:\n%s", out.String())
			}
		})
	}
}
