package sync

import (
	"context"
	"slices"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
)

// TestDeprovisionMatrix: every policy action × every way of losing access.
func TestDeprovisionMatrix(t *testing.T) {
	states := []struct {
		name   string
		field  func(*Deprovision) *Action
		change func(s *fakeSource)
		allow  []Action
	}{
		{"disabled", func(d *Deprovision) *Action { return &d.Disabled },
			func(s *fakeSource) { s.user("u1", "alice", func(u *idsync.User) { u.Status = idsync.StatusDisabled }) },
			[]Action{ActionDisable, ActionDelete, ActionIgnore}},
		{"soft-deleted", func(d *Deprovision) *Action { return &d.SoftDeleted },
			func(s *fakeSource) { s.record(idsync.UserRemovedChange("u1", idsync.RemovalSoft)) },
			[]Action{ActionDisable, ActionDelete}},
		{"deleted", func(d *Deprovision) *Action { return &d.Deleted },
			func(s *fakeSource) { s.record(idsync.UserRemovedChange("u1", idsync.RemovalHard)) },
			[]Action{ActionDelete, ActionDisable}},
		{"out-of-scope", func(d *Deprovision) *Action { return &d.OutOfScope },
			func(s *fakeSource) { s.record(idsync.MemberRemovedChange("g-users", "u1")) },
			[]Action{ActionDisable, ActionDelete, ActionIgnore}},
	}
	want := map[Action][]string{
		ActionDisable: {"disable alice@acme.test"},
		ActionDelete:  {"delete alice@acme.test"},
		ActionIgnore:  nil,
	}
	for _, st := range states {
		for _, a := range st.allow {
			t.Run(st.name+"/"+string(a), func(t *testing.T) {
				p := Policy{Scope: sources.Scope{Groups: []string{"Users"}}, Deprovision: DefaultDeprovision}
				*st.field(&p.Deprovision) = a
				h := newHarness(t, p)
				h.src.user("u1", "alice")
				h.src.user("u2", "bob")
				h.src.group("g-users", "Users", "u1", "u2")
				if got := ops(h.run(Options{}).Plan); !slices.Equal(got, []string{"create alice@acme.test", "create bob@acme.test"}) {
					t.Fatalf("initial plan = %q", got)
				}
				st.change(h.src)
				res := h.run(Options{})
				if got := ops(res.Plan); !slices.Equal(got, want[a]) {
					t.Fatalf("plan = %q, want %q", got, want[a])
				}
				acc, ok := h.tgt.byUserName()["alice@acme.test"]
				switch a {
				case ActionDisable:
					if !ok || acc.Active {
						t.Fatalf("alice should be disabled in the workspace, got %+v (present %v)", acc, ok)
					}
				case ActionDelete:
					if ok {
						t.Fatalf("alice should be deleted from the workspace")
					}
				case ActionIgnore:
					if !ok || !acc.Active {
						t.Fatalf("alice should be left active, got %+v", acc)
					}
				}
				if again := h.run(Options{}); len(again.Plan.Ops) != 0 {
					t.Fatalf("a second run should converge, plan = %q", ops(again.Plan))
				}
			})
		}
	}
}

func TestRoleRulesFirstMatchWins(t *testing.T) {
	p := Policy{
		DefaultRole: "reader",
		Rules: []RoleRule{
			{Group: "Admins", Role: "admin"},
			{AppRole: "Writer", Role: "writer"},
			{Group: "Engineering", Role: "writer"},
		},
	}
	h := newHarness(t, p)
	h.src.user("u1", "ann")   // in Admins and holds app role Writer → admin (rule 0)
	h.src.user("u2", "wes")   // app role Writer only → writer
	h.src.user("u3", "eve")   // Engineering nested in Platform... → writer by group rule 2
	h.src.user("u4", "rob")   // nothing → default reader
	h.src.user("u5", "nadia") // in a team nested (2 levels) inside Admins → admin
	h.src.group("g-admins", "Admins", "u1")
	h.src.group("g-eng", "Engineering", "u3")
	h.src.group("g-team", "SRE on call", "u5")
	h.src.group("g-sre", "SRE")
	h.src.record(idsync.MemberAddedChange("g-sre", "g-team", idsync.MemberGroup))
	h.src.record(idsync.MemberAddedChange("g-admins", "g-sre", idsync.MemberGroup))
	h.src.record(idsync.AssignedChange(idsync.Assignment{PrincipalID: "u1", PrincipalKind: idsync.MemberUser, Role: "Writer"}))
	h.src.record(idsync.AssignedChange(idsync.Assignment{PrincipalID: "u2", PrincipalKind: idsync.MemberUser, Role: "Writer"}))
	h.run(Options{})
	want := map[string]string{"ann": "admin", "wes": "writer", "eve": "writer", "rob": "reader", "nadia": "admin"}
	got := h.tgt.byUserName()
	for name, role := range want {
		if r := got[name+"@acme.test"].Role; r != role {
			t.Errorf("%s: role %q, want %q", name, r, role)
		}
	}

	// Promotion through a group change is a role op, not a re-create.
	h.src.record(idsync.MemberAddedChange("g-admins", "u4", idsync.MemberUser))
	res := h.run(Options{})
	if got := ops(res.Plan); !slices.Equal(got, []string{"role rob@acme.test"}) {
		t.Fatalf("promotion plan = %q", got)
	}
	if r := h.tgt.byUserName()["rob@acme.test"].Role; r != "admin" {
		t.Fatalf("rob role = %q after promotion", r)
	}
}

