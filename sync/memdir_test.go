package sync

import (
	"context"
	"reflect"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
)

// scriptSource answers a full read with a fixed list of changes, in pages of two.
type scriptSource []idsync.Change

func (s scriptSource) Pull(ctx context.Context, cursor string, emit func([]idsync.Change) error) (string, bool, error) {
	for i := 0; i < len(s); i += 2 {
		if err := emit(s[i:min(i+2, len(s))]); err != nil {
			return "", false, err
		}
	}
	return "c1", true, nil
}

// TestFirstReadDryRunPlansLikeTheSnapshot: a dry run of a first read is
// planned in memory; its plan must be exactly the one the real run (which
// writes the snapshot) plans and applies, for every kind of change a read
// can hold.
func TestFirstReadDryRunPlansLikeTheSnapshot(t *testing.T) {
	u := func(id, name string, st idsync.Status) idsync.Change {
		return idsync.UserChange(idsync.User{ID: id, UserName: name + "@x.test", GivenName: name, Title: "t-" + name, Status: st})
	}
	script := scriptSource{
		u("u1", "ann", idsync.StatusActive), u("u2", "bob", idsync.StatusActive), u("u3", "cid", idsync.StatusDisabled),
		u("u4", "dee", idsync.StatusStaged), u("u5", "eve", idsync.StatusActive), u("u6", "fay", idsync.StatusActive),
		u("u7", "gus", idsync.StatusActive), u("u8", "hal", idsync.StatusActive),
		idsync.GroupChange(idsync.Group{ID: "g-all", Name: "Everyone Here"}), idsync.GroupChange(idsync.Group{ID: "g-eng", Name: "Eng"}),
		idsync.GroupChange(idsync.Group{ID: "g-adm", Name: "Admins"}), idsync.GroupChange(idsync.Group{ID: "g-old", Name: "Old"}),
		idsync.MemberAddedChange("g-all", "g-eng", idsync.MemberGroup), idsync.MemberAddedChange("g-eng", "g-adm", idsync.MemberGroup),
		idsync.MemberAddedChange("g-eng", "u1", idsync.MemberUser), idsync.MemberAddedChange("g-adm", "u2", idsync.MemberUser),
		idsync.MemberAddedChange("g-all", "u3", idsync.MemberUser), idsync.MemberAddedChange("g-all", "u4", idsync.MemberUser),
		idsync.MemberAddedChange("g-all", "u5", idsync.MemberUser), idsync.MemberAddedChange("g-old", "u6", idsync.MemberUser),
		idsync.MemberAddedChange("g-all", "g-old", idsync.MemberGroup), idsync.MemberAddedChange("g-all", "u7", idsync.MemberUser),
		idsync.MemberAddedChange("g-all", "u8", idsync.MemberUser),
		idsync.MemberRemovedChange("g-all", "u7"),          // left again within the read
		idsync.GroupRemovedChange("g-old"),                 // takes u6's only membership with it
		idsync.UserRemovedChange("u5", idsync.RemovalSoft), // recycle bin
		idsync.UserRemovedChange("u9", idsync.RemovalHard), // never seen: nothing
		idsync.AssignedChange(idsync.Assignment{PrincipalID: "u5", Role: "Writer"}),
		idsync.AssignedChange(idsync.Assignment{PrincipalID: "u8", Role: "Writer"}),
		idsync.AssignedChange(idsync.Assignment{PrincipalID: "g-eng", PrincipalKind: idsync.MemberGroup}),
		idsync.AssignedChange(idsync.Assignment{PrincipalID: "u1", Role: "Writer"}), idsync.UnassignedChange("u1"),
		idsync.SweepChange(idsync.SweepAssignments, ""), idsync.SweepChange(idsync.SweepMembers, "g-eng"),
		u("u2", "bob", idsync.StatusActive), // a replay is harmless
	}
	policy := Policy{
		Scope:       sources.Scope{Groups: []string{"everyone here"}},
		DefaultRole: "reader",
		Rules:       []RoleRule{{Group: "Admins", Role: "admin"}, {AppRole: "Writer", Role: "writer"}},
		GroupSync:   true, GroupInclude: []string{"Eng", "Admins"},
	}
	h := newHarness(t, policy)
	h.conn.Source = script
	dry := h.run(Options{DryRun: true})
	real := h.run(Options{})
	if len(dry.Plan.Ops) == 0 || !reflect.DeepEqual(dry.Plan, real.Plan) {
		t.Fatalf("in-memory dry run:\n%q\nreal run:\n%q", ops(dry.Plan), ops(real.Plan))
	}
	want := []string{"create ann@x.test", "create bob@x.test", "create hal@x.test", "group-create Admins", "group-create Eng",
		"member-add Admins", "member-add Eng"}
	if got := ops(real.Plan); !reflect.DeepEqual(got, want) {
		t.Fatalf("plan %q, want %q", got, want)
	}
	// A dry run once the snapshot exists goes through SQLite and agrees too.
	if again := h.run(Options{DryRun: true, Full: true}); len(again.Plan.Ops) != 0 {
		t.Fatalf("after the real run a full dry run plans %q", ops(again.Plan))
	}
}
