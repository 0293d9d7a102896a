package sync

import (
	"context"
	"slices"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
)

// staffHarness: alice and bob in Admins, carol in Staff only, dave in
// Contractors; the scope is Staff (Admins is nested in it). Applied once.
func staffHarness(t *testing.T, p Policy) *harness {
	t.Helper()
	p.Scope = sources.Scope{Groups: []string{"Staff"}}
	p.DefaultRole = "viewer"
	h := newHarness(t, p)
	h.src.user("u1", "alice")
	h.src.user("u2", "bob")
	h.src.user("u3", "carol")
	h.src.user("u4", "dave")
	h.src.group("g-admins", "Admins", "u1", "u2")
	h.src.group("g-staff", "Staff", "g-admins", "u3")
	h.src.group("g-contractors", "Contractors", "u4")
	res := h.run(Options{})
	if got := len(h.tgt.byUserName()); got != 3 || res.PolicyChanged {
		t.Fatalf("first run: %d accounts, policy_changed %v", got, res.PolicyChanged)
	}
	if res := h.run(Options{}); len(res.Plan.Ops) != 0 || res.PolicyChanged {
		t.Fatalf("second run with nothing changed: plan %q, policy_changed %v", ops(res.Plan), res.PolicyChanged)
	}
	return h
}

func TestPolicyChangesTakeEffectOnTheNextRun(t *testing.T) {
	t.Run("a new role rule changes the matching users' roles", func(t *testing.T) {
		h := staffHarness(t, Policy{})
		h.conn.Policy.Rules = []RoleRule{{Group: "Admins", Role: "admin"}}
		res := h.run(Options{})
		want := []string{"role alice@acme.test", "role bob@acme.test"}
		if got := ops(res.Plan); !slices.Equal(got, want) || !res.PolicyChanged || res.Full {
			t.Fatalf("plan %q (want %q), policy_changed %v, full %v", got, want, res.PolicyChanged, res.Full)
		}
		if ws := h.tgt.byUserName(); ws["alice@acme.test"].Role != "admin" || ws["carol@acme.test"].Role != "viewer" {
			t.Fatalf("workspace roles: %+v", ws)
		}
		if res := h.run(Options{}); len(res.Plan.Ops) != 0 || res.PolicyChanged {
			t.Fatalf("the run after: plan %q, policy_changed %v", ops(res.Plan), res.PolicyChanged)
		}
	})

	t.Run("a wider scope creates the newly included users", func(t *testing.T) {
		h := staffHarness(t, Policy{})
		h.conn.Policy.Scope.Groups = []string{"Staff", "Contractors"}
		if got := ops(h.run(Options{}).Plan); !slices.Equal(got, []string{"create dave@acme.test"}) {
			t.Fatalf("plan %q", got)
		}
	})

	t.Run("deprovision.out_of_scope disable to delete deletes the disabled", func(t *testing.T) {
		h := staffHarness(t, Policy{})
		h.src.record(idsync.MemberRemovedChange("g-staff", "u3"))
		if got := ops(h.run(Options{}).Plan); !slices.Equal(got, []string{"disable carol@acme.test"}) {
			t.Fatalf("carol leaves the scope: plan %q", got)
		}
		h.conn.Policy.Deprovision.OutOfScope = ActionDelete
		if got := ops(h.run(Options{}).Plan); !slices.Equal(got, []string{"delete carol@acme.test"}) {
			t.Fatalf("out_of_scope: delete: plan %q", got)
		}
	})

	t.Run("a held policy change is evaluated again on the next run", func(t *testing.T) {
		h := staffHarness(t, Policy{MaxDeletes: 1})
		h.conn.Policy.Scope.Groups = []string{"Contractors"} // alice, bob, carol out of scope
		for range 2 {
			res := h.run(Options{})
			if res.Held == "" || len(destructiveOps(res.Plan)) != 3 {
				t.Fatalf("narrowed scope: held %q, plan %q", res.Held, ops(res.Plan))
			}
		}
		held := h.held()
		res, err := h.engine.Approve(context.Background(), h.conn, ApproveOptions{PlanID: held.ID})
		if err != nil || res.Held != "" || res.Applied != 4 {
			t.Fatalf("approve: %v, held %q, applied %d (plan %q)", err, res.Held, res.Applied, ops(res.Plan))
		}
		if res := h.run(Options{}); len(res.Plan.Ops) != 0 || res.PolicyChanged {
			t.Fatalf("after the approval: plan %q, policy_changed %v", ops(res.Plan), res.PolicyChanged)
		}
	})

	t.Run("a dry run uses the new policy and records nothing", func(t *testing.T) {
		h := staffHarness(t, Policy{})
		h.conn.Policy.Rules = []RoleRule{{Group: "Admins", Role: "admin"}}
		before := dump(t, h.path)
		want := []string{"role alice@acme.test", "role bob@acme.test"}
		for range 2 {
			if res := h.run(Options{DryRun: true}); !slices.Equal(ops(res.Plan), want) || !res.PolicyChanged {
				t.Fatalf("dry run: plan %q, policy_changed %v", ops(res.Plan), res.PolicyChanged)
			}
		}
		if after := dump(t, h.path); after != before {
			t.Fatalf("dry run changed the database:\nbefore: %s\nafter:  %s", before, after)
		}
		if got := ops(h.run(Options{}).Plan); !slices.Equal(got, want) {
			t.Fatalf("real run after the dry runs: plan %q", got)
		}
	})

	t.Run("a database from before fingerprints evaluates everyone once", func(t *testing.T) {
		h := staffHarness(t, Policy{})
		db, _ := rawDB(t, h.path)
		if _, err := db.Exec(`DELETE FROM policy_fingerprints`); err != nil {
			t.Fatal(err)
		}
		// The rule was added while an engine without fingerprints ran.
		h.conn.Policy.Rules = []RoleRule{{Group: "Admins", Role: "admin"}}
		if got := ops(h.run(Options{}).Plan); !slices.Equal(got, []string{"role alice@acme.test", "role bob@acme.test"}) {
			t.Fatalf("first run after the upgrade: plan %q", got)
		}
	})

	t.Run("safety limits and the target key: only the key counts", func(t *testing.T) {
		h := staffHarness(t, Policy{})
		h.conn.Policy.MaxDeletes = 7 // not part of the policy a plan is made with
		if res := h.run(Options{}); res.PolicyChanged {
			t.Fatal("a safety limit change re-evaluated everyone")
		}
		h.conn.PolicyKey = `scim preset="whimsical"`
		if res := h.run(Options{}); !res.PolicyChanged {
			t.Fatal("a target preset change did not re-evaluate everyone")
		}
	})
}