func TestNestedGroupScope(t *testing.T) {
	h := newHarness(t, Policy{Scope: sources.Scope{Groups: []string{"Whale Users"}}})
	h.src.user("u1", "direct")
	h.src.user("u2", "nested")
	h.src.user("u3", "deep")
	h.src.user("u4", "outsider")
	h.src.group("g-deep", "Platform", "u3")
	h.src.group("g-eng", "Engineering", "u2", "g-deep")
	h.src.group("g-root", "Whale Users", "u1", "g-eng")
	h.src.group("g-other", "Sales", "u4")
	res := h.run(Options{})
	want := []string{"create deep@acme.test", "create direct@acme.test", "create nested@acme.test"}
	if got := ops(res.Plan); !slices.Equal(got, want) {
		t.Fatalf("plan = %q, want %q", got, want)
	}
	// Unnesting a group takes its members out of scope.
	h.src.record(idsync.MemberRemovedChange("g-eng", "g-deep"))
	if got := ops(h.run(Options{}).Plan); !slices.Equal(got, []string{"disable deep@acme.test"}) {
		t.Fatalf("after unnesting: plan = %q", got)
	}
	// Nesting Sales brings its members in.
	h.src.record(idsync.MemberAddedChange("g-root", "g-other", idsync.MemberGroup))
	if got := ops(h.run(Options{}).Plan); !slices.Equal(got, []string{"create outsider@acme.test"}) {
		t.Fatalf("after nesting Sales: plan = %q", got)
	}
}

func TestAppScopeThroughGroupAssignment(t *testing.T) {
	h := newHarness(t, Policy{Scope: sources.Scope{AppID: "app-1"}, Rules: []RoleRule{{AppRole: "Admin", Role: "admin"}}, DefaultRole: "reader"})
	h.src.user("u1", "direct")
	h.src.user("u2", "viagroup")
	h.src.user("u3", "nested") // in a group nested in the assigned group: Entra's rule leaves them out
	h.src.user("u4", "none")
	h.src.group("g-sub", "Sub", "u3")
	h.src.group("g-app", "App Users", "u2", "g-sub")
	h.src.record(idsync.AssignedChange(idsync.Assignment{PrincipalID: "u1", PrincipalKind: idsync.MemberUser, Role: "Admin"}))
	h.src.record(idsync.AssignedChange(idsync.Assignment{PrincipalID: "g-app", PrincipalKind: idsync.MemberGroup}))
	h.run(Options{})
	got := h.tgt.byUserName()
	if len(got) != 2 || got["direct@acme.test"].Role != "admin" || got["viagroup@acme.test"].Role != "reader" {
		t.Fatalf("workspace = %+v", got)
	}
	h.src.record(idsync.UnassignedChange("g-app"))
	if got := ops(h.run(Options{}).Plan); !slices.Equal(got, []string{"disable viagroup@acme.test"}) {
		t.Fatalf("after group unassignment: plan = %q", got)
	}
}

func TestReEnableAfterDisable(t *testing.T) {
	h := newHarness(t, Policy{})
	h.src.user("u1", "alice")
	h.run(Options{})
	h.src.user("u1", "alice", func(u *idsync.User) { u.Status = idsync.StatusDisabled })
	if got := ops(h.run(Options{}).Plan); !slices.Equal(got, []string{"disable alice@acme.test"}) {
		t.Fatalf("plan = %q", got)
	}
	h.src.user("u1", "alice", func(u *idsync.User) { u.Status = idsync.StatusActive; u.FamilyName = "Smyth" })
	res := h.run(Options{})
	if got := ops(res.Plan); !slices.Equal(got, []string{"update alice@acme.test", "enable alice@acme.test"}) {
		t.Fatalf("plan = %q", got)
	}
	wantCh := []idsync.FieldChange{{Field: "name.familyName", Old: "Test", New: "Smyth"}, {Field: "displayName", Old: "alice Test", New: "alice Smyth"}}
	if ch := res.Plan.Ops[0].Changes; !slices.Equal(ch, wantCh) {
		t.Fatalf("update changes = %+v", ch)
	}
	if a := h.tgt.byUserName()["alice@acme.test"]; !a.Active || a.FamilyName != "Smyth" {
		t.Fatalf("workspace account = %+v", a)
	}
	// A restored user (recycle bin) comes back as a change and is re-enabled.
	h.src.record(idsync.UserRemovedChange("u1", idsync.RemovalSoft))
	h.run(Options{})
	h.src.user("u1", "alice", func(u *idsync.User) { u.FamilyName = "Smyth" })
	if got := ops(h.run(Options{}).Plan); !slices.Equal(got, []string{"enable alice@acme.test"}) {
		t.Fatalf("restore plan = %q", got)
	}
}

func TestExplain(t *testing.T) {
	h := newHarness(t, Policy{Scope: sources.Scope{Groups: []string{"Users"}}, DefaultRole: "reader",
		Rules: []RoleRule{{Group: "Admins", Role: "admin"}}})
	h.src.user("u1", "alice")
	h.src.user("u2", "bob")
	h.src.group("g-admins", "Admins", "u1")
	h.src.group("g-users", "Users", "g-admins")
	h.run(Options{})
	x, err := h.engine.Explain(context.Background(), h.conn, "ALICE@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	if !x.InScope || x.Rule != `rules[0]: group "Admins" → admin` || x.Applied == nil || x.Applied.Role != "admin" || len(x.Events) != 1 {
		t.Fatalf("alice: %+v", x)
	}
	x, err = h.engine.Explain(context.Background(), h.conn, "u2")
	if err != nil {
		t.Fatal(err)
	}
	if x.InScope || x.Scope != "not a member of Users" || x.Applied != nil || len(x.Pending) != 0 {
		t.Fatalf("bob: %+v", x)
	}
	if _, err := h.engine.Explain(context.Background(), h.conn, "nobody"); err == nil {
		t.Fatal("explain of an unknown user succeeded")
	}
}
