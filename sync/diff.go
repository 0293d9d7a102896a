package sync

import (
	"cmp"
	"slices"
	"strings"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/targets"
)

// memberRound is one group's member-adds of one round (see idsync.Op.Round).
type memberRound struct {
	group string
	round int
}

// plan diffs the evaluated users' desired state against the applied state.
func (c *Connection) plan(ev *evaluation) idsync.Plan {
	// A first sync plans an op per user: size for it once (Op is large).
	p := idsync.Plan{Connection: c.Name, Source: c.SourceType, Ops: make([]idsync.Op, 0, len(ev.users))}
	traits := targets.TraitsOf(c.Target)
	adds := map[memberRound][]idsync.Member{}
	removes := map[string][]idsync.Member{}
	// One allocation for every account the ops point to, not one per op.
	accounts := make([]idsync.Account, 0, len(ev.users))
	// Planned in name order, so the plan is mostly sorted already.
	byName := make([]int, len(ev.users))
	names := make([]string, len(ev.users))
	for i, f := range ev.users {
		byName[i], names[i] = i, f.id
		if f.user != nil {
			names[i] = f.user.UserName
		} else if a, ok := ev.applied[f.id]; ok {
			names[i] = a.Account.UserName
		}
	}
	wants := map[string][]string{} // user → the pushed groups it is planned in
	slices.SortFunc(byName, func(a, b int) int {
		return cmp.Or(strings.Compare(names[a], names[b]), strings.Compare(ev.users[a].id, ev.users[b].id))
	})
	for _, i := range byName {
		f := ev.users[i]
		id := f.id
		d := c.decide(ev.graph, f)
		a, has := ev.applied[id]
		p.Ops, accounts = c.appendUserOps(p.Ops, accounts, id, d, a, has)
		if c.Policy.GroupSync && d.want != wantLeave && d.want != wantAbsent {
			var want []string
			if d.want != wantNone {
				want = d.groups
			}
			wants[id] = want
			have := ev.members[id]
			m := idsync.Member{ExternalID: id, TargetID: a.TargetID}
			var joins []string
			for _, gid := range want {
				if !slices.Contains(have, gid) {
					joins = append(joins, gid)
				}
			}
			if traits.OrderedMembers {
				// The k-th group a user joins in this run is applied in
				// round k, in groups.include order: the first one joined
				// (OfficeRnD's primary team) is the operator's first pick,
				// never a race between concurrent member-adds.
				// A membership put back after drift keeps its first place
				// (state/lost.go), ahead of any new one.
				rank, lost := ev.graph.rank, ev.lost[id]
				slices.SortFunc(joins, func(a, b string) int {
					sa, la := lost[a]
					sb, lb := lost[b]
					switch {
					case la && lb:
						return cmp.Or(cmp.Compare(sa, sb), strings.Compare(a, b))
					case la != lb:
						if la {
							return -1
						}
						return 1
					}
					return cmp.Or(cmp.Compare(rank[a], rank[b]), strings.Compare(a, b))
				})
			}
			for k, gid := range joins {
				r := memberRound{group: gid}
				if traits.OrderedMembers {
					r.round = k
				}
				adds[r] = append(adds[r], m)
			}
			for _, gid := range have {
				if !slices.Contains(want, gid) {
					removes[gid] = append(removes[gid], m)
				}
			}
		}
	}
	if c.Policy.GroupSync {
		p.Ops = append(p.Ops, c.groupOps(ev, traits, adds, removes)...)
		ev.stale = staleLost(ev, wants)
	}
	p.Sort()
	return p
}

