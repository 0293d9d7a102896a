package idsync

import "testing"

func TestPlanIDCoversWhatIsTakenAwayOnly(t *testing.T) {
	base := func() Plan {
		return Plan{Connection: "acme", Ops: []Op{
			{ID: "acme-1-1", Kind: OpCreate, ObjectID: "u0", Account: &Account{UserName: "newhire"}},
			{ID: "acme-1-2", Kind: OpUpdate, ObjectID: "u1", TargetID: "t1", Account: &Account{UserName: "amy", Title: "Boss"},
				Changes: []FieldChange{{Field: AttrTitle, Old: "", New: "Boss"}}},
			{ID: "acme-1-3", Kind: OpMemberAdd, ObjectID: "g1", TargetID: "tg1", Members: []Member{{ExternalID: "u1", TargetID: "t1"}}},
			{ID: "acme-1-4", Kind: OpDisable, ObjectID: "u5", TargetID: "t5", Account: &Account{UserName: "bob", Active: false}},
			{ID: "acme-1-5", Kind: OpGroupDelete, ObjectID: "g2", TargetID: "tg2", PrevGroup: &GroupAccount{ExternalID: "g2", DisplayName: "Old"}},
			{ID: "acme-1-6", Kind: OpDelete, ObjectID: "u2", TargetID: "t2", Reason: "deleted in Entra"},
		}}
	}
	id := base().ID()
	if len(id) != 12 {
		t.Fatalf("id %q: want 12 hex digits", id)
	}
	// What an approval does not cover: the re-plan applies these anyway.
	for name, change := range map[string]func(*Plan){
		"op ids and reasons": func(p *Plan) { p.Ops[0].ID, p.Ops[5].ID, p.Ops[5].Reason = "acme-9-7", "acme-9-8", "other words" },
		"another new hire": func(p *Plan) {
			p.Ops = append([]Op{{Kind: OpCreate, ObjectID: "u9", Account: &Account{UserName: "zed"}}}, p.Ops...)
		},
		"an update's account": func(p *Plan) { p.Ops[1].Account.Title = "Chief" },
		"a member change":     func(p *Plan) { p.Ops[2].Members = append(p.Ops[2].Members, Member{ExternalID: "u0"}) },
		"a role change": func(p *Plan) {
			p.Ops = append(p.Ops, Op{Kind: OpSetRole, ObjectID: "u1", Account: &Account{Role: "admin"}})
		},
		"an enable":          func(p *Plan) { p.Ops = append(p.Ops, Op{Kind: OpEnable, ObjectID: "u7", TargetID: "t7"}) },
		"no create any more": func(p *Plan) { p.Ops = p.Ops[1:] },
	} {
		t.Run(name+" keeps the id", func(t *testing.T) {
			p := base()
			change(&p)
			if got := p.ID(); got != id {
				t.Fatalf("plan id changed from %s to %s after changing %s", id, got, name)
			}
		})
	}
	// What an approval covers.
	for name, change := range map[string]func(*Plan){
		"disable's account":   func(p *Plan) { p.Ops[3].Account.UserName = "robert" },
		"delete's object":     func(p *Plan) { p.Ops[5].ObjectID = "u3" },
		"delete's kind":       func(p *Plan) { p.Ops[5].Kind = OpDisable },
		"disable becomes":     func(p *Plan) { p.Ops[3].Kind = OpEnable },
		"delete's target":     func(p *Plan) { p.Ops[5].TargetID = "t9" },
		"group delete target": func(p *Plan) { p.Ops[4].TargetID = "tg9" },
		"order":               func(p *Plan) { p.Ops[4], p.Ops[5] = p.Ops[5], p.Ops[4] },
		"one more delete":     func(p *Plan) { p.Ops = append(p.Ops, Op{Kind: OpDelete, ObjectID: "u4"}) },
		"one more group delete": func(p *Plan) {
			p.Ops = append(p.Ops, Op{Kind: OpGroupDelete, ObjectID: "g3"})
		},
		"one delete less": func(p *Plan) { p.Ops = p.Ops[:5] },
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
