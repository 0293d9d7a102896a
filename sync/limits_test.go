package sync

import (
	"context"
	"strings"
	"testing"

	"github.com/idsync/idsync/sources"
)

// groupHarness pushes four groups (one user each) to the target.
func groupHarness(t *testing.T, p Policy) *harness {
	t.Helper()
	p.GroupSync = true
	p.GroupInclude = []string{"G1", "G2", "G3", "G4"}
	h := newHarness(t, p)
	for _, n := range []string{"1", "2", "3", "4"} {
		h.src.user("u"+n, "user"+n)
		h.src.group("g"+n, "G"+n, "u"+n)
	}
	h.run(Options{})
	if len(h.tgt.groups) != 4 {
		t.Fatalf("%d groups pushed, want 4", len(h.tgt.groups))
	}
	return h
}

func TestGroupDeletesCountTowardSafetyLimits(t *testing.T) {
	t.Run("group deletes over max_deletes are held", func(t *testing.T) {
		h := groupHarness(t, Policy{MaxDeletes: 1})
		h.conn.Policy.GroupInclude = []string{"G1", "G2"}
		calls := h.tgt.calls
		res := h.run(Options{})
		if res.Held == "" || !strings.Contains(res.Held, "group deletes") {
			t.Fatalf("2 group deletes with max_deletes 1: held %q, plan %q", res.Held, ops(res.Plan))
		}
		if h.tgt.calls != calls || len(h.tgt.groups) != 4 {
			t.Fatal("a held plan deleted groups")
		}
	})
	t.Run("group deletes over max_delete_percent of the applied groups are held", func(t *testing.T) {
		h := groupHarness(t, Policy{MaxDeletePercent: 30})
		// 1 of 4 groups (25%) is within the limit.
		h.conn.Policy.GroupInclude = []string{"G1", "G2", "G3"}
		if res := h.run(Options{}); res.Held != "" || len(h.tgt.groups) != 3 {
			t.Fatalf("1 of 4 groups: held %q, %d groups left", res.Held, len(h.tgt.groups))
		}
		// 2 of 3 (67%) is not, though it is 2 ops against 4 applied users.
		h.conn.Policy.GroupInclude = []string{"G1"}
		res := h.run(Options{})
		if res.Held == "" || !strings.Contains(res.Held, "of 3 applied groups") || len(h.tgt.groups) != 3 {
			t.Fatalf("2 of 3 groups: held %q, %d groups left", res.Held, len(h.tgt.groups))
		}
	})
}

func TestUnresolvedGroupReferencesFailTheRun(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy Policy
		want   string
	}{
		{"unknown role-rule group", Policy{DefaultRole: "viewer", Rules: []RoleRule{
			{AppRole: "Admin", Role: "admin"}, {Group: "Editrs", Role: "editor"}}}, `roles.rules[1].group: no group named "Editrs"`},
		{"unknown groups.include entry", Policy{GroupSync: true, GroupInclude: []string{"Editors", "Salse"}}, `groups.include: no group named ["Salse"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.policy)
			h.src.user("u1", "alice")
			h.src.group("g1", "Editors", "u1")
			for _, dry := range []bool{true, false} {
				_, err := h.engine.Run(context.Background(), h.conn, Options{DryRun: dry})
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("dry run %v: err = %v, want %q", dry, err, tc.want)
				}
			}
			if h.tgt.calls != 0 {
				t.Fatalf("a failed run made %d target calls", h.tgt.calls)
			}
			// After a first full read the snapshot is not empty: the check
			// must hold for incremental runs too.
			h.conn.Policy = Policy{Deprovision: DefaultDeprovision}
			h.run(Options{})
			h.conn.Policy = tc.policy
			h.conn.Policy.Deprovision = DefaultDeprovision
			h.src.user("u2", "bob")
			if _, err := h.engine.Run(context.Background(), h.conn, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("incremental run: err = %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("a scope that names the group by id resolves", func(t *testing.T) {
		h := newHarness(t, Policy{Scope: sources.Scope{Groups: []string{"g1"}}, Rules: []RoleRule{{Group: "g1", Role: "editor"}}})
		h.src.user("u1", "alice")
		h.src.group("g1", "Editors", "u1")
		if res := h.run(Options{}); len(res.Plan.Ops) != 1 || res.Plan.Ops[0].Account.Role != "editor" {
			t.Fatalf("plan %q", ops(res.Plan))
		}
	})
}