// appendUserOps appends the ops that take one user from applied state a
// (has=false: no account yet) to d, with the accounts they point to kept in
// accounts.
func (c *Connection) appendUserOps(ops []idsync.Op, accounts []idsync.Account, id string, d desired, a state.AppliedUser, has bool) ([]idsync.Op, []idsync.Account) {
	keep := func(acct idsync.Account) *idsync.Account {
		if len(accounts) == cap(accounts) {
			accounts = make([]idsync.Account, 0, max(64, cap(accounts)))
		}
		accounts = append(accounts, acct)
		return &accounts[len(accounts)-1]
	}
	base := idsync.Op{Connection: c.Name, ObjectID: id, TargetID: a.TargetID}
	prev := a.Account
	if has {
		base.Prev = keep(prev)
	}
	op := func(kind idsync.OpKind, acct *idsync.Account, reason string) idsync.Op {
		o := base
		o.Kind, o.Account, o.Reason = kind, acct, reason
		return o
	}
	switch d.want {
	case wantActive:
		want := keep(d.account)
		if !has {
			return append(ops, op(idsync.OpCreate, want, "")), accounts
		}
		// Only what the workspace is sent on an existing account: a change
		// the preset never sends (Whimsical's names after creation) is no op.
		if changes := targets.Updates(c.Target, prev, *want); len(changes) > 0 {
			o := op(idsync.OpUpdate, want, "")
			o.Changes = changes
			ops = append(ops, o)
		}
		if prev.Role != want.Role {
			ops = append(ops, op(idsync.OpSetRole, want, ""))
		}
		if !prev.Active {
			ops = append(ops, op(idsync.OpEnable, want, "re-enabled in "+c.idpName()))
		}
	case wantInactive:
		if has && prev.Active {
			off := prev
			off.Active = false
			ops = append(ops, op(idsync.OpDisable, keep(off), d.reason))
		}
	case wantAbsent:
		if has {
			ops = append(ops, op(idsync.OpDelete, nil, d.reason))
		}
	}
	return ops, accounts
}

// groupOps creates, renames and deletes pushed groups and batches the member
// changes per group (and round).
func (c *Connection) groupOps(ev *evaluation, traits targets.Traits, adds map[memberRound][]idsync.Member, removes map[string][]idsync.Member) []idsync.Op {
	var ops []idsync.Op
	g := ev.graph
	for id := range g.pushed {
		want := &idsync.GroupAccount{ExternalID: id, DisplayName: g.names[id]}
		if traits.GroupDescriptions {
			want.Description = g.descs[id]
		}
		have, ok := ev.groups[id]
		switch {
		case !ok:
			ops = append(ops, idsync.Op{Connection: c.Name, Kind: idsync.OpGroupCreate, ObjectID: id, Group: want})
		case have.Name != want.DisplayName || traits.GroupDescriptions && have.Description != want.Description:
			ops = append(ops, idsync.Op{Connection: c.Name, Kind: idsync.OpGroupUpdate, ObjectID: id, TargetID: have.TargetID,
				Group: want, PrevGroup: &idsync.GroupAccount{ExternalID: id, DisplayName: have.Name, Description: have.Description}})
		}
	}
	for id, have := range ev.groups {
		if !g.pushed[id] {
			ops = append(ops, idsync.Op{Connection: c.Name, Kind: idsync.OpGroupDelete, ObjectID: id, TargetID: have.TargetID,
				PrevGroup: &idsync.GroupAccount{ExternalID: id, DisplayName: have.Name}, Reason: "no longer pushed"})
			delete(removes, id) // deleting the group drops its members
		}
	}
	memberOp := func(kind idsync.OpKind, gid string, round int, ms []idsync.Member) idsync.Op {
		slices.SortFunc(ms, func(a, b idsync.Member) int { return strings.Compare(a.ExternalID, b.ExternalID) })
		return idsync.Op{Connection: c.Name, Kind: kind, ObjectID: gid, TargetID: ev.groups[gid].TargetID,
			Group: &idsync.GroupAccount{ExternalID: gid, DisplayName: g.names[gid]}, Members: ms, Round: round}
	}
	for r, ms := range adds {
		ops = append(ops, memberOp(idsync.OpMemberAdd, r.group, r.round, ms))
	}
	for gid, ms := range removes {
		ops = append(ops, memberOp(idsync.OpMemberRemove, gid, 0, ms))
	}
	return ops
}
