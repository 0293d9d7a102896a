package sync

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/targets"
)

// traitTarget is the fake workspace with documented traits.
type traitTarget struct {
	*fakeTarget
	traits targets.Traits
}

func (t traitTarget) Traits() targets.Traits { return t.traits }

var _ targets.Describer = traitTarget{}

func withTraits(h *harness, tr targets.Traits) {
	h.conn.Target = traitTarget{h.tgt, tr}
}

// A user joining several groups in one run joins them one round at a time,
// in groups.include order, where the workspace cares (OfficeRnD); elsewhere
// one member-add per group.
func TestOrderedMembersPlanRounds(t *testing.T) {
	for _, ordered := range []bool{true, false} {
		h := newHarness(t, Policy{GroupSync: true, GroupInclude: []string{"Zeta", "Alpha", "Mu"}})
		withTraits(h, targets.Traits{OrderedMembers: ordered})
		h.src.user("u1", "ann")
		h.src.user("u2", "bob")
		h.src.group("gz", "Zeta", "u1", "u2")
		h.src.group("ga", "Alpha", "u1")
		h.src.group("gm", "Mu", "u1", "u2")
		res := h.run(Options{})
		var got []string
		for _, o := range res.Plan.Ops {
			if o.Kind == idsync.OpMemberAdd {
				var ms []string
				for _, m := range o.Members {
					ms = append(ms, m.ExternalID)
				}
				got = append(got, fmt.Sprintf("%s:%s:%d", o.Group.DisplayName, strings.Join(ms, ""), o.Round))
			}
		}
		want := []string{"Alpha:u1:0", "Mu:u1u2:0", "Zeta:u1u2:0"}
		if ordered {
			// u1: Zeta, Alpha, Mu; u2: Zeta, Mu.
			want = []string{"Zeta:u1u2:0", "Alpha:u1:1", "Mu:u2:1", "Mu:u1:2"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("ordered %v: member-adds %v, want %v", ordered, got, want)
		}
		if res.Failed != 0 || res.Applied != len(res.Plan.Ops) {
			t.Errorf("ordered %v: applied %d, failed %d of %d", ordered, res.Applied, res.Failed, len(res.Plan.Ops))
		}
	}
}

// Group descriptions are planned only for workspaces that take them, and a
// changed description is an update there.
func TestGroupDescriptionsOnlyWhereTaken(t *testing.T) {
	for _, takes := range []bool{true, false} {
		h := newHarness(t, Policy{GroupSync: true, GroupInclude: []string{"Ops"}})
		withTraits(h, targets.Traits{GroupDescriptions: takes})
		h.src.user("u1", "ann")
		h.src.record(idsync.GroupChange(idsync.Group{ID: "g1", Name: "Ops", Description: "Operations"}))
		res := h.run(Options{})
		if got := res.Plan.Ops[1].Group.Description; res.Plan.Ops[1].Kind != idsync.OpGroupCreate || (got == "Operations") != takes {
			t.Errorf("takes %v: group create %+v", takes, res.Plan.Ops[1])
		}
		h.src.record(idsync.GroupChange(idsync.Group{ID: "g1", Name: "Ops", Description: "Ops and IT"}))
		res = h.run(Options{})
		switch {
		case takes && (len(res.Plan.Ops) != 1 || res.Plan.Ops[0].Kind != idsync.OpGroupUpdate || res.Plan.Ops[0].Group.Description != "Ops and IT" ||
			res.Plan.Ops[0].PrevGroup.Description != "Operations"):
			t.Errorf("description change planned %+v", res.Plan.Ops)
		case !takes && len(res.Plan.Ops) != 0:
			t.Errorf("description change planned %v for a workspace without descriptions", ops(res.Plan))
		}
		if res = h.run(Options{}); len(res.Plan.Ops) != 0 {
			t.Errorf("takes %v: applied description planned again: %v", takes, ops(res.Plan))
		}
	}
}

// An Entra assignment with the Default Access role (role "") puts a user in
// scope unless the workspace excludes it (Whimsical); Okta assignments
// without a role are plain access everywhere.
func TestDefaultAccessScope(t *testing.T) {
	tests := []struct {
		source   string
		required bool
		want     []string
	}{
		{"entra", false, []string{"create ann@acme.test", "create bob@acme.test", "create cy@acme.test"}},
		{"entra", true, []string{"create bob@acme.test", "create cy@acme.test"}},
		{"okta", true, []string{"create ann@acme.test", "create bob@acme.test", "create cy@acme.test"}},
	}
	for _, tt := range tests {
		h := newHarness(t, Policy{Scope: sources.Scope{AppID: "app"}})
		h.conn.SourceType = tt.source
		withTraits(h, targets.Traits{AssignedRoleRequired: tt.required})
		h.src.user("u1", "ann")
		h.src.user("u2", "bob")
		h.src.user("u3", "cy")
		h.src.group("g1", "Editors", "u3")
		h.src.record(idsync.AssignedChange(idsync.Assignment{PrincipalID: "u1", PrincipalKind: idsync.MemberUser}))
		h.src.record(idsync.AssignedChange(idsync.Assignment{PrincipalID: "u2", PrincipalKind: idsync.MemberUser, Role: "Editor"}))
		h.src.record(idsync.AssignedChange(idsync.Assignment{PrincipalID: "u3", PrincipalKind: idsync.MemberUser}))
		h.src.record(idsync.AssignedChange(idsync.Assignment{PrincipalID: "g1", PrincipalKind: idsync.MemberGroup, Role: "Editor"}))
		res := h.run(Options{})
		if got := ops(res.Plan); !slices.Equal(got, tt.want) {
			t.Errorf("%s, role required %v: plan %v, want %v", tt.source, tt.required, got, tt.want)
		}
		if tt.required && tt.source == "entra" {
			x, err := h.engine.Explain(context.Background(), h.conn, "u1")
			if err != nil || x.InScope || x.Scope != "assigned to app app only with the Default Access role, which this workspace excludes from provisioning (assign a role)" {
				t.Errorf("explain: %v %+v", err, x)
			}
		}
	}
}
