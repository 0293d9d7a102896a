package idsync

import "testing"

func TestPlanIDCoversWhatIsSentOnly(t *testing.T) {
	base := func() Plan {
		return Plan{Connection: "acme", Ops: []Op{
			{ID: "acme-1-1", Kind: OpUpdate, ObjectID: "u1", TargetID: "t1", Account: &Account{UserName: "amy", Title: "Boss"},
				Changes: []FieldChange{{Field: AttrTitle, Old: "", New: "Boss"}}},
			{ID: "acme-1-2", Kind: OpDelete, ObjectID: "u2", TargetID: "t2", Reason: "deleted in Entra"},
		}}
	}
	id := base().ID()
	if len(id) != 12 {
		t.Fatalf("id %q: want 12 hex digits", id)
	}
	same := base()
	same.Ops[0].ID, same.Ops[1].ID, same.Ops[1].Reason = "acme-9-7", "acme-9-8", "other words"
	if got := same.ID(); got != id {
		t.Fatalf("op ids and reasons changed the plan id: %s vs %s", got, id)
	}
	for name, change := range map[string]func(*Plan){
		"account":  func(p *Plan) { p.Ops[0].Account.Title = "Chief" },
		"object":   func(p *Plan) { p.Ops[1].ObjectID = "u3" },
		"kind":     func(p *Plan) { p.Ops[1].Kind = OpDisable },
		"target":   func(p *Plan) { p.Ops[1].TargetID = "t9" },
		"order":    func(p *Plan) { p.Ops[0], p.Ops[1] = p.Ops[1], p.Ops[0] },
		"one more": func(p *Plan) { p.Ops = append(p.Ops, Op{Kind: OpDelete, ObjectID: "u4"}) },
	} {
		t.Run(name+" changes the id", func(t *testing.T) {
			p := base()
			change(&p)
			if p.ID() == id {
				t.Fatalf("plan id unchanged after changing the %s", name)
			}
		})
	}
}
