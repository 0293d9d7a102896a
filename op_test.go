package idsync

import (
	"slices"
	"testing"
)

func TestPlanSortIsDeterministicAndOrdered(t *testing.T) {
	acct := func(n string) *Account { return &Account{UserName: n} }
	ops := []Op{
		{Kind: OpDelete, ObjectID: "u9", Prev: acct("zed")},
		{Kind: OpMemberAdd, ObjectID: "g1", Group: &GroupAccount{DisplayName: "Eng"}},
		{Kind: OpCreate, ObjectID: "u2", Account: acct("bob")},
		{Kind: OpDisable, ObjectID: "u3", Account: acct("amy")},
		{Kind: OpCreate, ObjectID: "u1", Account: acct("amy")},
		{Kind: OpSetRole, ObjectID: "u4", Account: acct("cat")},
		{Kind: OpUpdate, ObjectID: "u4", Account: acct("cat")},
		{Kind: OpGroupCreate, ObjectID: "g1", Group: &GroupAccount{DisplayName: "Eng"}},
	}
	want := []string{"create amy", "create bob", "group-create Eng", "member-add Eng", "update cat", "role cat", "disable amy", "delete zed"}
	for i := range 5 {
		p := Plan{Ops: slices.Clone(ops)}
		// Any input order gives the same plan.
		for j := range p.Ops {
			k := (j*7 + i) % len(p.Ops)
			p.Ops[j], p.Ops[k] = p.Ops[k], p.Ops[j]
		}
		p.Sort()
		var got []string
		for _, o := range p.Ops {
			got = append(got, string(o.Kind)+" "+o.Name())
		}
		if !slices.Equal(got, want) {
			t.Fatalf("order %d: %q", i, got)
		}
		if p.Destructive() != 2 || p.Counts()[OpCreate] != 2 {
			t.Fatalf("destructive %d, counts %v", p.Destructive(), p.Counts())
		}
	}
}

func TestDiffAttributes(t *testing.T) {
	old := Account{UserName: "a@x", GivenName: "Ann", Title: "Dev", Role: "admin", Active: true}
	new := old
	new.Title, new.Role, new.Active = "CTO", "reader", false
	got := DiffAttributes(old, new)
	if !slices.Equal(got, []FieldChange{{Field: AttrTitle, Old: "Dev", New: "CTO"}}) {
		t.Fatalf("changes %+v (role and activity have their own ops)", got)
	}
}
